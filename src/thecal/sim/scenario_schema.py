"""The shape of a scenario file, as a schema: every section, every timeline action and the keys each may hold.

The file is checked by pydantic, as the drug and pump-model files are: an
unknown key is refused with the keys allowed there, a boolean must be a TOML
`true` or `false`, a count a whole number, and every quantity is text with its
unit, read by `thecal.units` into the integer the pump counts in. A timeline
entry is a table chosen by its `action`. Rules that tie keys together (a dose
or a volume, never both) are checked here too, so that a file that passes the
schema can be turned into a `Scenario` without further questions; only what
depends on the whole file (the start date, the length of the run) is left to
`thecal.sim.scenario`. Every quantity and count must lie in its field's
physical range (`thecal.units`, listed in docs/inputs.md), and what would make
a run never end or fill the memory (a sample every millisecond for a year, a
press every millisecond) is refused with the limit named, before anything
runs. `input_error` turns the schema's findings into an `InputError` that names
the field as the format writes it: `timeline[3] (program).dose`.
"""

from __future__ import annotations

import difflib
import typing
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    model_validator,
)

from thecal import units
from thecal.errors import InputError
from thecal.sim.scenario_words import DEFAULT_START, When, start_wall_ms, time_of_day_ms, weekdays, when
from thecal.units import Count, Range, format_concentration, format_duration

FaultKind = Literal["occlusion", "leak", "disconnection", "motor_stall", "over_infusion", "pump_fault"]
FAULTS: tuple[str, ...] = typing.get_args(FaultKind)


# --------------------------------------------------------------- the values of a key


# The field is left empty in each reader: the schema knows where the value sits and names it.


def _in(limits: Range) -> BeforeValidator:
    """A quantity of a field: text with its unit, read into the base unit's integer within the field's range."""
    return BeforeValidator(lambda text: units.quantity(text, "", limits))


def _exact(limits: Range) -> BeforeValidator:
    """A quantity kept exact: the catheter's volume is the product of two of them, rounded once."""
    return BeforeValidator(lambda text: units.quantity_exact(text, "", limits))


def _percentage(limits: Range) -> BeforeValidator:
    """A percentage with its % sign, as an exact fraction of one, within the field's range."""
    return BeforeValidator(lambda text: units.percentage(text, "", limits))


def _count(limits: Count) -> AfterValidator:
    """A whole number written without quotes (the strict schema refuses text and booleans), within its range."""
    return AfterValidator(lambda value: limits.check(value, ""))


def _known_drug(name: str) -> str:
    """A drug of the library, named as the file names it; refused with the known names before anything runs."""
    from thecal.drugs import get_drug

    try:
        get_drug(name)
    except InputError as error:  # the schema names the key: the error's own field would name it twice
        raise InputError("", error.value, error.problem, error.action) from None
    return name


def _known_model(name: str) -> str:
    """A shipped pump model or a model file, loaded to check it: a run never starts with a model it cannot use."""
    from thecal.pump.model import load_model, model_names

    if name.endswith(".toml") and Path(name).exists():
        units.read_text_file(name, "")  # readable, not too large, UTF-8
    try:
        _shipped_model(name) if name in model_names() else load_model(name)
    except InputError as error:  # the schema names the key; a model file's own field stays in the words
        if error.field in ("pump.model", ""):
            raise InputError("", error.value, error.problem, error.action, error.limit) from None
        raise InputError("", name, f"{error.field}: {error.problem}", error.action, error.limit) from None
    except RecursionError:
        raise InputError(
            "", name, "is nested too deeply to be read", "write a model file as the shipped ones"
        ) from None
    return name


@cache
def _shipped_model(name: str) -> object:
    """A shipped model, loaded once: checking every scenario that names it again would only repeat the work."""
    from thecal.pump.model import load_model

    return load_model(name)


def _known_alarm(name: str) -> str:
    """An alarm the pump can raise, by its name."""
    from thecal.pump.core.alarms import Alarm

    if name not in {alarm.value for alarm in Alarm}:
        raise InputError("", name, "is not an alarm", f"use one of: {', '.join(alarm.value for alarm in Alarm)}")
    return name


