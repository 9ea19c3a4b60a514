"""Crash safety: a 10,000-item run killed with SIGKILL at 5 random moments and resumed each time.

``seval run`` runs in a subprocess against the simulated vendor (a child process that counts every
request). At 5 random points of progress the run is killed with SIGKILL and started again with the
same config; the sixth session runs to the end. Then the store and the vendor's counters say
whether anything was stored twice, lost, or sent more often than needed.

Run: ``python bench/resume.py [--items 10000] [--kills 5] [--seed N]``. Ends with one JSON line:
``{"items", "kills", "sessions", "killed_at_stored", "distinct_responses", "completed", "duplicates",
"lost", "extra_vendor_calls"}``
(targets: duplicates 0, lost 0). ``extra_vendor_calls`` are requests whose answers were in flight or
not yet flushed to the store when a kill landed; they are sent again on resume.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
from pathlib import Path

import yaml
from gateway_common import run_config, write_suite

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def stored_count(db: Path) -> int:
    """Responses stored so far (0 before the schema exists)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return int(conn.execute("SELECT count(*) FROM responses").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


async def start(config: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "SEVAL_LOG_LEVEL": "WARNING", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from gateway.cli import main; main()",
        "run",
        str(config),
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    items: int = args.items
    rng = random.Random(args.seed)
    # Random moments, as points of progress (so every kill lands while the run is sending).
    marks = sorted(rng.uniform(0.03, 0.95) * items for _ in range(args.kills))

    from simulator import SimulatedVendorProcess

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        suite = write_suite(tmp / "suite.jsonl", items)
        db = tmp / "resume.db"
        vendor = SimulatedVendorProcess(latency_ms=20)
        async with vendor as base_url:
            config = tmp / "run.yaml"
            spec = run_config(name="resume", suite=suite, db=db, base_url=base_url, adapter="openai")
            config.write_text(yaml.safe_dump(spec), encoding="utf-8")
            killed_at: list[int] = []
            for mark in marks:
                proc = await start(config)
                while (n := await asyncio.to_thread(stored_count, db)) < mark and proc.returncode is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
                if proc.returncode is not None:
                    err = (await proc.stderr.read()).decode(errors="replace") if proc.stderr else ""
                    raise SystemExit(f"run ended before the kill at {mark:.0f}: {err[-1000:]}")
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
                killed_at.append(n)
                print(f"killed with {n} responses stored", flush=True)
            proc = await start(config)
            _, err_bytes = await proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(
                    f"final session failed ({proc.returncode}): {err_bytes.decode(errors='replace')[-2000:]}"
                )
            stats = await vendor.stats()

        with sqlite3.connect(db) as conn:
            total = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
            distinct = conn.execute("SELECT count(DISTINCT work_key) FROM responses").fetchone()[0]
            # the same planned item stored under two keys would be a duplicate too
            same_item = conn.execute(
                "SELECT count(*) FROM (SELECT case_id, target, decoding_key, sample_index FROM responses "
                "GROUP BY case_id, target, decoding_key, sample_index HAVING count(*) > 1)"
            ).fetchone()[0]
            completed = conn.execute("SELECT count(*) FROM responses WHERE outcome = 'COMPLETED'").fetchone()[
                0
            ]
    summary = {
        "items": items,
        "kills": len(killed_at),
        "sessions": len(killed_at) + 1,
        "killed_at_stored": killed_at,
        "distinct_responses": int(distinct),
        "completed": int(completed),
        "duplicates": int(total - distinct + same_item),
        "lost": int(items - distinct),
        "extra_vendor_calls": int(stats["requests"]) - items,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
