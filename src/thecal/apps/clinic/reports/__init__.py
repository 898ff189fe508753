"""The clinic's reports on one patient: the visit summary PDF (pdf), CSV export (csv_export) and FHIR R4B export (fhir).

Each report is made from a `PatientRecord` (record), which bundles the store's
records with the values the store does not keep: the settings before and
after, alarms, the pump's event log and the series for the plots. The report
modules are imported by name (`from thecal.apps.clinic.reports.pdf import
visit_summary_pdf`), so importing this package loads neither matplotlib nor
fhir.resources.
"""

from thecal.apps.clinic.reports.record import (
    Alarm,
    Bolus,
    DoseSeries,
    PatientRecord,
    Prescription,
    PtmPress,
    Reconciliation,
    SettingRow,
    reconcile,
)

__all__ = [
    "Alarm",
    "Bolus",
    "DoseSeries",
    "PatientRecord",
    "Prescription",
    "PtmPress",
    "Reconciliation",
    "SettingRow",
    "reconcile",
]
