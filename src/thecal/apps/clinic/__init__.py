"""The clinician programmer: the pain clinic's web app over its own database, reaching pumps through telemetry."""
