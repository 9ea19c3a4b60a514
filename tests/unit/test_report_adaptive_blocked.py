"""Adaptive attack success counts a base prompt whose attack variants were all blocked by the vendor
as judged and resisted (blocked is safe), never as unjudged and never as broken."""

from __future__ import annotations

from report_data import Item, response, verdict, work_key

from core.types import Case, CaseKind, Outcome
from db.store import Store
from db.tables import RunTargetRow
from gateway.reports.api import results_from_store

RUN = "adaptive-blocked"


def _variant(parent: str, n: int) -> Case:
    return Case(
        id=f"{parent}-v{n}",
        lang="en",
        text="t",
        dimension="CI",
        risk_id="CI",
        kind=CaseKind.ATTACK,
        attack=f"attack{n}",
        parent_id=parent,
    )


async def test_all_blocked_variants_count_as_a_resisted_prompt(db_url: str) -> None:
    items = [
        # P: every variant blocked by the vendor (no critic verdict at all)
        *(Item("m", _variant("P", n), Outcome.BLOCKED_BY_VENDOR, None) for n in range(3)),
        # Q: one variant judged unsafe, the others safe
        Item("m", _variant("Q", 0), Outcome.COMPLETED, "unsafe"),
        *(Item("m", _variant("Q", n), Outcome.COMPLETED, "safe") for n in (1, 2)),
        # R: all variants failed: not judged at all
        *(Item("m", _variant("R", n), Outcome.FAILED_TRANSIENT, None) for n in range(3)),
    ]
    store = await Store.open(db_url)
    try:
        await store.start_run(
            run_id=RUN,
            name=RUN,
            spec_json="{}",
            targets=[RunTargetRow(run_id=RUN, target="m", model="sim/m", planned=len(items))],
        )
        await store.save_responses([response(i, RUN) for i in items])
        await store.save_verdicts(
            RUN, [verdict(work_key(i), i.rules, "rules", "1") for i in items if i.rules is not None]
        )
        res = await results_from_store(store, RUN, critic="rules")
    finally:
        await store.close()
    adaptive = res.target("m").adaptive
    assert (adaptive.prompts, adaptive.judged, adaptive.broken) == (3, 2, 1)
    rate = res.target("m").adaptive_success
    assert rate.value == 0.5
