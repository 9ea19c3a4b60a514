"""Report build time and memory on a synthetic store of N scored items (default 1,000,000).

    python bench/report.py [--items 1000000] [--decodings 1] [--db URL] [--out DIR]

Builds a run in SQLite in a temp dir (or at ``--db``): three simulated targets, S-Eval's 8 dimensions
and 25 categories, en + zh, each base prompt with its 10 attack variants, a realistic mix of outcomes
(completed, blocked, failed, incomplete) and one critic's verdicts (a few critic errors). Rows go in
with Core ``executemany`` in large batches; that build is timed on its own (``build_seconds``).

Then a fresh child process writes the full report (``report.html``, ``results.csv`` with one row
per item, ``summary.json``) exactly as ``seval report`` does, and measures its own wall time and
peak RSS, so the figures are the report's alone. Targets: under 60 s and 500 MB.

Ends with one JSON line: ``items``, ``seconds``, ``peak_rss_mb``, ``build_seconds`` (and
``csv_rows``, ``decodings``, ``dialect``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import SQLModel

from core.records import StoredTarget
from core.taxonomy import load_taxonomy
from db.store import Store

RUN_ID = "bench-report-run"
ANSWER = (
    "I can't help with that. If you are worried about this topic, here is some general information "
    "about staying safe and where to find professional help in your area. "
)
# (target, unsafe probability on base prompts, on attacked prompts)
TARGETS = (("sim-careful", 0.03, 0.08), ("sim-balanced", 0.09, 0.22), ("sim-lax", 0.2, 0.41))
# Attack strength: a multiplier on the target's attacked-prompt unsafe probability.
ATTACKS = {
    "positive_induction": 0.8,
    "reverse_induction": 0.6,
    "code_injection": 1.25,
    "instruction_jailbreak": 1.5,
    "goal_hijacking": 0.9,
    "instruction_encryption": 0.7,
    "deepinception": 1.35,
    "in_context_attack": 1.1,
    "chain_of_utterances": 1.2,
    "compositional_instructions": 1.0,
}
BATCH = 20_000


def _outcome(rng: random.Random) -> str:
    x = rng.random()
    if x < 0.955:
        return "COMPLETED"
    if x < 0.975:
        return "BLOCKED_BY_VENDOR"
    if x < 0.988:
        return "FAILED_TRANSIENT"
    if x < 0.994:
        return "INCOMPLETE"
    return "FAILED_PERMANENT"


def generate(
    items: int, decodings: int, seed: int = 7
) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(response row, verdict row or None) pairs for ``items`` responses, deterministic for ``seed``."""
    rng = random.Random(seed)
    taxonomy = load_taxonomy()
    categories = list(taxonomy.at_level(2))
    dim_factor = {d.id: 0.6 + 0.1 * i for i, d in enumerate(taxonomy.dimensions())}
    decoding_keys = [f"t={0.7 * i:g}" for i in range(decodings)] if decodings > 1 else ["default"]
    now = datetime.now(UTC)
    produced = 0
    base = 0
    while produced < items:
        category = categories[base % len(categories)]
        lang = "en" if base % 2 == 0 else "zh"
        lang_factor = 1.0 if lang == "en" else 1.15
        parent = f"base-{base:07d}"
        cases = [(parent, None, None)] + [(f"{parent}-{a}", a, parent) for a in ATTACKS]
        for target, p_base, p_attack in TARGETS:
            for d, decoding in enumerate(decoding_keys):
                temp_factor = 1.0 + 0.25 * d
                for case_id, attack, parent_id in cases:
                    if produced >= items:
                        return
                    produced += 1
                    p = p_base if attack is None else p_attack * ATTACKS[attack]
                    p = min(0.95, p * dim_factor[category.dimension] * lang_factor * temp_factor)
                    outcome = _outcome(rng)
                    answered = outcome != "FAILED_TRANSIENT" and outcome != "FAILED_PERMANENT"
                    work_key = f"{target}|{decoding}|{case_id}"
                    row = {
                        "run_id": RUN_ID,
                        "work_key": work_key,
                        "case_id": case_id,
                        "target": target,
                        "decoding_key": decoding,
                        "decoding_json": "{}",
                        "sample_index": 0,
                        "lang": lang,
                        "dimension": category.dimension,
                        "risk_id": category.id,
                        "kind": "base" if attack is None else "attack",
                        "attack": attack,
                        "parent_case_id": parent_id,
                        "cache_key": work_key,
                        "outcome": outcome,
                        "finish_reason": "stop" if answered else None,
                        "vendor_code": None if answered else "rate_limit_exceeded",
                        "status_code": 200 if answered else 429,
                        "text": ANSWER if answered else "",
                        "truncated": False,
                        "prompt_tokens": 60 if answered else 0,
                        "completion_tokens": 140 if answered else 0,
                        "cost_usd": 0.00012 if answered else 0.0,
                        "latency_ms": 850.0,
                        "ttft_ms": 210.0,
                        "attempts": 1 if answered else 4,
                        "error": None,
                        "cached_from": None,
                        "created_at": now,
                    }
                    verdict = None
                    if outcome == "COMPLETED":
                        unsafe = rng.random() < p
                        error = rng.random() < 0.004
                        verdict = {
                            "run_id": RUN_ID,
                            "work_key": work_key,
                            "critic": "rules",
                            "critic_version": "1",
                            "status": "CRITIC_ERROR" if error else "SCORED",
                            "label": None if error else ("unsafe" if unsafe else "safe"),
                            "risk_score": None if error else (0.9 if unsafe else 0.05),
                            "risk_tags_json": "[]",
                            "explanation": "",
                            "error": "critic timeout" if error else None,
                            "created_at": now,
                        }
                    yield row, verdict
        base += 1


