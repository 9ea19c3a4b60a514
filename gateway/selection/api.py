"""``select``: the SDK and CLI front door of test selection.

from gateway import select
result = await select(["suites/"], strategy="stratified", n=200, out="slice.jsonl")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.errors import InputError
from core.taxonomy import load_taxonomy
from core.tokens import text_tokens
from core.types import Case, SkippedRow
from gateway.config import RunConfig, load_run_config
from gateway.generation.output import case_row, write_rows
from gateway.selection import strategies
from gateway.selection.strata import Breakdown, stratified_slice

Strategy = Literal["stratified", "difficulty", "diversity", "budget"]
STRATEGIES: tuple[Strategy, ...] = ("stratified", "difficulty", "diversity", "budget")
ASSUMED_COMPLETION = 256
"""Completion tokens assumed per call when a decoding sets no ``max_tokens`` (as in ``--estimate``)."""


@dataclass(frozen=True, slots=True)
class SelectionResult:
    """The written slice: where, how many, and its breakdown."""

    out: Path
    selected: int
    read: int
    breakdown: dict[str, dict[str, int]]
    skipped: int

    def to_json(self) -> dict[str, object]:
        """Plain JSON."""
        return {
            "out": str(self.out),
            "selected": self.selected,
            "read": self.read,
            "skipped": self.skipped,
            "breakdown": self.breakdown,
        }


async def select(
    suites: Sequence[str | Path],
    *,
    strategy: Strategy,
    out: str | Path,
    n: int | None = None,
    taxonomy: str | Path | None = None,
    langs: Sequence[str] = (),
    db_url: str | None = None,
    runs: Sequence[str] = (),
    critic: str | None = None,
    k: int = 1,
    config: RunConfig | str | Path | None = None,
    max_usd: float | None = None,
    max_tokens: int | None = None,
    seed: int = 0,
) -> SelectionResult:
    """Select cases from ``suites`` and write them as a suite (JSONL) to ``out``.

    ``difficulty`` and ``budget`` read how each case fared in stored runs from ``db_url``
    (``runs``: only those runs; ``critic``: only that critic's verdicts). ``budget`` needs
    ``max_usd`` with a ``config`` whose targets price each case, or ``max_tokens``.
    """
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r} (use one of {', '.join(STRATEGIES)})")
    if strategy != "budget" and n is None:
        raise InputError(f"strategy {strategy} needs --n")
    if n is not None and n < 1:
        raise InputError("--n must be at least 1")
    cfg = load_run_config(config) if isinstance(config, str | Path) else config
    tax_file = taxonomy if taxonomy is not None else (cfg.taxonomy if cfg is not None else None)
    tax = load_taxonomy(Path(tax_file) if tax_file else None)
    counter = _Counter()

    def source() -> Iterator[Case]:
        from gateway.suites import iter_cases

        keep = frozenset(langs)
        for case in iter_cases(suites, taxonomy=tax, on_skip=counter.skip):
            if keep and case.lang not in keep:
                continue
            counter.read += 1
            yield case

    records: Mapping[str, strategies.Record] = {}
    if strategy in ("difficulty", "budget") and db_url is not None:
        records = await _records(db_url, runs, critic)
    if strategy == "stratified":
        chosen = stratified_slice(source(), n or 0, seed=seed)
    elif strategy == "difficulty":
        chosen = strategies.difficulty(source(), n or 0, records, k=k, seed=seed)
    elif strategy == "diversity":
        chosen = strategies.diversity(source(), n or 0, seed=seed)
    else:
        limit, cost = _cost_model(cfg, max_usd, max_tokens)
        chosen = strategies.budget(source(), limit, cost, records, n=n, seed=seed)
    breakdown = Breakdown()
    for case in chosen:
        breakdown.add(case)
    out_path = Path(out)
    write_rows(out_path, (case_row(c) for c in chosen))
    return SelectionResult(out_path, len(chosen), counter.read, breakdown.counts(), counter.skipped)


class _Counter:
    __slots__ = ("read", "skipped")

    def __init__(self) -> None:
        self.read = 0
        self.skipped = 0

    def skip(self, _row: SkippedRow) -> None:
        self.skipped += 1


async def _records(db_url: str, runs: Sequence[str], critic: str | None) -> Mapping[str, strategies.Record]:
    from db.selection_queries import case_break_counts
    from db.store import Store

    store = await Store.open(db_url, create=False)
    try:
        run_ids = []
        for ref in runs:
            row = await store.get_run(ref)
            if row is None:
                raise InputError(f"no run {ref!r} in the store")
            run_ids.append(row.id)
        return await case_break_counts(store.engine, run_ids=run_ids, critic=critic)
    finally:
        await store.close()


def _cost_model(
    cfg: RunConfig | None, max_usd: float | None, max_tokens: int | None
) -> tuple[float, Callable[[Case], float]]:
    """The budget and the cost of one case: USD over the config's targets, or tokens."""
    if max_usd is not None:
        if cfg is None:
            raise InputError("--max-usd needs --config (its targets price each case)")
        from gateway.budget import price_for
        from gateway.planner import TargetPlan

        plans = [(price_for(t), TargetPlan.of(cfg, t)) for t in cfg.targets]
        unknown = [t.name for t, (price, _) in zip(cfg.targets, plans, strict=True) if not price.known]
        if unknown:
            raise InputError(f"no price known for target(s) {', '.join(unknown)}: set `prices` in the config")

        def usd(case: Case) -> float:
            tokens = text_tokens(case.text)
            return sum(
                price.cost(tokens, d.max_tokens or ASSUMED_COMPLETION) * plan.samples
                for price, plan in plans
                for d in plan.decodings
            )

        return max_usd, usd
    if max_tokens is not None:
        return float(max_tokens), lambda case: float(text_tokens(case.text) + ASSUMED_COMPLETION)
    raise InputError("strategy budget needs --max-usd (with --config) or --max-tokens")
