"""The drug library's data files: one TOML file per drug, plus the opioid conversion table."""
