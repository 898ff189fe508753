"""The virtual patient: how the body takes up the drug and responds (PK, PD, pain, side effects), parameters as data."""
