"""The alarm test: the pump sounds each of its alarm tones once, so the patient learns them; nothing else changes.

Assumption: no published description of this pump class's alarm test was found (the Medtronic SynchroMed II
Clinician Programming Guide, A810 app, was searched), so that each tone sounds exactly once, the single tone first,
and that the test changes no setting, alarm or reservoir volume is this project's choice, kept as the firmware's
`AlarmToneTest`. The tones and what they stand for are the firmware's table (pump/core/alarms.py). The plan says what
will happen; it is verified by the pump's event log, which must show the test, and by every setting unchanged (the
mode is not held to: a priming bolus or a bridge may end on its own meanwhile).
"""

from __future__ import annotations

from thecal.drugs.limits import PUMP_FIRMWARE, rule_finding
from thecal.drugs.verdict import Finding
from thecal.pump.core import commands as pump
from thecal.pump.core.alarms import RULES, Alarm, Tone
from thecal.therapy.context import Context
from thecal.therapy.handlers.draft import Draft
from thecal.therapy.intents import AlarmTest
from thecal.therapy.plan import PlanWarning

TEST_EVENT = "alarm_tone_test"  # the event-log entry the pump writes for the test
END_OF_SERVICE = "end_of_service"
TONE_ORDER = (Tone.SINGLE, Tone.TWO_TONE)


def tone_alarms(tone: Tone) -> tuple[Alarm, ...]:
    """The alarms a tone stands for (the firmware's table: non-critical alarms sound single, critical two-tone)."""
    critical = tone is Tone.TWO_TONE
    return tuple(alarm for alarm, rule in RULES.items() if rule.critical == critical)


def tone_words(tone: Tone) -> str:
    """A tone and what it stands for, in words."""
    critical = tone is Tone.TWO_TONE
    name = "the two-tone sound" if critical else "the single tone"
    causes = "; ".join(RULES[alarm].words for alarm in tone_alarms(tone))
    return f"{name} ({'a critical' if critical else 'a non-critical'} alarm: {causes})"


def alarm_test(ctx: Context, intent: AlarmTest) -> Draft:
    """Sound each alarm tone once for the patient to hear; the settings, alarms and reservoir stay as they are."""
    snapshot = ctx.snapshot
    findings: list[Finding] = []
    if snapshot.mode == END_OF_SERVICE:
        findings.append(
            rule_finding(
                "pump",
                END_OF_SERVICE,
                "a battery that still powers the pump",
                "The pump's battery is exhausted: it can no longer sound its tones.",
                "replace the pump",
                PUMP_FIRMWARE,
                code=END_OF_SERVICE,
            )
        )
    tones = ", then ".join(tone_words(tone) for tone in TONE_ORDER)
    warnings = [
        PlanWarning(
            "alarm_test",
            f"The pump will sound {tones}, each once, for the patient to hear and tell apart. Nothing in the "
            "therapy changes: no setting, no alarm and no reservoir volume; the pump logs the test.",
        )
    ]
    if snapshot.alarms:
        active = ", ".join(a.replace("_", " ") for a in snapshot.alarms)
        warnings.append(
            PlanWarning(
                "alarms_stay",
                f"Active alarms ({active}) keep sounding as before: the test clears none of them.",
            )
        )
    return Draft(
        (pump.AlarmToneTest(),),
        ctx.before,
        tuple(findings),
        tuple(warnings),
        expected_event=TEST_EVENT,
    )