DrugName = Annotated[str, AfterValidator(_known_drug)]
AlarmName = Annotated[str, AfterValidator(_known_alarm)]
ModelName = Annotated[str, AfterValidator(_known_model)]
FillVolume = Annotated[int, _in(units.FILL_VOLUME)]
Aspirated = Annotated[int, _in(units.ASPIRATED_VOLUME)]
AlarmVolume = Annotated[int, _in(units.LOW_RESERVOIR_ALARM)]
CatheterVolume = Annotated[int, _in(units.CATHETER_VOLUME)]
PrimingVolume = Annotated[int, _in(units.PRIMING_VOLUME)]
DoseVolume = Annotated[int, _in(units.DOSE_VOLUME)]
BolusDose = Annotated[int, _in(units.BOLUS_DOSE)]
DailyDose = Annotated[int, _in(units.DAILY_DOSE)]
Flow = Annotated[int, _in(units.FLOW_RANGE)]
Concentration = Annotated[int, _in(units.CONCENTRATION_RANGE)]
RunLength = Annotated[int, _in(units.RUN_LENGTH)]
SampleInterval = Annotated[int, _in(units.SAMPLE_INTERVAL)]
BolusDuration = Annotated[int, _in(units.BOLUS_DURATION)]
PeriodicInterval = Annotated[int, _in(units.PERIODIC_INTERVAL)]
Lockout = Annotated[int, _in(units.LOCKOUT)]
PrimingDuration = Annotated[int, _in(units.PRIMING_DURATION)]
ScanDuration = Annotated[int, _in(units.SCAN_DURATION)]
RecoveryDelay = Annotated[int, _in(units.RECOVERY_DELAY)]
FaultDuration = Annotated[int, _in(units.FAULT_DURATION)]
PressInterval = Annotated[int, _in(units.PRESS_INTERVAL)]
Length = Annotated[Fraction, _exact(units.CATHETER_LENGTH)]
VolumePerLength = Annotated[Fraction, _exact(units.CATHETER_VOLUME_PER_LENGTH)]
FaultFraction = Annotated[Fraction, _percentage(units.FAULT_FRACTION)]
AccuracyError = Annotated[Fraction, _percentage(units.ACCURACY_ERROR)]
DemandDoses = Annotated[int, _count(units.DEMAND_DOSES_PER_DAY)]
Seed = Annotated[int, _count(units.SEED)]
TimeOfDay = Annotated[int, BeforeValidator(lambda text: time_of_day_ms(text, ""))]
Weekdays = Annotated[tuple[int, ...], BeforeValidator(lambda text: weekdays(text, ""))]
Moment = Annotated[When, PlainValidator(lambda value: when(value, ""))]
StartTime = Annotated[int, PlainValidator(lambda value: start_wall_ms(value, ""))]


# ------------------------------------------------------------ the virtual patient's values

PAIN_LOW, PAIN_HIGH = 0.0, 10.0  # the 0-10 numeric rating scale
PAIN_LIMIT = "0 to 10 (the 0-10 pain scale)"


def entry_pain(value: object, field: str) -> float:
    """A pain score on the 0-10 scale, written as a plain number (a TOML number, or digits on the command line)."""
    like = "write a number from 0 to 10 without quotes, like 7.5"
    if isinstance(value, str):
        number = float(units.decimal_number(value, field, "7.5"))
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(field, value, "must be a number", like, PAIN_LIMIT)
    else:
        number = float(value)
    if number != number or not PAIN_LOW <= number <= PAIN_HIGH:  # NaN compares false with everything
        raise InputError(field, value, "is not on the 0-10 pain scale", like, PAIN_LIMIT)
    return number


def _toml_pain(value: object) -> float:
    """A pain score in a scenario file: a TOML number; text is refused, as a count in quotes is."""
    if isinstance(value, str):
        raise InputError("", value, "must be a number, not text", "write it without quotes, like 7.5", PAIN_LIMIT)
    return entry_pain(value, "")


