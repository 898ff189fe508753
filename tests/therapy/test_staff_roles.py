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


def test_a_soft_limit_passed_before_does_not_stop_a_nurses_change_of_something_else() -> None:
    """A physician passed a 1 h lockout with a reason; a nurse's small titration later is not blocked by it."""
    from fakes import HOUR, MG, NURSE, PHYSICIAN, FakePort, status

    from thecal.pump.core.schedule import DoseSchedule
    from thecal.therapy import PtmSettings, TherapyService, Titrate

    port = FakePort(status(prescription=DoseSchedule.continuous(2 * MG)))
    service = TherapyService(port)
    short_lockout = PtmSettings(100_000, 600_000, 1 * HOUR, 3)
    assert not service.plan(short_lockout, NURSE).allowed  # 1 h is below the usual 2 h lockout
    passed = service.plan(
        PtmSettings(100_000, 600_000, 1 * HOUR, 3, override_reason="pain flares hourly; reviewed today"), PHYSICIAN
    )
    assert passed.allowed
    service.execute(passed, PHYSICIAN, confirmed=True)
    later = service.plan(Titrate(2_200_000), NURSE)
    assert later.allowed, [f.message for f in later.findings if f.blocking]
    assert any(w.code == "soft_limit_kept" and "lockout" in w.message for w in later.warnings)
    # A change that makes a soft finding new (a bigger worst case) still needs a physician.
    bigger = service.plan(Titrate(3 * MG), NURSE)
    assert not bigger.allowed
