"""Scenario files: a timeline of what people do to a pump, with a unit on every quantity.

The format is documented in docs/scenario.md and its shape is a schema
(`thecal.sim.scenario_schema`), checked as the drug and pump-model files are.
Reading a scenario checks the whole file before anything runs: an unknown key,
action or section, a missing unit, a boolean in quotes or an entry after the
end of the run is an `InputError` naming the field, the value and what to do.
What needs the pump (a drug's limits, a flow the model cannot deliver) is
checked by the therapy layer when the runner plays the entry.

A scenario file read by `load_scenario` is checked in full the first time;
what the check gave is kept in the user's cache (`thecal.units.checked`) and
read back, without building the schema, while the file, the drug library, the
shipped pump models and thecal's code are the same. A file whose pump model is
a model file of its own is checked every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thecal.errors import InputError
from thecal.units import LENGTH, MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, VOLUME_PER_LENGTH, checked, parse_typed

if TYPE_CHECKING:
    from thecal.sim import scenario_schema as schema

DEFAULT_CATHETER = ("45 cm", "2.2 uL/cm")  # assumption: a typical intrathecal catheter, as docs/scenario.md says


@dataclass(frozen=True)
class Amount:
    """A dose or a volume, as the person wrote it: exactly one of the two is set."""

    mass_ng: int | None = None
    volume_nl: int | None = None


@dataclass(frozen=True)
class Rate:
    """A dose rate or a flow, as written: exactly one of the two is set."""

    dose_ng_per_day: int | None = None
    flow_nl_per_day: int | None = None


@dataclass(frozen=True)
class FlexStep:
    """A flexible-dosing step: on these weekdays (0 = Monday), from this time of day, this rate."""

    days: tuple[int, ...]
    start_ms: int
    rate: Rate


@dataclass(frozen=True)
class Event:
    """One timeline entry, validated; `params` holds its typed fields."""

    index: int
    at_ms: int
    action: str
    params: dict[str, Any]

    @property
    def where(self) -> str:
        """How error messages name this entry."""
        return f"timeline[{self.index}] ({self.action})"


@dataclass(frozen=True)
class VirtualPatientSpec:
    """The [virtual_patient] section: who the scenario is played with (docs/scenario.md).

    A dose or a prognosis left as None is not written in the file: `thecal.sim.virtual_patient` gives its default,
    which depends on other keys (the prior oral dose on `[patient] opioid_naive`, the prognosis on the indication).
    """

    indication: str = "non_cancer"
    entry_pain: float = 7.5  # 0-10, before the pump, on the prior oral dose
    prior_oral_ng_per_day: int | None = None  # oral morphine before the pump
    oral_ng_per_day: int | None = None  # oral morphine taken on with the pump (modified release, twice a day)
    prognosis_ms: int | None = None  # cancer pain only
    observe_ms: int = MS_PER_HOUR
    presses: bool = True
    seed: int = 0


@dataclass(frozen=True)
class Scenario:
    """A whole scenario: the pump, the catheter, the patient, the timeline, the run and the virtual patient, if any."""

    name: str
    description: str
    start_wall_ms: int
    seed: int
    model: str
    low_reservoir_alarm_nl: int | None
    accuracy_error: float | None
    catheter_volume_nl: int
    opioid_naive: bool
    duration_ms: int
    sample_ms: int
    timeline: tuple[Event, ...]
    source: str = field(default="")
    virtual_patient: VirtualPatientSpec | None = None


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(
            "scenario", str(p), f"cannot be read ({exc.strerror})", "give the path of a .toml file"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            "scenario",
            str(p),
            f"is not UTF-8 text (byte {exc.start} cannot be read)",
            "save the file as UTF-8 (TOML files are UTF-8)",
        ) from None
    source = str(p)
    return checked("scenario", _checked_from(text, source), lambda: parse_scenario(text, source), keep=_keepable)


def _checked_from(text: str, source: str) -> list[str | bytes]:
    """Everything the check of a scenario reads besides code: its text and path, the drug and pump model files."""
    from thecal.drugs.loader import data_files
    from thecal.pump.model import model_files

    parts: list[str | bytes] = [source, text]
    for name, data in (*data_files(), *model_files()):
        parts += [name, data]
    return parts


def _keepable(scenario: Scenario) -> bool:
    """A scenario whose pump model is a shipped one: a model file of its own is read again at every run."""
    from thecal.pump.model import model_names

    return scenario.model in model_names()


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Check a scenario given as TOML text."""
    import tomllib

    from pydantic import ValidationError

    from thecal.sim import scenario_schema as schema  # the schema, built only when a file is checked

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError("scenario", source, f"is not valid TOML ({exc})", "fix the syntax at the line named") from None
    try:
        file = schema.ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise schema.input_error(exc) from None
    start = file.scenario.start
    duration = file.run.duration
    timeline = tuple(_event(i, entry, start) for i, entry in enumerate(file.timeline))
    for event in timeline:
        if event.at_ms > duration:
            raise InputError(
                f"{event.where}.at",
                event.params["_at_text"],
                "lies after the end of the run",
                f"move it before run.duration = {data['run']['duration']!r} or lengthen the run",
            )
    pump = file.pump
    sample = file.run.sample
    return Scenario(
        name=file.scenario.name if file.scenario.name is not None else Path(source).stem,
        description=file.scenario.description,
        start_wall_ms=start,
        seed=file.scenario.seed,
        model=pump.model,
        low_reservoir_alarm_nl=pump.low_reservoir_alarm,
        accuracy_error=float(pump.accuracy_error) if pump.accuracy_error is not None else None,
        catheter_volume_nl=_catheter_volume_nl(file.catheter),
        opioid_naive=file.patient.opioid_naive,
        duration_ms=duration,
        # Daily samples keep a year's series small; a short run needs finer ones to show anything.
        sample_ms=sample if sample is not None else (MS_PER_DAY if duration > 30 * MS_PER_DAY else MS_PER_HOUR),
        timeline=tuple(sorted(timeline, key=lambda e: (e.at_ms, e.index))),
        source=source,
        virtual_patient=_virtual_patient(file.virtual_patient, file.scenario.seed),
    )