EntryPain = Annotated[float, PlainValidator(_toml_pain)]
PriorOral = Annotated[int, _in(units.PRIOR_ORAL)]
OralDose = Annotated[int, _in(units.ORAL_WITH_PUMP)]
Prognosis = Annotated[int, _in(units.PROGNOSIS)]
ObserveInterval = Annotated[int, _in(units.OBSERVE_INTERVAL)]


def _example(text: str, *, optional: bool = False) -> Any:
    """How a key is written, shown when it is missing; an optional key defaults to None."""
    return Field(default=None, examples=[text]) if optional else Field(examples=[text])


# --------------------------------------------------------------------- rules across keys


def _written_keys(table: type[BaseModel], data: object) -> dict[str, Any] | None:
    """The keys of a table as written, for a rule across keys; None when the schema will refuse the table anyway.

    A misspelt key ("dos") would otherwise read as a missing one ("needs a dose"), hiding the real mistake.
    """
    if not isinstance(data, dict) or set(data) - set(table.model_fields):
        return None
    return data


def _one_of(data: dict[str, Any] | None, keys: tuple[str, str], example: str, *, required: bool = True) -> None:
    """Exactly one of two keys (at most one when not required), judged on the keys as written."""
    if data is None:
        return
    given = [k for k in keys if k in data]
    if len(given) > 1:
        raise InputError(
            "",
            ", ".join(f"{k} = {data[k]!r}" for k in given),
            f"gives both a {keys[0]} and a {keys[1]}",
            "give one of the two",
        )
    if required and not given:
        raise InputError("", None, f"needs a {keys[0]} or a {keys[1]}", f"add {example}")


def _prescription(data: dict[str, Any] | None, *, flows: bool) -> None:
    """A prescription is one rate around the clock, or flexible steps."""
    if data is None:
        return
    mode = data.get("mode", "flexible" if "steps" in data else "continuous")
    if mode == "continuous":
        if flows:
            _one_of(data, ("dose", "flow"), 'dose = "1.5 mg/day" or flow = "0.15 mL/day"')
        elif "dose" not in data:
            raise InputError("dose", None, "is missing", 'add dose = "1.5 mg/day", or steps')
    elif mode == "flexible" and "steps" not in data:
        raise InputError("steps", None, "must list the steps", "see docs/scenario.md")


def missing(table: type[BaseModel], key: str) -> InputError:
    """The error for a key the table needs and the file does not give."""
    example = _written(table, key)
    return InputError(key, None, "is missing", f"add {example}" if example else "add it (see docs/scenario.md)")


def _written(table: type[BaseModel] | None, key: str) -> str | None:
    """How the format writes a key, from the example its table gives, or None where it gives none."""
    info = table.model_fields.get(key) if table is not None else None
    examples = (info.examples if info is not None else None) or []
    return f"{key} = {examples[0]}" if examples else None


# --------------------------------------------------------------------- the tables


class Table(BaseModel):
    """A table of a scenario file: no unknown keys, no silent conversion of one type into another."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ScenarioSection(Table):
    """[scenario]: what the scenario is called and when it starts."""

    name: str | None = None
    description: str = ""
    # The default start is read like a written one, so both reach the same integer.
    start: StartTime = Field(default=DEFAULT_START, validate_default=True, examples=[f'"{DEFAULT_START}"'])
    seed: Seed = Field(default=0, examples=["7"])


class PumpSection(Table):
    """[pump]: the pump model and what differs from it."""

    model: ModelName = _example('"programmable-40"')
    low_reservoir_alarm: AlarmVolume | None = None
    accuracy_error: AccuracyError | None = None


class CatheterSection(Table):
    """[catheter]: the lumen volume, directly or as a length and a volume per length."""

    length: Length | None = None
    volume_per_length: VolumePerLength | None = None
    volume: CatheterVolume | None = None

    @model_validator(mode="after")
    def _one_way(self) -> CatheterSection:
        if self.volume is not None and (self.length is not None or self.volume_per_length is not None):
            raise InputError(
                "volume",
                units.format_typed(self.volume, units.VOLUME),
                "is given together with a length or a volume per length",
                "give the volume, or the length and the volume per length",
            )
        return self


class PatientSection(Table):
    """[patient]: what the drug library's dose checks need to know about the patient."""

    opioid_naive: bool = False


