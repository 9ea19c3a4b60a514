"""Stratified slices of a case stream: quotas per (dimension, category, language, kind).

A slice of ``n`` cases spreads over every stratum as evenly as the strata allow (water-filling:
a stratum with fewer cases than its share gives the rest to the others), so even a small slice
covers the whole taxonomy the suites hold. Within a stratum the cases with the smallest hash of
their id are taken: stable across runs and spread over the file instead of its first rows.

Streaming: one pass, keeping at most ``n`` cases per stratum (a bounded heap each), so memory is
``strata x n`` cases whatever the suite's size.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from core.types import Case


class Stratum(NamedTuple):
    """The cell a case counts in."""

    dimension: str
    category: str
    lang: str
    kind: str


def stratum_of(case: Case) -> Stratum:
    """The (dimension, category, language, kind) of a case; category is the level-2 node."""
    category = ".".join(case.risk_id.split(".")[:2])
    return Stratum(case.dimension, category, case.lang, str(case.kind))


def rank(case: Case, seed: int = 0) -> int:
    """A stable pseudo-random rank of a case (smaller is taken first)."""
    raw = f"{seed}\x1f{case.id}\x1f{case.attack or ''}\x1f{case.lang}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def allocate(sizes: Mapping[Stratum, int], n: int) -> dict[Stratum, int]:
    """Quotas summing to ``min(n, total)``, shared out level by level: equally over dimensions,
    then within each dimension over its categories, then over languages, then kinds. A group with
    fewer cases than its share gives the rest to its siblings."""
    quota: dict[Stratum, int] = {}
    _share(list(sizes.items()), n, 0, quota)
    return quota


def _share(cells: list[tuple[Stratum, int]], n: int, level: int, quota: dict[Stratum, int]) -> None:
    if not cells:  # nothing passed the filters: no quota to share
        return
    if level == len(Stratum._fields):
        for stratum, _ in cells:
            quota[stratum] = n
        return
    groups: dict[str, list[tuple[Stratum, int]]] = {}
    for cell in cells:
        groups.setdefault(cell[0][level], []).append(cell)
    sizes = {key: sum(size for _, size in members) for key, members in groups.items()}
    # The remainder's order is hashed with the path above, so sibling groups do not all favour
    # the same language or kind.
    path = "/".join(cells[0][0][:level])
    for key, give in _water_fill(sizes, n, path).items():
        _share(groups[key], give, level + 1, quota)


def _water_fill(sizes: Mapping[str, int], n: int, path: str = "") -> dict[str, int]:
    """Equal shares of ``min(n, total)`` capped by each size; a division's remainder goes to the
    groups in a hash order of their names (not alphabetical, which would favour the same ones)."""
    give = dict.fromkeys(sizes, 0)
    left = min(n, sum(sizes.values()))
    open_ = sorted((k for k, size in sizes.items() if size > 0), key=lambda k: _key_order(f"{path}/{k}"))
    while left > 0 and open_:
        share, extra = divmod(left, len(open_))
        still_open = []
        for i, key in enumerate(open_):
            add = min(share + (1 if i < extra else 0), sizes[key] - give[key])
            give[key] += add
            left -= add
            if give[key] < sizes[key]:
                still_open.append(key)
        open_ = still_open
    return give


def _key_order(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=8).digest()


def stratified_slice(cases: Iterable[Case], n: int, *, seed: int = 0) -> list[Case]:
    """At most ``n`` cases spread over the strata (see the module doc), in stream order."""
    heaps: dict[Stratum, list[tuple[int, int, Case]]] = {}
    sizes: Counter[Stratum] = Counter()
    for order, case in enumerate(cases):
        s = stratum_of(case)
        sizes[s] += 1
        heap = heaps.setdefault(s, [])
        item = (-rank(case, seed), order, case)  # a max-heap on rank: the root is the worst kept
        if len(heap) < n:
            heapq.heappush(heap, item)
        elif item[0] > heap[0][0]:
            heapq.heapreplace(heap, item)
    quota = allocate({s: len(h) for s, h in heaps.items()}, n)
    chosen: list[tuple[int, Case]] = []
    for s, heap in heaps.items():
        best = sorted(heap, key=lambda it: -it[0])[: quota[s]]
        chosen.extend((order, case) for _, order, case in best)
    chosen.sort(key=lambda oc: oc[0])
    return [case for _, case in chosen]


class Breakdown:
    """Running counts by dimension, category, language and kind (``--estimate``, ``seval select``)."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[str, Counter[str]] = {f: Counter() for f in Stratum._fields}

    def add(self, case: Case) -> None:
        """Count one case."""
        for name, value in zip(Stratum._fields, stratum_of(case), strict=True):
            self._counts[name][value] += 1

    def counts(self) -> dict[str, dict[str, int]]:
        """The counts per field, keys sorted."""
        return {f: dict(sorted(c.items())) for f, c in self._counts.items()}
