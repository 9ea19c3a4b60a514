"""Batch mode: 10,000 items through the simulated OpenAI Batch API, the run killed mid-way and resumed.

``seval run`` runs a `mode: batch` target in a subprocess against the simulated vendor (a child
process with a compressed completion window). Once every job is created the run is killed with
SIGKILL while it polls; a second session resumes it. Then the vendor's counters and the store say
whether a line was submitted twice, lost or stored twice, and what the answers cost against the
streaming price of the same tokens (the baseline, computed from the same stored usage).

Run: ``python bench/batch.py [--items 10000] [--per-batch 2000] [--window-s 4]``. Ends with one
JSON line: ``{"items", "batches", "lost", "duplicates", "resubmitted_after_kill",
"batches_created_after_kill", "cost_over_streaming", "completed", "sessions", "wall_s"}``
(targets: lost 0, duplicates 0, resubmitted_after_kill 0, cost_over_streaming <= 0.5).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sqlite3
import tempfile
import time
from pathlib import Path

import yaml
from gateway_common import run_config, start_seval_run, write_suite

PRICES = {"input_per_1m": 0.5, "output_per_1m": 1.5}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--per-batch", type=int, default=2_000)
    parser.add_argument("--window-s", type=float, default=4.0)
    args = parser.parse_args()
    items: int = args.items
    jobs = -(-items // args.per_batch)

    from simulator import SimulatedVendorProcess

    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        suite = write_suite(tmp / "suite.jsonl", items)
        db = tmp / "batch.db"
        vendor = SimulatedVendorProcess(batch_seconds=args.window_s, record_prompts=False)
        async with vendor as base_url:
            spec = run_config(name="batch", suite=suite, db=db, base_url=base_url, adapter="openai")
            spec["targets"][0].update(
                mode="batch", prices=PRICES, batch={"max_items": args.per_batch, "poll_s": 0.5}
            )
            config = tmp / "run.yaml"
            config.write_text(yaml.safe_dump(spec), encoding="utf-8")
            proc = await start_seval_run(config)
            while (await vendor.stats())["batches_created"] < jobs and proc.returncode is None:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            if proc.returncode is not None:
                err = (await proc.stderr.read()).decode(errors="replace") if proc.stderr else ""
                raise SystemExit(f"run ended before the kill: {err[-1000:]}")
            proc.send_signal(signal.SIGKILL)  # every job created, none ended: the run is polling
            await proc.wait()
            created_before_kill = (await vendor.stats())["batches_created"]
            proc = await start_seval_run(config)
            _, err_bytes = await proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"resumed session failed ({proc.returncode}): {err_bytes.decode()[-2000:]}")
            stats = await vendor.stats()

        with sqlite3.connect(db) as conn:
            total, distinct, cost, prompt, completion = conn.execute(
                "SELECT count(*), count(DISTINCT work_key), sum(cost_usd), sum(prompt_tokens), "
                "sum(completion_tokens) FROM responses"
            ).fetchone()
            completed = conn.execute("SELECT count(*) FROM responses WHERE outcome = 'COMPLETED'").fetchone()[
                0
            ]
    streaming = prompt * PRICES["input_per_1m"] / 1e6 + completion * PRICES["output_per_1m"] / 1e6
    summary = {
        "items": items,
        "batches": int(stats["batches_created"]),
        "lost": int(items - distinct),
        "duplicates": int(total - distinct),
        # every line was in a created job before the kill: any line the vendor saw again was resubmitted
        "resubmitted_after_kill": int(stats["batch_lines_repeated"]),
        "batches_created_after_kill": int(stats["batches_created"]) - created_before_kill,
        "cost_over_streaming": round(float(cost) / streaming, 4) if streaming else None,
        "completed": int(completed),
        "sessions": 2,
        "wall_s": round(time.monotonic() - began, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