class VirtualPatientSection(Table):
    """[virtual_patient]: the patient the scenario is played with; a key left out keeps its default."""

    indication: Literal["cancer", "non_cancer"] = "non_cancer"
    entry_pain: EntryPain = Field(default=7.5, examples=["7.5"])
    prior_oral: PriorOral | None = _example('"60 mg/day"', optional=True)
    oral: OralDose | None = _example('"60 mg/day"', optional=True)
    prognosis: Prognosis | None = _example('"180 d"', optional=True)
    # The default is read like a written one, so both reach the same integer.
    observe: ObserveInterval = Field(default="1 h", validate_default=True, examples=['"1 h"'])
    presses: bool = True
    seed: Seed | None = _example("7", optional=True)

    @model_validator(mode="after")
    def _prognosis_for_cancer(self) -> VirtualPatientSection:
        # Only cancer patients die in the model (docs/patient.md, "Survival"): a prognosis would be ignored.
        if self.prognosis is not None and self.indication != "cancer":
            raise InputError(
                "prognosis",
                f"{self.prognosis / units.MS_PER_DAY:g} d",
                f"applies to cancer pain only, and the indication is {self.indication!r}",
                'remove prognosis, or write indication = "cancer"',
                'indication = "cancer" only',
            )
        return self


class RunSection(Table):
    """[run]: how long to run and how often to sample."""

    duration: RunLength = _example('"300 d"')
    sample: SampleInterval | None = None

    @model_validator(mode="after")
    def _samples(self) -> RunSection:
        # The series holds a point per sample: a sample of 1 ms over a year would never finish nor fit.
        limit = units.SAMPLES_PER_RUN
        if self.sample is not None and self.duration // self.sample + 1 > limit.high:
            shortest = -(-self.duration // (limit.high - 1))
            raise InputError(
                "sample",
                units.format_typed(self.sample, units.DURATION),
                f"gives {self.duration // self.sample + 1} samples over the run of {format_duration(self.duration)}: "
                f"more than {limit.high} ({limit.why})",
                f"sample less often: every {format_duration(shortest)} or longer",
                f"{limit.high} samples in a run",
            )
        return self


class Ingredient(Table):
    """One drug of an admixture."""

    drug: DrugName = _example('"morphine"')
    concentration: Concentration = _example('"10 mg/mL"')


class Step(Table):
    """A flexible-dosing step: on these weekdays, from this time of day, this rate."""

    days: Weekdays = tuple(range(7))
    at: TimeOfDay = _example('"00:00"')
    dose: DailyDose | None = None
    flow: Flow | None = None

    @model_validator(mode="before")
    @classmethod
    def _rate(cls, data: object) -> object:
        _one_of(_written_keys(cls, data), ("dose", "flow"), 'dose = "1.5 mg/day" or flow = "0.15 mL/day"')
        return data


class Prescription(Table):
    """A prescription: one rate around the clock, or flexible steps by weekday and time of day."""

    mode: Literal["continuous", "flexible"] | None = None
    dose: DailyDose | None = None
    flow: Flow | None = None
    steps: list[Step] | None = Field(default=None, min_length=1, max_length=units.STEPS_PER_PRESCRIPTION.high)

    @model_validator(mode="before")
    @classmethod
    def _given(cls, data: object) -> object:
        _prescription(_written_keys(cls, data), flows=True)
        return data


class Entry(Table):
    """What every timeline entry has: its action, when, and an optional note."""

    action: str
    at: Moment = _example('"0 d" or at = "10 d 08:00"')
    note: str = Field(default="", examples=['"free text"'])


class Fill(Entry):
    """`fill`: the first fill of the reservoir."""

    action: Literal["fill"]
    drug: DrugName | None = _example('"morphine"', optional=True)
    concentration: Concentration | None = None
    contents: list[Ingredient] | None = Field(default=None, min_length=1)
    volume: FillVolume = _example('"20 mL"')
    low_reservoir_alarm: AlarmVolume | None = None
    override_reason: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _drugs(cls, data: object) -> object:
        keys = _written_keys(cls, data)
        if keys is None:
            return data
        if "contents" not in keys and ("drug" not in keys or "concentration" not in keys):
            raise InputError(
                "", None, "needs a drug and a concentration", 'add drug = "morphine" and concentration = "10 mg/mL"'
            )
        if "contents" in keys and ("drug" in keys or "concentration" in keys):
            raise InputError(
                "contents", keys["contents"], "is given together with drug or concentration", "give one or the other"
            )
        contents = keys.get("contents")
        if isinstance(contents, list) and len(contents) > units.DRUGS_PER_FILL.high:
            units.DRUGS_PER_FILL.check(len(contents), "contents", f"{len(contents)} drugs")
        return data

    @model_validator(mode="after")
    def _each_drug_once(self) -> Fill:
        from thecal.drugs import get_drug

        names = [get_drug(i.drug).name for i in self.contents or ()]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise InputError(
                "contents",
                ", ".join(i.drug for i in self.contents or ()),
                f"lists {twice[0]} twice: a fill has one concentration per drug",
                "list each drug once with its final concentration",
            )
        return self

    def ingredients(self) -> list[Ingredient]:
        """The drugs of the fill, lead first."""
        if self.contents is not None:
            return self.contents
        if self.drug is None or self.concentration is None:  # refused by `_drugs` before; kept for the types
            raise missing(type(self), "drug" if self.drug is None else "concentration")
        return [Ingredient.model_construct(drug=self.drug, concentration=self.concentration)]


class Refill(Fill):
    """`refill`: aspirate, reconcile and refill; optionally a new prescription."""

    action: Literal["refill"]  # type: ignore[assignment]
    aspirated: Aspirated | None = None
    bridge: bool = True
    pocket_fill: bool = False
    programmed_concentration: Concentration | None = None
    discrepancy_acknowledged: bool = False
    mode: Literal["continuous", "flexible"] | None = None
    dose: DailyDose | None = None
    steps: list[Step] | None = Field(default=None, min_length=1, max_length=units.STEPS_PER_PRESCRIPTION.high)

    @model_validator(mode="before")
    @classmethod
    def _new_prescription(cls, data: object) -> object:
        keys = _written_keys(cls, data)
        if keys is not None and ("dose" in keys or "steps" in keys):
            _prescription(keys, flows=False)
        return data

    @model_validator(mode="after")
    def _one_drug_told(self) -> Refill:
        if self.programmed_concentration is not None and self.contents is not None and len(self.contents) != 1:
            raise InputError(
                "programmed_concentration",
                format_concentration(self.programmed_concentration),
                "applies to a single-drug fill only",
                "remove it or use one drug",
            )
        return self


class Prime(Entry):
    """`prime`: a priming bolus."""

    action: Literal["prime"]
    volume: PrimingVolume | None = None
    duration: PrimingDuration | None = None


class Program(Entry, Prescription):
    """`program`: a new prescription."""

    action: Literal["program"]
    drug: DrugName | None = _example('"morphine"', optional=True)
    override_reason: str | None = None


class Dosed(Entry):
    """What every bolus setting has: a dose or a volume, its duration, the lead drug named, a physician's reason."""

    dose: BolusDose | None = None
    volume: DoseVolume | None = None
    duration: BolusDuration | None = None
    drug: DrugName | None = _example('"morphine"', optional=True)
    override_reason: str | None = None

    def _needs(self, *keys: str) -> None:
        for key in keys:
            if getattr(self, key) is None:
                raise missing(type(self), key)


class Bolus(Dosed):
    """`bolus`: a clinician bolus."""

    action: Literal["bolus"]
    duration: BolusDuration | None = _example('"1 h"', optional=True)

    @model_validator(mode="before")
    @classmethod
    def _amount(cls, data: object) -> object:
        _one_of(_written_keys(cls, data), ("dose", "volume"), 'dose = "0.1 mg" or volume = "0.02 mL"')
        return data

    @model_validator(mode="after")
    def _duration(self) -> Bolus:
        self._needs("duration")
        return self


class PeriodicBolus(Dosed):
    """`periodic_bolus`: a bolus every interval from a time of day, or `off = true`."""

    action: Literal["periodic_bolus"]
    duration: BolusDuration | None = _example('"1 h"', optional=True)
    every: PeriodicInterval | None = _example('"8 h"', optional=True)
    first: TimeOfDay = 0
    off: bool = False

    @model_validator(mode="before")
    @classmethod
    def _amount(cls, data: object) -> object:
        keys = _written_keys(cls, data)
        if keys is not None and not isinstance(keys.get("off", False), bool):
            return data  # "no" or 1 for `off`: the schema names that key, rather than a missing dose
        on = keys is not None and keys.get("off") is not True
        _one_of(keys, ("dose", "volume"), 'dose = "0.1 mg" or volume = "0.02 mL"', required=on)
        return data

    @model_validator(mode="after")
    def _settings(self) -> PeriodicBolus:
        if not self.off:
            self._needs("duration", "every")
            assert self.duration is not None and self.every is not None  # _needs raised otherwise
            if self.duration > self.every:
                # Each bolus must end before the next starts; the pump would refuse it only while running.
                raise InputError(
                    "duration",
                    format_duration(self.duration),
                    f"is longer than the interval every = {format_duration(self.every)!r}: "
                    "each periodic bolus must end before the next one starts",
                    "give each bolus a shorter duration or a longer interval",
                    f"at most {format_duration(self.every)}",
                )
        return self


class DemandSettings(Dosed):
    """`demand_settings`: the physician's limits for the patient's doses, or `off = true`."""

    action: Literal["demand_settings"]
    duration: BolusDuration | None = _example('"10 min"', optional=True)
    lockout: Lockout | None = _example('"4 h"', optional=True)
    max_per_day: DemandDoses | None = _example("4", optional=True)
    off: bool = False

    @model_validator(mode="before")
    @classmethod
    def _amount(cls, data: object) -> object:
        keys = _written_keys(cls, data)
        if keys is not None and not isinstance(keys.get("off", False), bool):
            return data  # "no" or 1 for `off`: the schema names that key, rather than a missing dose
        on = keys is not None and keys.get("off") is not True
        _one_of(keys, ("dose", "volume"), 'dose = "0.1 mg" or volume = "0.02 mL"', required=on)
        return data

    @model_validator(mode="after")
    def _settings(self) -> DemandSettings:
        if not self.off:
            self._needs("duration", "lockout", "max_per_day")
        return self


class PtmPress(Entry):
    """`ptm_press`: the patient asks for a dose, once or every interval until a moment."""

    action: Literal["ptm_press"]
    every: PressInterval | None = _example('"8 h"', optional=True)
    until: Moment | None = _example('"30 d"', optional=True)

    @model_validator(mode="after")
    def _repeat(self) -> PtmPress:
        if self.every is None and self.until is None:
            return self
        if self.every is None or self.until is None:
            raise missing(PtmPress, "every" if self.every is None else "until")
        return self

    def presses(self, start_wall_ms: int, end_ms: int) -> int:
        """How many presses the entry makes in a run that ends at `end_ms` (0 where its times cannot be placed)."""
        if self.every is None or self.until is None:
            return 1
        try:
            first = self.at.ms_after(start_wall_ms, "at")
            last = min(self.until.ms_after(start_wall_ms, "until"), end_ms)
        except InputError:
            return 0  # a time before the start: `thecal.sim.scenario` names it
        return (last - first) // self.every + 1 if last >= first else 0


class Stop(Entry):
    """`stop`: minimum-rate mode."""

    action: Literal["stop"]


class Resume(Entry):
    """`resume`: back to the prescription."""

    action: Literal["resume"]


class ClearAlarm(Entry):
    """`clear_alarm`: a clinician clears an alarm."""

    action: Literal["clear_alarm"]
    alarm: AlarmName = _example('"motor_stall"')


class LowReservoirAlarm(Entry):
    """`low_reservoir_alarm`: a new alarm threshold."""

    action: Literal["low_reservoir_alarm"]
    threshold: AlarmVolume = _example('"2 mL"')


class Mri(Entry):
    """`mri`: the magnet stalls the motor for the scan; it restarts after the scan plus a delay."""

    action: Literal["mri"]
    duration: ScanDuration = _example('"40 min"')
    recovery_delay: RecoveryDelay = 0


class Fault(Entry):
    """`fault`: a fault injected on the virtual hardware."""

    action: Literal["fault"]
    kind: FaultKind = _example('"occlusion"')
    fraction: FaultFraction | None = _example('"30 %"', optional=True)
    duration: FaultDuration | None = None

    @model_validator(mode="after")
    def _fraction(self) -> Fault:
        if self.kind in ("leak", "over_infusion") and self.fraction is None:
            raise missing(Fault, "fraction")
        return self


AnyEntry = Annotated[
    Fill
    | Refill
    | Prime
    | Program
    | Bolus
    | PeriodicBolus
    | DemandSettings
    | PtmPress
    | Stop
    | Resume
    | ClearAlarm
    | LowReservoirAlarm
    | Mri
    | Fault,
    Field(discriminator="action"),
]


def _by_action(tables: typing.Iterable[type[BaseModel]]) -> dict[str, type[BaseModel]]:
    """Timeline entry tables by the action that chooses them."""
    return {typing.get_args(table.model_fields["action"].annotation)[0]: table for table in tables}


ENTRIES = _by_action(typing.get_args(typing.get_args(AnyEntry)[0]))
ACTIONS = tuple(ENTRIES)


class ScenarioFile(Table):
    """A whole scenario file."""

    scenario: ScenarioSection = ScenarioSection()
    pump: PumpSection
    catheter: CatheterSection = CatheterSection()
    patient: PatientSection = PatientSection()
    virtual_patient: VirtualPatientSection | None = None
    run: RunSection
    timeline: list[AnyEntry] = Field(default=[], max_length=units.TIMELINE_ENTRIES.high)
    # A scenario test's expected results; the runner does not read them.
    expect: Any = None

    @model_validator(mode="after")
    def _observations(self) -> ScenarioFile:
        # Each observation is kept and written out, as a sample of the series is: the same limit holds.
        limit, patient = units.SAMPLES_PER_RUN, self.virtual_patient
        if patient is not None and self.run.duration // patient.observe > limit.high:
            # The interval that fits, in whole minutes: what a person would write.
            shortest_min = -(-self.run.duration // (limit.high * units.MS_PER_MIN))
            raise InputError(
                "virtual_patient.observe",
                f"{patient.observe / units.MS_PER_MIN:g} min",
                f"gives {self.run.duration // patient.observe} observations over the run of "
                f"{format_duration(self.run.duration)}: more than {limit.high} ({limit.why})",
                f'observe less often: observe = "{shortest_min} min" or longer',
                f"{limit.high} observations in a run",
            )
        return self

    @model_validator(mode="after")
    def _presses(self) -> ScenarioFile:
        # Each press is planned and sent like a clinician's command: a press every millisecond would never end.
        total, limit = 0, units.PRESSES_PER_RUN
        for index, entry in enumerate(self.timeline):
            if isinstance(entry, PtmPress):
                total += entry.presses(self.scenario.start, self.run.duration)
                if total > limit.high:
                    raise InputError(
                        f"timeline[{index}] (ptm_press).every",
                        units.format_typed(entry.every or 0, units.DURATION),
                        f"makes the presses of the run more than {limit.high} ({limit.why})",
                        "press less often, or over a shorter time",
                        f"{limit.high} presses in a run",
                    )
        return self


SECTIONS = ("scenario", "pump", "catheter", "patient", "virtual_patient", "run")


# --------------------------------------------------------------------- findings in words

# What the schema's own finding types mean, and what to do, in the words of someone editing a scenario.
_WORDS: dict[str, tuple[str, str]] = {
    "string_type": ("must be text", "write it in quotes"),
    "bool_type": ("must be true or false", "write it without quotes: true or false"),
    "int_type": ("must be a whole number", "write a whole number without quotes"),
    "list_type": ("must be a list", "write it as [ … ] (see docs/scenario.md)"),
    "too_short": ("must list at least one entry", "see docs/scenario.md"),
    "too_long": ("lists more entries than a scenario may hold", "see docs/inputs.md for the limits"),
    "dict_type": ("must be a table", "write it as { key = value, … } (see docs/scenario.md)"),
    "model_type": ("must be a table", "write it as { key = value, … } (see docs/scenario.md)"),
    "model_attributes_type": ("must be a table", "write it as { key = value, … } (see docs/scenario.md)"),
}


def input_error(exc: ValidationError, table: type[BaseModel] = ScenarioFile, where: str = "") -> InputError:
    """The first problem the schema found, as an InputError naming the field as the scenario format writes it.

    `table` is the schema that was validated; `where` is put before the field
    (the entry or the option the table was read from).
    """
    problems = exc.errors()
    # A misspelt key also makes the right key missing; the misspelling is the one to show.
    first = min(problems, key=lambda p: p["type"] != "extra_forbidden")
    loc = tuple(first["loc"])
    kind, value = first["type"], first.get("input")
    field, holder = _locate(table, loc, where)
    cause = (first.get("ctx") or {}).get("error")
    limit = None
    if isinstance(cause, InputError):
        # A rule of the format (a unit, a time, two keys that exclude each other) said what was wrong.
        if cause.field:
            field = f"{field}.{cause.field}" if field else cause.field
        value = cause.value
        problem, action, limit = cause.problem, cause.action, cause.limit
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        field = f"{field}.action"
        value = value.get("action") if isinstance(value, dict) else None
        problem = "is not a known action" if kind == "union_tag_invalid" else "is missing"
        action = f"use one of: {', '.join(ACTIONS)}"
    elif kind == "extra_forbidden":
        allowed = sorted(holder.model_fields) if holder is not None else []
        problem = "is not a known key"
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        if close:
            problem += f" (did you mean {close[0]}?)"
        action = f"use one of: {', '.join(allowed)}" if allowed else "remove it (see docs/scenario.md)"
    elif kind == "missing":
        if holder is ScenarioFile:
            field, problem, action = (
                f"[{loc[-1]}]",
                "section is missing",
                f"add a [{loc[-1]}] section (see docs/scenario.md)",
            )
        else:
            error = missing(holder, str(loc[-1])) if holder is not None else None
            problem = "is missing"
            action = error.action if error is not None else "add it (see docs/scenario.md)"
        value = None
    elif kind == "literal_error":
        problem = "is not one of the values this key takes"
        action = f"use one of: {(first.get('ctx') or {}).get('expected', '')}"
    else:
        problem, action = _WORDS.get(kind, (str(first.get("msg", "is not acceptable")), "see docs/scenario.md"))
        if len(loc) == 1 and loc[0] in SECTIONS and kind.endswith("type"):
            field, action = f"[{loc[0]}]", f"write it as a [{loc[0]}] section"
        elif loc and (example := _written(holder, str(loc[-1]))):
            action += f", like {example}"
    if len(problems) > 1:
        problem += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''} in this file)"
    return InputError(field, value, problem, action, limit)


