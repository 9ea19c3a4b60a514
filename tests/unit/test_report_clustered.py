"""Comparisons respect clustering: the attack variants of one base prompt are not independent."""

from __future__ import annotations

import pytest
from report_data import Item, response, verdict, work_key
from test_report_compare import _compare

from core.types import Case, CaseKind, Outcome
from db.store import Store
from db.tables import RunTargetRow
from gateway.reports.api import results_from_store
from gateway.reports.stats import Rate, clustered_mcnemar, clustered_paired_difference, mcnemar_exact

VARIANTS = 7


def _variants(prompts: int, unsafe_prompts: int) -> list[Item]:
    """``prompts`` base prompts x 7 attack variants; every variant of the first ``unsafe_prompts``
    is unsafe (perfectly correlated within a prompt), the rest safe."""
    items = []
    for p in range(prompts):
        for v in range(VARIANTS):
            case = Case(
                id=f"P{p}-v{v}",
                lang="en",
                text="t",
                dimension="CI",
                risk_id="CI",
                kind=CaseKind.ATTACK,
                attack=f"attack{v}",
                parent_id=f"P{p}",
            )
            items.append(Item("m", case, Outcome.COMPLETED, "unsafe" if p < unsafe_prompts else "safe"))
    return items


async def test_seven_variants_of_few_prompts_are_not_seven_times_the_evidence(db_url: str) -> None:
    # First run: 4 of 46 prompts broken (all 7 variants each); second: none. Treated as 322
    # independent pairs, 28 discordant pairs give exact p = 2^-27 (a "real difference"); as 46
    # prompts with 4 discordant, it is noise.
    store = await Store.open(db_url)
    try:
        for run_id, broken in (("run-one", 4), ("run-two", 0)):
            items = _variants(46, broken)
            await store.start_run(
                run_id=run_id,
                name=run_id,
                spec_json="{}",
                targets=[RunTargetRow(run_id=run_id, target="m", model="sim/m", planned=len(items))],
            )
            await store.save_responses([response(i, run_id) for i in items])
            await store.save_verdicts(
                run_id, [verdict(work_key(i), i.rules or "", "rules", "1") for i in items]
            )
        comps = await _compare(store, "run-one", "run-two")
    finally:
        await store.close()
    attack = next(c for c in comps if c.kind == "attack")
    assert (attack.paired.a, attack.paired.b, attack.paired.c, attack.paired.d) == (0, 28, 0, 294)
    assert attack.clusters == 46
    assert mcnemar_exact(28, 0) < 1e-8  # what the unclustered test claimed
    assert attack.paired.p_value == pytest.approx(2 / 16)  # 4 prompts, all the same way
    assert attack.verdict == "could be noise"
    assert attack.record()["base_prompts"] == 46


def test_singleton_clusters_are_the_exact_mcnemar_test() -> None:
    clusters = [(1, 0, 0, 0)] * 6 + [(0, 1, 0, 0)] * 12 + [(0, 0, 1, 0)] * 2 + [(0, 0, 0, 1)] * 10
    d = clustered_paired_difference(clusters)
    assert d.p_value == pytest.approx(212 / 16384)
    assert (d.a, d.b, d.c, d.d) == (6, 12, 2, 10)


def test_clustered_mcnemar_counts_each_prompt_once() -> None:
    # 10 prompts, each with 7 variants discordant the same way: 10 sign flips, p = 2 / 2^10
    clusters = [(0, 7, 0, 0)] * 10
    assert clustered_mcnemar(clusters) == pytest.approx(2 / 1024)
    # the same discordance as 70 independent pairs would claim far more
    assert mcnemar_exact(70, 0) < 1e-20
    lo, hi = clustered_paired_difference(clusters).lo, clustered_paired_difference(clusters).hi
    assert (lo, hi) == (1.0, 1.0)  # every item discordant the same way: no spread


def test_the_sign_flip_test_on_singletons_is_exact_mcnemar() -> None:
    clusters = [(0, 1, 0, 0)] * 12 + [(0, 0, 1, 0)] * 2 + [(0, 0, 0, 1)] * 5
    assert clustered_mcnemar(clusters) == pytest.approx(mcnemar_exact(12, 2))


def test_clustered_rate_on_singletons_is_wilson() -> None:
    assert Rate.clustered([(1, 1)] * 3 + [(0, 1)] * 7) == Rate.of(3, 10)


def test_perfectly_correlated_variants_count_as_one_prompt_each() -> None:
    # 4 of 46 prompts broken on all 7 variants: the interval is the one of 4 in 46, not 28 in 322
    rate = Rate.clustered([(7, 7)] * 4 + [(0, 7)] * 42)
    by_prompt = Rate.of(4, 46)
    assert rate.value == pytest.approx(28 / 322)
    assert rate.lo == pytest.approx(by_prompt.lo)
    assert rate.hi == pytest.approx(by_prompt.hi)
    naive = Rate.of(28, 322)
    assert naive.hi is not None
    assert rate.hi is not None
    assert rate.value is not None
    assert naive.value is not None
    assert rate.hi - rate.value > 2 * (naive.hi - naive.value)


async def test_report_headline_interval_is_clustered(db_url: str) -> None:
    items = _variants(46, 4)
    store = await Store.open(db_url)
    try:
        await store.start_run(
            run_id="clustered",
            name="clustered",
            spec_json="{}",
            targets=[RunTargetRow(run_id="clustered", target="m", model="sim/m", planned=len(items))],
        )
        await store.save_responses([response(i, "clustered") for i in items])
        await store.save_verdicts(
            "clustered", [verdict(work_key(i), i.rules or "", "rules", "1") for i in items]
        )
        res = await results_from_store(store, "clustered", critic="rules")
    finally:
        await store.close()
    rate = res.target("m").attack_success
    assert (rate.k, rate.n) == (28, 322)
    assert rate.hi == pytest.approx(Rate.of(4, 46).hi)
