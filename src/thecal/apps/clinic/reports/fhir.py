"""FHIR R4B export of one patient's record: a Bundle of type "collection", validated, with its codes checked.

The bundle holds the Patient; a Device for each implanted pump ("thecal
virtual pump", its model and serial); a MedicationRequest for each prescribed
drug (route SNOMED CT 72607000 Intrathecal route, the daily dose as a UCUM
rate such as "mg/d"); a MedicationAdministration for each drug of each refill
and for each bolus given; a Procedure for each implant and each refill; an
Observation for each pain score (LOINC 72514-3, valueInteger 0..10; the
Patient its performer when the patient's diary sent it).

`fhir.resources` checks the structure of every resource but not the codes;
`check_codes` is the export's own check of them against codes.toml (where each
code's source is cited): the route, the LOINC code, the UCUM system and units,
and that every reference points at an entry of the bundle.

Every entry's fullUrl is a urn:uuid derived from the clinic's identifiers, so
exporting the same record twice gives the same bundle. A time without a time
zone is taken as UTC.
"""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from thecal.apps.clinic.reports.record import (
    MCG_PER_MG,
    Bolus,
    DrugFillLike,
    ImplantLike,
    PatientRecord,
    Prescription,
    concentration_text,
    drug_mass_unit,
    number_text,
    reconcile,
)
from thecal.errors import InputError

CODES_FILE = "codes.toml"
PUMP_NAME = "thecal virtual pump"
# The namespace of the export's urn:uuid identifiers (a fixed, random UUID: the same record gives the same ids).
ID_NAMESPACE = uuid.UUID("6f1d3c52-8e0b-4d4b-9a51-2f3c7e9b1a40")
# UCUM's code for a mass unit of a dose; "mcg" is not UCUM.
UCUM_MASS = {"mg": "mg", "mcg": "ug"}

JSON = dict[str, Any]


