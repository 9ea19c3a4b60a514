"""A run whose SQLite store stays locked past the busy timeout pauses, then finishes: no failed run,
nothing sent twice, nothing lost.

Another connection holds the write lock (``BEGIN IMMEDIATE``) in the middle of a run while the busy
timeout is cut to 50 ms, so every write the run tries meanwhile (responses, cases of the next shard,
shard claims) times out many times over before the lock goes.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

import db.engine
from adapters.scripted import Reply, ScriptedAdapter
from db.store import Store
from gateway.config import RunConfig
from gateway.pipeline import Wiring, execute
from gateway.run_results import RunStatus
from gateway.shards import WorkerOptions

ITEMS = 1000  # four shards: the run claims and saves new shards while the lock is held


def write_suite(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(ITEMS):
            row = {
                "traceid": f"stall-{i}",
                "risk_type": "Cybersecurity",
                "prompt": f"Stalled store prompt {i}: say something short.",
                "ext": json.dumps({"model": "base_risk"}),
            }
            out.write(json.dumps(row) + "\n")
    return path


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM responses").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0


@pytest.mark.timeout(120)
@pytest.mark.parametrize("capped", [False, True], ids=["uncapped", "budget-capped"])
async def test_a_lock_held_past_the_busy_timeout_pauses_the_run_instead_of_failing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capped: bool
) -> None:
    monkeypatch.setattr(db.engine, "SQLITE_BUSY_TIMEOUT_MS", 50)
    db_file = tmp_path / "seval.db"
    cfg = RunConfig.model_validate(
        {
            "name": "stall",
            "suites": [str(write_suite(tmp_path / "suite.jsonl"))],
            "languages": ["en"],
            "kinds": ["base"],
            "targets": [
                {
                    "name": "m",
                    "model": "scripted/m",
                    "adapter": "scripted",
                    "limits": {"max_in_flight": 4},
                    "prices": {"input_per_1m": 1.0, "output_per_1m": 2.0},
                }
            ],
            # A cap far above the run's cost: every item reserves and settles in the store's ledger.
            **({"budget": {"max_usd": 1000.0}} if capped else {}),
            "db_url": f"sqlite+aiosqlite:///{db_file}",
            "critic": {"enabled": False},
        }
    )
    adapter = ScriptedAdapter(replies=[Reply(text="Sure.", latency_s=0.01)])
    store = await Store.open(cfg.db_url)
    try:
        run = asyncio.create_task(
            execute(
                cfg,
                Wiring(store=store, adapters={"m": adapter}),
                workers=WorkerOptions(journal_dir=tmp_path / "journal"),
            )
        )
        async with asyncio.timeout(30):
            while await asyncio.to_thread(stored, db_file) < 50:  # noqa: ASYNC110 (another connection)
                await asyncio.sleep(0.01)
        lock = sqlite3.connect(db_file, timeout=10, isolation_level=None, check_same_thread=False)
        await asyncio.to_thread(lock.execute, "BEGIN IMMEDIATE")
        try:
            await asyncio.sleep(1.5)
            assert not run.done(), "the run ended while its store was locked"
        finally:
            await asyncio.to_thread(lock.execute, "ROLLBACK")
            lock.close()
        result = await asyncio.wait_for(run, 60)
    finally:
        await store.close()
    assert result.status == RunStatus.COMPLETED
    assert stored(db_file) == ITEMS
    assert len(adapter.requests) == ITEMS  # nothing sent twice
    assert not (tmp_path / "journal").exists() or not any((tmp_path / "journal").rglob("*.jsonl"))
