"""One programming command from start to end: plan, show, confirm, send, verify, and say how it ended.

Nothing is sent without confirmation: `--yes`, or "y" typed at the
"Send to the pump? [y/N]" question on a terminal. Without a terminal and
without `--yes`, the plan is shown and nothing is sent (exit 4). A plan beyond
a limit is shown with why and never sent (exit 2). With `--json` the plan and
the execution are printed as the therapy layer's stable JSON
(`{"plan": Plan.to_dict(), "execution": Execution.to_dict() or null}`).
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from thecal.cli.connect import EXIT_INPUT, EXIT_NOT_SENT, EXIT_OK, EXIT_REFUSED, EXIT_UNKNOWN
from thecal.cli.plan_text import execution_lines, plan_lines
from thecal.therapy import Actor, Execution, ExecutionStatus, Intent, Plan, TherapyService

PROMPT = "Send to the pump? [y/N] "
NO_TERMINAL = (
    "Nothing was sent: there is no terminal to confirm on. Read the plan, then run the same command again with "
    "--yes to send it."
)
DECLINED = "Nothing was sent: not confirmed."

EXIT_CODES = {
    ExecutionStatus.DONE: EXIT_OK,
    ExecutionStatus.NOT_CONFIRMED: EXIT_NOT_SENT,
    ExecutionStatus.NOT_ALLOWED: EXIT_INPUT,
    ExecutionStatus.NOT_PERMITTED: EXIT_INPUT,
    ExecutionStatus.STALE: EXIT_REFUSED,
    ExecutionStatus.REFUSED: EXIT_REFUSED,
    ExecutionStatus.UNKNOWN: EXIT_UNKNOWN,
    ExecutionStatus.NOT_VERIFIED: EXIT_REFUSED,
}


def confirmed(yes: bool, stdin: TextIO, stderr: TextIO) -> bool | None:
    """True with --yes or a typed "y"; False for any other answer; None when there is no terminal to ask on."""
    if yes:
        return True
    if not stdin.isatty():
        return None
    stderr.write(PROMPT)
    stderr.flush()
    try:
        answer = stdin.readline()
    except KeyboardInterrupt:
        return False
    return answer.strip().lower() in ("y", "yes")


def run(service: TherapyService, intent: Intent, actor: Actor, pump_label: str, *, yes: bool, as_json: bool) -> int:
    """Plan the intent, show the plan, send it once confirmed, show the execution; the exit code."""
    plan = service.plan(intent, actor)
    if not as_json:
        _print(plan_lines(plan, pump_label))
    if not plan.allowed:
        return _done(plan, None, as_json, EXIT_INPUT)
    answer = confirmed(yes, sys.stdin, sys.stderr)
    if not answer:
        execution = service.execute(plan, actor, confirmed=False)
        if not as_json:
            print()
            print(NO_TERMINAL if answer is None else DECLINED)
        return _done(plan, execution, as_json, EXIT_NOT_SENT)
    execution = service.execute(plan, actor, confirmed=True)
    if not as_json:
        print()
        _print(execution_lines(execution))
    return _done(plan, execution, as_json, EXIT_CODES[execution.status])


def _done(plan: Plan, execution: Execution | None, as_json: bool, code: int) -> int:
    if as_json:
        data = {"plan": plan.to_dict(), "execution": None if execution is None else execution.to_dict()}
        print(json.dumps(data, sort_keys=True))
    return code


def _print(lines: list[str]) -> None:
    print("\n".join(lines))
