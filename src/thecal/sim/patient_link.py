"""The virtual patient coupled to a running pump: drug at the tip in, oral doses, presses and observations out.

A `PatientLink` sits between one `VirtualPump` and one `VirtualPatient`:
- every `DeliveryRecord` the pump's catheter produces goes to the patient as it
  happens (`delivery`, the pump's `on_delivery` hook): what reached the tip
  enters the CSF, what leaked is absorbed like a subcutaneous dose;
- the patient takes its oral opioid regimen (`OralRegimen`) at the regimen's
  times, pushed into the body before the body is moved past them;
- at an observation at which the patient may press, the body is moved to the
  pump's time and noted (`VirtualPatient.note`): the score it reports decides,
  by the patient's press rule, whether it presses the handset; the caller
  sends the press through the therapy layer and tells the patient what the
  pump answered, so the patient learns lockouts as a real one does;
- an observation at which the patient cannot press (asleep, expecting a
  lockout, no handset, dead) waits: the waiting ones are noted together, as
  one series of states (`VirtualPatient.note_many`), when the next one that
  may press comes;
- the rest of every noted observation (side effects, toxicity, survival, and
  the score where nobody asked for it) is worked out later for all of them at
  once (`VirtualPatient.noted`): before a press, so a patient who has died
  does not press, and whenever anyone asks for the observations. The series
  gives what one-at-a-time observing gives, so the result does not depend on
  it.

The pump must be advanced to a time before the patient is (the catheter tells
what reached the tip over an interval only once the interval is over); the
caller does that, as the scenario runner and the trial journey both do.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from thecal.pump.device import DeliveryRecord
from thecal.units import MS_PER_DAY, MS_PER_HOUR

if TYPE_CHECKING:
    # Named here only: the runner imports this module for every scenario, and a scenario without a patient must not
    # wait for the patient model and numpy (tests/cli/test_cli_simulate_imports.py).
    from thecal.patient import Observation, VirtualPatient
    from thecal.patient.observation import ObservationSeries

PressOutcome = Literal["given", "locked_out", "daily_max", "refused"]


@dataclass(frozen=True)
class PressAnswer:
    """What the handset told the patient after a press, and until when (pump ms) no dose is possible."""

    outcome: PressOutcome
    until_ms: int | None = None


@dataclass(frozen=True)
class OralRegimen:
    """An oral opioid taken at fixed times of day: `mg_per_day` split into equal doses."""

    drug: str = "morphine"
    mg_per_day: float = 0.0
    doses_per_day: int = 2
    first_hour: float = 8.0
    release: Literal["ir", "mr"] = "mr"

    def dose_mg(self) -> float:
        """One dose of the regimen, mg."""
        return self.mg_per_day / self.doses_per_day if self.doses_per_day else 0.0

    def times_ms(self, after_ms: int, until_ms: int, time_of_day_at_0_ms: int = 0) -> list[int]:
        """The dose times t with after_ms < t <= until_ms (pump ms; at time 0 the clock shows `time_of_day_at_0_ms`
        after midnight)."""
        if self.mg_per_day <= 0 or self.doses_per_day <= 0 or until_ms <= after_ms:
            return []
        every = MS_PER_DAY // self.doses_per_day
        first = (round(self.first_hour * MS_PER_HOUR) - time_of_day_at_0_ms) % every
        k = (after_ms - first) // every + 1
        out = []
        t = first + k * every
        while t <= until_ms:
            out.append(t)
            t += every
        return out


@dataclass
class PatientLink:
    """One virtual patient attached to one pump run: what reaches the tip goes in, what the body says comes out."""

    patient: VirtualPatient
    observe_ms: int = MS_PER_HOUR
    oral: OralRegimen = field(default_factory=OralRegimen)
    presses: bool = True
    keep: bool = True
    oral_doses: list[tuple[int, str, float]] = field(default_factory=list)
    press_outcomes: list[tuple[int, PressOutcome]] = field(default_factory=list)
    _oral_done_ms: int = -1
    _kept: list[list[Observation] | ObservationSeries] = field(default_factory=list)
    _seen: list[Observation] = field(default_factory=list)  # _kept as observations, as far as worked out
    _pending: list[int] = field(default_factory=list)  # observation times not worked out yet

    @property
    def observations(self) -> list[Observation]:
        """Every observation kept so far, in order, the waiting ones too.

        The waiting ones are worked out on a copy of the patient: the patient itself goes on as if nobody had
        asked, so reading the observations in the middle of a run changes nothing in it (a forecast's fork).
        """
        for chunk in self._kept:
            self._seen.extend(chunk if isinstance(chunk, list) else chunk.observations())
        self._kept.clear()
        if not self.keep or not (self._pending or self.patient.notes_waiting):
            return self._seen
        twin = self.patient.fork()
        twin.note_many(self._pending)
        return self._seen + twin.noted().observations()

    def __deepcopy__(self, memo: dict[int, object]) -> PatientLink:
        # What was observed is history, the same for every copy: kept, not copied; the patient is forked.
        twin = copy.copy(self)
        twin.patient = self.patient.fork()
        for name in ("oral_doses", "press_outcomes", "_kept", "_seen", "_pending"):
            setattr(twin, name, list(getattr(self, name)))
        memo[id(self)] = twin
        return twin

    def oral_doses_taken(self) -> list[tuple[int, str, float]]:
        """The oral doses of the record up to the patient's death, if it came: the regimen's doses are put into the
        body ahead of time, before a death worked out later is known, and a dead body takes none (the record as far
        as it is worked out: `flush` first for all of it)."""
        death = self.patient.death_ms
        return [d for d in self.oral_doses if death is None or d[0] <= death]

    def start_clock(self, wall_ms_at_0: int) -> None:
        """Say what the clock on the wall shows at the run's time 0, so the patient sleeps and doses by it."""
        self.patient.set_time_of_day(wall_ms_at_0 % MS_PER_DAY)

    def flush(self) -> None:
        """Work out the observations still waiting, all at once."""
        self._note_pending()
        if self.patient.notes_waiting:
            series = self.patient.noted()
            if self.keep:
                self._kept.append(series)

    def _note_pending(self) -> None:
        """Move the body through the observation times waiting, keeping its states there as one stretch."""
        if self._pending:
            times, self._pending = self._pending, []
            self.patient.note_many(times)

    def delivery(self, record: DeliveryRecord) -> None:
        """The pump's delivery hook: hand what the catheter delivered (and lost) to the body."""
        self.patient.deliver((record,))

    def set_oral(self, at_ms: int, regimen: OralRegimen) -> None:
        """From `at_ms` on, the patient takes this regimen instead (a titration or a weaning step)."""
        self._take_oral(at_ms)
        self.oral = regimen

    def _take_oral(self, until_ms: int) -> None:
        start = max(self._oral_done_ms, self.patient.now_ms - 1)
        for t in self.oral.times_ms(start, until_ms, self.patient.time_of_day_at_0_ms):
            mg = self.oral.dose_mg()
            self.patient.take_oral(t, self.oral.drug, mg, self.oral.release)
            if self.keep:
                self.oral_doses.append((t, self.oral.drug, mg))
        self._oral_done_ms = max(self._oral_done_ms, until_ms)

    def run_to(self, at_ms: int) -> None:
        """Move the body to `at_ms` (the pump must be there already), taking the oral doses due on the way."""
        self.flush()
        self._take_oral(at_ms)
        self.patient.run_to(at_ms)

    def observe(self, at_ms: int) -> Observation:
        """Move the body to `at_ms` and keep what it is and says then."""
        self.run_to(at_ms)
        seen = self.patient.observe()
        if self.keep:
            self._kept.append([seen])
        return seen

    def observe_many(self, times_ms: list[int]) -> ObservationSeries:
        """Move the body through `times_ms` (ascending) and keep what it is and says at each, as one series."""
        self.flush()
        if times_ms:
            self._take_oral(times_ms[-1])
        series = self.patient.observe_many(times_ms)
        if self.keep:
            self._kept.append(series)
        return series

    def tick(self, at_ms: int, press: Callable[[], PressAnswer] | None) -> None:
        """One observation; the patient presses (through `press`) when its press rule says so.

        An observation at which the patient cannot press waits, to be worked out with the others (`flush`).
        """
        if not (self.presses and press is not None and self.patient.may_press(at_ms)):
            self._take_oral(at_ms)
            self._pending.append(at_ms)
            return
        self._note_pending()
        self._take_oral(at_ms)
        score, awake = self.patient.note(at_ms)
        rule = self.patient.press
        if not rule.wants(at_ms, score, awake):
            return
        if self.patient.may_die:
            self.flush()  # survival up to now: a patient who has died since does not press
        if self.patient.death_ms is None:
            answer = press()
            rule.pressed(at_ms, "refused" if answer.outcome == "refused" else answer.outcome, answer.until_ms)
            if self.keep:
                self.press_outcomes.append((at_ms, answer.outcome))

    def tick_times(self, end_ms: int) -> range:
        """The observation times of a run of `end_ms`, from the first interval on."""
        return range(self.observe_ms, end_ms + 1, self.observe_ms)

    def to_json(self) -> dict[str, object]:
        """The patient's part of a run's record: observations as columns, doses and presses as rows."""
        self.flush()  # the record of a run that has ended: everything worked out, a death included
        obs = self.observations
        drugs = sorted({d for o in obs for d, c in o.csf_ng_per_ml.items() if c > 0 or o.plasma_ng_per_ml[d] > 0})
        items = sorted(obs[0].grades) if obs else []
        series: dict[str, list[object]] = {
            "t_ms": [o.at_ms for o in obs],
            "alive": [o.alive for o in obs],
            "pain": [round(o.pain, 3) for o in obs],
            "pain_score": [o.pain_score for o in obs],
            "toxicity": [o.toxicity for o in obs],
            "tolerance_fold": [round(o.tolerance_fold, 4) for o in obs],
        }
        for drug in drugs:
            series[f"csf_ng_per_ml:{drug}"] = [round(o.csf_ng_per_ml[drug], 3) for o in obs]
            series[f"site_ng_per_ml:{drug}"] = [round(o.site_ng_per_ml[drug], 3) for o in obs]
            series[f"plasma_ng_per_ml:{drug}"] = [round(o.plasma_ng_per_ml[drug], 4) for o in obs]
        for item in items:
            series[f"grade:{item}"] = [o.grades[item] for o in obs]
        p = self.patient.params
        return {
            "indication": p.indication,
            "entry_pain": round(p.entry_pain, 3),
            "prior_oral_mme_mg_per_day": round(p.prior_oral_mme_mg_per_day, 3),
            "observe_ms": self.observe_ms,
            "death_ms": self.patient.death_ms,
            "oral_doses": [{"at_ms": t, "drug": d, "dose_mg": round(mg, 4)} for t, d, mg in self.oral_doses_taken()],
            "presses": [{"at_ms": t, "outcome": o} for t, o in self.press_outcomes],
            "series": series,
        }
