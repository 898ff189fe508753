"""The clinician programmer: what a clinic uses to read and program an implanted pump."""
