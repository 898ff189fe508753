"""The clinical journey of one virtual patient through one arm of a trial.

`simulate_patient(protocol, arm, index)` draws the patient from the
protocol's population (redrawn until it meets the entry criteria) and plays
its journey out on an agenda of clinic events, in pump time (ms; day 0 starts
at midnight, the day of randomisation):

- the 3 days before the protocol's `baseline_day` (default: days 0-2, on the
  entry oral dose): baseline diary (week 0 endpoints);
- from day 3, medical management is optimised in every arm: the arm's
  adjuvant relief starts (each patient's own share of it), an arm may wean
  the systemic opioid before its screening trial (`wean_before_screening`)
  and, in the CMM arm (and after a failed screening or a discontinued pump),
  the oral opioid is titrated at each oral visit by the CMM rule: up by
  `oral_step` while the mean pain is above `oral_target_pain` and every opioid
  side effect the patient reported over the week (constipation included) is
  below the tolerable grade, down one step when one is above it;
- IDDS arm: the screening bolus (a single intrathecal injection, checked
  against the drug library's trial-bolus limit), judged on the relief of the
  mean reported pain 1-6 h afterwards; a failed screening means no implant
  (the patient stays on medical management, intention to treat, or leaves
  the study when the protocol follows implanted patients only). Then the
  implant: catheter, first fill, priming bolus and the starting prescription,
  each as a therapy intent planned and sent through `TherapyService`, so the
  simulated clinician meets every limit a real one does. Titration visits
  raise the dose (`Titrate`, morphine by a fraction, ziconotide by a step)
  while the pain is above target, wean the oral opioid first and then lower
  the intrathecal dose when a dose-limiting side effect reaches the tolerable
  grade, and wean the oral opioid while the pain is within two points of
  target. A converted start below the pump's minimum flow starts at the least
  dose the pump delivers. The therapy layer refuses a step that is too
  large or too soon (ziconotide: 56 h between increases unless a physician
  overrides); a refused step is simply not taken. Refills follow the reservoir
  and the drug's refill interval; device and body events come from the
  patient's hazards; discontinuation for side effects (a dose-limiting grade at
  the starting dose with no oral opioid left) or inefficacy (less than `discontinue_relief` at
  `discontinue_week`) stops the pump and returns the patient to CMM;
- cancer patients die when their survival draw is reached (thecal.patient).

The pump is fast-forwarded between events (exact, thecal.pump); the body is
moved in closed form; nothing is stepped on a fixed grid.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from statistics import fmean

import numpy as np

from thecal.drugs import Fill as DrugFill
from thecal.drugs import pump_formulary
from thecal.drugs.checks import check_trial_bolus
from thecal.drugs.loader import get_drug
from thecal.drugs.verdict import StaffRole
from thecal.patient import EventContext, Observation, VirtualPatient, refill_error, sample_events
from thecal.patient.patient import sample_params
from thecal.patient.side_effects import ITEMS
from thecal.pump.core.schedule import DoseSchedule
from thecal.pump.device import VirtualPump
from thecal.pump.hardware.catheter import CatheterFault
from thecal.pump.model import load_model
from thecal.sim.patient_link import OralRegimen, PatientLink, PressAnswer
from thecal.sim.runner import PATIENT, Syringe
from thecal.therapy import (
    Actor,
    ClearAlarm,
    DemandPress,
    DirectPort,
    FirstFill,
    Implant,
    Intent,
    PatientFacts,
    Plan,
    Prescribe,
    PrimingBolus,
    PtmSettings,
    Refill,
    StopTherapy,
    TherapyService,
)
from thecal.trials.outcome import PatientOutcome, Value, success
from thecal.trials.protocol import Arm, Protocol
from thecal.units import MS_PER_DAY, MS_PER_HOUR, NG_PER_MG

MS_PER_WEEK = 7 * MS_PER_DAY
MS_PER_MONTH = round(30.4375 * MS_PER_DAY)
CATHETER_NL = 99_000  # 45 cm at 2.2 uL/cm, the scenario default (assumption, docs/scenario.md)
DIARY_HOURS = (9, 13, 17, 21)  # when the patient scores the pain in an assessment window (assumption)
DAILY_HOUR = 13  # one score a day outside the windows
BASELINE_DAYS = 3
VISIT_HOUR = 9
# Side effects that limit the dose: the clinician lowers the dose when one reaches the tolerable grade.
DOSE_LIMITING = ("sedation", "respiratory_depression", "confusion", "psychiatric", "nausea", "vomiting", "dizziness")
# Oral opioids also limit by the gut: constipation counts when the oral dose is titrated (Smith 2002: CMM lowered
# toxicity; laxatives do not remove opioid constipation, so a clinician stops raising the dose).
ORAL_LIMITING = (*DOSE_LIMITING, "constipation")
WEAN_MARGIN = 2.0  # wean the oral opioid while the pain is within this many points of target (assumption)
REVISION_MS = 14 * MS_PER_DAY  # a catheter or pump fault is found and revised within two weeks (assumption)
MAX_DRAWS = 200
QUIET_SERIES = 6  # observations in a row worked out as one series from this many on (fewer: one at a time is faster)
_ENTRY_STREAM, _EVENT_STREAM, _CLINIC_STREAM = 0, 1, 2


def simulate_patient(protocol: Protocol, arm: str, index: int) -> PatientOutcome:
    """Play one patient's journey through one arm; the same (seed, arm, index) gives the same outcome."""
    a = protocol.arm(arm)
    root = np.random.SeedSequence((protocol.seed, protocol.arm_number(arm), index))
    streams = root.spawn(3)
    patient = _enrolled(protocol, np.random.default_rng(streams[_ENTRY_STREAM]))
    journey = Journey(
        protocol,
        a,
        patient,
        np.random.default_rng(streams[_EVENT_STREAM]),
        np.random.default_rng(streams[_CLINIC_STREAM]),
    )
    return journey.run(index)


