"""What the pages show, made from the therapy layer's words: plan rows, the dose chart, pump facts, alarms.

Nothing here decides anything about a dose: every word of a plan comes from
`thecal.therapy`; this module only groups and lays them out for a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thecal.apps.clinic.web.facts import battery_used_fraction
from thecal.drugs.verdict import Finding, Tier
from thecal.pump.core.alarms import RULES, Tone
from thecal.pump.core.commands import Fill
from thecal.pump.core.schedule import DAY_NAMES, DoseSchedule
from thecal.therapy import Execution, Plan, PumpSnapshot, SettingChange, SettingValue, TherapySettings
from thecal.therapy.handlers.alarm_test import tone_alarms
from thecal.therapy.settings import (
    dose_rate_text,
    grouped_by_weekday,
    label_text,
    mass_text,
    side_by_side,
    volume_text,
)
from thecal.therapy.words import CALL_NOW, CALL_TODAY, ONE_TONE, TWO_TONES
from thecal.units import MS_PER_DAY

# -------------------------------------------------------------------------- plan rows


@dataclass(frozen=True)
class Row:
    """One setting on the Finish screen: its name, old and new in words, dose and volume apart, and if it changes."""

    key: str
    name: str
    old: SettingValue | None
    new: SettingValue | None
    changed: bool

    @property
    def old_text(self) -> str:
        """The old value in words."""
        return "none" if self.old is None else self.old.text

    @property
    def new_text(self) -> str:
        """The new value in words."""
        return "none" if self.new is None else self.new.text


def rows(settings: Sequence[SettingChange]) -> list[Row]:
    """The settings, a basal step alike on several weekdays shown once for all of them."""
    return [Row(c.key, c.name, c.old, c.new, c.changed) for c in grouped_by_weekday(settings)]


@dataclass(frozen=True)
class FindingView:
    """One limit reached, as the Finish screen shows it."""

    finding: Finding
    state: str
    blocking: bool


def findings(plan: Plan) -> list[FindingView]:
    """The limits that applied, each with its state in words."""
    out = []
    for f in plan.findings:
        if f.tier is Tier.HARD:
            state = "hard limit: no one may pass it"
        elif f.overridden and plan.override is not None:
            o = plan.override
            state = f"soft limit, passed by {o.by or o.role.value} ({o.role.value}) with the reason: {o.reason}"
        else:
            state = "soft limit, not passed: a physician may pass it with a written reason"
        out.append(FindingView(f, state, f.blocking))
    return out


def fill_lines(plan: Plan) -> list[str]:
    """What goes into the reservoir, for a plan that fills it."""
    lines = []
    for command in plan.commands:
        if isinstance(command, Fill):
            line = f"Into the reservoir: {volume_text(command.volume_nl)} of {label_text(command.contents)}"
            if command.aspirated_nl is not None:
                line += f", after {volume_text(command.aspirated_nl)} was aspirated"
            lines.append(line)
    return lines


def audit_settings(plan: Plan) -> tuple[dict[str, object], dict[str, object]]:
    """The changed settings old and new, in words, for the audit trail."""
    old: dict[str, object] = {}
    new: dict[str, object] = {}
    for row in rows(plan.settings):
        if row.changed:
            old[row.name] = row.old_text
            new[row.name] = row.new_text
    return old, new


# ---------------------------------------------------------------------- alarm test


@dataclass(frozen=True)
class ToneHeard:
    """One tone the pump sounded in an alarm test: how the patient hears it, what it means, what they then do."""

    tone: str
    sound: str
    means: str
    instruction: str


# What the patient is told for each tone: the words every door uses (`thecal.therapy.words`).
_TONE_WORDS = {Tone.SINGLE: (ONE_TONE, CALL_TODAY), Tone.TWO_TONE: (TWO_TONES, CALL_NOW)}


def tones_heard(execution: Execution) -> list[ToneHeard]:
    """The tones the pump's log says its alarm test sounded, in order, each with the patient's instruction."""
    heard = []
    for event in execution.verification.events:
        for name in str(event.detail.get("tones", "")).split(","):
            try:
                tone = Tone(name)
            except ValueError:
                continue
            sound, instruction = _TONE_WORDS[tone]
            means = "; ".join(RULES[a].words for a in tone_alarms(tone))
            heard.append(ToneHeard(tone.value, sound.removeprefix("Sound: "), means, instruction))
    return heard


# ------------------------------------------------------------------- interrogation


def settings_rows(snapshot: PumpSnapshot) -> list[Row]:
    """What the pump holds now, as rows (old and new alike)."""
    held = TherapySettings.of(snapshot)
    return [r for r in rows(side_by_side(held, held, snapshot.model.internal_volume_nl)) if r.key != "label"]


def reservoir_text(snapshot: PumpSnapshot) -> str:
    """The reservoir's calculated volume and what it holds."""
    s = snapshot
    text = f"{volume_text(s.reservoir_nl)} of {volume_text(s.reservoir_capacity_nl)}"
    if s.label:
        text += f", holding {mass_text(s.label, s.reservoir_nl * s.label[0][1] // 1_000_000)}"
    return text + " (calculated from the programmed delivery, never measured)"


