"""What a clinician types is read strictly: a flexible schedule as a scenario writes it, doses never flows."""

from __future__ import annotations

import argparse

import pytest

from thecal.cli.typed_args import catheter_volume_nl, dose_schedule, fill
from thecal.errors import InputError
from thecal.pump.core.schedule import DoseSchedule, DoseStep

HOUR = 3_600_000


def test_a_flexible_schedule_reads_as_in_a_scenario() -> None:
    doses = dose_schedule(
        '[{days="all", at="00:00", dose="1.2 mg/day"}, {days="mon-fri", at="07:00", dose="1.8 mg/day"}]'
    )
    weekday = (DoseStep(0, 1_200_000), DoseStep(7 * HOUR, 1_800_000))
    weekend = (DoseStep(0, 1_200_000),)
    assert doses == DoseSchedule((weekday,) * 5 + (weekend,) * 2)


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ('[{days="all", at="00:00", flow="0.1 mL/day"}]', "--steps[0].flow", "doses, not flows"),
        ('[{days="all", at="00:00", dose="1,2 mg/day"}]', "--steps[0].dose", "comma"),
        ('[{days="mon-fri", at="00:00", dose="1 mg/day"}]', "--steps", 'step at "00:00"'),
        ('[{days="all", at="07:00", dose="1 mg/day"}]', "--steps", 'step at "00:00"'),
        (
            '[{days="all", at="00:00", dose="1 mg/day"}, {days="all", at="00:00", dose="2 mg/day"}]',
            "--steps",
            "one step",
        ),
        ('[{days="weekdays", at="00:00", dose="1 mg/day"}]', "--steps[0].days", "weekdays"),
        ("1 mg/day", "--steps", "scenario"),
    ],
)
def test_a_schedule_that_cannot_be_read_is_refused_with_what_to_do(text: str, field: str, words: str) -> None:
    with pytest.raises(InputError) as caught:
        dose_schedule(text)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_a_fill_is_never_assumed() -> None:
    args = argparse.Namespace(fill=None, drug="morphine", concentration=None)
    with pytest.raises(InputError, match="--concentration"):
        fill(args)


def test_the_catheter_volume_comes_from_its_length() -> None:
    args = argparse.Namespace(catheter_volume=None, catheter_length="45 cm", volume_per_length="2.2 uL/cm")
    assert catheter_volume_nl(args) == 99_000
    both = argparse.Namespace(catheter_volume="0.1 mL", catheter_length="45 cm", volume_per_length=None)
    with pytest.raises(InputError, match="together with a length"):
        catheter_volume_nl(both)
