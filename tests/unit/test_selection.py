"""Selection strategies and stratified slices (pure parts)."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

from core.types import Case, CaseKind
from gateway.config import RunConfig
from gateway.planner import suite_cases
from gateway.selection import strategies
from gateway.selection.strata import allocate, stratified_slice, stratum_of


def make(i: int, dim: str, lang: str = "en", kind: CaseKind = CaseKind.BASE, text: str = "") -> Case:
    return Case(
        id=f"c{i}",
        lang=lang,
        text=text or f"prompt number {i} about {dim}",
        dimension=dim,
        risk_id=f"{dim}.cat{i % 2}",
        kind=kind,
        attack="x" if kind is CaseKind.ATTACK else None,
    )


def test_allocate_spreads_and_refills() -> None:
    sizes = {stratum_of(make(0, "A")): 100, stratum_of(make(1, "B")): 2, stratum_of(make(2, "C")): 100}
    quota = allocate(sizes, 30)
    assert sum(quota.values()) == 30
    assert sorted(quota.values()) == [2, 14, 14]
    # dimensions first: a dimension split into many categories does not crowd out the others
    many = {stratum_of(make(i, "CI")) for i in range(2)} | {
        stratum_of(make(i, "CS", lang=lg)) for i in range(2) for lg in ("en", "zh")
    }
    quota = allocate(dict.fromkeys(many, 10), 8)
    by_dim: Counter[str] = Counter()
    for s, q in quota.items():
        by_dim[s.dimension] += q
    assert by_dim == {"CI": 4, "CS": 4}
    assert sum(allocate(sizes, 1000).values()) == 202


def test_stratified_slice_covers_every_stratum_of_a_skewed_stream() -> None:
    # 1,000 cases of one dimension first, then a few of others and some attack rows at the end.
    stream = [make(i, "CI") for i in range(1000)]
    stream += [make(1000 + i, d) for i, d in enumerate(["CS", "DP", "EM"] * 5)]
    stream += [make(2000 + i, "CI", kind=CaseKind.ATTACK) for i in range(20)]
    picked = stratified_slice(iter(stream), 30)
    assert len(picked) == 30
    dims = Counter(c.dimension for c in picked)
    assert set(dims) == {"CI", "CS", "DP", "EM"}
    assert any(c.kind is CaseKind.ATTACK for c in picked)
    assert picked == stratified_slice(iter(stream), 30)  # deterministic
    order = [stream.index(c) for c in picked]
    assert order == sorted(order)  # stream order kept


def test_run_limit_is_a_stratified_slice() -> None:
    cfg = RunConfig.model_validate(
        {"name": "t", "suites": ["sample"], "targets": [{"name": "a", "model": "openai/gpt-4o"}], "limit": 16}
    )
    cases = list(suite_cases(cfg, on_skip=lambda _r: None))
    assert len(cases) == 16
    assert len({c.dimension for c in cases}) == 8  # the sample's first 16 rows hold only a few
    assert {c.lang for c in cases} == {"en", "zh"}
    first = cfg.model_copy(update={"limit_strategy": "first"})
    assert len({c.dimension for c in suite_cases(first, on_skip=lambda _r: None)}) < 8
    no_limit = cfg.model_copy(update={"limit": None})
    assert "limit_strategy" in cfg.work_spec()
    assert "limit_strategy" not in first.work_spec()
    assert "limit_strategy" not in no_limit.work_spec()


@dataclass(frozen=True)
class Rec:
    broke: int
    judged: int


def test_difficulty_prefers_prompts_that_broke_k_targets() -> None:
    cases = [make(i, "CI") for i in range(10)]
    records = {"c3": Rec(3, 3), "c5": Rec(1, 3), "c7": Rec(2, 4)}
    picked = strategies.difficulty(iter(cases), 3, records, k=2)
    assert [c.id for c in picked][:2] == ["c3", "c7"]
    assert picked[2].id == "c5"


def test_diversity_spreads_over_near_duplicate_clusters() -> None:
    topics = ["weapons smuggling at borders", "phishing emails and bank logins", "tax evasion schemes"]
    cases = [
        make(i * 10 + j, "CI", text=f"{topic} question {'variant ' * j}number {j}")
        for i, topic in enumerate(topics)
        for j in range(5)
    ]
    picked = strategies.diversity(iter(cases), 3)
    assert {c.text.split(" question")[0] for c in picked} == set(topics)


def test_budget_fits_the_cost_and_prefers_informative_prompts() -> None:
    cases = [make(i, "CI") for i in range(6)]
    records = {"c0": Rec(0, 4), "c1": Rec(4, 4), "c2": Rec(2, 4)}
    picked = strategies.budget(iter(cases), 3.0, lambda _c: 1.0, records)
    assert len(picked) == 3
    ids = {c.id for c in picked}
    assert "c0" not in ids
    assert "c1" not in ids
    assert "c2" in ids
    assert not strategies.budget(iter(cases), 0.5, lambda _c: 1.0, records)
    assert list(itertools.islice(strategies.budget(iter(cases), 10.0, lambda _c: 1.0, records, n=2), 5))


def test_nothing_to_allocate_gives_no_quota() -> None:
    # Filters that leave no case (a language the suites lack) reach the slice with no strata at all.
    assert allocate({}, 10) == {}