@cache
def codes() -> Mapping[str, Mapping[str, Any]]:
    """The codes of the export and their sources, read from codes.toml beside this module."""
    text = resources.files(__package__).joinpath(CODES_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _route() -> JSON:
    route = codes()["route"]
    return {
        "coding": [{"system": route["system"], "code": route["code"], "display": route["display"]}],
        "text": "intrathecal",
    }


def _quantity(value: float, unit: str, code: str) -> JSON:
    return {"value": round(value, 6), "unit": unit, "system": codes()["ucum"]["system"], "code": code}


def _mass(value: float, mass_unit: str) -> JSON:
    return _quantity(value, mass_unit, UCUM_MASS[mass_unit])


def _time(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.isoformat(timespec="seconds")


def _text(value: str) -> str | None:
    """A FHIR string: None for blank text, which FHIR does not allow."""
    return value.strip() or None


def _pruned(value: Any) -> Any:
    """A JSON value without None, empty lists and empty objects (FHIR allows none of them)."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        items = [_pruned(v) for v in value]
        return [v for v in items if v is not None and v != [] and v != {}]
    return value


class _Ids:
    """The urn:uuid of each resource of one patient's bundle, derived from the patient's MRN and the clinic's ids."""

    def __init__(self, mrn: str):
        self.mrn = mrn

    def __call__(self, kind: str, *key: object) -> str:
        name = "/".join(["thecal-clinic", self.mrn, kind, *map(str, key)])
        return str(uuid.uuid5(ID_NAMESPACE, name))


def _ref(resource: JSON) -> JSON:
    return {"reference": f"urn:uuid:{resource['id']}"}


def _patient(record: PatientRecord, ids: _Ids) -> JSON:
    p = record.patient
    return {
        "resourceType": "Patient",
        "id": ids("patient", p.id),
        "identifier": [{"use": "usual", "type": {"text": "Medical record number"}, "value": _text(p.mrn)}],
        "name": [{"use": "official", "family": _text(p.family_name), "given": [_text(p.given_name)]}],
        "birthDate": p.birth_date.isoformat(),
    }


def _device(implant: ImplantLike, patient: JSON, ids: _Ids) -> JSON:
    catheter_ul = implant.catheter_length_cm * implant.catheter_volume_ul_per_cm
    return {
        "resourceType": "Device",
        "id": ids("device", implant.id),
        "status": "active" if implant.active else "inactive",
        "deviceName": [
            {"name": PUMP_NAME, "type": "user-friendly-name"},
            {"name": _text(implant.pump_model), "type": "model-name"},
        ],
        "modelNumber": _text(implant.pump_model),
        "serialNumber": _text(implant.pump_serial),
        "type": {"text": codes()["device"]["text"]},
        "patient": _ref(patient),
        "note": [
            {
                "text": f"Implanted {implant.implant_date.isoformat()}; catheter {implant.catheter_model}, "
                f"{number_text(implant.catheter_length_cm)} cm × {number_text(implant.catheter_volume_ul_per_cm)} "
                f"µL/cm = {number_text(catheter_ul)} µL, tip at {implant.tip_level}"
            }
        ],
    }


def _implant_procedure(implant: ImplantLike, patient: JSON, device: JSON, ids: _Ids) -> JSON:
    return {
        "resourceType": "Procedure",
        "id": ids("implant-procedure", implant.id),
        "status": "completed",
        "code": {"text": "Implantation of intrathecal drug delivery pump and catheter"},
        "subject": _ref(patient),
        "performedDateTime": implant.implant_date.isoformat(),
        "focalDevice": [{"manipulated": _ref(device)}],
    }


def _request(prescription: Prescription, n: int, patient: JSON, ids: _Ids) -> JSON:
    unit = prescription.mass_unit
    concentration = concentration_text(prescription.drug, prescription.concentration_mg_per_ml)
    dosage: list[JSON] = [
        {
            "sequence": 1,
            "text": f"{number_text(prescription.dose_per_day)} {unit}/day of {prescription.drug} "
            f"({concentration}), continuous intrathecal infusion by implanted pump",
            "route": _route(),
            "doseAndRate": [
                {"rateQuantity": _quantity(prescription.dose_per_day, f"{unit}/day", f"{UCUM_MASS[unit]}/d")}
            ],
        }
    ]
    if prescription.ptm_bolus_dose is not None:
        most = prescription.ptm_max_per_day
        dose = prescription.ptm_bolus_dose
        entry: JSON = {
            "sequence": 2,
            "text": f"patient-activated bolus of {number_text(dose)} {unit}"
            + (f", at most {most} a day ({number_text(dose * most)} {unit}/day)" if most is not None else ""),
            "asNeededBoolean": True,
            "route": _route(),
            "doseAndRate": [{"doseQuantity": _mass(dose, unit)}],
        }
        if most is not None:
            entry["maxDosePerPeriod"] = {"numerator": _mass(dose * most, unit), "denominator": _quantity(1, "day", "d")}
        dosage.append(entry)
    return {
        "resourceType": "MedicationRequest",
        "id": ids("request", n, prescription.drug),
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": f"{prescription.drug} {concentration}"},
        "subject": _ref(patient),
        "authoredOn": _time(prescription.since) if prescription.since else None,
        "dosageInstruction": dosage,
    }


def _refill(
    fill: DrugFillLike, implant: ImplantLike | None, patient: JSON, device: JSON | None, ids: _Ids
) -> list[JSON]:
    check = reconcile(fill, implant.pump_model if implant else None)
    words = [f"{number_text(fill.volume_ml)} mL put into the reservoir"]
    if check.expected_ml is not None:
        words.append(f"expected {number_text(check.expected_ml)} mL")
    if check.aspirated_ml is not None:
        words.append(f"aspirated {number_text(check.aspirated_ml)} mL")
    if check.difference_ml is not None:
        words.append(
            f"difference {check.difference_ml:+.2f} mL (flag over {number_text(check.flag_ml)} mL: "
            + (
                "flagged" + (", acknowledged" if check.acknowledged else ", not acknowledged")
                if check.flagged
                else "not flagged"
            )
            + ")"
        )
    procedure: JSON = {
        "resourceType": "Procedure",
        "id": ids("refill", fill.id),
        "status": "completed",
        "code": {"text": "Refill of implanted intrathecal pump reservoir"},
        "subject": _ref(patient),
        "performedDateTime": _time(fill.at),
        "focalDevice": [{"manipulated": _ref(device)}] if device else None,
        "note": [{"text": "; ".join(words)}],
    }
    administrations = [procedure]
    for drug, mg_per_ml in fill.drugs:
        unit = drug_mass_unit(drug)
        amount = mg_per_ml * fill.volume_ml * (MCG_PER_MG if unit == "mcg" else 1)
        administrations.append(
            {
                "resourceType": "MedicationAdministration",
                "id": ids("refill-drug", fill.id, drug),
                "status": "completed",
                "medicationCodeableConcept": {"text": f"{drug} {concentration_text(drug, mg_per_ml)}"},
                "subject": _ref(patient),
                "effectiveDateTime": _time(fill.at),
                "partOf": [_ref(procedure)],
                "device": [_ref(device)] if device else None,
                "dosage": {
                    "text": f"{number_text(amount)} {unit} of {drug} ({number_text(fill.volume_ml)} mL at "
                    f"{concentration_text(drug, mg_per_ml)}) into the pump reservoir, for intrathecal infusion",
                    "route": _route(),
                    "dose": _mass(amount, unit),
                },
            }
        )
    return administrations


def _bolus(bolus: Bolus, n: int, patient: JSON, device: JSON | None, request: JSON | None, ids: _Ids) -> JSON:
    return {
        "resourceType": "MedicationAdministration",
        "id": ids("bolus", n, _time(bolus.at), bolus.kind),
        "status": "completed",
        "medicationCodeableConcept": {"text": bolus.drug},
        "subject": _ref(patient),
        "effectiveDateTime": _time(bolus.at),
        "request": _ref(request) if request else None,
        "device": [_ref(device)] if device else None,
        "dosage": {
            "text": f"{bolus.kind} bolus of {number_text(bolus.dose)} {bolus.mass_unit} {bolus.drug}",
            "route": _route(),
            "dose": _mass(bolus.dose, bolus.mass_unit),
        },
    }


PATIENT_DIARY = "patient_diary"  # the source of a pain score the patient's therapy manager sent


def _pain(record: PatientRecord, patient: JSON, ids: _Ids) -> Iterator[JSON]:
    pain = codes()["pain"]
    for score in record.pain_scores:
        note = f"source: {score.source}" + (f"; {score.note.strip()}" if score.note.strip() else "")
        yield {
            "resourceType": "Observation",
            "id": ids("pain", score.id),
            "status": "final",
            "code": {
                "coding": [{"system": pain["system"], "code": pain["code"], "display": pain["display"]}],
                "text": "Pain score 0-10",
            },
            "subject": _ref(patient),
            "effectiveDateTime": _time(score.at),
            "valueInteger": score.score,
            "note": [{"text": note}],
            # A score from the patient's diary is the patient's own report: the patient is its performer.
            **({"performer": [_ref(patient)]} if score.source == PATIENT_DIARY else {}),
        }


def patient_bundle(record: PatientRecord, *, generated_at: datetime | None = None) -> dict[str, Any]:
    """The patient's record as a FHIR R4B Bundle (type "collection"), validated and with its codes checked."""
    ids = _Ids(record.patient.mrn)
    patient = _patient(record, ids)
    resources_: list[JSON] = [patient]
    devices: dict[int, JSON] = {}
    for implant in record.implants:
        device = _device(implant, patient, ids)
        devices[implant.id] = device
        resources_ += [device, _implant_procedure(implant, patient, device, ids)]
    requests: dict[str, JSON] = {}
    for n, prescription in enumerate(record.prescriptions):
        request = _request(prescription, n, patient, ids)
        requests[prescription.drug] = request
        resources_.append(request)
    for fill in record.fills:
        resources_ += _refill(fill, record.implant_of(fill), patient, devices.get(fill.implant_id), ids)
    current = record.implant
    current_device = devices.get(current.id) if current else None
    for n, bolus in enumerate(record.boluses):
        resources_.append(_bolus(bolus, n, patient, current_device, requests.get(bolus.drug), ids))
    resources_ += _pain(record, patient, ids)
    bundle = _pruned(
        {
            "resourceType": "Bundle",
            "id": ids("bundle"),
            "type": "collection",
            "timestamp": _time(generated_at) if generated_at else None,
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources_],
        }
    )
    validate_bundle(bundle)
    problems = check_codes(bundle)
    if problems:
        raise InputError("FHIR bundle", record.patient.mrn, "; ".join(problems), "correct the record's values")
    return bundle


def validate_bundle(bundle: Mapping[str, Any]) -> Bundle:
    """The bundle as the R4B model, or an InputError naming the first field fhir.resources refused."""
    try:
        return Bundle.model_validate(dict(bundle))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InputError(
            f"FHIR bundle: {where}",
            first.get("input"),
            f"not valid FHIR R4B ({first['msg']})",
            "correct that value in the record and export again",
        ) from None


# ---- the export's own check of the codes the library does not validate ------------------------------------


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every (path, value) in a JSON tree, the root first."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _walk(item, f"{path}[{n}]")


def _is_quantity(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    number = value.get("value")
    return (
        isinstance(number, int | float)
        and not isinstance(number, bool)
        and bool({"unit", "code", "system"} & set(value))
    )


def _check_coding(where: str, concept: Any, expected: Mapping[str, Any], what: str) -> list[str]:
    """Problems of a CodeableConcept that must carry exactly the expected coding."""
    want = f"{expected['system']} {expected['code']} ({expected['display']})"
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not codings:
        return [f"{where}: no coding; {what} must be coded {want}"]
    problems = []
    for n, coding in enumerate(codings):
        at = f"{where}.coding[{n}]"
        if coding.get("system") != expected["system"]:
            problems.append(f"{at}.system = {coding.get('system')!r}: {what} must use {expected['system']!r}")
        elif coding.get("code") != expected["code"]:
            problems.append(f"{at}.code = {coding.get('code')!r}: {what} must be {want}")
        elif coding.get("display") != expected["display"]:
            problems.append(
                f"{at}.display = {coding.get('display')!r}: {expected['code']} is displayed {expected['display']!r}"
            )
    return problems


def check_codes(bundle: Mapping[str, Any]) -> list[str]:
    """The problems with the bundle's codes that fhir.resources does not see; an empty list when there are none.

    Checked against codes.toml: the route of every prescription and
    administration (SNOMED CT 72607000 Intrathecal route), the code of every
    Observation (LOINC 72514-3, with a valueInteger 0..10), the system and code
    of every quantity (UCUM, one of the allowed units), and that every
    reference points at an entry of the bundle.
    """
    table = codes()
    route, pain, ucum = table["route"], table["pain"], table["ucum"]
    allowed = set(ucum["allowed"])
    entries = bundle.get("entry") or []
    known: set[str] = set()
    for entry in entries:
        resource = entry.get("resource") or {}
        if entry.get("fullUrl"):
            known.add(entry["fullUrl"])
        if resource.get("resourceType") and resource.get("id"):
            known.add(f"{resource['resourceType']}/{resource['id']}")
    problems: list[str] = []
    for n, entry in enumerate(entries):
        resource = entry.get("resource") or {}
        kind = resource.get("resourceType", "?")
        name = f"entry[{n}] {kind}/{resource.get('id', '?')}"
        if kind == "MedicationRequest":
            dosages = resource.get("dosageInstruction") or []
            if not dosages:
                problems.append(f"{name}: no dosageInstruction; the prescription needs its intrathecal route")
            for d, dosage in enumerate(dosages):
                problems += _check_coding(
                    f"{name} dosageInstruction[{d}].route", dosage.get("route"), route, "the route"
                )
        elif kind == "MedicationAdministration":
            problems += _check_coding(
                f"{name} dosage.route", (resource.get("dosage") or {}).get("route"), route, "the route"
            )
        elif kind == "Observation":
            problems += _check_coding(f"{name} code", resource.get("code"), pain, "a pain score")
            score = resource.get("valueInteger")
            if (
                not isinstance(score, int)
                or isinstance(score, bool)
                or not pain["score_min"] <= score <= pain["score_max"]
            ):
                problems.append(
                    f"{name} valueInteger = {score!r}: a pain score is a whole number "
                    f"{pain['score_min']}..{pain['score_max']}"
                )
        for path, value in _walk(resource, ""):
            at = f"{name} {path}"
            if _is_quantity(value):
                if value.get("system") != ucum["system"]:
                    problems.append(
                        f"{at}.system = {value.get('system')!r}: a quantity's units must be UCUM, {ucum['system']!r}"
                    )
                if value.get("code") not in allowed:
                    problems.append(
                        f"{at}.code = {value.get('code')!r}: not one of the export's UCUM units "
                        f"({', '.join(sorted(allowed))})"
                    )
            if isinstance(value, dict) and isinstance(value.get("reference"), str):
                target = value["reference"]
                if target not in known:
                    problems.append(f"{at}.reference = {target!r}: points at no entry of the bundle")
    return problems
