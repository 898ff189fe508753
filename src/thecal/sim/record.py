"""What a simulation records, and the result it hands back: summary text and stable JSON.

The JSON layout is documented in docs/scenario.md and versioned by its
"format" key; quantities are integers in base units named in the key
(`_nl`, `_ng`, `_ms`), so nothing is lost to rounding.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any

from thecal.drugs.verdict import Finding
from thecal.pump.core.alarms import RULES, Alarm
from thecal.pump.device import DeliveryRecord, VirtualPump
from thecal.pump.model import PumpModel
from thecal.sim.scenario import Event, Scenario, timeline_time
from thecal.therapy import Execution, Plan
from thecal.units import NL_PER_ML, format_duration, format_mass, format_volume

RESULT_FORMAT = "thecal.simulation/2"
# Warnings every plan of a kind carries; the JSON keeps them, the summary leaves them out.
QUIET_WARNINGS = frozenset(
    {"refill_due", "worst_case_24h", "nothing_to_send", "bridge", "prime", "priming", "discrepancy_acknowledged"}
)


@dataclass
class SimulationResult:
    """Everything a run produced, as plain data."""

    data: dict[str, Any]

    def to_json_data(self) -> dict[str, Any]:
        """The documented, stable JSON document."""
        return self.data

    def to_json_text(self) -> str:
        """The JSON document as text: the same characters as `json.dumps(data, indent=1, sort_keys=True)`."""
        return json_text(self.data)

    def summary(self) -> str:
        """A readable summary for a clinician or an engineer."""
        d = self.data
        lines = [
            f"Scenario: {d['scenario']['name']}  (pump {d['scenario']['model']}, "
            f"{format_duration(d['scenario']['duration_ms'])} simulated, seed {d['scenario']['seed']})",
            f"Pump accuracy error (this pump): {d['pump']['accuracy_error'] * 100:+.2f} %",
            "",
            "Drug delivered                 calculated by pump   left the pump   reached catheter tip   lost",
        ]
        delivered = d["delivered_ng"]
        for drug in sorted(delivered["pump_calculated"] | delivered["catheter_tip"]):
            lines.append(
                f"  {drug:<28} {format_mass(delivered['pump_calculated'].get(drug, 0)):>18}"
                f" {format_mass(delivered['pump_actual'].get(drug, 0)):>15}"
                f" {format_mass(delivered['catheter_tip'].get(drug, 0)):>22}"
                f" {format_mass(delivered['lost'].get(drug, 0)):>10}"
            )
        if d["pocket_ng"]:
            for drug, ng in sorted(d["pocket_ng"].items()):
                lines.append(f"  INJECTED INTO THE POCKET: {drug} {format_mass(ng)}")
        r = d["reservoir"]
        lines += [
            "",
            f"Reservoir at the end: calculated {format_volume(r['calculated_nl'])}, "
            f"actual {format_volume(r['actual_nl'])}",
            "",
            "Alarms:",
        ]
        if not d["alarms"]:
            lines.append("  none")
        for a in d["alarms"]:
            cleared = "still active" if a["cleared_ms"] is None else f"cleared {a['cleared']}"
            lines.append(
                f"  {a['raised']:>14}  {a['alarm']:<22} {'critical' if a['critical'] else 'non-critical':<13} {cleared}"
            )
        if d["refills"]:
            lines += ["", "Refills (expected vs aspirated):"]
            for f in d["refills"]:
                flag = f"  FLAG: {f['flag']}" if f["flag"] else ""
                flag += "" if f["done"] else "  (refill stopped)"
                lines.append(
                    f"  {f['at']:>14}  expected {format_volume(f['expected_nl'])}, aspirated "
                    f"{format_volume(f['aspirated_nl'])}, difference {format_volume(f['difference_nl'])}{flag}"
                )
        ptm = d["ptm"]
        if ptm["presses"]:
            refused = ", ".join(f"{k} {v}" for k, v in sorted(ptm["refused"].items())) or "none"
            lines += ["", f"Patient presses: {ptm['presses']}, doses given {ptm['given']}, refused: {refused}"]
            for drug, doses in ptm["doses_ng"].items():
                given = ", ".join(f"{n} × {format_mass(row['dose_ng'])}" for row in doses for n in [row["given"]])
                total = sum(row["dose_ng"] * row["given"] for row in doses)
                lines.append(f"  demand doses of {drug}: {given} ({format_mass(total)} in all)")
        if d["refusals"]:
            lines += ["", "Commands the pump refused:"]
            for r in d["refusals"][:20]:
                lines.append(f"  {r['at']:>14}  {r['action']}: {r['message']} ({r['code']})")
            if len(d["refusals"]) > 20:
                lines.append(f"  … and {len(d['refusals']) - 20} more")
        shown = [w for w in d["warnings"] if w["code"] not in QUIET_WARNINGS]
        if shown:
            lines += ["", "Warnings when the entries were planned:"]
            for w in shown[:20]:
                lines.append(f"  {w['at']:>14}  {w['action']}: {w['message']}")
            if len(shown) > 20:
                lines.append(f"  … and {len(shown) - 20} more")
        tones = d["tones"]
        lines += ["", f"Alarm tones sounded: {tones.get('single', 0)} single, {tones.get('two-tone', 0)} two-tone"]
        return "\n".join(lines)


@dataclass
class Recorder:
    """Collects deliveries, samples, alarms and outcomes while a scenario runs."""

    scenario: Scenario
    model: PumpModel
    pump_calculated: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    pump_actual: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    tip: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    lost: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    series: dict[str, list[Any]] = field(default_factory=dict)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    plan_warnings: list[dict[str, Any]] = field(default_factory=list)
    refills: list[dict[str, Any]] = field(default_factory=list)
    presses: int = 0
    given: int = 0
    refused_presses: Counter[str] = field(default_factory=Counter)
    demand_doses_ng: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    _pump: VirtualPump | None = None

    def at_text(self, at_ms: int) -> str:
        """A pump time as the timeline writes it."""
        return timeline_time(self.scenario.start_wall_ms, at_ms)

    def attach(self, pump: VirtualPump) -> None:
        """Remember the pump whose firmware tells what the clinician believes is in it."""
        self._pump = pump
        self.series = {"t_ms": [], "reservoir_calculated_nl": [], "reservoir_actual_nl": [], "flow_nl_per_day": []}

    def delivery(self, record: DeliveryRecord) -> None:
        """Account one stretch of motor work, per drug."""
        assert self._pump is not None
        calculated = self.pump_calculated
        for entry in self._pump.firmware.state.label:
            calculated[entry.drug] += record.commanded_nl * entry.concentration_ng_per_ml / NL_PER_ML
        # Each stretch of motor work passes here: plain sums per drug.
        actual, tip, lost = self.pump_actual, self.tip, self.lost
        for drug, ng in record.moved.drugs_ng.items():
            actual[drug] += ng
        for drug, ng in record.at_tip.drugs_ng.items():
            tip[drug] += ng
        for drug, ng in record.lost.drugs_ng.items():
            lost[drug] += ng

    def sample(self, pump: VirtualPump) -> None:
        """Take one point of the time series."""
        # The calculated reservoir and the flow as an interrogation shows them, read without a whole status.
        firmware, series = pump.firmware, self.series
        series["t_ms"].append(pump.now_ms)
        series["reservoir_calculated_nl"].append(firmware.state.reservoir_nl)
        series["reservoir_actual_nl"].append(round(pump.reservoir.volume_nl))
        series["flow_nl_per_day"].append(sum(firmware.rates()))
        earlier = len(series["t_ms"]) - 1  # a drug that appears now had nothing at the earlier points
        for drug in self.tip.keys() | self.pump_calculated.keys():
            for column, totals in (("tip_cumulative_ng", self.tip), ("pump_cumulative_ng", self.pump_calculated)):
                key = f"{column}:{drug}"
                if key not in series:
                    series[key] = [0] * earlier
                series[key].append(round(totals.get(drug, 0)))

    def stopped(self, event: Event, at_ms: int, finding: Finding) -> None:
        """Keep an entry the pump's state stopped (not a patient's press), with the reason."""
        if event.action == "ptm_press":
            return
        self.refusals.append(
            {
                "at_ms": at_ms,
                "at": self.at_text(at_ms),
                "action": event.action,
                "timeline_index": event.index,
                "code": finding.code,
                "message": finding.message,
                "field": finding.field,
                "value": finding.value,
                "limit": finding.limit,
            }
        )

    def warnings(self, event: Event, at_ms: int, plan: Plan) -> None:
        """Keep what the therapy layer warned of when it planned an entry."""
        for warning in plan.warnings:
            self.plan_warnings.append(
                {
                    "at_ms": at_ms,
                    "at": self.at_text(at_ms),
                    "action": event.action,
                    "timeline_index": event.index,
                    "code": warning.code,
                    "message": warning.message,
                }
            )

    def dose_given(self, drug: str, dose_ng: int) -> None:
        """Count one demand dose the pump gave, as a dose of the lead drug."""
        self.presses += 1
        self.given += 1
        self.demand_doses_ng[drug][dose_ng] += 1

    def press_refused(self, code: str) -> None:
        """Count one press that gave no dose, by its reason."""
        self.presses += 1
        self.refused_presses[code] += 1

    def refill(
        self, event: Event, at_ms: int, expected_nl: int, aspirated_nl: int, plan: Plan, execution: Execution | None
    ) -> None:
        """Keep a refill: the pump's calculated volume against what was aspirated, and the therapy layer's flag."""
        flagged = [f.message for f in plan.findings if f.code == "refill_discrepancy"]
        acknowledged = [w.message for w in plan.warnings if w.code == "discrepancy_acknowledged"]
        self.refills.append(
            {
                "at_ms": at_ms,
                "at": self.at_text(at_ms),
                "expected_nl": expected_nl,
                "aspirated_nl": aspirated_nl,
                "difference_nl": aspirated_nl - expected_nl,
                "flag_limit_nl": self.model.refill_discrepancy_flag_nl,
                "flag": " ".join(flagged or acknowledged),
                "acknowledged": bool(acknowledged),
                "done": execution is not None and execution.refusal is None,
                "pocket_fill": bool(event.params.get("pocket_fill")),
            }
        )

    def finish(self, pump: VirtualPump) -> SimulationResult:
        """Assemble the result document."""
        s = self.scenario
        alarms: list[dict[str, Any]] = []
        open_alarms: dict[str, dict[str, Any]] = {}
        events = []
        for entry in pump.log_entries:
            events.append(
                {
                    "seq": entry.seq,
                    "at_ms": entry.at_ms,
                    "at": self.at_text(entry.at_ms),
                    "kind": entry.kind,
                    "detail": dict(entry.detail),
                }
            )
            if entry.kind == "alarm":
                name = str(entry.get("alarm"))
                record = {
                    "alarm": name,
                    "critical": RULES[Alarm(name)].critical,
                    "raised_ms": entry.at_ms,
                    "raised": self.at_text(entry.at_ms),
                    "cleared_ms": None,
                    "cleared": None,
                }
                alarms.append(record)
                open_alarms[name] = record
            elif entry.kind == "alarm_cleared":
                opened = open_alarms.pop(str(entry.get("alarm")), None)
                if opened is not None:
                    opened["cleared_ms"] = entry.at_ms
                    opened["cleared"] = self.at_text(entry.at_ms)
        tones = Counter(str(t.tone) for t in pump.tones)
        status = pump.firmware.status()
        data = {
            "format": RESULT_FORMAT,
            "scenario": {
                "name": s.name,
                "description": s.description,
                "source": s.source,
                "seed": s.seed,
                "model": s.model,
                "start_wall_ms": s.start_wall_ms,
                "duration_ms": s.duration_ms,
                "sample_ms": s.sample_ms,
            },
            "pump": {
                "accuracy_error": pump.motor.accuracy_error,
                "dead_volume_nl": round(pump.catheter.dead_volume_nl),
                "final_status": status,
            },
            "delivered_ng": {
                "pump_calculated": _rounded(self.pump_calculated),
                "pump_actual": _rounded(self.pump_actual),
                "catheter_tip": _rounded(self.tip),
                "lost": _rounded(self.lost),
            },
            "pocket_ng": _rounded(Counter(pump.pocket.drugs_ng)),
            "reservoir": {"calculated_nl": status["reservoir_nl"], "actual_nl": round(pump.reservoir.volume_nl)},
            "alarms": alarms,
            "tones": dict(sorted(tones.items())),
            "refills": self.refills,
            "ptm": {
                "presses": self.presses,
                "given": self.given,
                "refused": dict(sorted(self.refused_presses.items())),
                "doses_ng": {
                    drug: [{"dose_ng": dose, "given": n} for dose, n in sorted(doses.items())]
                    for drug, doses in sorted(self.demand_doses_ng.items())
                },
            },
            "refusals": self.refusals,
            "warnings": self.plan_warnings,
            "events": events,
            "series": self.series,
        }
        return SimulationResult(data)


def _rounded(counter: Mapping[str, float]) -> dict[str, int]:
    return {k: round(v) for k, v in sorted(counter.items()) if round(v)}


# ------------------------------------------------------------------------------ the JSON text

_INFINITY = float("inf")


def json_text(value: object, indent: int = 1) -> str:
    """`json.dumps(value, indent=indent, sort_keys=True)`, character for character, in about half its time.

    With an indent, the standard library encodes in Python, one generator step
    per item; a year's record has tens of thousands. Here the plain types (dict,
    list, str, int) are told apart by their exact type and joined at once; any
    other value is judged as `json` judges it, in its order (`_json_other`).
    """
    step = " " * indent

    def encode(value: object, newline: str) -> str:
        if type(value) is str:
            return encode_basestring_ascii(value)
        if type(value) is int:
            return int.__repr__(value)
        if type(value) is dict:
            return _json_object(value, newline + step, newline, encode)
        if type(value) is list or type(value) is tuple:
            return _json_array(value, newline + step, newline, encode)
        return _json_other(value, newline + step, newline, encode)

    return encode(value, "\n")


_Encode = Callable[[object, str], str]


def _json_object(value: Mapping[Any, object], inner: str, newline: str, encode: _Encode) -> str:
    """An object, its keys sorted, one member a line at the inner indent."""
    if not value:
        return "{}"
    members = [_json_key(key) + ": " + encode(item, inner) for key, item in sorted(value.items())]
    return "{" + inner + ("," + inner).join(members) + newline + "}"


def _json_array(value: list[object] | tuple[object, ...], inner: str, newline: str, encode: _Encode) -> str:
    """An array, one item a line at the inner indent."""
    if not value:
        return "[]"
    return "[" + inner + ("," + inner).join([encode(item, inner) for item in value]) + newline + "]"


def _json_other(value: object, inner: str, newline: str, encode: _Encode) -> str:
    """A value of any other type, asked about in `json`'s order: str, None, true, false, int, float, list, dict."""
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, list | tuple):
        return _json_array(value, inner, newline, encode)
    if isinstance(value, dict):
        return _json_object(value, inner, newline, encode)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_key(key: object) -> str:
    """A key of an object, turned into a string as `json` turns it."""
    if isinstance(key, str):
        return encode_basestring_ascii(key)
    if isinstance(key, float):
        return encode_basestring_ascii(_json_float(key))
    if key is True:
        return '"true"'
    if key is False:
        return '"false"'
    if key is None:
        return '"null"'
    if isinstance(key, int):
        return encode_basestring_ascii(int.__repr__(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _json_float(value: float) -> str:
    """A float as `json` writes it, NaN and the infinities included."""
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)
