"""Trial protocols: the population, the arms and their clinical rules, the published targets; read from TOML.

A protocol file (docs/trials.md, "Protocols"; examples in examples/trials/)
has a `[trial]` table (name, source, seed, horizon, the weeks and months at
which endpoints are taken), a `[population]` table (what `PopulationSpec`
takes, plus the entry criteria), one `[[arms]]` table per arm and one
`[[targets]]` table per published figure. Every dose, duration and fraction is
written with its unit ("0.5 mg", "3 d", "25 %"); reading checks every field
and refuses a wrong one with an `InputError` naming the field, the value, the
limit and what to do. Everything read is a frozen dataclass, so a protocol can
be sent to worker processes as it is.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from thecal.errors import InputError
from thecal.patient import PopulationSpec
from thecal.units import (
    CONCENTRATION,
    DOSE_RATE,
    DURATION,
    MASS,
    MS_PER_DAY,
    NG_PER_MG,
    VOLUME,
    parse_typed,
    percent_fraction,
)

Therapy = Literal["idds", "cmm"]
THERAPIES = ("idds", "cmm")
IT_DRUGS = ("morphine", "ziconotide")
MAX_PATIENTS = 1_000_000
MAX_HORIZON_DAYS = 3660


@dataclass(frozen=True)
class Screening:
    """The screening trial: one intrathecal bolus, and the relief that counts as a success."""

    bolus_ng: int
    success_relief: float  # fraction of the baseline pain that must go (0.5 = at least 50 % relief)
    day: int


@dataclass(frozen=True)
class Titration:
    """How the clinic titrates the intrathecal drug: start, step, visits, targets, limits."""

    start_ng_per_day: int | None  # a fixed start; None: converted from the oral dose by `start_oral_ratio`
    start_oral_ratio: float  # oral : intrathecal morphine for the starting dose (e.g. 300)
    start_reason: str | None  # the physician's written reason for a start above the soft limit
    step_fraction: float  # morphine: raise by this fraction of the dose
    step_ng_per_day: int  # ziconotide: raise by this amount
    visit_ms: int  # how often the clinic reviews during titration
    titration_days: int  # how long titration visits last, then reviews only at refills / monthly
    review_ms: int  # review interval after titration
    target_pain: float  # titrate up while the mean reported pain is above this
    max_ng_per_day: int  # never titrate above this (the clinic's own ceiling within the drug's limits)
    tolerable_grade: int  # reduce the dose when a dose-limiting side effect reaches this grade


@dataclass(frozen=True)
class Arm:
    """One arm of a trial: its size and the therapy its patients get."""

    name: str
    n_patients: int
    therapy: Therapy
    drug: str = "morphine"
    concentration_ng_per_ml: int = 10 * NG_PER_MG
    reservoir_nl: int = 20_000_000
    screening: Screening | None = None
    implant_day: int = 7
    titration: Titration | None = None
    wean_fraction: float = 0.25  # of the entry oral dose, per titration visit with the pain at target
    wean_floor_fraction: float = 0.0
    wean_at_implant: float = 0.0  # fraction of the entry oral dose stopped when intrathecal therapy starts
    wean_before_screening: float = 0.0  # fraction of the entry oral dose stopped before the screening trial
    follow_screen_failures: bool = True  # False: a failed screening ends follow-up (studies of implanted patients)
    oral_step_fraction: float = 0.3  # CMM: raise the oral dose by this fraction when pain stays above target
    oral_visit_ms: int = 7 * MS_PER_DAY
    oral_target_pain: float = 4.0
    oral_max_mg_per_day: float = 2000.0
    oral_tolerable_grade: int = 2  # CMM: lower the oral dose when a dose-limiting side effect reaches this grade
    adjuvant_relief: float = 0.0  # relief from the non-opioid part of optimised medical management
    ptm: bool = False
    ptm_dose_ng: int = 100_000
    ptm_lockout_ms: int = 4 * 3_600_000
    ptm_max_per_day: int = 4
    discontinue_week: int = 12  # inefficacy is judged at this week
    discontinue_relief: float = 0.2  # less relief than this at the judged week: intrathecal therapy stops


@dataclass(frozen=True)
class Target:
    """A published figure the trial is compared with."""

    arm: str
    endpoint: str
    value: float
    tolerance: float
    source: str


@dataclass(frozen=True)
class Protocol:
    """A whole trial: who, which arms, how long, which endpoints and which published figures to meet."""

    name: str
    seed: int
    horizon_days: int
    arms: tuple[Arm, ...]
    targets: tuple[Target, ...]
    population: PopulationSpec
    min_entry_pain: float = 0.0
    min_oral_mme_mg_per_day: float = 0.0
    endpoint_weeks: tuple[int, ...] = (0, 4)
    survival_months: tuple[int, ...] = ()
    source: str = ""
    baseline_day: int = 3  # the week-0 endpoints are the 3 days before this day (a wash-out may come first)

    def arm(self, name: str) -> Arm:
        """The arm of this name."""
        for a in self.arms:
            if a.name == name:
                return a
        raise InputError("arm", name, "is not an arm of this protocol", f"use one of: {', '.join(self.arm_names)}")

    @property
    def arm_names(self) -> tuple[str, ...]:
        """The names of the arms, in file order."""
        return tuple(a.name for a in self.arms)

    def arm_number(self, name: str) -> int:
        """The arm's position in the file (part of every patient's seed)."""
        return self.arm_names.index(self.arm(name).name)


def scaled(protocol: Protocol, n_per_arm: int) -> Protocol:
    """The same protocol with `n_per_arm` patients in every arm (patient i is the same patient in both)."""
    if not 1 <= n_per_arm <= MAX_PATIENTS:
        raise InputError("n_per_arm", n_per_arm, "out of range", f"give 1 to {MAX_PATIENTS}", f"1-{MAX_PATIENTS}")
    arms = tuple(dataclasses.replace(a, n_patients=n_per_arm) for a in protocol.arms)
    return dataclasses.replace(protocol, arms=arms)


# ------------------------------------------------------------------------------------------------ reading


class _Table:
    """One TOML table being read: each field taken once, unknown keys refused at the end."""

    def __init__(self, raw: object, where: str):
        if not isinstance(raw, dict):
            raise InputError(where, raw, "must be a table", f"write [{where}] with its keys")
        self.raw: dict[str, Any] = raw
        self.where = where
        self.used: set[str] = set()

    def field(self, key: str) -> str:
        return f"{self.where}.{key}"

    def get(self, key: str, default: object = None) -> Any:
        self.used.add(key)
        return self.raw.get(key, default)

    def required(self, key: str) -> Any:
        if key not in self.raw:
            raise InputError(self.field(key), None, "is missing", f"add {key} to [{self.where}]")
        return self.get(key)

    def text(self, key: str, default: str | None = None) -> str:
        value = self.get(key, default) if default is not None else self.required(key)
        if not isinstance(value, str) or not value.strip():
            raise InputError(self.field(key), value, "must be a non-empty text", f'write {key} = "…"')
        return value

    def number(self, key: str, default: float | None, lo: float, hi: float) -> float:
        value = self.required(key) if default is None else self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(self.field(key), value, "must be a number", f"write a number from {lo:g} to {hi:g}")
        if not lo <= value <= hi:
            raise InputError(
                self.field(key), value, "out of range", f"give a value from {lo:g} to {hi:g}", f"{lo:g}-{hi:g}"
            )
        return float(value)

    def whole(self, key: str, default: int | None, lo: int, hi: int) -> int:
        value = self.required(key) if default is None else self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(self.field(key), value, "must be a whole number", f"write a whole number {lo}-{hi}")
        if not lo <= value <= hi:
            raise InputError(self.field(key), value, "out of range", f"give {lo} to {hi}", f"{lo}-{hi}")
        return value

    def quantity(self, key: str, kind: Any, default: str | None, lo: Fraction, hi: Fraction, unit: str) -> int:
        value = self.required(key) if default is None else self.get(key, default)
        amount = parse_typed(value, kind, self.field(key))
        if not lo <= amount <= hi:
            raise InputError(self.field(key), value, "out of range", f"give a value within {unit}", unit)
        return round(amount)

    def fraction(self, key: str, default: str, hi: float = 1.0) -> float:
        value = self.get(key, default)
        f = float(percent_fraction(value, self.field(key)))
        if not 0.0 <= f <= hi:
            raise InputError(self.field(key), value, "out of range", f"give 0 % to {hi * 100:g} %", f"0-{hi * 100:g} %")
        return f

    def flag(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise InputError(self.field(key), value, "must be true or false", "write true or false, without quotes")
        return value

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            raise InputError(
                self.field(unknown[0]), self.raw[unknown[0]], "is not a known key here",
                f"use only: {', '.join(sorted(self.used))}",
            )  # fmt: skip


def _days(t: _Table, key: str, default: str | None, lo_days: int, hi_days: int) -> int:
    ms = t.quantity(
        key, DURATION, default, Fraction(lo_days * MS_PER_DAY), Fraction(hi_days * MS_PER_DAY), f"{lo_days}-{hi_days} d"
    )
    return ms // MS_PER_DAY


def _ms(t: _Table, key: str, default: str | None, lo_ms: int, hi_ms: int, unit: str) -> int:
    return t.quantity(key, DURATION, default, Fraction(lo_ms), Fraction(hi_ms), unit)


def _weeks(t: _Table, key: str, default: list[int], horizon_days: int) -> tuple[int, ...]:
    value = t.get(key, default)
    if not isinstance(value, list) or not all(isinstance(w, int) and not isinstance(w, bool) for w in value):
        raise InputError(t.field(key), value, "must be a list of whole numbers", f"write {key} = [0, 4]")
    for w in value:
        if not 0 <= w * 7 <= horizon_days:
            raise InputError(
                t.field(key), w, f"is outside the trial ({horizon_days} d)", "give weeks within the horizon"
            )
    return tuple(sorted(set(value)))


def load_protocol(path: Path | str) -> Protocol:
    """Read and check a trial protocol file."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            "protocol", str(p), f"cannot be read ({exc.strerror})", "give the path of a .toml file"
        ) from None
    except UnicodeDecodeError:
        raise InputError("protocol", str(p), "is not UTF-8 text", "save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError("protocol", str(p), f"is not valid TOML ({exc})", "fix the TOML syntax") from None
    return parse_protocol(raw)


def parse_protocol(raw: dict[str, Any]) -> Protocol:
    """Check a protocol already read from TOML."""
    top = _Table(raw, "protocol")
    trial = _Table(top.required("trial"), "trial")
    name = trial.text("name")
    seed = trial.whole("seed", 0, 0, 2**63 - 1)
    horizon = _days(trial, "horizon", None, 1, MAX_HORIZON_DAYS)
    weeks = _weeks(trial, "endpoint_weeks", [0, 4], horizon)
    months_raw = trial.get("survival_months", [])
    if not isinstance(months_raw, list) or not all(isinstance(m, int) and m > 0 for m in months_raw):
        raise InputError(trial.field("survival_months"), months_raw, "must be whole months", "write [6]")
    if any(m * 30.4375 > horizon for m in months_raw):
        raise InputError(trial.field("survival_months"), months_raw, "reaches past the horizon", "lengthen horizon")
    source = trial.text("source", "")
    baseline_day = _days(trial, "baseline_day", "3 d", 3, min(horizon, 365))
    trial.done()

    population, min_pain, min_oral = _population(_Table(top.required("population"), "population"))
    arms_raw = top.required("arms")
    if not isinstance(arms_raw, list) or not arms_raw:
        raise InputError("arms", arms_raw, "must be at least one [[arms]] table", "add [[arms]] with name and therapy")
    arms = tuple(_arm(_Table(a, f"arms[{i}]")) for i, a in enumerate(arms_raw))
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise InputError("arms.name", names, "names an arm twice", "give every arm its own name")
    targets_raw = top.get("targets", [])
    if not isinstance(targets_raw, list):
        raise InputError("targets", targets_raw, "must be [[targets]] tables", "write [[targets]] tables")
    targets = tuple(_target(_Table(t, f"targets[{i}]"), names) for i, t in enumerate(targets_raw))
    top.done()
    return Protocol(
        name, seed, horizon, arms, targets, population, min_pain, min_oral, weeks, tuple(sorted(months_raw)), source,
        baseline_day,
    )  # fmt: skip


def _population(t: _Table) -> tuple[PopulationSpec, float, float]:
    indication = t.text("indication")
    if indication not in ("cancer", "non_cancer"):
        raise InputError(t.field("indication"), indication, "is not a known indication", "write cancer or non_cancer")
    prognosis = t.get("prognosis_median")
    prognosis_days = None
    if prognosis is not None:
        prognosis_days = float(parse_typed(prognosis, DURATION, t.field("prognosis_median"))) / MS_PER_DAY
        if not 1 <= prognosis_days <= 36_500:
            raise InputError(t.field("prognosis_median"), prognosis, "out of range", "give 1 d to 100 years")
    oral = float(parse_typed(t.get("oral_morphine_median", "0 mg/day"), DOSE_RATE, t.field("oral_morphine_median")))
    min_oral = float(parse_typed(t.get("min_oral_morphine", "0 mg/day"), DOSE_RATE, t.field("min_oral_morphine")))
    spec = PopulationSpec(
        indication="cancer" if indication == "cancer" else "non_cancer",
        entry_pain_mean=t.number("entry_pain_mean", None, 0.0, 10.0),
        entry_pain_sd=t.number("entry_pain_sd", 1.5, 0.0, 5.0),
        oral_mme_mg_per_day_median=oral / NG_PER_MG,
        oral_mme_cv=t.number("oral_morphine_cv", 0.5, 0.0, 5.0),
        prognosis_median_days=prognosis_days,
        opioid_max_relief_mean=_optional(t, "opioid_max_relief"),
        opioid_max_relief_sd=_optional(t, "opioid_max_relief_sd"),
    )
    if spec.oral_mme_mg_per_day_median > 10_000:
        raise InputError(t.field("oral_morphine_median"), oral, "out of range", "give at most 10000 mg/day")
    min_pain = t.number("min_entry_pain", 0.0, 0.0, 10.0)
    t.done()
    return spec, min_pain, min_oral / NG_PER_MG


def _optional(t: _Table, key: str) -> float | None:
    """A fraction 0-1 the table may leave out."""
    return None if t.raw.get(key) is None else t.number(key, None, 0.0, 1.0)


def _arm(t: _Table) -> Arm:
    name = t.text("name")
    therapy = t.text("therapy")
    if therapy not in THERAPIES:
        raise InputError(t.field("therapy"), therapy, "is not a therapy", f"write one of: {', '.join(THERAPIES)}")
    n = t.whole("n_patients", None, 1, MAX_PATIENTS)
    day = MS_PER_DAY
    common: dict[str, Any] = {
        "adjuvant_relief": t.fraction("adjuvant_relief", "0 %", 0.9),
        "oral_step_fraction": t.fraction("oral_step", "30 %"),
        "oral_visit_ms": _ms(t, "oral_visit", "7 d", day, 90 * day, "1-90 d"),
        "oral_target_pain": t.number("oral_target_pain", 4.0, 0.0, 10.0),
        "oral_tolerable_grade": t.whole("oral_tolerable_grade", 2, 1, 4),
        "oral_max_mg_per_day": float(parse_typed(t.get("oral_max", "2000 mg/day"), DOSE_RATE, t.field("oral_max")))
        / NG_PER_MG,
    }
    if therapy == "cmm":
        t.done()
        return Arm(name, n, "cmm", **common)
    drug = t.text("drug", "morphine").lower()
    if drug not in IT_DRUGS:
        raise InputError(t.field("drug"), drug, "is not an intrathecal drug of the journey", "write morphine")
    conc = round(parse_typed(t.required("concentration"), CONCENTRATION, t.field("concentration")))
    reservoir = round(parse_typed(t.get("reservoir", "20 mL"), VOLUME, t.field("reservoir")))
    if reservoir not in (20_000_000, 40_000_000):
        raise InputError(t.field("reservoir"), t.get("reservoir"), "is not a pump size", 'write "20 mL" or "40 mL"')
    screening = None
    raw_screen = t.get("screening")
    if raw_screen is not None:
        s = _Table(raw_screen, t.field("screening"))
        screening = Screening(
            bolus_ng=s.quantity("bolus", MASS, None, Fraction(1), Fraction(10 * NG_PER_MG), "0-10 mg"),
            success_relief=s.fraction("success_relief", "50 %"),
            day=_days(s, "day", "3 d", 0, 60),
        )
        s.done()
    implant_day = _days(t, "implant", "7 d", 0, 90)
    if screening is not None and screening.day > implant_day:
        raise InputError(t.field("implant"), implant_day, "comes before the screening trial", "implant after it")
    tt = _Table(t.required("titration"), t.field("titration"))
    start = tt.get("start_dose")
    titration = Titration(
        start_ng_per_day=None if start is None else round(parse_typed(start, DOSE_RATE, tt.field("start_dose"))),
        start_oral_ratio=tt.number("start_oral_ratio", 300.0, 10.0, 1000.0),
        start_reason=tt.get("start_reason"),
        step_fraction=tt.fraction("step", "25 %"),
        step_ng_per_day=round(parse_typed(tt.get("step_dose", "1.2 mcg/day"), DOSE_RATE, tt.field("step_dose"))),
        visit_ms=_ms(tt, "visit", "3 d", 3_600_000, 30 * day, "1 h-30 d"),
        titration_days=_days(tt, "titration", "28 d", 0, MAX_HORIZON_DAYS),
        review_ms=_ms(tt, "review", "28 d", day, 180 * day, "1-180 d"),
        target_pain=tt.number("target_pain", 4.0, 0.0, 10.0),
        max_ng_per_day=round(parse_typed(tt.get("max_dose", "20 mg/day"), DOSE_RATE, tt.field("max_dose"))),
        tolerable_grade=tt.whole("tolerable_grade", 3, 1, 4),
    )
    if titration.start_reason is not None and (not isinstance(titration.start_reason, str) or
                                               len(titration.start_reason) < 10):  # fmt: skip
        raise InputError(tt.field("start_reason"), titration.start_reason, "is too short", "write at least 10 letters")
    tt.done()
    arm = Arm(
        name, n, "idds", drug, conc, reservoir, screening, implant_day, titration,
        wean_fraction=t.fraction("wean_step", "25 %"),
        wean_floor_fraction=t.fraction("wean_floor", "0 %"),
        wean_at_implant=t.fraction("wean_at_implant", "0 %"),
        wean_before_screening=t.fraction("wean_before_screening", "0 %"),
        follow_screen_failures=t.flag("follow_screen_failures", True),
        ptm=t.flag("ptm", False),
        ptm_dose_ng=t.quantity("ptm_dose", MASS, "0.1 mg", Fraction(1), Fraction(NG_PER_MG), "0-1 mg"),
        ptm_lockout_ms=_ms(t, "ptm_lockout", "4 h", 3_600_000, 24 * 3_600_000, "1-24 h"),
        ptm_max_per_day=t.whole("ptm_max_per_day", 4, 1, 24),
        discontinue_week=t.whole("discontinue_week", 12, 1, 520),
        discontinue_relief=t.fraction("discontinue_relief", "20 %"),
        **common,
    )  # fmt: skip
    t.done()
    return arm


def _target(t: _Table, arms: list[str]) -> Target:
    arm = t.text("arm")
    if arm not in arms:
        raise InputError(t.field("arm"), arm, "is not an arm of this protocol", f"use one of: {', '.join(arms)}")
    value = t.number("value", None, -1e6, 1e6)
    tolerance = t.number("tolerance", None, 0.0, 1e6)
    target = Target(arm, t.text("endpoint"), value, tolerance, t.text("source"))
    t.done()
    return target
