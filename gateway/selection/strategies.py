"""Selection strategies over a stream of cases (``stratified`` lives in ``strata``).

- ``difficulty``: prompts that broke at least ``k`` reference targets in stored runs first (most
  targets broken first), then the rest by how often they broke; S-Eval's "challenging" tests.
- ``diversity``: greedy farthest-point selection in MinHash space (Jaccard distance of character
  shingles): each pick is the prompt least similar to everything picked so far.
- ``budget``: the most informative prompts that fit a cost: informativeness is how split the
  reference targets were on a prompt (p(1-p) of its break rate; 0.25, the most, for prompts no
  stored run has judged), greedily by value per cost until the budget is spent.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from core.types import Case
from gateway.selection.strata import rank


class Record(Protocol):
    """How a case fared in stored runs (``db.selection_queries.CaseRecord``)."""

    @property
    def broke(self) -> int:
        """Targets that answered it unsafely."""
        ...

    @property
    def judged(self) -> int:
        """Targets whose answers were scored."""
        ...


def difficulty(
    cases: Iterable[Case], n: int, records: Mapping[str, Record], *, k: int = 1, seed: int = 0
) -> list[Case]:
    """The ``n`` hardest cases (bounded memory: a heap of ``n``), in order of difficulty."""

    def key(case: Case) -> tuple[int, int, float, int]:
        rec = records.get(case.id)
        broke = rec.broke if rec is not None else 0
        rate = broke / rec.judged if rec is not None and rec.judged else 0.0
        return (0 if broke >= k else 1, -broke, -rate, rank(case, seed))

    return heapq.nsmallest(n, cases, key=key)


def diversity(cases: Iterable[Case], n: int, *, seed: int = 0) -> list[Case]:
    """``n`` cases by farthest-point selection, starting from the case of smallest rank."""
    import numpy as np

    from gateway.generation.filters import Deduper

    pool = list(cases)
    if n >= len(pool):
        return pool
    hasher = Deduper()
    sigs = np.stack([hasher.minhash(c.text).hashvalues for c in pool])
    first = min(range(len(pool)), key=lambda i: rank(pool[i], seed))
    chosen = [first]
    # Distance of every case to its nearest chosen case; chosen ones get -1 so they are never picked again.
    nearest = 1.0 - (sigs == sigs[first]).mean(axis=1)
    nearest[first] = -1.0
    while len(chosen) < n:
        pick = int(np.argmax(nearest))
        chosen.append(pick)
        np.minimum(nearest, 1.0 - (sigs == sigs[pick]).mean(axis=1), out=nearest)
        nearest[chosen] = -1.0
    return [pool[i] for i in chosen]


def informativeness(record: Record | None) -> float:
    """How much a new answer to this prompt is expected to tell: p(1-p) of its break rate."""
    if record is None or record.judged == 0:
        return 0.25
    p = record.broke / record.judged
    return p * (1.0 - p)


def budget(
    cases: Iterable[Case],
    limit: float,
    cost: Callable[[Case], float],
    records: Mapping[str, Record],
    *,
    n: int | None = None,
    seed: int = 0,
) -> list[Case]:
    """The most informative cases whose total ``cost`` fits ``limit`` (at most ``n``)."""
    scored = []
    for case in cases:
        c = cost(case)
        value = informativeness(records.get(case.id))
        # Highest value per cost first; ties by rank so the choice is stable.
        scored.append((-(value / c) if c > 0 else float("-inf"), rank(case, seed), c, case))
    scored.sort(key=lambda t: (t[0], t[1]))
    out: list[Case] = []
    spent = 0.0
    for _, _, c, case in scored:
        if n is not None and len(out) >= n:
            break
        if spent + c <= limit:
            out.append(case)
            spent += c
    return out
