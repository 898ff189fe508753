"""The drug library's public API and the loader's refusal of bad data files."""

from __future__ import annotations

import copy
import tomllib
from fractions import Fraction
from importlib import resources
from typing import Any

import pytest

from thecal.drugs import Drug, drug_names, get_drug
from thecal.drugs.conversions import parse_conversions
from thecal.drugs.loader import parse_drug
from thecal.errors import InputError


def _morphine_data() -> dict[str, Any]:
    text = resources.files("thecal.drugs.data").joinpath("morphine.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def test_library_holds_the_approved_drugs_and_the_admixture_components() -> None:
    assert drug_names() == ["bupivacaine", "clonidine", "hydromorphone", "morphine", "ziconotide"]


@pytest.mark.parametrize("typed", ["morphine", "Morphine", " MORPHINE ", "Infumorph", "morphine sulfate"])
def test_get_drug_ignores_case_and_knows_aliases(typed: str) -> None:
    assert get_drug(typed).name == "morphine"


def test_unknown_drug_is_refused_with_the_known_drugs_listed() -> None:
    with pytest.raises(InputError) as raised:
        get_drug("baclofen")
    assert raised.value.field == "drug"
    for name in drug_names():
        assert name in raised.value.action


def test_approval_and_opioid_facts() -> None:
    approved = {name for name in drug_names() if get_drug(name).approved_for_pump}
    opioids = {name for name in drug_names() if get_drug(name).opioid}
    assert approved == {"morphine", "ziconotide"}
    assert opioids == {"morphine", "hydromorphone"}
    assert get_drug("morphine").allowed_opioid_naive
    assert not get_drug("hydromorphone").allowed_opioid_naive
    # A non-opioid is never restricted by opioid tolerance.
    assert get_drug("ziconotide").allowed_opioid_naive


def test_strengths_in_nanograms_per_millilitre() -> None:
    # Infumorph 200/500: 10 and 25 mg/mL; Prialt: 25 and 100 mcg/mL.
    assert get_drug("morphine").concentrations_ng_per_ml == (10_000_000, 25_000_000)
    assert get_drug("ziconotide").concentrations_ng_per_ml == (25_000, 100_000)


def test_refill_intervals_in_days() -> None:
    assert get_drug("morphine").max_refill_interval_days == 180
    assert get_drug("ziconotide").max_refill_interval_days == 40
    assert get_drug("bupivacaine").max_refill_interval_days == 90


def test_ziconotide_label_figures() -> None:
    zico = get_drug("ziconotide")
    # Prialt US PI: start at no more than 2.4 mcg/day, steps of at most 2.4 mcg/day, at most 19.2 mcg/day.
    assert zico.require_limit("max_start_dose").hard == 2_400
    assert zico.require_limit("max_step_up_amount").hard == 2_400
    assert zico.max_daily_dose.soft == 19_200
    assert zico.max_daily_dose.hard == 21_600
    assert zico.require_limit("max_first_refill_interval").hard == 14 * 86_400_000
    assert zico.require_limit("max_refill_interval_undiluted").hard == 84 * 86_400_000
    assert not zico.demand_bolus_allowed


@pytest.mark.parametrize("name", drug_names())
def test_every_figure_has_a_source(name: str) -> None:
    drug = get_drug(name)
    texts = [drug.approved_source, drug.opioid_naive_source, drug.concentrations_source, drug.admixture_source]
    texts += [drug.start_dose.source, drug.usual_dose.source, drug.trial_bolus.source]
    for limit in drug.limits.values():
        texts += [limit.soft_source, limit.hard_source, limit.why]
    assert all(text.strip() for text in texts)


@pytest.mark.parametrize("name", drug_names())
def test_admixture_partners_are_mutual(name: str) -> None:
    for partner in get_drug(name).admixture_partners:
        assert name in get_drug(partner).admixture_partners


def test_a_valid_file_parses() -> None:
    drug = parse_drug(_morphine_data(), "morphine.toml")
    assert isinstance(drug, Drug)
    assert drug == get_drug("morphine")


def _broken(change: str) -> dict[str, Any]:
    data = copy.deepcopy(_morphine_data())
    limits = data["limits"]
    if change == "no source":
        del limits["max_daily_dose"]["hard_source"]
    elif change == "soft beyond hard":
        limits["max_daily_dose"]["soft"] = "25 mg/day"
    elif change == "min soft beyond hard":
        limits["min_step_interval"]["soft"] = "12 h"
    elif change == "unknown limit":
        limits["max_happiness"] = limits["max_daily_dose"]
    elif change == "missing required limit":
        del limits["max_concentration"]
    elif change == "missing naive limit":
        del limits["max_daily_dose_opioid_naive"]
    elif change == "missing demand limit":
        del limits["min_demand_lockout"]
    elif change == "wrong kind of unit":
        limits["max_daily_dose"]["soft"] = "15 mg/mL"
    elif change == "no unit":
        limits["max_daily_dose"]["soft"] = "15"
    elif change == "decimal comma":
        limits["max_daily_dose"]["soft"] = "1,5 mg/day"
    elif change == "bad mass unit":
        data["mass_unit"] = "g"
    elif change == "percent without sign":
        limits["max_step_up"]["soft"] = "25"
    elif change == "strength above hard limit":
        data["concentrations"]["available"] = ["10 mg/mL", "50 mg/mL"]
    elif change == "decrease over 100 %":
        limits["max_step_down"]["hard"] = "150 %"
    elif change == "no step limit":
        del limits["max_step_up"]
    elif change == "count as text":
        limits["max_demand_per_day"]["soft"] = "6"
    elif change == "range upside down":
        data["doses"]["start"]["low"] = "1 mg/day"
    return data


@pytest.mark.parametrize(
    "change",
    [
        "no source",
        "soft beyond hard",
        "min soft beyond hard",
        "unknown limit",
        "missing required limit",
        "missing naive limit",
        "missing demand limit",
        "wrong kind of unit",
        "no unit",
        "decimal comma",
        "bad mass unit",
        "percent without sign",
        "strength above hard limit",
        "decrease over 100 %",
        "no step limit",
        "count as text",
        "range upside down",
    ],
)
def test_loader_refuses_a_broken_data_file(change: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_drug(_broken(change), "morphine.toml")
    assert "morphine.toml" in raised.value.field


@pytest.mark.parametrize(
    ("change", "field", "known"),
    [
        # A misspelt name was once skipped in silence; the schema names it and lists what it may be.
        ("note", "morphine.toml: note", "notes"),
        ("hard_sorce", "morphine.toml: limits.max_daily_dose.hard_sorce", "hard_source"),
        ("dose_start", "morphine.toml: doses.dose_start", "trial_bolus"),
    ],
)
def test_a_misspelt_name_is_refused_with_the_names_known_there(change: str, field: str, known: str) -> None:
    data = copy.deepcopy(_morphine_data())
    if change == "note":
        data["note"] = data.pop("notes")
    elif change == "hard_sorce":
        data["limits"]["max_daily_dose"]["hard_sorce"] = data["limits"]["max_daily_dose"].pop("hard_source")
    else:
        data["doses"]["dose_start"] = data["doses"].pop("start")
    with pytest.raises(InputError) as raised:
        parse_drug(data, "morphine.toml")
    assert raised.value.field == field
    assert "known names" in raised.value.problem and known in raised.value.problem
    assert raised.value.action == "correct the drug data file"


def _conversions() -> dict[str, Any]:
    text = resources.files("thecal.drugs.data").joinpath("conversions.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def test_the_conversion_file_is_read_by_its_schema() -> None:
    table = parse_conversions(_conversions(), "conversions.toml")
    assert table.routes == ("oral", "iv", "epidural", "intrathecal")
    oral_iv = table.morphine_steps[("oral", "iv")]
    assert (oral_iv.low, oral_iv.high) == (Fraction(1, 3), Fraction(1, 2))
    assert oral_iv.steps == ("morphine oral to intravenous: 2:1 to 3:1",)


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ("ratio", "conversions.toml: morphine_route.0.ratios.0", "a:b"),
        ("no source", "conversions.toml: drug_ratio.1.source", "missing"),
        ("misspelt", "conversions.toml: morphine_route.0.form", "known names: from, ratios, source, to"),
        ("not neighbours", "conversions.toml: morphine_route oral to epidural", "neighbouring"),
    ],
)
def test_a_broken_conversion_file_is_refused(change: str, field: str, problem: str) -> None:
    data = _conversions()
    if change == "ratio":
        data["morphine_route"][0]["ratios"] = ["2-1"]
    elif change == "no source":
        del data["drug_ratio"][1]["source"]
    elif change == "misspelt":
        data["morphine_route"][0]["form"] = data["morphine_route"][0].pop("from")
    else:
        data["morphine_route"][0]["to"] = "epidural"
    with pytest.raises(InputError) as raised:
        parse_conversions(data, "conversions.toml")
    assert raised.value.field == field
    assert problem in raised.value.problem + raised.value.action