def battery_text(snapshot: PumpSnapshot) -> str:
    """How much of the battery is used, in words."""
    used = battery_used_fraction(snapshot)
    return "not reported" if used is None else f"{used * 100:.2f} % used"


# --------------------------------------------------------------------- dose chart

CHART_W = 720
LANE_H = 34
CHART_LEFT = 44


@dataclass(frozen=True)
class Bar:
    """One step of a day in the chart: where it starts and ends (x), how high, and its words."""

    x: float
    w: float
    h: float
    y: float
    title: str


@dataclass(frozen=True)
class Lane:
    """One weekday of the chart, before and after."""

    name: str
    y: float
    before: list[Bar]
    after: list[Bar]
    before_total: str
    after_total: str


def daily_total_ng(schedule: DoseSchedule, day: int) -> int:
    """The dose a weekday's steps give in 24 h, in ng."""
    steps = schedule.days[day]
    total = 0
    for i, step in enumerate(steps):
        end = steps[i + 1].start_ms if i + 1 < len(steps) else MS_PER_DAY
        total += step.dose_ng_per_day * (end - step.start_ms)
    return total // MS_PER_DAY


def chart(plan: Plan) -> list[Lane] | None:
    """The week's basal doses before and after, as lanes of bars; None when the plan has no prescription."""
    before = plan.before.prescription if plan.before is not None else None
    after = plan.expected.prescription if plan.expected is not None else None
    if after is None and before is None:
        return None
    label = plan.expected.label if plan.expected is not None else ()
    peak = max(s.max_dose_ng_per_day() for s in (before, after) if s is not None) or 1
    lanes = []
    for day, name in enumerate(DAY_NAMES):
        y = 20 + day * (2 * LANE_H + 10)
        lanes.append(
            Lane(
                name,
                y,
                _bars(before, day, y, peak, label),
                _bars(after, day, y + LANE_H, peak, label),
                "none" if before is None else dose_rate_text(label, daily_total_ng(before, day)),
                "none" if after is None else dose_rate_text(label, daily_total_ng(after, day)),
            )
        )
    return lanes


def _bars(
    schedule: DoseSchedule | None, day: int, y: float, peak: int, label: tuple[tuple[str, int], ...]
) -> list[Bar]:
    if schedule is None:
        return []
    steps = schedule.days[day]
    width = CHART_W - CHART_LEFT - 10
    out = []
    for i, step in enumerate(steps):
        end = steps[i + 1].start_ms if i + 1 < len(steps) else MS_PER_DAY
        h = (LANE_H - 6) * step.dose_ng_per_day / peak
        x = CHART_LEFT + width * step.start_ms / MS_PER_DAY
        w = width * (end - step.start_ms) / MS_PER_DAY
        start = f"{step.start_ms // 3_600_000:02d}:{step.start_ms % 3_600_000 // 60_000:02d}"
        out.append(Bar(x, w, h, y + LANE_H - 3 - h, f"from {start}: {dose_rate_text(label, step.dose_ng_per_day)}"))
    return out


def mg_per_day(plan: Plan) -> tuple[str, str] | None:
    """The highest daily total of the week before and after, in the drug's unit, for a prescription plan."""
    before = plan.before.prescription if plan.before is not None else None
    after = plan.expected.prescription if plan.expected is not None else None
    if before is None and after is None:
        return None
    label = plan.expected.label if plan.expected is not None else ()

    def most(s: DoseSchedule | None) -> str:
        return "none" if s is None else dose_rate_text(label, max(daily_total_ng(s, d) for d in range(7)))

    return most(before), most(after)
