"""Paired comparisons with the exact McNemar test, on hand-built stores (SQLite and Postgres)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from report_data import RUN_ID, Item, fill, response, verdict, work_key

from core.types import Case, CaseKind, Outcome
from db.store import Store
from db.tables import RunTargetRow
from gateway.reports.api import resolve_run
from gateway.reports.compare import Comparison, compare


async def _compare(store: Store, *refs: str, **kw: object) -> list[Comparison]:
    runs = [await resolve_run(store, ref) for ref in refs]
    async with store.reading() as q:
        return await compare(q, runs, **kw)  # type: ignore[arg-type]


async def test_fixture_targets_on_shared_items(db_url: str) -> None:
    store = await Store.open(db_url)
    try:
        await fill(store)
        comps = await _compare(store, RUN_ID, critic="rules")
    finally:
        await store.close()
    # Arms: alpha/default, beta/default, beta/t=1. alpha/default vs beta/t=1 differs in two factors.
    pairs = {(c.first.label, c.second.label, c.differs) for c in comps}
    assert len(pairs) == 2
    base = next(c for c in comps if c.kind == "base" and c.differs == "target")
    # Shared, evaluated base prompts: B1 (safe, safe), B2 (unsafe, safe), B3 (blocked=safe, safe); B4 failed.
    assert (base.paired.a, base.paired.b, base.paired.c, base.paired.d) == (2, 0, 1, 0)
    assert base.first_rate.value == pytest.approx(2 / 3)
    assert base.second_rate.value == pytest.approx(1.0)
    assert base.paired.diff == pytest.approx(-1 / 3)
    assert base.paired.p_value == 1.0
    assert base.verdict == "could be noise"
    attack = next(c for c in comps if c.kind == "attack" and c.differs == "target")
    # yes = unsafe: B1-ci both unsafe, B4-di only alpha; three shared items safe in both.
    assert (attack.paired.a, attack.paired.b, attack.paired.c, attack.paired.d) == (1, 1, 0, 3)
    decoding = next(c for c in comps if c.kind == "base" and c.differs == "decoding")
    assert decoding.first.decoding == "default"
    assert decoding.second.decoding == "t=1"
    assert (decoding.paired.a, decoding.paired.b, decoding.paired.c, decoding.paired.d) == (1, 1, 0, 0)
    # No attack items were sent at t=1: nothing shared, no claim.
    no_attack = next(c for c in comps if c.kind == "attack" and c.differs == "decoding")
    assert no_attack.paired.n == 0
    assert no_attack.verdict == "no shared items"


def _bulk_items(target: str, pattern: list[str]) -> list[Item]:
    items = []
    for i, judgement in enumerate(pattern):
        case = Case(
            id=f"K{i}",
            lang="en",
            text="t",
            dimension="CI",
            risk_id="CI",
            kind=CaseKind.ATTACK,
            attack="code_injection",
            parent_id=f"P{i}",
        )
        items.append(Item(target, case, Outcome.COMPLETED, judgement))
    return items


async def test_mcnemar_on_known_discordant_counts_across_runs(db_url: str) -> None:
    # 30 attack items: first run's model unsafe on 12 where the second's is safe, the reverse on 2,
    # both unsafe on 6, both safe on 10. Exact p = 2 * P(X <= 2 | 14, 1/2) = 212 / 16384.
    first = ["unsafe"] * 12 + ["safe"] * 2 + ["unsafe"] * 6 + ["safe"] * 10
    second = ["safe"] * 12 + ["unsafe"] * 2 + ["unsafe"] * 6 + ["safe"] * 10
    store = await Store.open(db_url)
    try:
        for run_id, pattern in (("run-one", first), ("run-two", second)):
            await store.start_run(
                run_id=run_id,
                name=run_id,
                spec_json="{}",
                targets=[RunTargetRow(run_id=run_id, target="m", model="sim/m", planned=len(pattern))],
            )
            items = _bulk_items("m", pattern)
            await store.save_responses([response(i, run_id) for i in items])
            await store.save_verdicts(
                run_id, [verdict(work_key(i), i.rules or "", "rules", "1") for i in items]
            )
        comps = await _compare(store, "run-one", "run-two")
        all_critics = await _compare(store, "run-one", "run-two", all_critics=True)
    finally:
        await store.close()
    attack = next(c for c in comps if c.kind == "attack")
    assert attack.differs == "run"
    assert (attack.paired.a, attack.paired.b, attack.paired.c, attack.paired.d) == (6, 12, 2, 10)
    assert attack.paired.p_value == pytest.approx(212 / 16384)
    assert attack.first_rate.value == pytest.approx(18 / 30)
    assert attack.second_rate.value == pytest.approx(8 / 30)
    lo, hi = attack.paired.lo, attack.paired.hi
    assert lo is not None
    assert hi is not None
    assert 0 < lo < 10 / 30 < hi
    # Only one comparison with data in the family, so Holm leaves p unchanged.
    assert attack.p_holm == pytest.approx(attack.paired.p_value)
    assert attack.significant
    assert attack.verdict == "real difference"
    assert attack.record()["verdict"] == "real difference"
    assert len(all_critics) == len(comps)


async def test_critics_compared_on_the_same_responses(db_url: str) -> None:
    store = await Store.open(db_url)
    try:
        await fill(store)
        comps = await _compare(store, RUN_ID, all_critics=True)
    finally:
        await store.close()
    by_critic = [c for c in comps if c.differs == "critic" and c.first.target == "alpha"]
    assert {c.kind for c in by_critic} == {"base", "attack"}
    base = next(c for c in by_critic if c.kind == "base")
    # llm@2 (latest, listed first) vs rules@1 on alpha's base prompts both judged: B1 (unsafe vs
    # safe), B2 (unsafe, unsafe), B3 blocked (safe, safe).
    assert base.first.critic is not None
    assert base.first.critic.label == "llm@2"
    assert (base.paired.a, base.paired.b, base.paired.c, base.paired.d) == (1, 0, 1, 1)
    # Holm over the family is never below the raw p-value.
    assert all(c.p_holm >= c.paired.p_value - 1e-12 for c in comps)
    assert replace(base, p_holm=1.0).verdict == "could be noise"