async def build(url: str, items: int, decodings: int) -> float:
    """Create the schema and the synthetic run; returns the seconds taken."""
    t0 = time.perf_counter()
    store = await Store.open(url)
    try:
        per_target = -(-items // len(TARGETS))
        await store.start_run(
            run_id=RUN_ID,
            name="bench-report",
            spec_json="{}",
            targets=[
                StoredTarget(
                    run_id=RUN_ID, target=t, model=f"openai/{t}", adapter="litellm", planned=per_target
                )
                for t, _, _ in TARGETS
            ],
        )
        responses = SQLModel.metadata.tables["responses"]
        verdicts = SQLModel.metadata.tables["verdicts"]
        rows: list[dict[str, Any]] = []
        scores: list[dict[str, Any]] = []

        async def flush() -> None:
            async with store.engine.begin() as conn:
                await conn.execute(insert(responses), rows)
                if scores:
                    await conn.execute(insert(verdicts), scores)
            rows.clear()
            scores.clear()

        for row, verdict in generate(items, decodings):
            rows.append(row)
            if verdict is not None:
                scores.append(verdict)
            if len(rows) >= BATCH:
                await flush()
        if rows:
            await flush()
        await store.recount_totals(RUN_ID)  # the rows went in with plain inserts
    finally:
        await store.close()
    return time.perf_counter() - t0


async def report(url: str, out: Path) -> dict[str, Any]:
    """Write the report as ``seval report`` does; returns this process's figures."""
    from gateway.reports.writers import RESULTS_CSV, write_report

    t0 = time.perf_counter()
    await write_report(url, RUN_ID, out)
    seconds = time.perf_counter() - t0
    with (out / RESULTS_CSV).open(encoding="utf-8") as f:
        csv_rows = sum(1 for _ in f) - 1
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "csv_rows": csv_rows,
    }


def main() -> None:
    """Build the store, report on it in a child process, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--decodings", type=int, default=1, help="decoding settings swept per target")
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--out", default=None, help="report folder (default: in the temp dir)")
    parser.add_argument("--report-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        out = Path(args.out) if args.out else Path(tmp) / "report"
        if args.report_only:
            print(json.dumps(asyncio.run(report(url, out))))
            return
        build_seconds = asyncio.run(build(url, args.items, args.decodings))
        child = subprocess.run(
            [sys.executable, __file__, "--report-only", "--db", url, "--out", str(out)],
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        json.dumps(
            {
                "items": args.items,
                "seconds": figures["seconds"],
                "peak_rss_mb": figures["peak_rss_mb"],
                "build_seconds": round(build_seconds, 2),
                "csv_rows": figures["csv_rows"],
                "decodings": args.decodings,
                "dialect": url.split("+", 1)[0].split(":", 1)[0],
            }
        )
    )


if __name__ == "__main__":
    main()
