"""The applications people open: the clinician programmer (clinic/) and the patient's therapy manager (patient/).

They speak HTTP and SQL and reach pumps only through telemetry and the therapy layer.
"""
