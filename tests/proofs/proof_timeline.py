"""One clinical timeline, written once and played through any door.

An `Entry` is what a clinician does at a time, in base units (ng, ng/day,
ng/mL, nL, ms). The same entries become a scenario file's `[[timeline]]`
tables (`scenario_text`), or therapy intents sent through a `TherapyService`
over a `DirectPort` (`intent`), so that every door starts from the same pump
in the same state and is asked the same question.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thecal.drugs import Fill
from thecal.pump.core.schedule import DoseSchedule
from thecal.sim.scenario import parse_scenario
from thecal.therapy import (
    ClinicianBolus,
    FirstFill,
    Intent,
    PeriodicBolus,
    Prescribe,
    PtmSettings,
    PumpSnapshot,
    Refill,
)

MODEL = "programmable-40"
CATHETER_NL = 100_000
START_TEXT = "2026-01-05T08:00"  # a Monday; the scenario format's default start
START_WALL_MS = parse_scenario(
    f'[scenario]\nstart = "{START_TEXT}"\n[pump]\nmodel = "{MODEL}"\n[run]\nduration = "1 d"'
).start_wall_ms
REASON = "documented in the chart: this patient needs it after review"

MS_PER_MIN = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class Entry:
    """One thing a clinician does at `at_ms` after the start: an action and its values in base units."""

    at_ms: int
    action: str  # fill, refill, program, bolus, periodic_bolus, demand_settings
    values: tuple[tuple[str, int | str], ...]
    override: bool = False  # carries a physician's written reason

    def get(self, key: str) -> int:
        """One integer value of the entry."""
        value = dict(self.values)[key]
        assert isinstance(value, int)
        return value

    def drug(self) -> str:
        """The drug a fill or refill puts in the reservoir."""
        return str(dict(self.values)["drug"])

    def with_override(self, override: bool) -> Entry:
        """The same entry with or without the physician's written reason."""
        return Entry(self.at_ms, self.action, self.values, override)


def fill(at_ms: int, drug: str, concentration_ng_per_ml: int, volume_nl: int) -> Entry:
    """A first fill."""
    return Entry(at_ms, "fill", (("drug", drug), ("concentration", concentration_ng_per_ml), ("volume", volume_nl)))


def refill(at_ms: int, drug: str, concentration_ng_per_ml: int, volume_nl: int, override: bool = False) -> Entry:
    """A refill that aspirates everything left, with a bridge when the concentration changes."""
    values = (("drug", drug), ("concentration", concentration_ng_per_ml), ("volume", volume_nl))
    return Entry(at_ms, "refill", values, override)


def program(at_ms: int, dose_ng_per_day: int, override: bool = False) -> Entry:
    """A continuous prescription."""
    return Entry(at_ms, "program", (("dose", dose_ng_per_day),), override)


def bolus(at_ms: int, dose_ng: int, duration_ms: int, override: bool = False) -> Entry:
    """A clinician bolus."""
    return Entry(at_ms, "bolus", (("dose", dose_ng), ("duration", duration_ms)), override)


def periodic_bolus(
    at_ms: int, dose_ng: int, duration_ms: int, every_ms: int, first_ms: int, override: bool = False
) -> Entry:
    """A periodic bolus, the first at a time of day."""
    values = (("dose", dose_ng), ("duration", duration_ms), ("every", every_ms), ("first", first_ms))
    return Entry(at_ms, "periodic_bolus", values, override)


def demand_settings(
    at_ms: int, dose_ng: int, duration_ms: int, lockout_ms: int, max_per_day: int, override: bool = False
) -> Entry:
    """The physician's limits for the patient's handset."""
    values = (("dose", dose_ng), ("duration", duration_ms), ("lockout", lockout_ms), ("max_per_day", max_per_day))
    return Entry(at_ms, "demand_settings", values, override)


@dataclass(frozen=True)
class Timeline:
    """A pump from implant on: the patient, and the entries in time order."""

    entries: tuple[Entry, ...]
    opioid_naive: bool = False
    name: str = "proof"
    extra: tuple[str, ...] = field(default=())  # further scenario lines, e.g. presses

    @property
    def last_ms(self) -> int:
        """When the last entry happens."""
        return max(e.at_ms for e in self.entries)


