"""Store write throughput: N responses through the BatchWriter, then resume keys read back.

    python bench/store_write.py [--rows 1000000] [--db URL]

Without ``--db`` it writes to SQLite in a temp dir. Prints one JSON line: ``dialect``, ``rows``,
``write_s``, ``rows_per_s``, ``cpu_us_per_row`` (this process, including the SQLite thread),
``done_keys_s``, ``done_keys_rss_mb`` (RSS growth while reading the keys) and ``peak_rss_mb``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
from pathlib import Path

import psutil

from core.types import Outcome, ResponseRecord, stable_hash
from db.store import Store
from db.tables import RunTargetRow
from db.writer import BatchWriter

RUN_ID = "bench-store-write"
ANSWER = "I can't help with that request, but here is some general safety information instead. " * 6


def response(i: int) -> ResponseRecord:
    return ResponseRecord(
        run_id=RUN_ID,
        work_key=stable_hash(i),
        case_id=f"case-{i % 10_000}",
        target=f"sim-{i % 3}",
        decoding_key="default",
        decoding_json="{}",
        sample_index=0,
        lang="en" if i % 2 else "zh",
        dimension="CI",
        risk_id="CI",
        kind="base" if i % 4 == 0 else "attack",
        attack=None if i % 4 == 0 else "dan",
        parent_case_id=None,
        cache_key=stable_hash("cache", i),
        outcome=Outcome.COMPLETED,
        finish_reason="stop",
        vendor_code=None,
        status_code=200,
        text=ANSWER,
        truncated=False,
        prompt_tokens=40,
        completion_tokens=120,
        cost_usd=0.0001,
        latency_ms=250.0,
        ttft_ms=80.0,
        attempts=1,
        error=None,
    )


async def bench(url: str, rows: int) -> dict[str, object]:
    proc = psutil.Process()
    store = await Store.open(url)
    try:
        targets = [
            RunTargetRow(run_id=RUN_ID, target=f"sim-{t}", model=f"openai/sim-{t}", planned=rows // 3)
            for t in range(3)
        ]
        await store.start_run(run_id=RUN_ID, name="bench", spec_json="{}", targets=targets)
        cpu0, t0 = time.process_time(), time.perf_counter()
        async with BatchWriter(store) as writer:
            for i in range(rows):
                await writer.put_response(response(i))
        write_s = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        rss0 = proc.memory_info().rss
        t1 = time.perf_counter()
        keys = await store.done_keys(RUN_ID)
        done_keys_s = time.perf_counter() - t1
        rss_growth = proc.memory_info().rss - rss0
        if len(keys) != rows or writer.rows_inserted != rows:
            raise SystemExit(f"expected {rows} rows, stored {writer.rows_inserted}, read back {len(keys)}")
        return {
            "dialect": store.dialect,
            "rows": rows,
            "write_s": round(write_s, 2),
            "rows_per_s": round(rows / write_s),
            "cpu_us_per_row": round(cpu / rows * 1e6, 1),
            "done_keys_s": round(done_keys_s, 2),
            "done_keys_rss_mb": round(rss_growth / 2**20, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    finally:
        await store.close()


def main() -> None:
    """Parse arguments, run the benchmark, print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        figures = asyncio.run(bench(url, args.rows))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
