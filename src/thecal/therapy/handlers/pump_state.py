"""Stop, resume, alarms, the low-reservoir threshold and the check after an MRI."""

from __future__ import annotations

from thecal.drugs.dosing import dose_ng_per_day
from thecal.drugs.limits import PUMP_FIRMWARE, rule_finding
from thecal.drugs.verdict import Finding
from thecal.pump.core import commands as pump
from thecal.pump.core.alarms import RULES, Alarm
from thecal.pump.core.limits import threshold_refusal
from thecal.therapy.checks import pump_model_finding
from thecal.therapy.context import Context
from thecal.therapy.handlers.draft import Draft
from thecal.therapy.intents import ClearAlarm, LowReservoirAlarm, PostMriCheck, ResumeTherapy, StopTherapy
from thecal.therapy.plan import PlanWarning
from thecal.therapy.settings import dose_rate_text, flow_text, volume_text

RUNNING = "running"
MINIMUM_RATE = "minimum_rate"
STALLED = "stalled"
MRI_SOURCE = (
    "Medtronic MRI guidance: the magnet stops the rotor during the scan; infusion resumes afterwards, and the "
    "return to the programmed rate may lag 2 to 24 h"
)


def stop_therapy(ctx: Context, intent: StopTherapy) -> Draft:
    """Go to the pump's minimum rate."""
    findings: list[Finding] = []
    if ctx.snapshot.stopped:
        findings.append(_state("therapy", "stopped", "running", "Therapy is already stopped.", "already_stopped"))
    model = ctx.snapshot.model
    flow = model.minimum_rate_mode_flow_nl_per_day
    words = f"The pump goes to its minimum rate, {flow_text(flow)}"
    label = ctx.snapshot.label
    if label:
        words += f" ({dose_rate_text(label, dose_ng_per_day(flow, label[0][1]))})"
    words += ". Watch for withdrawal and returning pain; resume therapy as soon as it is safe."
    warnings = (PlanWarning("therapy_stopped", words),)
    return Draft((pump.StopTherapy(),), ctx.before, tuple(findings), warnings, expected_mode=MINIMUM_RATE)


def resume_therapy(ctx: Context, intent: ResumeTherapy) -> Draft:
    """Deliver the prescription again."""
    findings: list[Finding] = []
    if not ctx.snapshot.stopped:
        findings.append(_state("therapy", ctx.snapshot.mode, "stopped", "Therapy is not stopped.", "not_stopped"))
    warnings = (
        PlanWarning(
            "resume",
            "After a long stop the patient's tolerance may have fallen: consider restarting at a lower dose.",
        ),
    )
    return Draft((pump.ResumeTherapy(),), ctx.before, tuple(findings), warnings, expected_mode=RUNNING)


def clear_alarm(ctx: Context, intent: ClearAlarm) -> Draft:
    """Clear an alarm a clinician may clear, once its cause is handled (the pump's table of who clears what)."""
    findings: list[Finding] = []
    rule = RULES[intent.alarm]
    if intent.alarm.value not in ctx.snapshot.alarms:
        findings.append(
            _state(
                "alarm",
                intent.alarm.value,
                "an active alarm",
                f"The {intent.alarm.value} alarm is not active.",
                "not_active",
            )
        )
    if not rule.clinician_may_clear:
        findings.append(
            _state(
                "alarm",
                intent.alarm.value,
                rule.cleared_by,
                f"The {intent.alarm.value} alarm is not cleared by hand: it ends by {rule.cleared_by}.",
                "not_clearable",
            )
        )
    return Draft((pump.ClearAlarm(intent.alarm, pump.Role.CLINICIAN),), ctx.before, tuple(findings))


def post_mri_check(ctx: Context, intent: PostMriCheck) -> Draft:
    """After an MRI: the motor must have restarted; its stall alarm is cleared and therapy runs."""
    snapshot = ctx.snapshot
    findings: list[Finding] = []
    commands: list[pump.Command] = []
    warnings = [PlanWarning("mri_lag", f"{MRI_SOURCE.split(': ', 1)[1].capitalize()}: watch the patient today.")]
    if snapshot.mode == STALLED:
        findings.append(
            rule_finding(
                "motor",
                "stalled",
                "turning again after the scan",
                "The motor has not restarted since the scan: no drug is delivered.",
                "interrogate again in an hour; if the motor is still stalled, call the manufacturer and watch the "
                "patient for withdrawal",
                MRI_SOURCE,
                code="still_stalled",
            )
        )
    if Alarm.MOTOR_STALL.value in snapshot.alarms:
        commands.append(pump.ClearAlarm(Alarm.MOTOR_STALL, pump.Role.CLINICIAN))
    else:
        warnings.append(
            PlanWarning(
                "no_stall", "No motor-stall alarm is active: the scan did not stop the pump, or it was cleared."
            )
        )
    expected = MINIMUM_RATE if snapshot.stopped else RUNNING
    return Draft(tuple(commands), ctx.before, tuple(findings), tuple(warnings), expected_mode=expected)


def low_reservoir_alarm(ctx: Context, intent: LowReservoirAlarm) -> Draft:
    """Raise the low-reservoir alarm at another volume, within the pump's range."""
    findings = pump_model_finding(threshold_refusal(ctx.snapshot.model, intent.threshold_nl), ctx)
    warnings: list[PlanWarning] = []
    if ctx.snapshot.label and ctx.snapshot.reservoir_nl <= intent.threshold_nl:
        warnings.append(
            PlanWarning(
                "alarm_now",
                f"The reservoir holds {volume_text(ctx.snapshot.reservoir_nl)}, not above the new threshold: the "
                "alarm sounds at once.",
            )
        )
    after = ctx.before.but(low_reservoir_alarm_nl=intent.threshold_nl)
    return Draft((pump.SetLowReservoirAlarm(intent.threshold_nl),), after, tuple(findings), tuple(warnings))


def _state(field: str, value: str, limit: str, message: str, code: str) -> Finding:
    return rule_finding(
        field, value, limit, message, "interrogate the pump and plan what it needs", PUMP_FIRMWARE, code=code
    )