# ------------------------------------------------------------------------ scenario file


def clock(ms_of_day: int) -> str:
    """A time of day as a scenario writes it, like 08:00."""
    return f"{ms_of_day // MS_PER_HOUR:02d}:{ms_of_day % MS_PER_HOUR // MS_PER_MIN:02d}"


def entry_toml(entry: Entry) -> str:
    """The entry as a `[[timeline]]` table, every quantity in base units with its unit."""
    v = dict(entry.values)
    lines = ["[[timeline]]", f'at = "{entry.at_ms} ms"', f'action = "{entry.action}"']
    if entry.action in ("fill", "refill"):
        lines += [
            f'drug = "{v["drug"]}"',
            f'concentration = "{v["concentration"]} ng/mL"',
            f'volume = "{v["volume"]} nL"',
        ]
    elif entry.action == "program":
        lines += ['mode = "continuous"', f'dose = "{v["dose"]} ng/day"']
    elif entry.action == "bolus":
        lines += [f'dose = "{v["dose"]} ng"', f'duration = "{v["duration"]} ms"']
    elif entry.action == "periodic_bolus":
        lines += [
            f'dose = "{v["dose"]} ng"',
            f'duration = "{v["duration"]} ms"',
            f'every = "{v["every"]} ms"',
            f'first = "{clock(int(v["first"]))}"',
        ]
    elif entry.action == "demand_settings":
        lines += [
            f'dose = "{v["dose"]} ng"',
            f'duration = "{v["duration"]} ms"',
            f'lockout = "{v["lockout"]} ms"',
            f"max_per_day = {v['max_per_day']}",
        ]
    else:
        raise ValueError(f"no scenario form for {entry.action}")
    if entry.override:
        lines.append(f'override_reason = "{REASON}"')
    return "\n".join(lines)


def scenario_text(timeline: Timeline, duration_ms: int | None = None) -> str:
    """The timeline as a scenario file: a perfectly accurate pump, so what is calculated is what moves."""
    duration = duration_ms if duration_ms is not None else timeline.last_ms + MS_PER_MIN
    head = f"""[scenario]
name = "{timeline.name}"
start = "{START_TEXT}"

[pump]
model = "{MODEL}"
accuracy_error = "0 %"

[catheter]
volume = "{CATHETER_NL} nL"

[patient]
opioid_naive = {"true" if timeline.opioid_naive else "false"}

[run]
duration = "{duration} ms"
sample = "1 d"
"""
    return "\n\n".join([head, *(entry_toml(e) for e in timeline.entries), *timeline.extra]) + "\n"


# ------------------------------------------------------------------------- intents


def intent(entry: Entry, snapshot: PumpSnapshot) -> Intent:
    """The therapy intent a scenario entry stands for, as a programmer would build it."""
    v = dict(entry.values)
    reason = REASON if entry.override else None

    def n(key: str) -> int:
        value = v[key]
        assert isinstance(value, int)
        return value

    if entry.action == "fill":
        return FirstFill(n("volume"), Fill.single(str(v["drug"]), n("concentration")), override_reason=reason)
    if entry.action == "refill":
        # The nurse aspirates all that is left; the pump is perfectly accurate, so that is what it calculated.
        return Refill(
            n("volume"),
            Fill.single(str(v["drug"]), n("concentration")),
            snapshot.reservoir_nl,
            override_reason=reason,
        )
    if entry.action == "program":
        return Prescribe(DoseSchedule.continuous(n("dose")), override_reason=reason)
    if entry.action == "bolus":
        return ClinicianBolus(n("dose"), n("duration"), override_reason=reason)
    if entry.action == "periodic_bolus":
        return PeriodicBolus(n("dose"), n("duration"), n("every"), n("first"), override_reason=reason)
    if entry.action == "demand_settings":
        return PtmSettings(n("dose"), n("duration"), n("lockout"), n("max_per_day"), override_reason=reason)
    raise ValueError(f"no intent for {entry.action}")
