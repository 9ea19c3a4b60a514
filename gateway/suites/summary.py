"""Counts over a streamed suite (what ``seval suite inspect`` shows), without keeping the cases."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.taxonomy import Taxonomy
from core.types import CaseKind, SkippedRow
from gateway.suites.loader import iter_cases
from gateway.suites.mapping import ColumnMapping
from gateway.suites.sources import resolve_paths


@dataclass(frozen=True, slots=True)
class FileCounts:
    """Rows loaded and skipped from one file."""

    loaded: int
    skipped: int


@dataclass(frozen=True, slots=True)
class SuiteSummary:
    """Counts of loaded cases by language, dimension, deepest risk id, kind and attack; every skipped
    row; and per-file totals. ``attack_parents`` counts attack cases whose base case is known."""

    loaded: int
    skipped: int
    by_language: Mapping[str, int]
    by_dimension: Mapping[str, int]
    by_risk: Mapping[str, int]
    by_kind: Mapping[str, int]
    by_attack: Mapping[str, int]
    attack_parents: int
    files: Mapping[str, FileCounts]
    skipped_rows: tuple[SkippedRow, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the shape ``seval suite inspect --json`` prints)."""
        return {
            "loaded": self.loaded,
            "skipped": self.skipped,
            "by_language": dict(self.by_language),
            "by_dimension": dict(self.by_dimension),
            "by_risk": dict(self.by_risk),
            "by_kind": dict(self.by_kind),
            "by_attack": dict(self.by_attack),
            "attack_parents": self.attack_parents,
            "files": {name: {"loaded": c.loaded, "skipped": c.skipped} for name, c in self.files.items()},
            "skipped_rows": [{"file": r.file, "line": r.line, "reason": r.reason} for r in self.skipped_rows],
        }


def summarize(
    paths: Iterable[str | Path], *, taxonomy: Taxonomy, mapping: ColumnMapping | None = None
) -> SuiteSummary:
    """Stream every case of ``paths`` once and count it; memory stays flat whatever the suite size."""
    paths = list(paths)
    skipped: list[SkippedRow] = []
    counters: dict[str, Counter[str]] = {
        key: Counter() for key in ("lang", "dimension", "risk", "kind", "attack", "file")
    }
    parents = 0
    for case in iter_cases(paths, taxonomy=taxonomy, on_skip=skipped.append, mapping=mapping):
        counters["lang"][case.lang] += 1
        counters["dimension"][case.dimension] += 1
        counters["risk"][case.risk_id] += 1
        counters["kind"][case.kind.value] += 1
        counters["file"][case.source] += 1
        if case.kind is CaseKind.ATTACK:
            counters["attack"][case.attack or ""] += 1
            parents += case.parent_id is not None
    skipped_by_file = Counter(row.file for row in skipped)
    names = dict.fromkeys(f.name for f in resolve_paths(paths))
    return SuiteSummary(
        loaded=sum(counters["file"].values()),
        skipped=len(skipped),
        by_language=_sorted(counters["lang"]),
        by_dimension=_sorted(counters["dimension"]),
        by_risk=_sorted(counters["risk"]),
        by_kind=_sorted(counters["kind"]),
        by_attack=_sorted(counters["attack"]),
        attack_parents=parents,
        files={name: FileCounts(counters["file"][name], skipped_by_file[name]) for name in names},
        skipped_rows=tuple(skipped),
    )


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items()))