def _enrolled(protocol: Protocol, rng: np.random.Generator) -> VirtualPatient:
    """A patient of the population who meets the entry criteria (redrawn from the same stream until one does)."""
    params = sample_params(protocol.population, rng)
    for _ in range(MAX_DRAWS):
        if (
            params.entry_pain >= protocol.min_entry_pain
            and params.prior_oral_mme_mg_per_day >= protocol.min_oral_mme_mg_per_day
        ):
            break
        params = sample_params(protocol.population, rng)
    return VirtualPatient(params)


@dataclass(order=True)
class _Due:
    at_ms: int
    order: int
    kind: str = field(compare=False)
    data: object = field(compare=False, default=None)


@dataclass
class _Diary:
    """What the patient reported: (time, score, toxicity, grades) rows."""

    rows: list[tuple[int, int, int, dict[str, int]]] = field(default_factory=list)

    def add(self, seen: Observation) -> None:
        self.rows.append((seen.at_ms, seen.pain_score, seen.toxicity, seen.grades))

    def since(self, from_ms: int, to_ms: int) -> list[tuple[int, int, int, dict[str, int]]]:
        return [r for r in self.rows if from_ms < r[0] <= to_ms]


class Journey:
    """One patient's path through one arm: the clinic's decisions, the pump, the body."""

    def __init__(
        self,
        protocol: Protocol,
        arm: Arm,
        patient: VirtualPatient,
        events_rng: np.random.Generator,
        clinic_rng: np.random.Generator,
    ):
        self.protocol = protocol
        self.arm = arm
        self.patient = patient
        self.events_rng = events_rng
        self.clinic_rng = clinic_rng
        self.entry_oral = patient.params.prior_oral_mme_mg_per_day
        self.link = PatientLink(patient, oral=OralRegimen(mg_per_day=self.entry_oral), presses=arm.ptm, keep=False)
        self.horizon_ms = protocol.horizon_days * MS_PER_DAY
        self.now_ms = 0
        self.diary = _Diary()
        self.agenda: list[_Due] = []
        self._order = 0
        self.pump: VirtualPump | None = None
        self.service: TherapyService | None = None
        self.syringe = Syringe()
        self.clinician = Actor("trial clinician", StaffRole.PHYSICIAN)
        self.it_ng_per_day = 0
        self.it_start_ng_per_day = 0
        self.it_on = False
        self.oral_visits = False
        self.endpoints: dict[str, Value] = {}
        self.weekly: dict[str, list[float | None]] = {
            k: [] for k in ("pain", "toxicity", "it_dose_mg_day", "oral_mg_day", "alive")
        }
        self.refused_steps = 0
        self.step_times_ms: list[int] = []
        self.presses = 0
        self.press_doses = 0
        self.device_events = 0
        self.refill_due_ms: int | None = None
        self.baseline_pain = 0.0
        self.baseline_tox = 0.0

    # ------------------------------------------------------------------ the agenda

    def _at(self, at_ms: int, kind: str, data: object = None) -> None:
        if at_ms <= self.horizon_ms:
            self._order += 1
            heapq.heappush(self.agenda, _Due(at_ms, self._order, kind, data))

    def _advance(self, to_ms: int) -> None:
        if self.pump is not None:
            self.pump.advance(to_ms)
        self.link.run_to(to_ms)
        self.now_ms = to_ms

    def _observe(self) -> Observation:
        seen = self.link.observe(self.now_ms)
        self.diary.add(seen)
        return seen

    def run(self, index: int) -> PatientOutcome:
        """Play the journey to the horizon (or death) and return the outcome."""
        self._schedule()
        while self.agenda:
            due = heapq.heappop(self.agenda)
            if due.kind == "observe" and self._quiet(due.at_ms):
                if self._observe_quietly(due.at_ms):
                    break  # died before one of them
                continue
            self._advance(max(due.at_ms, self.now_ms))
            if self.patient.death_ms is not None:
                break
            getattr(self, f"_do_{due.kind}")(due.data)
        self._finish()
        return PatientOutcome(self.arm.name, index, dict(self.endpoints), {k: tuple(v) for k, v in self.weekly.items()})

    def _schedule(self) -> None:
        windows = {0} | {w for w in self.protocol.endpoint_weeks if w > 0}
        for day in range(self.protocol.horizon_days + 1):
            week_end = -(-day // 7) if day else 0
            baseline = self.protocol.baseline_day - BASELINE_DAYS <= day < self.protocol.baseline_day
            in_window = baseline or (week_end in windows and day > 7 * week_end - 7)
            for h in DIARY_HOURS if in_window else (DAILY_HOUR,):
                self._at(day * MS_PER_DAY + h * MS_PER_HOUR, "observe")
        for w in range(1, self.protocol.horizon_days // 7 + 1):
            self._at(w * MS_PER_WEEK, "week", w)
        for w in windows:
            self._at(w * MS_PER_WEEK if w else self.protocol.baseline_day * MS_PER_DAY, "endpoint", w)
        for m in self.protocol.survival_months:
            self._at(m * MS_PER_MONTH, "survival", m)
        start = BASELINE_DAYS * MS_PER_DAY + 8 * MS_PER_HOUR
        self._at(start, "optimise")
        if self.arm.therapy == "cmm":
            self._start_oral_visits(start + self.arm.oral_visit_ms)
            return
        if self.arm.screening is not None:
            self._at(self.arm.screening.day * MS_PER_DAY + 8 * MS_PER_HOUR, "screen")
        else:
            self._at(self.arm.implant_day * MS_PER_DAY + 8 * MS_PER_HOUR, "implant")

    def _start_oral_visits(self, first_ms: int) -> None:
        self.oral_visits = True
        self._at(first_ms, "oral_visit")

    # ------------------------------------------------------------------ what happens

    def _quiet(self, at_ms: int) -> bool:
        """Whether the patient cannot press the PTM at an observation (so nothing waits for its answer)."""
        handset = self.arm.ptm and self.it_on and self.service is not None
        return not handset or not self.patient.may_press(at_ms)

    def _observe_quietly(self, first_ms: int) -> bool:
        """This observation and the quiet ones right after it in the agenda, worked out as one series (the same
        as one at a time); True when the patient died before one of them."""
        times = [max(first_ms, self.now_ms)]
        while self.agenda and self.agenda[0].kind == "observe" and self._quiet(self.agenda[0].at_ms):
            times.append(max(heapq.heappop(self.agenda).at_ms, times[-1]))
        if len(times) < QUIET_SERIES:  # too few to gain from a series: one at a time
            for t in times:
                self._advance(t)
                if self.patient.death_ms is not None:
                    return True
                self._observe()
            return False
        if self.pump is not None:
            for t in times:  # the pump moves on stretch by stretch, as it does one observation at a time
                self.pump.advance(t)
        series = self.link.observe_many(times)
        dead = np.flatnonzero(~series.alive)
        alive = int(dead[0]) if len(dead) else len(times)
        grades = series.grades.tolist()
        for i in range(alive):
            row = {item: g[i] for item, g in zip(ITEMS, grades, strict=True)}
            self.diary.rows.append((times[i], int(series.pain_score[i]), int(series.toxicity[i]), row))
        self.now_ms = times[min(alive, len(times) - 1)]
        return alive < len(times)

    def _do_observe(self, _: object) -> None:
        seen = self._observe()
        if self.arm.ptm and self.it_on and self.service is not None and seen.awake:
            rule = self.patient.press
            if rule.wants(self.now_ms, seen.pain_score, seen.awake):
                answer = self._press()
                rule.pressed(self.now_ms, answer.outcome, answer.until_ms)

    def _press(self) -> PressAnswer:
        assert self.service is not None and self.pump is not None
        self.presses += 1
        plan = self.service.plan(DemandPress(), PATIENT)
        if plan.allowed:
            execution = self.service.execute(plan, PATIENT, confirmed=True)
            if execution.refusal is None:
                self.press_doses += 1
                return PressAnswer("given")
        view = self.service.port.patient_view()
        until = view.demand_not_now_until_wall_ms or view.demand_next_allowed_wall_ms
        until_ms = None if until is None else until - view.wall_ms + self.pump.now_ms
        code = view.demand_not_now_code or ""
        return PressAnswer("daily_max" if code == "daily_maximum" else "locked_out", until_ms)

    def _do_week(self, week: int) -> None:
        rows = self.diary.since(self.now_ms - MS_PER_WEEK, self.now_ms)
        alive = self.patient.death_ms is None
        self.weekly["pain"].append(fmean(r[1] for r in rows) if rows else None)
        self.weekly["toxicity"].append(fmean(r[2] for r in rows) if rows else None)
        self.weekly["it_dose_mg_day"].append(self.it_ng_per_day / NG_PER_MG if self.it_on else 0.0)
        self.weekly["oral_mg_day"].append(self.link.oral.mg_per_day)
        self.weekly["alive"].append(1.0 if alive else 0.0)

    def _do_endpoint(self, week: int) -> None:
        start = self.now_ms - (BASELINE_DAYS * MS_PER_DAY if week == 0 else MS_PER_WEEK)
        rows = self.diary.since(start, self.now_ms)
        pain = fmean(r[1] for r in rows)
        tox = fmean(r[2] for r in rows)
        by_day: dict[int, int] = {}
        for t, score, _, _ in rows:
            by_day[t // MS_PER_DAY] = max(by_day.get(t // MS_PER_DAY, 0), score)
        e = self.endpoints
        w = f"week{week}"
        e[f"pain_{w}"] = pain
        e[f"worst_pain_{w}"] = fmean(by_day.values())
        e[f"toxicity_{w}"] = tox
        e[f"pain_below4_{w}"] = pain < 4.0
        e[f"pain_ge7_{w}"] = pain >= 7.0
        # The intrathecal dose is that of patients with a running pump; CMM patients have none (0).
        e[f"it_dose_mg_day_{w}"] = self._it_dose_mg()
        e[f"oral_mg_day_{w}"] = self.link.oral.mg_per_day
        e[f"off_oral_{w}"] = self.link.oral.mg_per_day <= 0.0
        if week == 0:
            self.baseline_pain, self.baseline_tox = pain, tox
            return
        e[f"pain_change_{w}"] = pain - self.baseline_pain
        e[f"toxicity_change_{w}"] = tox - self.baseline_tox
        e[f"success_{w}"] = success(self.baseline_pain, pain, self.baseline_tox, tox)
        relief = 1.0 - pain / self.baseline_pain if self.baseline_pain > 0 else 0.0
        e[f"relief20_{w}"] = relief >= 0.2
        e[f"relief50_{w}"] = relief >= 0.5

    def _it_dose_mg(self) -> float | None:
        if self.it_on:
            return self.it_ng_per_day / NG_PER_MG
        return 0.0 if self.arm.therapy == "cmm" else None

    def _do_survival(self, month: int) -> None:
        self.endpoints[f"alive_month{month}"] = self.patient.death_ms is None

    def _do_optimise(self, _: object) -> None:
        if self.arm.adjuvant_relief:
            self.patient.set_adjuvant(self.now_ms, self.arm.adjuvant_relief)
        if self.arm.wean_before_screening:
            dose = self.link.oral.mg_per_day * (1.0 - self.arm.wean_before_screening)
            self.link.set_oral(self.now_ms, OralRegimen(mg_per_day=dose if dose > 1.0 else 0.0))

    def _recent(self, days: int = 3) -> tuple[float, int]:
        """The mean reported pain of the last days and the highest dose-limiting grade now."""
        rows = self.diary.since(self.now_ms - days * MS_PER_DAY, self.now_ms) or self.diary.rows[-1:]
        seen = self._observe()
        limiting = max(seen.grades.get(k, 0) for k in DOSE_LIMITING)
        return fmean([*(r[1] for r in rows), seen.pain_score]), limiting

    def _reported_grade(self, items: tuple[str, ...], days: int = 7) -> int:
        """The highest of the items' grades as the patient reports them for the last days (their mean, rounded)."""
        rows = self.diary.since(self.now_ms - days * MS_PER_DAY, self.now_ms)
        if not rows:
            return 0
        return max(round(fmean(r[3].get(k, 0) for r in rows)) for k in items)

    def _do_oral_visit(self, _: object) -> None:
        """The CMM rule: side-effect-limited titration of the oral opioid.

        Raised by a step only while the pain is above target and every opioid side effect the patient reports
        for the week is below the tolerable grade; lowered by a step when one is above it (the dose is what
        limits: the clinician trades some analgesia for fewer side effects, as in opioid-sparing management).
        """
        pain, _ = self._recent()
        limiting = self._reported_grade(ORAL_LIMITING)
        a, dose = self.arm, self.link.oral.mg_per_day
        if limiting > a.oral_tolerable_grade:
            dose = dose * (1.0 - a.oral_step_fraction)
        elif pain > a.oral_target_pain and limiting < a.oral_tolerable_grade:
            dose = min(a.oral_max_mg_per_day, max(dose, 30.0) * (1.0 + a.oral_step_fraction))
        if dose != self.link.oral.mg_per_day:
            self.link.set_oral(self.now_ms, OralRegimen(mg_per_day=dose))
        self._at(self.now_ms + a.oral_visit_ms, "oral_visit")

    # ------------------------------------------------------------------ screening and implant

    def _do_screen(self, _: object) -> None:
        screen = self.arm.screening
        assert screen is not None
        self.endpoints["screened"] = True
        drug = get_drug(self.arm.drug)
        verdict = check_trial_bolus(drug, screen.bolus_ng, opioid_naive=False)
        if not verdict.allowed:
            # A trial bolus beyond the drug's limit is never given: the protocol is wrong, not the patient.
            blocking = next(f for f in verdict.findings if f.blocking)
            raise blocking.input_error(where=f"arms.{self.arm.name}.screening.bolus")
        before, _ = self._recent(BASELINE_DAYS)
        self.patient.intrathecal(self.now_ms, self.now_ms, self.arm.drug, screen.bolus_ng / NG_PER_MG)
        scores = []
        for _h in range(1, 7):
            self._advance(self.now_ms + MS_PER_HOUR)
            scores.append(self._observe().pain_score)
        relief = 1.0 - fmean(scores) / before if before > 0 else 0.0
        passed = relief >= screen.success_relief
        self.endpoints["screening_passed"] = passed
        if passed:
            self._at(max(self.now_ms + MS_PER_HOUR, self.arm.implant_day * MS_PER_DAY + 8 * MS_PER_HOUR), "implant")
        elif self.arm.follow_screen_failures:
            self._start_oral_visits(self.now_ms + self.arm.oral_visit_ms)
        else:
            self.agenda.clear()  # the study follows implanted patients only: this one leaves it here

    def _therapy(self, intent: Intent, actor: Actor | None = None) -> Plan | None:
        """Plan an intent; send it if every limit allows; None when it was refused (the clinician does not act)."""
        assert self.service is not None
        who = actor or self.clinician
        plan = self.service.plan(intent, who)
        if not plan.allowed:
            return None
        execution = self.service.execute(plan, who, confirmed=True)
        return plan if execution.refusal is None else None

    def _do_implant(self, _: object) -> None:
        a, t = self.arm, self.arm.titration
        assert t is not None
        self.pump = VirtualPump(
            load_model("programmable-20" if a.reservoir_nl == 20_000_000 else "programmable-40"),
            formulary=pump_formulary(),
            catheter_volume_nl=CATHETER_NL,
            seed=int(self.clinic_rng.integers(0, 2**31)),
            on_delivery=self.link.delivery,
        )
        self.service = TherapyService(
            DirectPort(self.pump, refill=self.syringe.fill), PatientFacts(opioid_naive=self.entry_oral <= 0)
        )
        self.pump.advance(self.now_ms)
        self._therapy(Implant(CATHETER_NL))
        fill = self._therapy(FirstFill(a.reservoir_nl, DrugFill.of((a.drug, a.concentration_ng_per_ml))))
        if fill is None:
            raise ValueError(f"arm {a.name}: the first fill was refused; check its drug and concentration")
        self.refill_due_ms = self._pump_ms(fill.refill_due_wall_ms)
        self._therapy(PrimingBolus())
        start = t.start_ng_per_day
        if start is None:
            start = round(self.entry_oral * NG_PER_MG / t.start_oral_ratio)
        # A converted dose below what the pump can deliver at this concentration starts at that least dose.
        least = math.ceil(self.pump.model.min_programmable_flow_nl_per_day * a.concentration_ng_per_ml / 1_000_000)
        start = max(start, least)
        started = None
        for _ in range(6):  # a start the limits refuse is halved, as a clinician would start lower
            started = self._therapy(Prescribe(DoseSchedule.continuous(start), override_reason=t.start_reason))
            if started is not None:
                break
            start //= 2
        if started is None:
            self.endpoints["implanted"] = False
            self._start_oral_visits(self.now_ms + a.oral_visit_ms)
            return
        self.endpoints["implanted"] = True
        if a.wean_at_implant:
            dose = self.link.oral.mg_per_day * (1.0 - a.wean_at_implant)
            self.link.set_oral(self.now_ms, OralRegimen(mg_per_day=dose if dose > 1.0 else 0.0))
        self.it_on = True
        self.it_ng_per_day = self.it_start_ng_per_day = start
        if a.ptm:
            self._therapy(PtmSettings(a.ptm_dose_ng, 10 * 60_000, a.ptm_lockout_ms, a.ptm_max_per_day))
        self._at(self.now_ms + t.visit_ms, "it_visit")
        self._at(self.now_ms + MS_PER_WEEK, "refill_check")
        self._at(self.now_ms + a.discontinue_week * MS_PER_WEEK - (self.now_ms % MS_PER_DAY) + 10 * MS_PER_HOUR,
                 "efficacy")  # fmt: skip
        context = EventContext(implant_ms=self.now_ms, cancer=self.patient.params.indication == "cancer")
        for event in sample_events(self.events_rng, self.now_ms, self.horizon_ms, context):
            self._at(event.at_ms, "device_event", event)

    def _pump_ms(self, wall_ms: int | None) -> int | None:
        if wall_ms is None or self.pump is None:
            return None
        return wall_ms - self.pump.firmware.state.wall_ms + self.pump.now_ms

    # ------------------------------------------------------------------ titration, refills, events

    def _do_it_visit(self, _: object) -> None:
        if not self.it_on:
            return
        a, t = self.arm, self.arm.titration
        assert t is not None
        pain, limiting = self._recent()
        if limiting >= t.tolerable_grade and self.link.oral.mg_per_day > 0:
            # The systemic opioid goes first: its side effects are not the pump's (PACC: wean systemic opioids).
            dose = max(
                self.entry_oral * a.wean_floor_fraction, self.link.oral.mg_per_day - a.wean_fraction * self.entry_oral
            )
            self.link.set_oral(self.now_ms, OralRegimen(mg_per_day=dose if dose > 1.0 else 0.0))
        elif limiting >= t.tolerable_grade:
            if self.it_ng_per_day <= self.it_start_ng_per_day:
                self._discontinue("side_effects")
                return
            self._titrate(max(self.it_start_ng_per_day, round(self.it_ng_per_day * (1 - self._down_fraction()))))
        elif pain > t.target_pain and self.it_ng_per_day < t.max_ng_per_day:
            if a.drug == "ziconotide":
                new = self.it_ng_per_day + t.step_ng_per_day
            else:
                new = math.floor(self.it_ng_per_day * (1.0 + t.step_fraction))  # never past the step limit
            self._titrate(min(t.max_ng_per_day, new))
        if pain <= t.target_pain + WEAN_MARGIN and limiting < t.tolerable_grade and self.link.oral.mg_per_day > 0:
            floor = self.entry_oral * a.wean_floor_fraction
            dose = max(floor, self.link.oral.mg_per_day - a.wean_fraction * self.entry_oral)
            self.link.set_oral(self.now_ms, OralRegimen(mg_per_day=dose if dose > 1.0 else 0.0))
        titrating = self.now_ms < (a.implant_day + t.titration_days) * MS_PER_DAY
        self._at(self.now_ms + (t.visit_ms if titrating else t.review_ms), "it_visit")

    def _down_fraction(self) -> float:
        t = self.arm.titration
        assert t is not None
        return 0.5 if self.arm.drug == "ziconotide" else t.step_fraction

    def _titrate(self, new_ng_per_day: int) -> None:
        if new_ng_per_day == self.it_ng_per_day:
            return
        if self._therapy(Prescribe(DoseSchedule.continuous(new_ng_per_day))) is None:
            self.refused_steps += 1
            return
        if new_ng_per_day > self.it_ng_per_day:
            self.step_times_ms.append(self.now_ms)
        self.it_ng_per_day = new_ng_per_day

    def _do_efficacy(self, _: object) -> None:
        if not self.it_on or self.baseline_pain <= 0:
            return
        rows = self.diary.since(self.now_ms - MS_PER_WEEK, self.now_ms)
        pain = fmean(r[1] for r in rows) if rows else self.baseline_pain
        if 1.0 - pain / self.baseline_pain < self.arm.discontinue_relief:
            self._discontinue("inefficacy")

    def _discontinue(self, why: str) -> None:
        self._therapy(StopTherapy())
        self.it_on = False
        self.endpoints[f"discontinued_{why}"] = True
        if self.link.oral.mg_per_day <= 0:
            self.link.set_oral(self.now_ms, OralRegimen(mg_per_day=max(30.0, 0.5 * self.entry_oral)))
        self._start_oral_visits(self.now_ms + MS_PER_DAY)

    def _do_refill_check(self, _: object) -> None:
        if not self.it_on or self.service is None:
            return
        snap = self.service.port.interrogate()
        flow = snap.basal_flow_nl_per_day
        days_left = (snap.reservoir_nl - snap.low_reservoir_alarm_nl) / flow if flow > 0 else math.inf
        due_soon = self.refill_due_ms is not None and self.now_ms + MS_PER_WEEK >= self.refill_due_ms
        if days_left < 10 or due_soon:
            self._refill()
        self._at(self.now_ms + MS_PER_WEEK, "refill_check")

    def _refill(self) -> None:
        assert self.pump is not None
        a = self.arm
        error = refill_error(self.events_rng, self.now_ms)
        self.syringe.contents = ((a.drug, a.concentration_ng_per_ml),)
        self.syringe.aspirated_nl = round(self.pump.reservoir.volume_nl)
        self.syringe.pocket_fill = error is not None
        if error is not None:
            self.device_events += 1
            self.patient.take_subcutaneous(self.now_ms, a.drug, a.reservoir_nl * a.concentration_ng_per_ml / 1e6 / 1e6)
        try:
            plan = self._therapy(
                Refill(
                    a.reservoir_nl,
                    DrugFill.of((a.drug, a.concentration_ng_per_ml)),
                    round(self.pump.reservoir.volume_nl),
                    discrepancy_acknowledged=True,
                )
            )
        finally:
            self.syringe.contents, self.syringe.aspirated_nl, self.syringe.pocket_fill = None, None, False
        if plan is not None:
            self.refill_due_ms = self._pump_ms(plan.refill_due_wall_ms)

    def _do_device_event(self, event: object) -> None:
        from thecal.patient import EventRecord

        assert isinstance(event, EventRecord) and self.pump is not None
        if not self.it_on:
            return
        self.device_events += 1
        kind = event.fault_kind
        catheter = {
            "occlusion": CatheterFault.OCCLUSION,
            "leak": CatheterFault.LEAK,
            "disconnection": CatheterFault.DISCONNECTION,
        }
        if kind in catheter:
            self.pump.catheter_fault(catheter[kind], event.fraction or 0.0)
            self._at(self.now_ms + REVISION_MS, "revise_catheter")
        elif kind == "motor_stall":
            self.pump.motor_fault(True)
            self._at(self.now_ms + REVISION_MS, "revise_motor")
        elif kind == "over_infusion":
            self.pump.motor.over_infusion = event.fraction or 0.0
        elif kind == "mri":
            self.pump.magnetic_field(True)
            self._at(self.now_ms + 40 * 60_000, "mri_end")
        elif event.what == "catheter_migration":
            self.patient.move_tip(self.now_ms, self.patient.tip_to_pain_cm + (event.distance_cm or 0.0))
            self._at(self.now_ms + REVISION_MS, "revise_tip")
        elif event.what == "inflammatory_mass":
            self.patient.block_tip(True)
        elif event.what == "infection":
            self._discontinue("device")

    def _do_revise_catheter(self, _: object) -> None:
        if self.pump is not None:
            self.pump.catheter_fault(CatheterFault.NONE)

    def _do_revise_tip(self, _: object) -> None:
        self.patient.move_tip(self.now_ms, self.patient.params.tip_to_pain_cm)

    def _do_revise_motor(self, _: object) -> None:
        if self.pump is not None:
            self.pump.motor_fault(False)
            self._clear("motor_stall")

    def _do_mri_end(self, _: object) -> None:
        if self.pump is not None:
            self.pump.magnetic_field(False)
            self._clear("motor_stall")

    def _clear(self, alarm: str) -> None:
        from thecal.pump.core import Alarm

        if self.service is not None and alarm in self.service.port.interrogate().alarms:
            self._therapy(ClearAlarm(Alarm(alarm)))

    # ------------------------------------------------------------------ the end

    def _finish(self) -> None:
        e = self.endpoints
        death = self.patient.death_ms
        e["death_day"] = None if death is None else death / MS_PER_DAY
        # The days this journey simulated: to death, to leaving the study, or to the horizon (the trial's speed
        # is counted in these, never in days planned but not lived).
        followed_ms = min(self.now_ms if death is None else death, self.protocol.horizon_days * MS_PER_DAY)
        e["followed_days"] = followed_ms / MS_PER_DAY
        for m in self.protocol.survival_months:
            e.setdefault(f"alive_month{m}", False)
        for w in self.protocol.endpoint_weeks:
            for key in (
                "pain", "worst_pain", "toxicity", "pain_below4", "pain_ge7", "it_dose_mg_day", "oral_mg_day",
                "off_oral",
            ) + (("pain_change", "toxicity_change", "success", "relief20", "relief50") if w else ()):  # fmt: skip
                e.setdefault(f"{key}_week{w}", None)
        for key in ("screened", "screening_passed", "implanted"):
            e.setdefault(key, None if self.arm.therapy == "cmm" else False)
        for why in ("side_effects", "inefficacy", "device"):
            e.setdefault(f"discontinued_{why}", False)
        e["ptm_presses"] = float(self.presses)
        e["ptm_doses"] = float(self.press_doses)
        e["device_events"] = float(self.device_events)
        e["refused_titration_steps"] = float(self.refused_steps)
        weeks = self.protocol.horizon_days // 7
        for series in self.weekly.values():
            series.extend([None] * (weeks - len(series)))
        self.weekly["alive"] = [0.0 if v is None else v for v in self.weekly["alive"]]
