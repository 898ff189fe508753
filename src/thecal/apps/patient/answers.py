"""The answer to a press, and what an alarm means, in the patient's words: a headline, an icon, plain lines.

Each answer says in words what happened (an icon repeats it, colour only
decorates), and is announced by the page's live region: `role="status"` for a
dose given or not possible now, `role="alert"` when the patient must act (not
confirmed, an alarm). Times are the pump's clock (local time) as HH:MM; a dose
is shown as a dose in its drug's unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from thecal.apps.patient.handset import DemandSettings, DoseNow, DoseState, Outcome, Press, Reading
from thecal.drugs.loader import get_drug
from thecal.errors import InputError
from thecal.pump.core.alarms import RULES, Alarm
from thecal.therapy.settings import time_of_day_text, wall_text
from thecal.therapy.words import CALL_NOW, CALL_TODAY, ONE_TONE, PATIENT_ALARM_MEANING, TWO_TONES
from thecal.units import format_mass

MS_PER_MIN = 60_000
MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class Answer:
    """What the page says: its kind (a stable word for tests and styles), icon, headline, lines and live role."""

    kind: str
    icon: str
    headline: str
    lines: tuple[str, ...] = ()
    role: str = "status"  # "alert" when the patient must act now
    alarms: tuple[AlarmWords, ...] = field(default=())
    can_check: bool = False  # an unknown outcome: the page offers to read the pump's record
    timer: Timer | None = None  # the moment a line counts down to ("in 45 min"), which the page keeps moving

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(line for line in self.lines if line))

    @property
    def text(self) -> str:
        """The whole answer as one text."""
        return " ".join((self.headline, *self.lines, *(a.text for a in self.alarms)))

    @property
    def key(self) -> str:
        """What the answer says apart from its moving countdown: a page replaces its answer only when this changes."""
        text = self.text if self.timer is None else self.text.replace(self.timer.phrase, "")
        return f"{self.kind}|{self.role}|{text}"


@dataclass(frozen=True)
class Timer:
    """A countdown in an answer: until when, and the pump's clock when it was read (both wall ms)."""

    until_wall_ms: int
    now_wall_ms: int

    @property
    def phrase(self) -> str:
        """The words a line carries for it, as they read at `now_wall_ms` ("in 45 min")."""
        return f"in {countdown(self.until_wall_ms, self.now_wall_ms)}"


def _timed(answer: Answer, until_wall_ms: int | None, now_wall_ms: int | None) -> Answer:
    """The answer with its countdown marked, when one of its lines counts down to `until_wall_ms`."""
    if until_wall_ms is None or now_wall_ms is None or until_wall_ms <= now_wall_ms:
        return answer
    timer = Timer(until_wall_ms, now_wall_ms)
    if not any(timer.phrase in line for line in answer.lines):
        return answer
    return replace(answer, timer=timer)


def _until(reading: Reading | None) -> tuple[int | None, int | None]:
    """When the pump's next dose is possible, and its clock now, from a reading."""
    if reading is None:
        return None, None
    view = reading.view
    return view.demand_not_now_until_wall_ms or view.demand_next_allowed_wall_ms, view.wall_ms


@dataclass(frozen=True)
class AlarmWords:
    """One alarm for the patient: what the tone is, what it means, what to do now."""

    name: str
    critical: bool
    tone: str
    meaning: str
    action: str

    @property
    def text(self) -> str:
        """The alarm in one text."""
        return f"{self.meaning} {self.tone} {self.action}"


def alarm_words(name: str) -> AlarmWords:
    """One alarm for the patient; an alarm this app does not know counts as critical."""
    try:
        alarm = Alarm(name)
    except ValueError:
        return AlarmWords(name, True, TWO_TONES, f"The pump reports an alarm ({name.replace('_', ' ')}).", CALL_NOW)
    critical = RULES[alarm].critical
    return AlarmWords(
        name,
        critical,
        TWO_TONES if critical else ONE_TONE,
        PATIENT_ALARM_MEANING[alarm],
        CALL_NOW if critical else CALL_TODAY,
    )


def clock(wall_ms: int, now_wall_ms: int) -> str:
    """A moment of the pump's clock as HH:MM, with "tomorrow" or the date when not today."""
    days = wall_ms // MS_PER_DAY - now_wall_ms // MS_PER_DAY
    hhmm = time_of_day_text(wall_ms % MS_PER_DAY)
    if days == 0:
        return hhmm
    if days == 1:
        return f"{hhmm} tomorrow"
    return f"{hhmm} on {wall_text(wall_ms)[:10]}"


