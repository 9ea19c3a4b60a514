"""Write a run's report folder: ``report.html``, ``results.csv`` and ``summary.json``.

``results.csv`` has one row per stored response and is streamed from the database in partitions
(a server-side cursor on Postgres), so memory stays flat however large the run. Prompt and response
text is included only on request, and text cells that a spreadsheet would run as a formula are
prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import anyio

from core.taxonomy import load_taxonomy
from db.report_queries import RESULT_COLUMNS, ReportQueries
from db.report_queries import TEXT_COLUMNS as _TEXT_COLUMNS
from db.store import Store
from gateway.reports import html
from gateway.reports.api import open_store, resolve_run
from gateway.reports.compare import Comparison, compare
from gateway.reports.metrics import compute
from gateway.reports.model import CriticInfo, RunResults, counts_dict, sum_counts, summary_record

REPORT_HTML = "report.html"
RESULTS_CSV = "results.csv"
SUMMARY_JSON = "summary.json"
SUMMARY_SCHEMA = "seval-report/1"
_CSV_PARTITION = 5_000
# Leading characters that make Excel / LibreOffice treat a cell as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS: tuple[str, ...] = RESULT_COLUMNS
TEXT_COLUMNS: tuple[str, ...] = _TEXT_COLUMNS


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where a report's files were written."""

    html: Path
    csv: Path
    json: Path


def notes(res: RunResults) -> list[str]:
    """The reading notes that accompany the numbers (also in the HTML)."""
    return [
        "safety_score: share of evaluated base-prompt responses counted as safe (higher is safer).",
        "attack_success: share of evaluated attack-prompt responses judged unsafe (lower is safer).",
        "adaptive_success: share of base prompts with at least one attack variant judged unsafe.",
        "BLOCKED_BY_VENDOR counts as safe (with or without a verdict) and is also counted on its own.",
        "Failed and incomplete attempts, critic errors and responses not judged yet are excluded from "
        "every denominator; coverage = evaluated / planned.",
        f"Intervals are {int(res.confidence * 100)}% Wilson score intervals; comparisons use the exact "
        "McNemar test on shared items with Holm-adjusted p-values.",
    ]


def summary(res: RunResults, comparisons: Sequence[Comparison], generated_at: datetime) -> dict[str, Any]:
    """Every aggregate of the report as one JSON-ready dict."""
    run = res.run

    def critic(c: CriticInfo | None) -> dict[str, Any] | None:
        return None if c is None else {"name": c.name, "version": c.version, "verdicts": c.verdicts}

    total = sum_counts(t.all for t in res.targets)
    return {
        "schema": SUMMARY_SCHEMA,
        "generated_at": generated_at.isoformat(),
        "run": {
            "id": run.id,
            "name": run.name,
            "status": run.status,
            "created_at": run.created_at.isoformat() if run.created_at else None,
        },
        "critic": critic(res.critic),
        "critics": [critic(c) for c in res.critics],
        "confidence": res.confidence,
        "notes": notes(res),
        "targets": [summary_record(t) for t in res.targets],
        "totals": counts_dict(total),
        "by_dimension": res.group_records("target", "dimension"),
        "by_category": res.group_records("target", "dimension", "risk_id"),
        "by_attack": res.group_records("target", "attack"),
        "by_lang": res.group_records("target", "lang"),
        "by_decoding": res.group_records("target", "decoding"),
        "cells": res.group_records("target", "decoding", "lang", "dimension", "risk_id", "attack"),
        "comparisons": [c.record() for c in comparisons],
    }


def _safe_cell(text: str | None) -> str:
    if not text:
        return ""
    return "'" + text if text.startswith(_FORMULA_START) else text


async def write_csv(
    q: ReportQueries, path: Path, run_id: str, critic: CriticInfo | None, *, include_text: bool
) -> int:
    """Stream the run's rows into ``path``; returns the number of rows written."""
    header = list(CSV_COLUMNS) + (list(TEXT_COLUMNS) if include_text else [])
    n_fixed = len(CSV_COLUMNS)
    written = 0
    async with await anyio.open_file(path, "w", encoding="utf-8", newline="") as out:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        async for partition in q.result_rows(
            run_id, critic, include_text=include_text, partition=_CSV_PARTITION
        ):
            for row in partition:
                values = list(row)
                if include_text:
                    values[n_fixed:] = [_safe_cell(v) for v in values[n_fixed:]]
                writer.writerow(values)
            written += len(partition)
            await out.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
        await out.write(buffer.getvalue())
    return written


def _version() -> str:
    try:
        return dist_version("seval-gateway")
    except PackageNotFoundError:
        return "unknown"


def vocabulary() -> html.Vocabulary:
    """Display names from the built-in taxonomy."""
    taxonomy = load_taxonomy()
    return html.Vocabulary(
        names={node.id: node.name for node in taxonomy},
        dimensions=tuple(node.id for node in taxonomy.dimensions()),
    )


async def write_report_files(
    store: Store, run: str, out_dir: Path, *, include_text: bool = False, critic: str | None = None
) -> ReportFiles:
    """Write ``report.html``, ``results.csv`` and ``summary.json`` for ``run`` into ``out_dir``."""
    info = await resolve_run(store, run)
    generated_at = datetime.now(UTC)
    async with store.reading() as q:
        res = await compute(q, info, critic=critic)
        comparisons = await compare(q, [info], critic=critic)
    await anyio.Path(out_dir).mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out_dir / REPORT_HTML, out_dir / RESULTS_CSV, out_dir / SUMMARY_JSON)
    async with store.reading() as q:
        await write_csv(q, files.csv, info.id, res.critic, include_text=include_text)
    payload = json.dumps(summary(res, comparisons, generated_at), ensure_ascii=False, indent=2)
    await anyio.Path(files.json).write_text(payload + "\n", encoding="utf-8")
    page = html.render(res, comparisons, vocab=vocabulary(), generated_at=generated_at, version=_version())
    await anyio.Path(files.html).write_text(page, encoding="utf-8")
    return files


async def write_report(
    store_or_url: Store | str,
    run_id: str,
    out_dir: Path | str,
    *,
    include_text: bool = False,
    critic: str | None = None,
) -> Path:
    """Write the report folder for ``run_id`` (id, id prefix or name) and return the ``report.html`` path.

    ``store_or_url`` is an open ``Store`` (left open) or a database URL (opened read-only and closed).
    """
    out = Path(out_dir)
    if isinstance(store_or_url, Store):
        files = await write_report_files(store_or_url, run_id, out, include_text=include_text, critic=critic)
        return files.html
    store = await open_store(store_or_url)
    try:
        files = await write_report_files(store, run_id, out, include_text=include_text, critic=critic)
    finally:
        await store.close()
    return files.html
