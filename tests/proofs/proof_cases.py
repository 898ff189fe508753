"""Every limit of every drug of the library, as questions a door can be asked, generated from the drug data.

For each two-tier limit a drug has, and for each of its tiers, three cases:
the limited quantity one step (ε) on the safe side of the bound, at the bound,
and one step beyond it. ε is the smallest step every door can write: 1 ng/day
of a daily dose, 1 ng of a bolus, 1 ng/mL of a concentration, 1 ms of a time,
one demand dose a day. Percent limits (a titration step up or down) are met
by the new daily dose, so their ε is 1 ng/day of that dose.

Each case is a timeline whose last entry is the question. The entries before
it bring the pump to where the question makes sense — filled at a
concentration at which every dose of the case is a flow the pump can deliver,
a dose reached by steps the drug's hard limits allow (with a physician's
reason where a soft one is passed) — and keep every other limit out of the
way, so that each case meets one limit only. The expected verdict is worked
out from the limit's bounds and direction, independently of the checks.

Limits no door can ask about are left out, each for a stated reason: a
decrease of 100 % is a stop (its own intent), not a new daily dose; the
refill intervals are dates the plan warns of, not a value entered.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from proof_timeline import (
    MODEL,
    MS_PER_DAY,
    MS_PER_HOUR,
    MS_PER_MIN,
    Entry,
    Timeline,
    bolus,
    demand_settings,
    fill,
    periodic_bolus,
    program,
    refill,
)

from thecal.drugs import Direction, Drug, drug_names, get_drug
from thecal.pump.model import load_model

ALLOWED, SOFT, HARD = "allowed", "soft", "hard"
OFFSETS = (-1, 0, 1)  # safe side, at the bound, beyond it (in the limit's own direction)
BP_PER_ONE = 10_000
NL_PER_ML = 1_000_000
FILL_NL = 30_000_000
PUMP = load_model(MODEL)
FIRST_MS = MS_PER_HOUR  # the first entry after the fill
STEP_GAP_MS = 25 * MS_PER_HOUR  # between raises of a setup: past every drug's hard minimum interval (24 h)
SKIPPED = {
    "max_refill_interval": "a date the refill plan warns of, not a value a person enters",
    "max_first_refill_interval": "a date the refill plan warns of, not a value a person enters",
    "max_refill_interval_undiluted": "a date the refill plan warns of, not a value a person enters",
}


@dataclass(frozen=True)
class Case:
    """One question about one limit of one drug, and the verdict its bounds call for."""

    drug: str
    limit: str
    tier: str  # the bound asked about: soft, hard, or "rule" for a limit that is not a number
    offset: int
    value: str  # the limited quantity, for people reading the test's id
    timeline: Timeline
    expected: str

    @property
    def id(self) -> str:
        """A readable test id."""
        where = "" if self.tier == "rule" else f"-{self.tier}{self.offset:+d}"
        return f"{self.drug}-{self.limit}{where}"

    @property
    def kind(self) -> str:
        """The kind of limit (the data file's key, or the rule's name)."""
        return self.limit


def expected(drug: Drug, key: str, value: int | Fraction) -> str:
    """The verdict a value calls for under a two-tier limit: beyond the hard bound, the soft one, or neither."""
    limit = drug.require_limit(key)

    def beyond(bound: int) -> bool:
        return value > bound if limit.spec.direction is Direction.MAX else value < bound

    if beyond(limit.hard):
        return HARD
    return SOFT if beyond(limit.soft) else ALLOWED


def step(drug: Drug, key: str, offset: int) -> int:
    """ε in the limited quantity's own direction: +1 goes beyond a maximum, −1 beyond a minimum."""
    return offset if drug.require_limit(key).spec.direction is Direction.MAX else -offset


# ---------------------------------------------------------------- pumps that can do it


