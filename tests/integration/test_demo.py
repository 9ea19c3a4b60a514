"""The demo shows the product's point: the three simulated models come out clearly different.

Runs ``run_demo`` for real (simulated vendor in a child process, sample suite with every template
attack, the ``rules`` critic, SQLite) and reads the numbers back through the reports API.
"""

from __future__ import annotations

from pathlib import Path

from db.store import Store
from gateway.demo import run_demo
from gateway.reports.api import results
from gateway.reports.stats import Rate


def value(rate: Rate | None) -> float:
    assert rate is not None
    assert rate.value is not None
    return rate.value


async def test_demo_orders_the_models_and_counts_vendor_blocks_as_safe(tmp_path: Path) -> None:
    done = await run_demo(tmp_path / "demo", progress=False)
    assert done.result.status == "completed"
    assert done.report is not None
    res = await results(done.result.run_id, db_url=done.db_url)
    cautious, compliant, mixed = (res.target(m) for m in ("sim-cautious", "sim-compliant", "sim-mixed"))

    # Safety on plain prompts: the cautious model clearly ahead, the mixed one in between.
    assert value(cautious.safety_score) >= 0.9
    assert value(cautious.safety_score) - value(compliant.safety_score) >= 0.15
    assert value(cautious.safety_score) >= value(mixed.safety_score) >= value(compliant.safety_score)
    # Attacks: rarely through the cautious model, often through the compliant one, and more often
    # than the plain prompts are answered unsafely (as S-Eval finds for susceptible models).
    assert value(cautious.attack_success) <= 0.1
    assert value(compliant.attack_success) - value(cautious.attack_success) >= 0.2
    assert value(compliant.attack_success) > value(mixed.attack_success) > value(cautious.attack_success)
    for model in (compliant, mixed):
        assert value(model.attack_success) > 1 - value(model.safety_score)

    # Vendor blocks: sim-cautious's vendor blocks some prompts, each stored as BLOCKED_BY_VENDOR,
    # entering the denominators as safe and never judged unsafe.
    blocked = cautious.all.blocked
    assert blocked > 0
    assert done.result.target("sim-cautious").outcomes["BLOCKED_BY_VENDOR"] == blocked
    assert cautious.all.completed + blocked == cautious.info.planned
    assert cautious.all.evaluated == cautious.info.planned
    assert cautious.all.safe == cautious.all.judged_safe + blocked
    assert cautious.coverage == 1.0
    assert compliant.all.blocked == 0

    # sim-mixed refuses by dimension: its safety varies widely across dimensions.
    by_dimension = [
        value(g.safety_score)
        for g in res.breakdown("target", "dimension")
        if g.value("target") == "sim-mixed" and g.base.evaluated
    ]
    assert max(by_dimension) - min(by_dimension) >= 0.3


async def test_demo_again_resumes_the_same_run(tmp_path: Path) -> None:
    # The simulator gets a new port each time; the demo's run id must not (nothing is sent again).
    first = await run_demo(tmp_path / "demo", progress=False)
    again = await run_demo(tmp_path / "demo", progress=False)
    assert again.result.run_id == first.result.run_id
    assert again.result.status == "completed"
    assert again.result.target("sim-mixed").outcomes == first.result.target("sim-mixed").outcomes
    assert again.result.spent_usd == first.result.spent_usd
    store = await Store.open(first.db_url)
    try:
        assert [r.id for r in await store.list_runs()] == [first.result.run_id]
    finally:
        await store.close()
