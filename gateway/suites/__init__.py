"""Suites: streaming loaders that turn benchmark files into ``Case`` values, one row at a time.

What a path can be:

- ``sample``: the built-in sample suite (about 40 mild prompts, zh and en, every dimension).
- An S-Eval release file, as published (``S-Eval_base_risk_en_full.jsonl.zip``) or unzipped
  (``.jsonl``): base and attack sets, zh and en, every scale. See ``gateway.suites.seval``.
- Any other ``.jsonl`` / ``.jsonl.zip``: S-Eval's row format (``traceid``, ``risk_type``,
  ``prompt``, ``ext``) unless a ``ColumnMapping`` is given, then a generic JSONL suite.
- A ``.csv`` / ``.csv.zip``: a generic CSV suite; needs a ``ColumnMapping``
  (see ``gateway.suites.mapping`` for the fields and the ``--map`` syntax).
- A directory: every such file in it, sorted by name.

Rows that cannot be loaded (bytes that are not UTF-8, invalid JSON, a missing or empty prompt, an
unknown ``risk_type``, a broken ``ext``, a repeated id, ...) are skipped and handed to ``on_skip``
as ``SkippedRow(file, line, reason)``; one bad row never stops the load. Only problems with a whole
file (missing, unsupported type, unreadable archive, mapped column absent from a CSV header) raise
``SuiteError``.
"""

from __future__ import annotations

from gateway.suites.loader import SAMPLE_MAPPING, iter_cases
from gateway.suites.mapping import ColumnMapping
from gateway.suites.rows import SkipHandler, SkipReason
from gateway.suites.sources import SAMPLE, SuiteError
from gateway.suites.summary import FileCounts, SuiteSummary, summarize

__all__ = [
    "SAMPLE",
    "SAMPLE_MAPPING",
    "ColumnMapping",
    "FileCounts",
    "SkipHandler",
    "SkipReason",
    "SuiteError",
    "SuiteSummary",
    "iter_cases",
    "summarize",
]