def concentration_for(drug: Drug, doses_ng_per_day: list[int]) -> int:
    """A concentration at which every daily dose is a flow the pump delivers, and no stronger than usual."""
    usual = drug.max_concentration.soft
    if not doses_ng_per_day:
        return usual
    # Twice the pump's minimum flow for the smallest dose; two significant digits, for people reading it.
    c = min(usual, min(doses_ng_per_day) * NL_PER_ML // (2 * PUMP.min_programmable_flow_nl_per_day))
    scale = 10 ** max(0, len(str(c)) - 2)
    c = c // scale * scale
    assert max(doses_ng_per_day) * NL_PER_ML // c <= PUMP.max_continuous_flow_nl_per_day, (drug.name, c)
    return c


def ramp(drug: Drug, target_ng_per_day: int, naive: bool) -> list[tuple[int, int]]:
    """Prescriptions (time, dose) from nothing to a dose, each as big a step as the hard limits allow."""
    first = min(target_ng_per_day, drug.require_limit("max_start_dose").hard)
    if naive and (naive_limit := drug.limit("max_daily_dose_opioid_naive")) is not None:
        first = min(first, naive_limit.hard)
    steps = [(FIRST_MS, first)]
    dose, at = first, FIRST_MS
    while dose < target_ng_per_day:
        at += STEP_GAP_MS
        nxt = target_ng_per_day
        if (pct := drug.limit("max_step_up")) is not None:
            nxt = min(nxt, dose + dose * pct.hard // BP_PER_ONE)
        if (amount := drug.limit("max_step_up_amount")) is not None:
            nxt = min(nxt, dose + amount.hard)
        steps.append((at, nxt))
        dose = nxt
    return steps


def settled(drug: Drug, at_ms: int) -> int:
    """A time after `at_ms` past the drug's usual interval between increases."""
    return at_ms + drug.require_limit("min_step_interval").soft + MS_PER_HOUR


def titration(drug: Drug, current: int, new_doses: list[int], at: int | None = None, naive: bool = False):
    """A pump filled and ramped to `current`; and the time and concentration for a new dose after it."""
    steps = ramp(drug, current, naive)
    c = concentration_for(drug, [d for _, d in steps] + new_doses)
    setup: list[Entry] = [fill(0, drug.name, c, FILL_NL)]
    setup += [program(t, d, override=True) for t, d in steps]
    when = settled(drug, steps[-1][0]) if at is None else steps[-1][0] + at
    ends = [t for t, _ in steps[1:]] + [when]
    used_nl = sum(d * NL_PER_ML // c * (end - t) // MS_PER_DAY for (t, d), end in zip(steps, ends, strict=True))
    assert used_nl < FILL_NL - PUMP.low_reservoir_alarm_default_nl, (drug.name, current, c)
    return setup, when


def small_raise(drug: Drug, dose: int) -> int:
    """A raise from `dose` well within the usual step limits."""
    raise_by = dose // 10
    if (pct := drug.limit("max_step_up")) is not None:
        raise_by = min(raise_by, dose * pct.soft // BP_PER_ONE // 2)
    if (amount := drug.limit("max_step_up_amount")) is not None:
        raise_by = min(raise_by, amount.soft // 2)
    return dose + raise_by


def below(drug: Drug, bound: int) -> int:
    """A dose from which a raise to `bound` (± ε) stays within the usual step limits."""
    return bound - (small_raise(drug, bound) - bound)


# ------------------------------------------------------------------------- the cases


def _tiers(drug: Drug, key: str) -> list[tuple[str, int]]:
    limit = drug.require_limit(key)
    tiers = [("soft", limit.soft), ("hard", limit.hard)]
    return tiers if limit.soft != limit.hard else [("hard", limit.hard)]


def daily_cases(drug: Drug, key: str, naive: bool) -> list[Case]:
    """A raise of the daily dose to the bound ± ε, from just below it, long after the last raise."""
    cases = []
    for tier, bound in _tiers(drug, key):
        current = below(drug, bound)
        setup, at = titration(drug, current, [bound - 1, bound + 1], naive=naive)
        for off in OFFSETS:
            dose = bound + off
            timeline = Timeline((*setup, program(at, dose)), opioid_naive=naive)
            cases.append(Case(drug.name, key, tier, off, drug.dose_text(dose), timeline, expected(drug, key, dose)))
    return cases


def start_cases(drug: Drug) -> list[Case]:
    """The first prescription at the bound ± ε."""
    key = "max_start_dose"
    cases = []
    for tier, bound in _tiers(drug, key):
        c = concentration_for(drug, [bound - 1, bound + 1])
        for off in OFFSETS:
            dose = bound + off
            timeline = Timeline((fill(0, drug.name, c, FILL_NL), program(FIRST_MS, dose)))
            cases.append(Case(drug.name, key, tier, off, drug.dose_text(dose), timeline, expected(drug, key, dose)))
    return cases


def step_up_cases(drug: Drug) -> list[Case]:
    """A raise by the bound (a percentage, or an amount per step) ± 1 ng/day, from the usual starting dose."""
    cases = []
    current = drug.require_limit("max_start_dose").soft
    for key in ("max_step_up", "max_step_up_amount"):
        if drug.limit(key) is None:
            continue
        for tier, bound in _tiers(drug, key):
            if key == "max_step_up":
                assert current * bound % BP_PER_ONE == 0, "the bound must be a whole dose"
                at_bound = current + current * bound // BP_PER_ONE
            else:
                at_bound = current + bound
            setup, at = titration(drug, current, [at_bound - 1, at_bound + 1])
            for off in OFFSETS:
                dose = at_bound + off
                quantity = Fraction((dose - current) * BP_PER_ONE, current) if key == "max_step_up" else dose - current
                timeline = Timeline((*setup, program(at, dose)))
                text = f"{drug.dose_text(current)} to {drug.dose_text(dose)}"
                cases.append(Case(drug.name, key, tier, off, text, timeline, expected(drug, key, quantity)))
    return cases


def step_down_cases(drug: Drug) -> list[Case]:
    """A decrease by the bound ± 1 ng/day from the usual starting dose (a stop, 100 %, is its own intent)."""
    key = "max_step_down"
    cases = []
    current = drug.require_limit("max_start_dose").soft
    assert current > drug.start_dose.low, "a decrease is judged only above the lowest starting dose"
    for tier, bound in _tiers(drug, key):
        if bound >= BP_PER_ONE:
            continue
        assert current * bound % BP_PER_ONE == 0, "the bound must be a whole dose"
        at_bound = current - current * bound // BP_PER_ONE
        setup, at = titration(drug, current, [at_bound - 1])
        for off in OFFSETS:
            dose = at_bound - off  # more decrease is further beyond
            drop = Fraction((current - dose) * BP_PER_ONE, current)
            timeline = Timeline((*setup, program(at, dose)))
            text = f"{drug.dose_text(current)} to {drug.dose_text(dose)}"
            cases.append(Case(drug.name, key, tier, off, text, timeline, expected(drug, key, drop)))
    return cases


def interval_cases(drug: Drug) -> list[Case]:
    """A small raise the bound ± 1 ms after the last raise."""
    key = "min_step_interval"
    cases = []
    current = drug.require_limit("max_start_dose").soft
    new = small_raise(drug, current)
    for tier, bound in _tiers(drug, key):
        for off in OFFSETS:
            since = bound + step(drug, key, off)
            setup, at = titration(drug, current, [new], at=since)
            timeline = Timeline((*setup, program(at, new)))
            text = f"{since} ms after the last raise"
            cases.append(Case(drug.name, key, tier, off, text, timeline, expected(drug, key, since)))
    return cases


def concentration_cases(drug: Drug) -> list[Case]:
    """A refill at the bound ± 1 ng/mL, over the drug's weakest solution, with no prescription yet."""
    key = "max_concentration"
    cases = []
    weakest = min(drug.concentrations_ng_per_ml)
    for tier, bound in _tiers(drug, key):
        for off in OFFSETS:
            conc = bound + off
            timeline = Timeline((fill(0, drug.name, weakest, FILL_NL), refill(FIRST_MS, drug.name, conc, 20_000_000)))
            text = drug.concentration_text(conc)
            cases.append(Case(drug.name, key, tier, off, text, timeline, expected(drug, key, conc)))
    return cases


def bolus_cases(drug: Drug) -> list[Case]:
    """A clinician bolus, and a daily periodic bolus, of the single-bolus bound ± 1 ng."""
    key = "max_trial_bolus"
    cases = []
    c = drug.max_concentration.soft
    for tier, bound in _tiers(drug, key):
        for off in OFFSETS:
            dose = bound + off
            for name, entry in (
                ("clinician", bolus(FIRST_MS, dose, MS_PER_HOUR)),
                ("periodic", periodic_bolus(FIRST_MS, dose, MS_PER_HOUR, MS_PER_DAY, 12 * MS_PER_HOUR)),
            ):
                timeline = Timeline((fill(0, drug.name, c, FILL_NL), entry))
                case = Case(drug.name, key, tier, off, drug.mass_text(dose), timeline, expected(drug, key, dose))
                cases.append(Case(case.drug, f"{key}:{name}", tier, off, case.value, timeline, case.expected))
    return cases


def demand_cases(drug: Drug) -> list[Case]:
    """Demand settings with one of dose, doses a day and lockout at its bound ± ε, the others usual."""
    if not drug.demand_bolus_allowed:
        return []
    cases = []
    c = drug.max_concentration.soft
    usual_dose = drug.require_limit("max_demand_bolus").soft
    usual_count = drug.require_limit("max_demand_per_day").soft
    usual_lockout = drug.require_limit("min_demand_lockout").soft
    small_dose = usual_dose // 4  # small enough that every press of a day stays within the daily dose
    for key in ("max_demand_bolus", "max_demand_per_day", "min_demand_lockout"):
        for tier, bound in _tiers(drug, key):
            for off in OFFSETS:
                value = bound + step(drug, key, off)
                dose, count, lockout = small_dose, usual_count, usual_lockout
                if key == "max_demand_bolus":
                    dose = value
                    text = drug.mass_text(value)
                elif key == "max_demand_per_day":
                    count = value
                    text = f"{value} a day"
                else:
                    lockout = value
                    text = f"lockout {value} ms"
                entry = demand_settings(FIRST_MS, dose, 30 * MS_PER_MIN, lockout, count)
                timeline = Timeline((fill(0, drug.name, c, FILL_NL), entry))
                cases.append(Case(drug.name, key, tier, off, text, timeline, expected(drug, key, value)))
    return cases


def rule_cases(drug: Drug) -> list[Case]:
    """The limits that are not numbers: no demand doses of a drug given only continuously; opioid-naïve rules."""
    cases = []
    c = drug.max_concentration.soft
    filled = fill(0, drug.name, c, FILL_NL)
    if not drug.demand_bolus_allowed:
        # The dose of one press at the usual trial bolus: any demand dose at all is refused.
        entry = demand_settings(FIRST_MS, drug.trial_bolus.low, 30 * MS_PER_MIN, 2 * MS_PER_HOUR, 6)
        cases.append(Case(drug.name, "demand_not_allowed", "rule", 0, "any", Timeline((filled, entry)), HARD))
    if drug.opioid and drug.demand_bolus_allowed and drug.allowed_opioid_naive:
        dose = drug.require_limit("max_demand_bolus").soft // 4
        entry = demand_settings(FIRST_MS, dose, 30 * MS_PER_MIN, 2 * MS_PER_HOUR, 6)
        timeline = Timeline((filled, entry), opioid_naive=True)
        cases.append(Case(drug.name, "demand_opioid_naive", "rule", 0, "any", timeline, HARD))
    if drug.opioid and not drug.allowed_opioid_naive:
        # Refused at the fill already: no dose of it can be given to this patient.
        timeline = Timeline((fill(0, drug.name, min(drug.concentrations_ng_per_ml), FILL_NL),), opioid_naive=True)
        cases.append(Case(drug.name, "not_for_opioid_naive", "rule", 0, "any", timeline, HARD))
    return cases


def cases_for(drug: Drug) -> list[Case]:
    """Every case of one drug."""
    cases = daily_cases(drug, "max_daily_dose", naive=False)
    if drug.limit("max_daily_dose_opioid_naive") is not None:
        cases += daily_cases(drug, "max_daily_dose_opioid_naive", naive=True)
    cases += start_cases(drug)
    cases += step_up_cases(drug)
    cases += step_down_cases(drug)
    cases += interval_cases(drug)
    cases += concentration_cases(drug)
    cases += bolus_cases(drug)
    cases += demand_cases(drug)
    cases += rule_cases(drug)
    return cases


def all_cases() -> list[Case]:
    """Every case of every drug of the library."""
    return [case for name in drug_names() for case in cases_for(get_drug(name))]


def limits_covered(drug: Drug) -> set[str]:
    """The limit keys of a drug the cases ask about."""
    return {c.limit.split(":")[0] for c in cases_for(drug)}