def _locate(table: type[BaseModel], loc: tuple[str | int, ...], where: str) -> tuple[str, type[BaseModel] | None]:
    """The field as the format writes it (`timeline[3] (program).steps[0].at`), and the table holding its last key."""
    field = where
    keys: _Keys = table  # what the next name in the location is looked up in
    holder: type[BaseModel] | None = None
    for part in loc:
        if isinstance(part, int):
            field += f"[{part}]"  # an entry of a list: the list's annotation already said what it holds
        elif isinstance(keys, dict) and part in keys:
            field += f" ({part})"  # the action a timeline entry was chosen by
            keys = keys[part]
        else:
            field += f".{part}" if field else part
            holder = keys if isinstance(keys, type) else None
            info = holder.model_fields.get(part) if holder is not None else None
            keys = _tables_in(info.annotation) if info is not None else None
    return field, holder


# A table type, the table types of a union chosen by their action, or nothing (a plain value).
_Keys = type[BaseModel] | dict[str, type[BaseModel]] | None


def _tables_in(annotation: object) -> _Keys:
    """The table type inside an annotation such as `list[Step] | None`, or the entry tables of a union by action."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    found = [t for t in map(_tables_in, typing.get_args(annotation)) if t is not None]
    tables = [t for t in found if isinstance(t, type)]
    if len(tables) > 1:
        return _by_action(tables)
    return found[0] if found else None
