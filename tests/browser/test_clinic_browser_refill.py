"""The refill in Debian's chromium: the pocket-fill flag stops it, and a new concentration keeps every dose a dose.

One clinic (SQLite) with one 40 mL pump (morphine 10 mg/mL at 1 mg/day, the
patient's handset giving 0.1 mg) serves the module; the browser types what a
nurse or physician types at the refill and reads the Finish screen. The
refill at 10 mg/mL comes first (and is sent), the change to 25 mg/mL last.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.browser_rig import live_server
from tests.browser.test_clinic_browser_workflows import sign_in
from tests.clinic.clinic_web_rig import ML, WebClinic, web_clinic

from thecal.apps.clinic.web.core import PROGRAM_ACTION
from thecal.therapy import PatientFacts, PumpSnapshot

SERIAL = "NGP-BRR-40"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebClinic, str]]:
    """A 40 mL pump holding 30 mL of morphine 10 mg/mL at 1 mg/day, handset doses of 0.1 mg, served live."""
    root: Path = tmp_path_factory.mktemp("refill")
    with web_clinic(f"sqlite:///{root / 'clinic.db'}", root) as clinic:
        clinic.add_patient("MRN-BR-0001", "Haddad", serial=SERIAL)
        clinic.start_pump(SERIAL, model="programmable-40", fill_nl=30 * ML, ptm=True)
        with live_server(clinic.app) as base:
            yield clinic, base


def pump_now(clinic: WebClinic) -> PumpSnapshot:
    """What the pump holds now, read beside the app."""
    return clinic.pumps.service(SERIAL, patient=PatientFacts()).port.interrogate()


def fill_refill(page: Page, base: str, *, short_ml: float, concentration: str, acknowledge: bool = False) -> float:
    """Open the refill form, type the aspirated volume `short_ml` below the expected one and the new solution; plan.

    The expected volume the form shows (mL) is given back.
    """
    page.goto(f"{base}/pumps/{SERIAL}/workflow/refill")
    shown = page.locator("#expected").inner_text()
    found = re.fullmatch(r"([0-9.]+) mL", shown)
    assert found is not None, shown
    expected = float(found.group(1))
    page.get_by_label("Volume aspirated").fill(f"{expected - short_ml:.3f} mL")
    if acknowledge:
        page.get_by_label("I know why (pocket fill ruled out)").check()
    page.get_by_label("Drug", exact=True).fill("morphine")
    page.get_by_label("Concentration", exact=True).fill(concentration)
    page.get_by_label("Drug again (confirm)").fill("morphine")
    page.get_by_label("Concentration again (confirm)").fill(concentration)
    page.get_by_label("Volume put into the reservoir").fill("35 mL")
    page.get_by_role("button", name="Plan it: show the Finish screen").click()
    expect(page.get_by_role("heading", name="Finish: refill")).to_be_visible()
    return expected


def test_a_refill_short_by_2_5_ml_stops_until_the_flag_is_acknowledged(
    page: Page, served: tuple[WebClinic, str]
) -> None:
    """2.5 mL less aspirated than expected from a 40 mL pump: no Send button until the nurse acknowledges the flag."""
    clinic, base = served
    sign_in(page, base, "nurse")
    expected = fill_refill(page, base, short_ml=2.5, concentration="10 mg/mL")
    expect(page.locator("#verdict")).to_contain_text("Cannot be sent")
    expect(page.locator("#findings")).to_contain_text("hard limit")
    reconciliation = page.get_by_text("Reconciliation:")
    expect(reconciliation).to_contain_text(
        re.compile(rf"{expected - 2.5:.3f} mL aspirated against {int(expected)}\.\d+ mL")
    )
    expect(page.get_by_role("button", name="Send to pump")).to_have_count(0)
    assert [e for e in clinic.store.audit_trail() if e.action == PROGRAM_ACTION] == []

    fill_refill(page, base, short_ml=2.5, concentration="10 mg/mL", acknowledge=True)
    expect(page.locator("#verdict")).to_contain_text("May be sent")
    expect(page.locator("main")).to_contain_text("Acknowledged by Nurse Okafor")
    page.get_by_role("button", name="Send to pump").click()
    expect(page.locator("#result-status")).to_contain_text("Done and verified.")
    assert pump_now(clinic).reservoir_nl >= 35 * ML
    implant = clinic.store.implant_by_serial(SERIAL)
    assert implant is not None
    fill = clinic.store.fills(implant.id)[-1]
    assert fill.discrepancy_acknowledged and fill.volume_ml == 35.0
    assert fill.expected_ml is not None and fill.aspirated_ml is not None
    assert fill.expected_ml - fill.aspirated_ml == pytest.approx(2.5, abs=0.01)


def test_a_refill_from_10_to_25_mg_per_ml_keeps_each_ptm_dose_in_mg_and_shows_the_new_volumes(
    page: Page, served: tuple[WebClinic, str]
) -> None:
    """The handset's 0.1 mg stays 0.1 mg (0.01 mL, then 0.004 mL), the basal 1 mg/day too (0.04 mL/day): below the
    pump's minimum flow, so the Finish screen stops it in the therapy layer's words, and nothing is sent."""
    clinic, base = served
    sign_in(page, base, "physician")
    fill_refill(page, base, short_ml=0.0, concentration="25 mg/mL")
    rows = page.locator("#settings tr.changed")
    drug = rows.filter(has_text="drug in the reservoir")
    expect(drug).to_contain_text("morphine 10 mg/mL")
    expect(drug).to_contain_text("morphine 25 mg/mL")
    demand = rows.filter(has_text="demand dose (patient's handset)")
    expect(demand).to_contain_text("0.1 mg of morphine (0.01 mL) over 10 min, lockout 2 h, at most 4 per 24 h")
    expect(demand).to_contain_text("0.1 mg of morphine (0.004 mL) over 10 min, lockout 2 h, at most 4 per 24 h")
    basal = rows.filter(has_text="basal dose")
    expect(basal).to_contain_text("1 mg/day (0.1 mL/day)")
    expect(basal).to_contain_text("1 mg/day (0.04 mL/day)")
    expect(page.locator("main")).to_contain_text("Into the reservoir: 35 mL of morphine 25 mg/mL")
    # 1 mg/day at 25 mg/mL is 0.04 mL/day, below the pump's minimum flow: the therapy layer says so and stops it.
    expect(page.locator("#verdict")).to_contain_text("Cannot be sent")
    findings = page.locator("#findings")
    expect(findings).to_contain_text("0.0400 mL/day (limit: 0.0480 mL/day)")
    expect(findings).to_contain_text("the pump cannot deliver less than its minimum flow")
    expect(findings).to_contain_text("concentration: 25 mg/mL (limit: 20 mg/mL (soft limit))")
    expect(page.get_by_role("button", name="Send to pump")).to_have_count(0)
    page.get_by_role("button", name="Cancel: send nothing").click()
    expect(page.get_by_role("status").first).to_contain_text("nothing was sent")
    held = pump_now(clinic)
    assert held.label == (("morphine", 10_000_000),)
    assert held.demand is not None and held.demand.dose_ng == 100_000
