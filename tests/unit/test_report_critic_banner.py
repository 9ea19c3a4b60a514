"""The report says which critic judged the run and how good it is: the rules baseline with its
measured held-out accuracy, a critic without a stored validation as unvalidated, next to the
banner and every "real difference"."""

from __future__ import annotations

from pathlib import Path

from report_data import RUN_ID, fill

from core.records import CriticInfo, CriticValidation
from critic_server.backends.rules import HELDOUT_VALIDATION
from db.store import Store
from gateway.reports.metrics import critic_caveat, critic_note
from gateway.reports.writers import write_report

RULES = CriticInfo("rules", "1", 10)
JUDGE = CriticInfo("llm", "2", 10)


def test_rules_caveat_states_the_measured_held_out_accuracy() -> None:
    caveat = critic_caveat(RULES, None)
    assert caveat is not None
    assert "rules baseline" in caveat
    assert f"balanced accuracy {HELDOUT_VALIDATION.balanced_accuracy:.2f}" in caveat
    assert HELDOUT_VALIDATION.labels in caveat
    note = critic_note(RULES)
    assert note is not None
    assert f"{HELDOUT_VALIDATION.balanced_accuracy:.2f}" in note


def test_unvalidated_critic_is_flagged_and_a_validated_one_is_not() -> None:
    caveat = critic_caveat(JUDGE, None)
    assert caveat is not None
    assert "no stored validation" in caveat
    assert critic_note(JUDGE) == "judged by llm@2, not validated"
    stored = CriticValidation(0.9, 0.8, 0.85, 500, "in-house labels")
    assert critic_caveat(JUDGE, stored) is None
    assert critic_note(JUDGE, stored) is None
    # a stored validation of the rules replaces the built-in figure
    assert "0.90" in (critic_caveat(RULES, stored) or "")


async def test_the_html_report_carries_the_banner(sqlite_url: str, tmp_path: Path) -> None:
    store = await Store.open(sqlite_url)
    try:
        await fill(store)
        rules_page = (await write_report(store, RUN_ID, tmp_path / "rules", critic="rules")).read_text()
        llm_page = (await write_report(store, RUN_ID, tmp_path / "llm", critic="llm")).read_text()
    finally:
        await store.close()
    assert "Judged by the built-in rules baseline" in rules_page
    assert f"balanced accuracy {HELDOUT_VALIDATION.balanced_accuracy:.2f}" in rules_page
    assert "has no stored validation" in llm_page