def flex_steps(entry: dict[str, Any], where: str) -> tuple[FlexStep, ...]:
    """The prescription of an entry: one continuous rate, or flexible steps by weekday and time of day."""
    from pydantic import ValidationError

    from thecal.sim import scenario_schema as schema

    try:
        prescription = schema.Prescription.model_validate(entry)
    except ValidationError as exc:
        raise schema.input_error(exc, schema.Prescription, where) from None
    return _flex(prescription.mode, prescription.dose, prescription.flow, prescription.steps)


def time_of_day_ms(value: object, where: str) -> int:
    """A time of day written "HH:MM", as milliseconds after midnight (read by `thecal.sim.scenario_words`)."""
    from thecal.sim.scenario_words import time_of_day_ms as read  # the format's words, loaded when one is read

    return read(value, where)


def timeline_time(start_wall_ms: int, at_ms: int) -> str:
    """A pump time written as the timeline writes it: days since the start date, then the wall clock."""
    wall = start_wall_ms + at_ms
    days = (wall - (start_wall_ms - start_wall_ms % MS_PER_DAY)) // MS_PER_DAY
    of_day = wall % MS_PER_DAY
    return f"{days} d {of_day // MS_PER_HOUR:02d}:{of_day % MS_PER_HOUR // MS_PER_MIN:02d}"


# --------------------------------------------------------------- from the schema's tables


def _catheter_volume_nl(catheter: schema.CatheterSection) -> int:
    if catheter.volume is not None:
        return catheter.volume
    length_um = catheter.length
    if length_um is None:
        length_um = parse_typed(DEFAULT_CATHETER[0], LENGTH, "catheter.length")
    per_length_nl_per_cm = catheter.volume_per_length
    if per_length_nl_per_cm is None:
        per_length_nl_per_cm = parse_typed(DEFAULT_CATHETER[1], VOLUME_PER_LENGTH, "catheter.volume_per_length")
    # micrometres to centimetres, times nL per cm; rounded once, at the end
    return round(length_um / 10_000 * per_length_nl_per_cm)


def _virtual_patient(section: schema.VirtualPatientSection | None, scenario_seed: int) -> VirtualPatientSpec | None:
    if section is None:
        return None
    return VirtualPatientSpec(
        indication=section.indication,
        entry_pain=section.entry_pain,
        prior_oral_ng_per_day=section.prior_oral,
        oral_ng_per_day=section.oral,
        prognosis_ms=section.prognosis,
        observe_ms=section.observe,
        presses=section.presses,
        seed=scenario_seed if section.seed is None else section.seed,
    )


