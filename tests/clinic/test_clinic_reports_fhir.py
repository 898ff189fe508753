"""FHIR R4B export: the bundle validates with fhir.resources, and the export's own code check finds what it cannot."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from tests.clinic.test_clinic_reports_record import GENERATED_AT, sample_patient, sample_record

from thecal.apps.clinic.reports.fhir import PUMP_NAME, check_codes, codes, patient_bundle, validate_bundle
from thecal.apps.clinic.reports.record import Bolus, PatientRecord, Prescription
from thecal.errors import InputError

ROUTE = {"system": "http://snomed.info/sct", "code": "72607000", "display": "Intrathecal route"}
PAIN_LOINC = {
    "system": "http://loinc.org",
    "code": "72514-3",
    "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
}
UCUM = "http://unitsofmeasure.org"


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return patient_bundle(sample_record(), generated_at=GENERATED_AT)


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _broken(bundle: dict[str, Any], kind: str, change: Any) -> dict[str, Any]:
    """A deep copy of the bundle with `change` applied to its first resource of `kind`."""
    copied = copy.deepcopy(bundle)
    change(_resources(copied, kind)[0])
    return copied


def test_the_bundle_is_a_valid_r4b_collection(bundle: dict[str, Any]) -> None:
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    assert parsed.timestamp is not None
    assert json.loads(parsed.model_dump_json())["entry"][0]["resource"]["resourceType"] == "Patient"


def test_the_bundle_holds_every_kind_of_resource_the_record_gives(bundle: dict[str, Any]) -> None:
    kinds = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == {
        "Patient": 1,
        "Device": 1,
        "Procedure": 3,  # the implant and two refills
        "MedicationRequest": 2,  # morphine and bupivacaine
        "MedicationAdministration": 4,  # morphine at the first refill, both drugs at the second, one bolus
        "Observation": 12,  # one per pain score
    }


def test_the_patient_carries_mrn_name_and_birth_date(bundle: dict[str, Any]) -> None:
    (patient,) = _resources(bundle, "Patient")
    assert patient["identifier"][0]["value"] == "MRN-0042"
    assert patient["name"][0] == {"use": "official", "family": "Lindqvist", "given": ["Astrid"]}
    assert patient["birthDate"] == "1958-06-02"


def test_the_device_is_the_pump_with_model_serial_and_a_neutral_name(bundle: dict[str, Any]) -> None:
    (device,) = _resources(bundle, "Device")
    assert device["serialNumber"] == "TV40-000317"
    assert device["modelNumber"] == "programmable-40"
    assert {"name": PUMP_NAME, "type": "user-friendly-name"} in device["deviceName"]
    assert PUMP_NAME == "thecal virtual pump"
    assert device["type"]["text"] == "Pump, infusion, implanted, programmable"
    assert device["status"] == "active"


def test_every_prescription_and_administration_is_intrathecal(bundle: dict[str, Any]) -> None:
    for request in _resources(bundle, "MedicationRequest"):
        for dosage in request["dosageInstruction"]:
            assert dosage["route"]["coding"] == [ROUTE]
    for administration in _resources(bundle, "MedicationAdministration"):
        assert administration["dosage"]["route"]["coding"] == [ROUTE]


def test_the_prescription_rate_is_a_ucum_dose_rate(bundle: dict[str, Any]) -> None:
    morphine = _resources(bundle, "MedicationRequest")[0]
    rate = morphine["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"]
    assert rate == {"value": 2.5, "unit": "mg/day", "system": UCUM, "code": "mg/d"}
    demand = morphine["dosageInstruction"][1]
    assert demand["asNeededBoolean"] is True
    assert demand["maxDosePerPeriod"]["numerator"]["value"] == pytest.approx(0.4)
    assert demand["maxDosePerPeriod"]["denominator"]["code"] == "d"


def test_ziconotide_is_prescribed_in_micrograms_per_day() -> None:
    record = sample_record(
        prescriptions=[Prescription("ziconotide", "mcg", 2.4, 0.1)],
        boluses=[Bolus(GENERATED_AT, "clinician", "ziconotide", 1.2, "mcg")],
    )
    bundle = patient_bundle(record)
    (request,) = _resources(bundle, "MedicationRequest")
    assert request["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"]["code"] == "ug/d"
    assert request["medicationCodeableConcept"]["text"] == "ziconotide 100 mcg/mL"
    bolus = next(a for a in _resources(bundle, "MedicationAdministration") if "bolus" in a["dosage"]["text"])
    assert bolus["dosage"]["dose"] == {"value": 1.2, "unit": "mcg", "system": UCUM, "code": "ug"}
    assert bolus["request"]["reference"] == f"urn:uuid:{request['id']}"
    assert check_codes(bundle) == []


def test_each_refill_is_a_procedure_with_its_drugs_given_as_doses(bundle: dict[str, Any]) -> None:
    refills = [p for p in _resources(bundle, "Procedure") if "Refill" in p["code"]["text"]]
    assert len(refills) == 2
    assert "difference -2.50 mL (flag over 2 mL: flagged, acknowledged)" in refills[1]["note"][0]["text"]
    second = [a for a in _resources(bundle, "MedicationAdministration") if a.get("partOf")]
    doses = {a["medicationCodeableConcept"]["text"]: a["dosage"]["dose"]["value"] for a in second}
    assert doses == {"morphine 10 mg/mL": 400.0, "morphine 25 mg/mL": 1000.0, "bupivacaine 7.5 mg/mL": 300.0}


def test_pain_scores_are_loinc_observations_with_integer_values(bundle: dict[str, Any]) -> None:
    observations = _resources(bundle, "Observation")
    assert [o["valueInteger"] for o in observations] == [s.score for s in sample_record().pain_scores]
    for observation in observations:
        assert observation["code"]["coding"] == [PAIN_LOINC]
        assert observation["status"] == "final"
    assert observations[3]["note"][0]["text"] == "source: patient_app; after walking"


def test_every_reference_resolves_inside_the_bundle(bundle: dict[str, Any]) -> None:
    urls = {e["fullUrl"] for e in bundle["entry"]}
    references = _values(bundle, "reference")
    assert references
    assert set(references) <= urls


def _values(node: Any, key: str) -> list[Any]:
    if isinstance(node, dict):
        found = [node[key]] if key in node else []
        return found + [v for item in node.values() for v in _values(item, key)]
    if isinstance(node, list):
        return [v for item in node for v in _values(item, key)]
    return []


def test_the_same_record_gives_the_same_bundle(bundle: dict[str, Any]) -> None:
    assert patient_bundle(sample_record(), generated_at=GENERATED_AT) == bundle


def test_a_blank_given_name_is_left_out_rather_than_invalid() -> None:
    bundle = patient_bundle(PatientRecord(sample_patient(given_name="  ")))
    (patient,) = _resources(bundle, "Patient")
    assert patient["name"][0] == {"use": "official", "family": "Lindqvist"}


# ---- the export's own check of the codes ------------------------------------------------------------------------


def test_a_good_bundle_has_no_code_problem(bundle: dict[str, Any]) -> None:
    assert check_codes(bundle) == []


def _set_route_code(request: dict[str, Any]) -> None:
    request["dosageInstruction"][0]["route"]["coding"][0]["code"] = "26643006"  # Oral route


def test_a_wrong_route_code_is_named(bundle: dict[str, Any]) -> None:
    broken = _broken(bundle, "MedicationRequest", _set_route_code)
    validate_bundle(broken)  # the library accepts it: the binding is not its business
    (problem,) = check_codes(broken)
    assert "MedicationRequest" in problem
    assert "dosageInstruction[0].route.coding[0].code = '26643006'" in problem
    assert "72607000 (Intrathecal route)" in problem


def test_a_missing_route_and_a_wrong_route_display_are_named(bundle: dict[str, Any]) -> None:
    def no_route(administration: dict[str, Any]) -> None:
        del administration["dosage"]["route"]

    (problem,) = check_codes(_broken(bundle, "MedicationAdministration", no_route))
    assert "dosage.route: no coding" in problem

    def display(request: dict[str, Any]) -> None:
        request["dosageInstruction"][0]["route"]["coding"][0]["display"] = "Intrathecal"

    (problem,) = check_codes(_broken(bundle, "MedicationRequest", display))
    assert "display = 'Intrathecal'" in problem


def test_a_wrong_loinc_code_or_system_is_named(bundle: dict[str, Any]) -> None:
    def code(observation: dict[str, Any]) -> None:
        observation["code"]["coding"][0]["code"] = "38208-5"

    broken = _broken(bundle, "Observation", code)
    validate_bundle(broken)
    (problem,) = check_codes(broken)
    assert "Observation" in problem and "code = '38208-5'" in problem and "72514-3" in problem

    def system(observation: dict[str, Any]) -> None:
        observation["code"]["coding"][0]["system"] = "https://loinc.org"

    (problem,) = check_codes(_broken(bundle, "Observation", system))
    assert "system = 'https://loinc.org'" in problem and "'http://loinc.org'" in problem


def test_a_pain_score_outside_0_to_10_is_named(bundle: dict[str, Any]) -> None:
    def eleven(observation: dict[str, Any]) -> None:
        observation["valueInteger"] = 11

    (problem,) = check_codes(_broken(bundle, "Observation", eleven))
    assert "valueInteger = 11" in problem and "0..10" in problem


def test_an_unknown_ucum_unit_is_named(bundle: dict[str, Any]) -> None:
    def mcg(request: dict[str, Any]) -> None:
        request["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"]["code"] = "mcg/d"  # not UCUM: "ug/d"

    broken = _broken(bundle, "MedicationRequest", mcg)
    validate_bundle(broken)
    (problem,) = check_codes(broken)
    assert "rateQuantity.code = 'mcg/d'" in problem
    assert "ug/d" in problem  # the allowed units are listed


def test_a_quantity_outside_ucum_is_named(bundle: dict[str, Any]) -> None:
    def system(administration: dict[str, Any]) -> None:
        administration["dosage"]["dose"]["system"] = "http://example.org/units"

    (problem,) = check_codes(_broken(bundle, "MedicationAdministration", system))
    assert "dose.system = 'http://example.org/units'" in problem and UCUM in problem


def test_a_dangling_reference_is_named(bundle: dict[str, Any]) -> None:
    def dangle(device: dict[str, Any]) -> None:
        device["patient"]["reference"] = "urn:uuid:00000000-0000-4000-8000-000000000000"

    broken = _broken(bundle, "Device", dangle)
    validate_bundle(broken)
    (problem,) = check_codes(broken)
    assert "Device" in problem
    assert "patient.reference = 'urn:uuid:00000000-0000-4000-8000-000000000000'" in problem
    assert "points at no entry" in problem


def test_a_relative_reference_to_an_entry_resolves(bundle: dict[str, Any]) -> None:
    (patient,) = _resources(bundle, "Patient")

    def relative(device: dict[str, Any]) -> None:
        device["patient"]["reference"] = f"Patient/{patient['id']}"

    assert check_codes(_broken(bundle, "Device", relative)) == []


def test_a_structurally_invalid_bundle_is_refused_naming_the_field(bundle: dict[str, Any]) -> None:
    def bad_date(patient: dict[str, Any]) -> None:
        patient["birthDate"] = "1958-13-02"

    with pytest.raises(InputError) as caught:
        validate_bundle(_broken(bundle, "Patient", bad_date))
    assert "birthDate" in caught.value.field
    assert caught.value.value == "1958-13-02"


def test_every_code_in_the_codes_file_cites_its_source() -> None:
    table = codes()
    assert set(table) == {"route", "pain", "ucum", "device"}
    for name, section in table.items():
        assert len(section["source"]) > 40, name
    assert "loinc.org/72514-3" in table["pain"]["source"]
    assert "72607000" in table["route"]["source"]
    assert table["ucum"]["system"] == UCUM
    assert "mcg" not in table["ucum"]["allowed"]


def test_a_record_of_another_patients_pain_score_is_refused() -> None:
    from tests.clinic.test_clinic_reports_record import PainScore

    with pytest.raises(InputError):
        PatientRecord(sample_patient(), pain_scores=[PainScore(1, 99, GENERATED_AT, 3, "clinic", "")])


def test_an_implant_date_is_exported_as_a_date(bundle: dict[str, Any]) -> None:
    implant = next(p for p in _resources(bundle, "Procedure") if "Implantation" in p["code"]["text"])
    assert date.fromisoformat(implant["performedDateTime"]) == date(2024, 10, 2)