def countdown(until_wall_ms: int, now_wall_ms: int) -> str:
    """How long until a moment, in hours and minutes (rounded up to the minute)."""
    minutes = max(0, -(-(until_wall_ms - now_wall_ms) // MS_PER_MIN))
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def dose_text(dose_ng: int, drug: str | None) -> str:
    """A dose in its drug's unit ("0.1 mg of morphine"), or in mg or mcg as fits when the drug is not known."""
    if drug:
        try:
            known = get_drug(drug)
        except InputError:  # a name the library does not know: the dose still reads right without it
            return format_mass(dose_ng)
        return f"{known.mass_text(dose_ng)} of {known.name}"
    return format_mass(dose_ng)


def duration_text(ms: int) -> str:
    """A duration in minutes or hours."""
    minutes = ms // MS_PER_MIN
    if minutes < 60 or minutes % 60:
        return f"{minutes} min" if ms % MS_PER_MIN == 0 else f"{ms // 1000} s"
    return f"{minutes // 60} h"


def _next_line(reading: Reading | None, fallback_wall_ms: int | None, now_wall_ms: int) -> str:
    if reading is not None:
        view = reading.view
        until = view.demand_not_now_until_wall_ms or view.demand_next_allowed_wall_ms
        if until is None or until <= view.wall_ms:
            return "Another dose is possible now."
        return f"Next dose possible at {clock(until, view.wall_ms)} (in {countdown(until, view.wall_ms)})."
    if fallback_wall_ms is not None:
        return f"Next dose possible at {clock(fallback_wall_ms, now_wall_ms)} at the earliest."
    return ""


def _count_line(reading: Reading | None, used: int | None = None) -> str:
    if reading is None or reading.settings is None:
        return ""
    used = reading.used_24h if used is None else used
    return f"Doses in the last 24 hours: {used} of {reading.settings.max_per_24h}."


def _given_lines(press: Press, drug: str | None) -> tuple[str, ...]:
    before, after = press.before, press.after
    latest = after or before
    settings: DemandSettings | None = None if latest is None else latest.settings
    now = 0 if latest is None else latest.view.wall_ms
    lines: list[str] = []
    if settings is not None:
        dose = dose_text(settings.dose_ng, drug)
        when = "" if press.given_wall_ms is None else f" at {clock(press.given_wall_ms, now)}"
        lines.append(
            f"Your extra dose of {dose} started{when}. It is given over {duration_text(settings.duration_ms)}."
        )
    fallback = None
    if settings is not None and before is not None:
        fallback = (press.given_wall_ms or before.view.wall_ms) + settings.lockout_ms
    lines.append(_next_line(after, fallback, now))
    lines.append(_count_line(after, None if after is not None else press.used_in_24h))
    return tuple(line for line in lines if line)


def press_answer(press: Press, drug: str | None = None) -> Answer:
    """The answer to one press, in words."""
    if press.outcome is Outcome.GIVEN:
        if press.settled_by is None:
            return _timed(Answer("given", "✓", "Dose given", _given_lines(press, drug)), *_until(press.after))
        source = "event log shows" if press.settled_by == "log" else "dose count shows"
        answer = Answer(
            "given",
            "✓",
            "Dose given: the pump confirms it",
            (f"The pump's {source} that this request gave the dose.", *_given_lines(press, drug)),
        )
        return _timed(answer, *_until(press.after))
    if press.outcome is Outcome.UNREACHABLE:
        return Answer(
            "out_of_range",
            "📡",
            "Pump not found: nothing was given",
            (
                "The handset could not reach your pump, so it sent nothing and no dose was given.",
                "Hold the device flat over the pump (on your abdomen), then press Request dose again.",
            ),
        )
    if press.outcome is Outcome.UNKNOWN:
        return Answer(
            "not_confirmed",
            "?",
            "NOT CONFIRMED: the dose may have been given",
            (
                "Your request may have reached the pump, but its answer was lost.",
                "Count this dose as given. Do not press Request dose again.",
                "Hold the device over the pump and choose Check with the pump: the handset reads what the pump "
                "really did. It never asks for a dose again on its own.",
            ),
            role="alert",
            can_check=True,
        )
    if press.outcome is Outcome.NOT_GIVEN:
        if press.code:
            why = f"The pump's record shows it received your request and refused it ({press.code.replace('_', ' ')})."
        elif press.settled_by == "log":
            why = "The pump's record shows your request never reached it, and it cannot arrive any more."
        else:
            why = "Your request did not reach the pump in time."
        answer = Answer(
            "not_given", "✗", "The pump confirms: no dose was given", (why, _next_line(press.after, None, 0))
        )
        return _timed(answer, *_until(press.after))
    return not_now_answer(press.after or press.before, press.code, press.until_wall_ms)


def not_now_answer(reading: Reading | None, code: str | None, until_wall_ms: int | None) -> Answer:
    """Why no dose is possible now, until when, and what to do."""
    until = until_wall_ms
    if reading is not None:
        until = reading.view.demand_not_now_until_wall_ms or reading.view.demand_next_allowed_wall_ms or until
    return _timed(_not_now_words(reading, code, until), until, None if reading is None else reading.view.wall_ms)


def _not_now_words(reading: Reading | None, code: str | None, until: int | None) -> Answer:
    now = 0 if reading is None else reading.view.wall_ms
    when = "" if until is None or until <= now else f"{clock(until, now)} (in {countdown(until, now)})"
    settings = None if reading is None else reading.settings
    alarms = () if reading is None else tuple(alarm_words(a) for a in reading.view.alarms)
    if code == "locked_out":
        lines = ["It is too soon after your last dose."]
        if settings is not None:
            lines.append(f"Your doctor set at least {duration_text(settings.lockout_ms)} between doses.")
        return Answer(
            "locked_out",
            "⏳",
            f"Locked out until {clock(until, now)}: no dose was given"
            if until is not None and when
            else "Locked out: no dose was given",
            (*lines, f"The next dose is possible at {when}." if when else ""),
        )
    if code == "daily_maximum":
        used = None if reading is None else reading.used_24h
        most = None if settings is None else settings.max_per_24h
        count = (
            f"You have taken {used} of {most} doses allowed in the last 24 hours."
            if most
            else ("You have taken the most doses allowed in 24 hours.")
        )
        return Answer(
            "daily_maximum",
            "⛔",
            "Daily maximum reached: no dose was given",
            (count, f"The next dose frees up at {when}." if when else ""),
        )
    if code == "bolus_running":
        return Answer(
            "dose_running",
            "⏳",
            "A dose is still being given: no new dose now",
            (f"The next dose is possible at {when}." if when else "Try again when it has ended.",),
        )
    if code == "demand_off":
        return Answer("off", "⛔", "Extra doses are not switched on", ("Your clinic has not set up extra doses.",))
    if code == "stopped":
        return Answer(
            "stopped", "⛔", "Therapy is stopped: no extra dose", ("Your clinic has stopped the pump's therapy.",)
        )
    if alarms:
        return Answer("alarm", "⚠", "The pump has an alarm: no dose was given", (), role="alert", alarms=alarms)
    return Answer(
        "not_now",
        "⛔",
        "No dose was given",
        (
            f"The pump gives no extra dose now ({(code or 'no reason given').replace('_', ' ')}).",
            f"The next dose is possible at {when}." if when else "Call your clinic if this continues.",
        ),
    )


def dose_line(dose: DoseNow | None, now_wall_ms: int) -> str:
    """Where the patient's last extra dose is: being given until HH:MM, or ended (within the last day)."""
    if dose is None:
        return ""
    at = clock(dose.at_wall_ms, now_wall_ms)
    if dose.state is DoseState.RUNNING and dose.at_wall_ms > now_wall_ms:
        return f"Your extra dose is being given now; it ends at {at}."
    if now_wall_ms - dose.at_wall_ms > MS_PER_DAY:
        return ""
    if dose.state is DoseState.INTERRUPTED:
        return f"Your last extra dose stopped early, at {at}: part of it was not given."
    return f"Your last extra dose has been given completely (it ended at {at})."


def home_answer(reading: Reading | None, dose: DoseNow | None = None) -> Answer:
    """The pump's state on the home page: whether a dose is possible now, and any alarm; where the last dose is."""
    answer = _home_answer(reading)
    line = "" if reading is None or answer.kind == "alarm" else dose_line(dose, reading.view.wall_ms)
    return replace(answer, lines=(line, *answer.lines)) if line else answer


def _home_answer(reading: Reading | None) -> Answer:
    if reading is None:
        return Answer(
            "out_of_range",
            "📡",
            "Pump not found",
            ("Hold the device flat over the pump (on your abdomen) to see whether a dose is possible.",),
        )
    view = reading.view
    alarms = tuple(alarm_words(a) for a in view.alarms)
    if alarms:
        return Answer(
            "alarm", "⚠", "Your pump has an alarm", ("What the sound means, and what to do now:",), "alert", alarms
        )
    if not view.demand_enabled:
        return not_now_answer(reading, "demand_off", None)
    if view.therapy_stopped:
        return not_now_answer(reading, "stopped", None)
    until = view.demand_not_now_until_wall_ms or view.demand_next_allowed_wall_ms
    if view.demand_not_now_code is None and (until is None or until <= view.wall_ms):
        return Answer("possible", "✓", "A dose is possible now", tuple(filter(None, (_count_line(reading),))))
    answer = not_now_answer(reading, view.demand_not_now_code, until)
    return replace(answer, headline=answer.headline.replace(": no dose was given", ""))
