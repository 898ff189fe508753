"""`thecal calc …` as a clinician uses it: help written for the clinic, answers, refusals."""

from __future__ import annotations

import json

import pytest

from thecal.cli import main

SUBCOMMANDS = ["flow", "dose", "convert", "refill", "prime", "bridge", "titrate", "trial", "demand-max", "library"]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["calc", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_calc_help_is_written_for_the_clinic(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["calc", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out
    assert '"1.5 mg/day"' in out and "never guessed" in out and "physician" in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_calculator_has_help_with_an_example(capsys, name: str) -> None:
    with pytest.raises(SystemExit):
        main(["calc", name, "--help"])
    out = capsys.readouterr().out
    assert "example:" in out and f"thecal calc {name}" in out
    if name != "library":
        assert "--json" in out


def test_calc_without_a_calculator_shows_help(capsys) -> None:
    code, out, _ = _run(capsys)
    assert code == 2 and "CALCULATOR" in out


EXAMPLES = {
    "flow": (["--drug", "morphine", "--dose", "1.5 mg/day", "--concentration", "10 mg/mL"], "0.15 mL/day"),
    "dose": (["--drug", "morphine", "--flow", "0.02 mL/h", "--concentration", "10 mg/mL"], "4.8 mg/day"),
    "convert": (["--dose", "60 mg/day", "--drug", "morphine", "--from", "oral", "--to", "intrathecal"], "0.2 mg/day"),
    "refill": (
        [
            "--reservoir", "20 mL", "--drug", "morphine", "--concentration", "10 mg/mL", "--last-fill", "20 mL",
            "--flow", "0.5 mL/day", "--since", "30 d", "--aspirated", "5.1 mL", "--fill-volume", "20 mL",
            "--date", "2025-03-01",
        ],
        "2025-04-01",
    ),
    "prime": (["--catheter", "45 cm", "--volume-per-cm", "2.2 uL/cm"], "0.319 mL"),
    "bridge": (
        [
            "--catheter", "45 cm", "--volume-per-cm", "2.2 uL/cm", "--drug", "morphine", "--old-concentration",
            "10 mg/mL", "--old-dose", "2 mg/day", "--new-concentration", "20 mg/mL", "--new-dose", "2.5 mg/day",
        ],
        "38.3 h",
    ),
    "titrate": (["--drug", "ziconotide", "--current", "1.2 mcg/day", "--target", "3.6 mcg/day"], "3.6 mcg/day"),
    "trial": (["--drug", "morphine", "--concentration", "0.5 mg/mL", "--opioid-naive"], "0.2 mL"),
    "demand-max": (
        [
            "--drug", "morphine", "--concentration", "10 mg/mL", "--continuous", "2 mg/day", "--bolus", "0.1 mg",
            "--lockout", "2 h", "--max-per-day", "6",
        ],
        "2.6 mg/day",
    ),
    "library": (["ziconotide"], "19.2 mcg/day"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_calculator_answers_with_units_and_reasoning(capsys, name: str) -> None:
    argv, expected = EXAMPLES[name]
    code, out, err = _run(capsys, name, *argv)
    assert (code, err) == (0, "")
    assert expected in out
    if name != "library":
        assert "How it is worked out" in out and "Inputs" in out


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_calculator_gives_stable_json(capsys, name: str) -> None:
    argv, _ = EXAMPLES[name]
    code, out, _ = _run(capsys, name, *argv, "--json")
    assert code == 0
    code_again, again, _ = _run(capsys, name, *argv, "--json")
    assert code_again == 0 and again == out
    first = json.loads(out)
    if name == "flow":
        assert first["values"]["flow_nl_per_day"] == 150_000
        assert first["verdict"]["allowed"] is True


@pytest.mark.parametrize(
    ("argv", "field", "words"),
    [
        (["flow", "--drug", "morphine", "--dose", "1.5", "--concentration", "10 mg/mL"], "dose", "unit is missing"),
        (["flow", "--drug", "morphine", "--dose", "1,5 mg/day", "--concentration", "10 mg/mL"], "dose", "comma"),
        (["flow", "--drug", "morphine", "--dose", "1 mg/h", "--concentration", "10 mg/mL"], "daily dose", "1 mg/h"),
        (["flow", "--drug", "baclofen", "--dose", "1 mg/day", "--concentration", "2 mg/mL"], "drug", "morphine"),
        (
            ["flow", "--drug", "morphine", "--dose", "2 mg/day", "--concentration", "25 mg/mL", "--vial", "10 mg/mL"],
            "programmed concentration",
            "0.4 times",
        ),
        (
            ["refill", "--reservoir", "20 mL", "--drug", "morphine", "--concentration", "10 mg/mL", "--flow",
             "0.5 mL/day", "--fill-volume", "40 mL", "--date", "2025-03-01"],
            "fill volume",
            "20 mL",
        ),
        (
            ["refill", "--reservoir", "20 mL", "--drug", "morphine", "--concentration", "10 mg/mL", "--last-fill",
             "20 mL", "--flow", "0.5 mL/day", "--since", "30 d", "--aspirated", "3.2 mL", "--fill-volume", "20 mL"],
            "aspirated volume",
            "pocket",
        ),
        (["trial", "--drug", "hydromorphone", "--opioid-naive"], "opioid-naïve patient", "opioid-tolerant"),
        (["titrate", "--drug", "morphine", "--current", "1 mg/day", "--target", "2 mg/day", "--start", "3/1/25"],
         "start", "YYYY-MM-DD"),
    ],
)  # fmt: skip
def test_bad_input_is_one_paragraph_naming_field_value_limit_and_action(capsys, argv, field, words) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"thecal: {field} = ")
    assert "what to do:" in err and words in err


def test_a_refusal_with_json_still_prints_the_verdict(capsys) -> None:
    code, out, err = _run(
        capsys, "flow", "--drug", "morphine", "--dose", "21 mg/day", "--concentration", "10 mg/mL", "--json"
    )
    assert code == 2
    assert json.loads(out)["verdict"]["allowed"] is False
    assert "limit: 20 mg/day (hard limit)" in err


def test_a_physician_passes_a_soft_limit_with_a_reason(capsys) -> None:
    argv = ["flow", "--drug", "morphine", "--dose", "16 mg/day", "--concentration", "10 mg/mL"]
    code, _, err = _run(capsys, *argv)
    assert code == 2 and "a physician may pass" in err
    code, out, _ = _run(capsys, *argv, "--role", "physician", "--reason", "end-of-life cancer pain, family agrees")
    assert code == 0
    assert "Soft limits passed by a physician (reason: end-of-life cancer pain, family agrees)" in out


def test_a_nurse_cannot_pass_a_soft_limit(capsys) -> None:
    argv = ["flow", "--drug", "morphine", "--dose", "16 mg/day", "--concentration", "10 mg/mL"]
    code, _, err = _run(capsys, *argv, "--role", "nurse", "--reason", "patient asked for more")
    assert code == 2 and "only a physician" in err


def test_no_reason_no_override(capsys) -> None:
    code, _, err = _run(
        capsys,
        "flow",
        "--drug",
        "morphine",
        "--dose",
        "16 mg/day",
        "--concentration",
        "10 mg/mL",
        "--role",
        "physician",
    )
    assert code == 2 and "written reason" in err


def test_a_hard_limit_is_never_passed_from_the_command_line(capsys) -> None:
    code, _, err = _run(
        capsys,
        "flow", "--drug", "morphine", "--dose", "21 mg/day", "--concentration", "10 mg/mL",
        "--role", "physician", "--reason", "I accept full responsibility for this",
    )  # fmt: skip
    assert code == 2 and "No one can override this limit" in err


def test_admixture_on_the_command_line(capsys) -> None:
    code, out, _ = _run(capsys, "flow", "--admixture", "morphine 10 mg/mL + bupivacaine 15 mg/mL", "--dose", "2 mg/day")
    assert code == 0 and "bupivacaine daily dose" in out and "3 mg/day" in out


def test_refill_with_dates(capsys) -> None:
    code, out, _ = _run(
        capsys,
        "refill", "--reservoir", "40 mL", "--drug", "ziconotide", "--concentration", "25 mcg/mL",
        "--last-fill", "40 mL", "--flow", "0.1 mL/day", "--last-refill", "2025-01-30", "--date", "2025-03-01",
        "--aspirated", "37 mL", "--fill-volume", "40 mL",
    )  # fmt: skip
    # 30 days × 0.1 mL/day = 3 mL; 37 mL expected and aspirated; next refill by 40-day stability: 2025-04-10.
    assert code == 0
    assert "consistent" in out and "2025-04-10 (ziconotide stability in the pump)" in out


def test_library_lists_every_drug(capsys) -> None:
    code, out, _ = _run(capsys, "library")
    assert code == 0
    for name in ("morphine", "ziconotide", "hydromorphone", "bupivacaine", "clonidine"):
        assert name in out
    code, out, _ = _run(capsys, "library", "--json")
    assert {d["name"] for d in json.loads(out)} == {
        "morphine",
        "ziconotide",
        "hydromorphone",
        "bupivacaine",
        "clonidine",
    }
