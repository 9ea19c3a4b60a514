"""Write a run's report folder: ``report.html``, ``results.csv`` and ``summary.json``.

``results.csv`` has one row per stored response and is streamed from the database in partitions
(a server-side cursor on Postgres), so memory stays flat however large the run. Prompt and response
text is included only on request. Every text cell (ids, vendor-supplied finish reasons and codes,
text) that a spreadsheet would run as a formula is prefixed with an apostrophe.

Each file is first written to a temporary file in the output folder and renamed over its final
name only once all three are complete, so an interrupted report leaves the previous files whole
(never a truncated CSV beside an older HTML). A rename replaces a symlink at the final name rather
than writing through it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import anyio

from core.errors import InputError
from core.taxonomy import load_taxonomy
from db.report_queries import RESULT_COLUMNS, ReportQueries
from db.report_queries import TEXT_COLUMNS as _TEXT_COLUMNS
from db.store import Store
from gateway.reports import html
from gateway.reports.api import open_store, resolve_run
from gateway.reports.compare import Comparison, compare
from gateway.reports.critics import render_section as render_critic_section
from gateway.reports.critics import review as review_critics
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


class ReportOutputError(InputError):
    """The report's output folder cannot be used (it is a file, or cannot be created or written)."""


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
        "adaptive_success_any: share of base prompts whose base answer or any attack variant was judged "
        "unsafe; a `strategy: adaptive` run measures this one exactly (it sends no attack after an unsafe "
        "base answer nor after the first success, so its adaptive_success covers only the prompts it "
        "attacked). Items an adaptive run did not send are not planned and not counted.",
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


def _safe_cell(value: Any) -> Any:
    """A text value a spreadsheet would run as a formula, prefixed with an apostrophe; other
    values (numbers, None) unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


async def write_csv(
    q: ReportQueries, path: Path, run_id: str, critic: CriticInfo | None, *, include_text: bool
) -> int:
    """Stream the run's rows into ``path``; returns the number of rows written."""
    header = list(CSV_COLUMNS) + (list(TEXT_COLUMNS) if include_text else [])
    written = 0
    async with await anyio.open_file(path, "w", encoding="utf-8", newline="") as out:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        async for partition in q.result_rows(
            run_id, critic, include_text=include_text, partition=_CSV_PARTITION
        ):
            for row in partition:
                writer.writerow([_safe_cell(v) for v in row])
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
    await _make_folder(out_dir)
    files = ReportFiles(out_dir / REPORT_HTML, out_dir / RESULTS_CSV, out_dir / SUMMARY_JSON)
    temps: dict[Path, Path] = {}
    try:
        for final in (files.csv, files.json, files.html):
            temps[final] = await anyio.to_thread.run_sync(_temp_beside, final)
        async with store.reading() as q:
            await write_csv(q, temps[files.csv], info.id, res.critic, include_text=include_text)
        critic_review = await review_critics(store.engine, info.id, res.critic, res.critics)
        payload = json.dumps(
            {**summary(res, comparisons, generated_at), "critic_review": critic_review.as_dict()},
            ensure_ascii=False,
            indent=2,
            default=str,
        )
        await anyio.Path(temps[files.json]).write_text(payload + "\n", encoding="utf-8")
        page = html.render(
            res,
            comparisons,
            vocab=vocabulary(),
            generated_at=generated_at,
            version=_version(),
            extra_sections=(render_critic_section(critic_review),),
        )
        await anyio.Path(temps[files.html]).write_text(page, encoding="utf-8")
        for final, temp in list(temps.items()):
            await anyio.to_thread.run_sync(os.replace, temp, final)
            del temps[final]
    except OSError as exc:
        raise ReportOutputError(f"cannot write the report into {out_dir}: {exc.strerror or exc}") from None
    finally:
        for temp in temps.values():
            with contextlib.suppress(OSError):
                temp.unlink()
    return files


async def _make_folder(out_dir: Path) -> None:
    folder = anyio.Path(out_dir)
    if await folder.exists() and not await folder.is_dir():
        raise ReportOutputError(f"report output {out_dir} is a file, not a folder: pass --out a folder")
    try:
        await folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportOutputError(f"cannot create the report folder {out_dir}: {exc.strerror or exc}") from None


def _temp_beside(final: Path) -> Path:
    """A new, empty file next to ``final`` (created exclusively: it never follows a planted link)."""
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    try:
        # mkstemp makes it owner-only; the report keeps the permissions a plain write would give.
        os.fchmod(fd, 0o644)
    finally:
        os.close(fd)
    return Path(name)


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