def _flex(
    mode: str | None, dose: int | None, flow: int | None, steps: list[schema.Step] | None
) -> tuple[FlexStep, ...]:
    """Flexible steps from a prescription the schema has checked: one rate around the clock, or the steps."""
    # The schema refuses a flexible prescription without steps, so no steps means one rate.
    if mode == "continuous" or steps is None:
        return (FlexStep(tuple(range(7)), 0, Rate(dose, flow)),)
    return tuple(FlexStep(step.days, step.at, Rate(step.dose, step.flow)) for step in steps)


def _amount(entry: schema.Dosed) -> Amount:
    return Amount(mass_ng=entry.dose, volume_nl=entry.volume)


def _event(index: int, entry: schema.Entry, start_wall_ms: int) -> Event:
    from thecal.sim import scenario_schema as schema

    action = entry.action
    where = f"timeline[{index}] ({action})"
    at = entry.at.ms_after(start_wall_ms, f"{where}.at")
    p: dict[str, Any] = {"_at_text": entry.at.text, "note": entry.note}
    if isinstance(entry, schema.Fill):  # a refill too: it is a fill with more to it
        p["contents"] = tuple((i.drug.lower(), i.concentration) for i in entry.ingredients())
        p["volume_nl"] = entry.volume
        if entry.low_reservoir_alarm is not None:
            p["low_reservoir_alarm_nl"] = entry.low_reservoir_alarm
        if entry.override_reason is not None:
            p["override_reason"] = entry.override_reason
    if isinstance(entry, schema.Refill):
        if entry.aspirated is not None:
            p["aspirated_nl"] = entry.aspirated
        p["bridge"] = entry.bridge
        p["pocket_fill"] = entry.pocket_fill
        p["discrepancy_acknowledged"] = entry.discrepancy_acknowledged
        if entry.dose is not None or entry.steps is not None:
            p["steps"] = _flex(entry.mode, entry.dose, None, entry.steps)
        if entry.programmed_concentration is not None:
            p["programmed_concentration_ng_per_ml"] = entry.programmed_concentration
    elif isinstance(entry, schema.Prime):
        if entry.volume is not None:
            p["volume_nl"] = entry.volume
        if entry.duration is not None:
            p["duration_ms"] = entry.duration
    elif isinstance(entry, schema.Program):
        p["drug"] = entry.drug
        if entry.override_reason is not None:
            p["override_reason"] = entry.override_reason
        p["steps"] = _flex(entry.mode, entry.dose, entry.flow, entry.steps)
    elif isinstance(entry, schema.Dosed):
        _dosed(entry, p)
    elif isinstance(entry, schema.PtmPress):
        if entry.every is not None and entry.until is not None:
            p["every_ms"] = entry.every
            p["until_ms"] = entry.until.ms_after(start_wall_ms, f"{where}.until")
            if p["until_ms"] < at:
                raise InputError(
                    f"{where}.until",
                    entry.until.text,
                    "lies before the first press",
                    'write every = "8 h", until = "30 d"',
                )
    elif isinstance(entry, schema.ClearAlarm):
        p["alarm"] = entry.alarm
    elif isinstance(entry, schema.LowReservoirAlarm):
        p["threshold_nl"] = entry.threshold
    elif isinstance(entry, schema.Mri):
        p["duration_ms"] = entry.duration
        p["recovery_delay_ms"] = entry.recovery_delay
    elif isinstance(entry, schema.Fault):
        p["kind"] = entry.kind
        if entry.kind in ("leak", "over_infusion"):
            p["fraction"] = float(entry.fraction or 0)
        if entry.duration is not None:
            p["duration_ms"] = entry.duration
    return Event(index, at, action, p)


def _dosed(entry: schema.Dosed, p: dict[str, Any]) -> None:
    """The params of a bolus, a periodic bolus or the demand settings."""
    from thecal.sim import scenario_schema as schema

    if entry.override_reason is not None:
        p["override_reason"] = entry.override_reason
    off = isinstance(entry, schema.PeriodicBolus | schema.DemandSettings) and entry.off
    if isinstance(entry, schema.PeriodicBolus | schema.DemandSettings):
        p["off"] = off
    if off:
        return
    p["amount"] = _amount(entry)
    p["duration_ms"] = entry.duration
    if isinstance(entry, schema.PeriodicBolus):
        p["every_ms"] = entry.every
        p["first_ms"] = entry.first
    elif isinstance(entry, schema.DemandSettings):
        p["lockout_ms"] = entry.lockout
        p["max_per_day"] = entry.max_per_day
    p["drug"] = entry.drug
