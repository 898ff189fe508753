"""One role enum for people, one override rule, and one shape for a pump's refusal."""

from __future__ import annotations

import pytest

from thecal.drugs import Override, Tier
from thecal.drugs.limits import refusal_finding
from thecal.drugs.verdict import StaffRole
from thecal.errors import InputError
from thecal.pump.core.actions import Refusal
from thecal.therapy import Actor


def test_an_override_takes_a_staff_role_and_only_a_physician_gives_one() -> None:
    assert Override(StaffRole.PHYSICIAN, "reviewed in clinic today").role is StaffRole.PHYSICIAN
    assert Override("Physician", "reviewed in clinic today").role is StaffRole.PHYSICIAN  # typed at a terminal
    for role in (StaffRole.NURSE, StaffRole.PATIENT):
        with pytest.raises(InputError) as raised:
            Override(role, "reviewed in clinic today")
        assert raised.value.field == "override role" and raised.value.value == role.value


def test_an_unknown_role_names_the_roles() -> None:
    with pytest.raises(InputError) as raised:
        Actor("A. Smith", "surgeon")  # type: ignore[arg-type]
    assert "physician, nurse, patient" in raised.value.action


def test_a_pump_refusal_reads_as_a_hard_finding_with_its_code_field_value_and_limit() -> None:
    finding = refusal_finding(
        Refusal(
            "above_max_bolus",
            "morphine: one bolus of 5 mg is more than the pump's hard limit",
            "bolus.morphine",
            "5 mg",
            "1 mg",
        )
    )
    assert finding.tier is Tier.HARD and finding.source == "pump firmware"
    assert (finding.code, finding.field, finding.value, finding.limit) == (
        "above_max_bolus",
        "bolus.morphine",
        "5 mg",
        "1 mg",
    )
    assert finding.message == "The pump refused this: morphine: one bolus of 5 mg is more than the pump's hard limit."
    assert finding.blocking and finding.to_dict()["code"] == "above_max_bolus"
