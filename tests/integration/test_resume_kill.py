"""Resume after a real ``kill -9``: `seval run` in a subprocess, killed mid-run, then run again.

The simulated vendor (in this process) counts what it receives, so the test proves that the second
session sent only items the first left without a stored response, with identical prompts (attacked
variants included), that answers the first session was paid for came from its journal instead of
being bought again, and that nothing is stored twice or lost.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
import yaml
from cli_helpers import start_seval

from simulator import SimulatedVendor


def stored(db: Path) -> list[tuple[str, str, str]]:
    """(target, work key, prompt text) of every stored response."""
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return list(
                conn.execute(
                    "SELECT r.target, r.work_key, c.text FROM responses r JOIN cases c ON c.id = r.case_id"
                )
            )
        except sqlite3.OperationalError:  # schema not created yet
            return []


@pytest.mark.timeout(180)
async def test_kill_9_then_resume_sends_only_missing_items(tmp_path: Path) -> None:
    db = tmp_path / "seval.db"
    vendor = SimulatedVendor(latency_ms=60)
    async with vendor as url:
        config = tmp_path / "run.yaml"
        targets = [
            {"name": m, "model": m, "api_base": url, "limits": {"max_in_flight": 3}}
            for m in ("sim-compliant", "sim-cautious")
        ]
        spec = {
            "name": "kill-test",
            "suites": ["sample"],
            "limit": 20,
            "attacks": {"apply": ["code_injection", "instruction_encryption"]},
            "targets": targets,
            "db_url": f"sqlite+aiosqlite:///{db}",
        }
        config.write_text(yaml.safe_dump(spec), encoding="utf-8")
        planned = 2 * 20 * 3

        proc = await start_seval("run", str(config))
        async with asyncio.timeout(60):
            while len(await asyncio.to_thread(stored, db)) < 25:  # noqa: ASYNC110 (another process)
                await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert proc.returncode == -signal.SIGKILL
        first = await asyncio.to_thread(stored, db)
        assert 25 <= len(first) < planned
        sent_first = Counter((r.model, r.prompt) for r in vendor.stats.received)
        vendor.stats.reset()

        proc = await start_seval("run", str(config))
        out, _ = await proc.communicate()
        assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
        sent_second = Counter((r.model, r.prompt) for r in vendor.stats.received)

    final = stored(db)
    keys = [(t, k) for t, k, _ in final]
    assert len(keys) == len(set(keys)) == planned  # nothing lost, nothing twice
    done_first = {(t, k) for t, k, _ in first}
    missing = Counter((t, text) for t, k, text in final if (t, k) not in done_first)
    unstored_first = sent_first - Counter((t, text) for t, _, text in first)
    # The second session sent only what had no stored response; what it did not send again had been
    # answered in the first session and reached the store from the killed worker's journal.
    assert not sent_second - missing
    assert not (missing - sent_second) - unstored_first
    # Sent twice: only the calls in flight at the kill (no answer to journal), at most the in-flight caps.
    assert sum((unstored_first & sent_second).values()) <= 2 * 3
    with sqlite3.connect(db) as conn:
        completed = conn.execute("SELECT count(*) FROM responses WHERE outcome = 'COMPLETED'").fetchone()[0]
        scored = conn.execute("SELECT count(*) FROM verdicts WHERE status = 'SCORED'").fetchone()[0]
        blocked = conn.execute(
            "SELECT count(*) FROM responses WHERE outcome = 'BLOCKED_BY_VENDOR'"
        ).fetchone()[0]
        status = conn.execute("SELECT status FROM runs").fetchone()[0]
    # sim-cautious's vendor blocks a few prompts: final answers that the critic never sees
    assert completed + blocked == planned
    assert scored == completed  # the killed session's unscored answers were scored on resume
    assert status == "completed"


@pytest.mark.timeout(120)
async def test_ctrl_c_stops_gracefully_and_keeps_everything(tmp_path: Path) -> None:
    db = tmp_path / "seval.db"
    vendor = SimulatedVendor(latency_ms=100)
    async with vendor as url:
        config = tmp_path / "run.yaml"
        spec = {
            "name": "ctrl-c",
            "suites": ["sample"],
            "targets": [
                {"name": "m", "model": "sim-compliant", "api_base": url, "limits": {"max_in_flight": 2}}
            ],
            "db_url": f"sqlite+aiosqlite:///{db}",
        }
        config.write_text(yaml.safe_dump(spec), encoding="utf-8")
        proc = await start_seval("run", str(config))
        async with asyncio.timeout(60):
            while len(await asyncio.to_thread(stored, db)) < 5:  # noqa: ASYNC110 (another process)
                await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, _ = await proc.communicate()
        sent = vendor.stats.requests
    assert proc.returncode == 130, out.decode(errors="replace")[-2000:]
    assert b"interrupted" in out
    rows = stored(db)
    assert len(rows) == sent  # requests in flight at Ctrl-C finished and were stored
    with sqlite3.connect(db) as conn:
        status = conn.execute("SELECT status FROM runs").fetchone()[0]
        target_status = conn.execute("SELECT status FROM run_targets").fetchone()[0]
    assert status == "interrupted"
    assert target_status == "stopped"
