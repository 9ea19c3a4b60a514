"""Rerunning a run fills its holes: items stored as FAILED_TRANSIENT or INCOMPLETE are sent again,
final answers never are, and ``--no-retry-failed`` / ``retry_failed=False`` keeps the old rows.

The first session talks to a simulated vendor that faults about half of the requests (503s and
streams cut after the first chunk) with one attempt per item, so faults are stored as they are.
The vendor then comes back healthy on the same port (the endpoint is part of the run id), and the
request counters of that second vendor show exactly what each rerun sent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import seval
from sqlalchemy import select

from db.store import Store
from db.tables import CaseRow, ResponseRow, VerdictRow
from gateway.config import RunConfig
from gateway.critic_stage import CriticStats
from gateway.dispatch import TargetStats
from gateway.sdk import run
from simulator import SimulatedVendor

pytestmark = pytest.mark.filterwarnings(
    "ignore:Accessing the '.*' attribute on the instance is deprecated:DeprecationWarning"
)

ONE_ATTEMPT = {"max_attempts": 1, "initial_wait_s": 0.01, "max_wait_s": 0.05, "deadline_s": 30}
RETRYABLE = {"FAILED_TRANSIENT", "INCOMPLETE"}


def spec(db_url: str, url: str) -> dict[str, Any]:
    limits = {"max_in_flight": 4}
    return {
        "name": "retry-failed",
        "suites": ["sample"],
        "languages": ["en"],
        "limit": 12,
        "targets": [
            {"name": "m", "model": "sim-mixed", "api_base": url, "limits": limits},
            {"name": "filtered", "model": "sim-fault/content_filter", "api_base": url, "limits": limits},
            {"name": "bad", "model": "sim-fault/bad_request", "api_base": url, "limits": limits},
        ],
        "retry": ONE_ATTEMPT,
        "db_url": db_url,
        "critic": {"backend": "rules"},
    }


class RecordingProgress:
    """A progress sink that keeps the live counters, to check the totals it would show."""

    def __init__(self) -> None:
        self.stats: Mapping[str, TargetStats] = {}

    def start(self, run_id: str, stats: Mapping[str, TargetStats], critic: CriticStats | None) -> None:
        self.stats = stats

    async def stop(self) -> None:
        return None


async def stored(db_url: str, run_id: str) -> dict[str, tuple[str, str, int, str]]:
    """Work key -> (target, outcome, attempts, prompt text) of every stored response."""
    store = await Store.open(db_url)
    try:
        r, c = ResponseRow.__table__.c, CaseRow.__table__.c  # type: ignore[attr-defined]
        query = (
            select(r.work_key, r.target, r.outcome, r.attempts, c.text)
            .select_from(ResponseRow.__table__.join(CaseRow.__table__, c.id == r.case_id))  # type: ignore[attr-defined]
            .where(r.run_id == run_id)
        )
        async with store.engine.connect() as conn:
            return {row[0]: (row[1], row[2], row[3], row[4]) for row in (await conn.execute(query)).all()}
    finally:
        await store.close()


async def scored_keys(db_url: str, run_id: str) -> set[str]:
    store = await Store.open(db_url)
    try:
        v = VerdictRow.__table__.c  # type: ignore[attr-defined]
        async with store.engine.connect() as conn:
            query = select(v.work_key).where(v.run_id == run_id, v.status == "SCORED")
            return set((await conn.scalars(query)).all())
    finally:
        await store.close()


async def test_rerun_resends_only_transient_and_incomplete_items(db_url: str, tmp_path: Path) -> None:
    flaky = SimulatedVendor(transient_fault_rate=0.5, transient_faults=("http_503", "cut_after_first_chunk"))
    url = await flaky.start()
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    try:
        data = spec(db_url, url)
        cfg = RunConfig.model_validate(data)
        first = await run(cfg)
    finally:
        await flaky.close()
    assert not flaky.handler_errors
    assert first.status == "completed"
    rows = await stored(db_url, first.run_id)
    m_outcomes = Counter(outcome for target, outcome, _, _ in rows.values() if target == "m")
    # The vendor's faults are deterministic: both kinds of hole and real answers are present.
    assert m_outcomes["FAILED_TRANSIENT"] >= 1
    assert m_outcomes["INCOMPLETE"] >= 1
    assert m_outcomes["COMPLETED"] >= 1
    assert first.target("filtered").outcomes == {"BLOCKED_BY_VENDOR": 12}
    assert first.target("bad").outcomes == {"FAILED_PERMANENT": 12}
    holes = {key for key, (_, outcome, _, _) in rows.items() if outcome in RETRYABLE}
    assert {rows[k][0] for k in holes} == {"m"}
    assert await scored_keys(db_url, first.run_id) == {k for k, row in rows.items() if row[1] == "COMPLETED"}

    healthy = SimulatedVendor()
    assert await healthy.start(port) == url
    try:
        # --no-retry-failed: nothing is sent, the holes stay as they are.
        config_file = tmp_path / "run.yaml"
        config_file.write_text(yaml.safe_dump(data))
        kept = await asyncio.to_thread(seval, "run", str(config_file), "--no-retry-failed", timeout=180)
        assert kept.returncode == 0, kept.stdout + kept.stderr
        assert first.run_id in kept.stdout
        assert healthy.stats.requests == 0
        assert await stored(db_url, first.run_id) == rows

        # Default: each hole is sent once more and filled; nothing else is sent.
        progress = RecordingProgress()
        second = await run(cfg, progress=progress)
        assert healthy.stats.requests == len(holes)
        assert Counter(healthy.stats.prompts()) == Counter(rows[k][3] for k in holes)
        assert healthy.stats.by_model == {"sim-mixed": len(holes)}

        # A third run owes nothing.
        third = await run(cfg)
        assert healthy.stats.requests == len(holes)
    finally:
        await healthy.close()
    assert not healthy.handler_errors

    assert second.run_id == first.run_id
    assert second.status == "completed"
    after = await stored(db_url, first.run_id)
    assert set(after) == set(rows)  # one row per work key, still
    for key, (target, outcome, attempts, text) in after.items():
        if key in holes:
            assert (target, outcome, attempts, text) == ("m", "COMPLETED", 2, rows[key][3])
        else:
            assert (target, outcome, attempts, text) == rows[key]
    assert second.target("m").outcomes == {"COMPLETED": 12}
    assert second.target("filtered").outcomes == {"BLOCKED_BY_VENDOR": 12}
    assert second.target("bad").outcomes == {"FAILED_PERMANENT": 12}
    # Every filled hole was judged by the critic; planned counts and progress totals add up.
    assert await scored_keys(db_url, first.run_id) == {k for k, row in after.items() if row[0] == "m"}
    assert {t.planned for t in second.targets} == {12}
    m = progress.stats["m"]
    assert (m.planned, m.already_done, m.stored, m.done) == (12, 12 - len(holes), len(holes), 12)
    assert (progress.stats["filtered"].already_done, progress.stats["filtered"].stored) == (12, 0)
    assert third.target("m").outcomes == {"COMPLETED": 12}
