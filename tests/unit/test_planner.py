"""Planner: deterministic keys, laziness, filters, attacked cases frozen before sending and reused."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Iterable, Iterator

import pytest

from core.types import Case, CaseKind, WorkItem
from db.store import Store
from gateway.config import RunConfig
from gateway.planner import (
    FrozenAttacks,
    TargetPlan,
    _filtered,
    case_batches,
    count_source_cases,
    planned_cases,
    planned_counts,
    suite_cases,
)

TARGETS = [
    {"name": "a", "model": "openai/x", "api_base": "http://127.0.0.1:1/v1"},
    {"name": "b", "model": "openai/y", "api_base": "http://127.0.0.1:1/v1", "decoding": {"max_tokens": 64}},
]


def config(**over: object) -> RunConfig:
    data: dict[str, object] = {"name": "p", "suites": ["sample"], "targets": TARGETS}
    data.update(over)
    return RunConfig.model_validate(data)


def case(i: int, lang: str = "en", kind: CaseKind = CaseKind.BASE) -> Case:
    return Case(id=f"c{i}", lang=lang, text=f"prompt {i}", dimension="CI", risk_id="CI", kind=kind)


def test_items_are_deterministic_and_distinct() -> None:
    cfg = config(decoding={"temperatures": [0.0, 1.0]}, samples=3)
    plan = TargetPlan.of(cfg, cfg.target("b"))
    cases = [case(i) for i in range(5)]
    first = [i.key for i in plan.items(cases)]
    again = [
        i.key
        for i in TargetPlan.of(
            config(decoding={"temperatures": [0.0, 1.0]}, samples=3), cfg.target("b")
        ).items(cases)
    ]
    assert first == again
    assert len(first) == len(set(first)) == 5 * 2 * 3
    other = [i.key for i in TargetPlan.of(cfg, cfg.target("a")).items(cases)]
    assert not set(first) & set(other)  # target name and decoding are in the key
    assert plan.decodings[0].max_tokens == 64  # target defaults under the run's grid
    item = next(plan.items(cases))
    assert item.key == WorkItem.make_key(item.case, "b", item.decoding, 0)


def test_items_skip_done_keys() -> None:
    cfg = config(samples=2)
    plan = TargetPlan.of(cfg, cfg.target("a"))
    cases = [case(i) for i in range(10)]
    keys = [i.key for i in plan.items(cases)]
    done = set(keys[::3])
    left = [i.key for i in plan.items(cases, done)]
    assert left == [k for k in keys if k not in done]


def test_planning_is_lazy_and_memory_flat() -> None:
    cfg = config(decoding={"temperatures": [0.0, 0.5, 1.0]}, samples=2)
    plan = TargetPlan.of(cfg, cfg.target("a"))

    def endless() -> Iterator[Case]:
        for i in itertools.count():
            yield case(i)

    # An endless source plans without ever finishing a list.
    first = list(itertools.islice(plan.items(_filtered(endless(), cfg)), 10))
    assert len(first) == 10

    tracemalloc.start()
    n = 0
    source = itertools.islice(endless(), 5_000)
    while batch := list(itertools.islice(source, 256)):
        for _ in plan.items(batch):
            n += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 30_000
    assert peak < 2_000_000  # bytes: a batch at a time, whatever the total


def test_filters_languages_kinds_and_limit() -> None:
    src = [case(0, "en"), case(1, "zh"), case(2, "en", CaseKind.ATTACK), case(3, "en"), case(4, "en")]
    assert [c.id for c in _filtered(src, config(languages=["en"]))] == ["c0", "c2", "c3", "c4"]
    assert [c.id for c in _filtered(src, config(languages=["en"], kinds=["base"]))] == ["c0", "c3", "c4"]
    assert [c.id for c in _filtered(src, config(kinds=["attack"]))] == ["c2"]
    # base cases are still read when attacks are applied to them, even if not sent themselves
    assert [
        c.id for c in _filtered(src, config(kinds=["attack"], attacks={"apply": ["code_injection"]}))
    ] == [
        "c0",
        "c1",
        "c2",
        "c3",
        "c4",
    ]
    assert [c.id for c in _filtered(src, config(limit=2))] == ["c0", "c1"]


def test_sample_suite_counts() -> None:
    cfg = config(languages=["en"])
    base, attack = count_source_cases(cfg)
    assert base > 10
    assert attack == 0
    assert sum(1 for _ in suite_cases(cfg, on_skip=lambda _r: None)) == base
    cases = planned_cases(
        config(languages=["en"], attacks={"apply": ["code_injection", "deepinception"]}), base, 0
    )
    assert cases == 3 * base
    assert planned_counts(config(samples=2), cases) == {"a": cases * 2, "b": cases * 2}


class RecordingStore:
    def __init__(self) -> None:
        self.saved: dict[str, Case] = {}

    async def save_cases(self, cases: Iterable[Case]) -> None:
        for c in cases:
            self.saved.setdefault(c.id, c)

    async def cases_by_parent(self, parent_id: str, attack: str | None) -> list[Case]:
        return sorted(
            (c for c in self.saved.values() if c.parent_id == parent_id and c.attack == attack),
            key=lambda c: c.id,
        )


async def test_batches_are_saved_before_they_are_yielded() -> None:
    from attacks.expand import make_expander

    store = RecordingStore()
    expander = make_expander(["code_injection"], languages=["en"])
    frozen = FrozenAttacks.for_expander(store, expander, seed=3)
    src = [case(i) for i in range(600)]
    sent = 0
    async for batch in case_batches(src, store=store, send_base=False, frozen=frozen):
        assert all(c.id in store.saved for c in batch)
        assert all(c.parent_id in store.saved for c in batch)
        assert all(c.kind is CaseKind.ATTACK for c in batch)
        sent += len(batch)
    assert sent == 600


class CountingGenerator:
    """A generator that never writes the same thing twice (as a real model would not)."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    async def generate(self, prompt: str, *, lang: str, seed: int) -> str:
        self.calls += 1
        return f"Sure, here is a careful answer (draft {self.calls})"


@pytest.mark.parametrize("reopen", [False, True])
async def test_frozen_variants_are_reused_on_resume(db_url: str, reopen: bool) -> None:
    from attacks.expand import make_expander

    base = case(1)
    store = await Store.open(db_url)
    try:
        gen = CountingGenerator()
        expander = make_expander(["positive_induction", "code_injection"], generator=gen, languages=["en"])
        frozen = FrozenAttacks.for_expander(store, expander, seed=11)
        batches = [b async for b in case_batches([base], store=store, send_base=True, frozen=frozen)]
        first = batches[0]
        assert gen.calls == 1
        if reopen:
            await store.close()
            store = await Store.open(db_url)
        gen2 = CountingGenerator()
        expander2 = make_expander(["positive_induction", "code_injection"], generator=gen2, languages=["en"])
        frozen2 = FrozenAttacks.for_expander(store, expander2, seed=11)
        (again,) = [b async for b in case_batches([base], store=store, send_base=True, frozen=frozen2)]
        assert gen2.calls == 0  # nothing asked again: the frozen rewrite is reused
        assert [(c.id, c.text) for c in again] == [(c.id, c.text) for c in first]
        # another seed is another run's variant: not reused
        frozen3 = FrozenAttacks.for_expander(store, expander2, seed=12)
        (other,) = [b async for b in case_batches([base], store=store, send_base=False, frozen=frozen3)]
        assert gen2.calls == 1
        assert {c.id for c in other}.isdisjoint({c.id for c in first})
    finally:
        await store.close()
