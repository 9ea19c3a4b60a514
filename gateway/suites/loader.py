"""``iter_cases``: picks the reader for each path and streams every file's cases in order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from core.taxonomy import Taxonomy
from core.types import Case
from gateway.suites.generic import iter_generic
from gateway.suites.mapping import ColumnMapping
from gateway.suites.rows import SkipHandler
from gateway.suites.seval import is_release_file, iter_seval
from gateway.suites.sources import SAMPLE, SuiteError, SuiteFile, resolve_paths

SAMPLE_MAPPING = ColumnMapping(text="text", id="id", lang="lang", risk="risk", twin="twin")


def iter_cases(
    paths: Iterable[str | Path],
    *,
    taxonomy: Taxonomy,
    on_skip: SkipHandler,
    mapping: ColumnMapping | None = None,
) -> Iterator[Case]:
    """Stream the cases of every path in order; skipped rows go to ``on_skip``.

    ``mapping`` applies to generic files (CSV, and JSONL not named like an S-Eval release file).
    Paths are checked before anything is read: a missing path raises ``SuiteError`` at once.
    """
    files = resolve_paths(list(paths))
    for file in files:
        if file.format == "csv" and mapping is None:
            raise SuiteError(
                f"{file.name}: a CSV suite needs a column mapping (--map text=COLUMN,risk=COLUMN)"
            )
    return _stream(files, taxonomy=taxonomy, on_skip=on_skip, mapping=mapping)


def _stream(
    files: list[SuiteFile], *, taxonomy: Taxonomy, on_skip: SkipHandler, mapping: ColumnMapping | None
) -> Iterator[Case]:
    for file in files:
        if file.name == SAMPLE and file.path is None:
            yield from iter_generic(file, mapping=SAMPLE_MAPPING, taxonomy=taxonomy, on_skip=on_skip)
        elif mapping is None or is_release_file(file):
            yield from iter_seval(file, taxonomy=taxonomy, on_skip=on_skip)
        else:
            yield from iter_generic(file, mapping=mapping, taxonomy=taxonomy, on_skip=on_skip)
