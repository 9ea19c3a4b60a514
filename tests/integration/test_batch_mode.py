"""`mode: batch` targets end to end through the SDK, against the simulated vendor's batch APIs."""

from __future__ import annotations

from typing import Any

from db import batch_jobs
from db.store import Store
from gateway.config import RunConfig
from simulator import SimulatedVendor

PRICES = {"input_per_1m": 1.0, "output_per_1m": 2.0}


def _config(root: str, db_url: str, *, mode: str, max_wait_s: float = 60.0, name: str = "batch") -> RunConfig:
    batch = {"poll_s": 0.05, "max_items": 7, "max_wait_s": max_wait_s}
    targets: list[dict[str, Any]] = [
        {"name": "gpt", "model": "openai/sim-mixed", "api_base": root + "/v1", "mode": mode, "batch": batch},
        {"name": "claude", "model": "anthropic/sim-cautious", "api_base": root, "mode": mode, "batch": batch},
    ]
    for t in targets:
        t["prices"] = PRICES
    return RunConfig.model_validate(
        {
            "name": name,
            "suites": ["sample"],
            "languages": ["en"],
            "limit": 10,
            "targets": targets,
            "db_url": db_url,
            "critic": {"backend": "rules"},
        }
    )


async def test_batch_run_stores_every_line_at_half_price_and_resends_expired_ones(sqlite_url: str) -> None:
    from gateway.sdk import run

    vendor = SimulatedVendor(batch_seconds=0.1, batch_expire_rate=0.2)
    async with vendor:
        result = await run(_config(vendor.root_url, sqlite_url, mode="batch"))
        streamed = await run(
            _config(vendor.root_url, sqlite_url, mode="online", name="online"), use_cache=False
        )
    assert not vendor.handler_errors
    assert result.status == "completed"
    for target in result.targets:
        assert sum(target.outcomes.values()) == 10
        assert set(target.outcomes) <= {"COMPLETED", "BLOCKED_BY_VENDOR"}  # expired lines were sent again
    # 10 items in jobs of at most 7, then the expired ones again in new jobs; no line twice in one job
    assert vendor.stats.batches_created >= 4
    assert vendor.stats.batch_lines_repeated == vendor.stats.batch_lines - 20
    async with await Store.open(sqlite_url) as store:
        jobs = await batch_jobs.jobs(store, result.run_id)
    assert {j.state for j in jobs} == {batch_jobs.COLLECTED}
    assert {j.vendor_status for j in jobs} <= {"completed", "expired", "ended"}
    # the same answers cost half (prices set, usage reported by the vendor)
    assert abs(result.spent_usd / streamed.spent_usd - 0.5) < 0.05


async def test_a_run_stopped_with_open_jobs_resumes_by_polling(sqlite_url: str) -> None:
    from gateway.sdk import run

    vendor = SimulatedVendor(batch_seconds=1.0)
    async with vendor:
        first = await run(_config(vendor.root_url, sqlite_url, mode="batch", max_wait_s=0.01))
        assert {t.status for t in first.targets} == {"stopped"}
        assert all(not t.outcomes for t in first.targets)
        created = vendor.stats.batches_created
        second = await run(_config(vendor.root_url, sqlite_url, mode="batch"))
    assert not vendor.handler_errors
    assert second.run_id == first.run_id
    assert second.status == "completed"
    assert vendor.stats.batches_created == created == 4  # two jobs per target, none sent again
    assert vendor.stats.batch_lines_repeated == 0
    assert all(sum(t.outcomes.values()) == 10 for t in second.targets)


async def test_a_job_created_before_its_id_was_stored_is_found_not_sent_again(sqlite_url: str) -> None:
    """A session stopped between the vendor creating a job and the store recording its id: the
    next run finds an OpenAI job by its label and waits for it. Anthropic's jobs carry no label, so
    theirs are sent again (the documented limit)."""
    from sqlalchemy import text

    from gateway.sdk import run

    vendor = SimulatedVendor(batch_seconds=1.0)
    async with vendor:
        first = await run(_config(vendor.root_url, sqlite_url, mode="batch", max_wait_s=0.01))
        assert vendor.stats.batches_created == 4  # two jobs per target
        async with await Store.open(sqlite_url) as store, store.engine.begin() as conn:
            await conn.execute(
                text("UPDATE batch_jobs SET state = :s, batch_id = NULL"), {"s": batch_jobs.SUBMITTING}
            )
        second = await run(_config(vendor.root_url, sqlite_url, mode="batch"))
    assert not vendor.handler_errors
    assert second.run_id == first.run_id
    assert second.status == "completed"
    assert all(sum(t.outcomes.values()) == 10 for t in second.targets)
    assert vendor.stats.batches_created == 6  # the two Anthropic jobs again; the OpenAI ones found
    async with await Store.open(sqlite_url) as store:
        jobs = await batch_jobs.jobs(store, first.run_id)
    gpt = [j for j in jobs if j.target == "gpt"]
    assert len(gpt) == 2
    assert {j.state for j in gpt} == {batch_jobs.COLLECTED}
    assert all(j.batch_id for j in gpt)


async def test_estimate_shows_the_batch_saving_and_runs_show_the_jobs(sqlite_url: str) -> None:
    from gateway.cli.run_cmd import _show
    from gateway.estimate import estimate
    from gateway.sdk import run

    online = await estimate(_config("http://127.0.0.1:9", sqlite_url, mode="online"))
    batch = await estimate(_config("http://127.0.0.1:9", sqlite_url, mode="batch"))
    for o, b in zip(online.targets, batch.targets, strict=True):
        assert o.cost_usd is not None
        assert b.cost_usd is not None
        assert b.cost_usd == b.batch_saving_usd == o.cost_usd / 2
        assert o.batch_saving_usd is None
    vendor = SimulatedVendor(batch_seconds=0.1)
    async with vendor:
        result = await run(_config(vendor.root_url, sqlite_url, mode="batch"))
    shown, _reasons, _usage, jobs, _workers, _shards = await _show(result.run_id, sqlite_url)
    assert shown.run_id == result.run_id
    assert sorted((j.target, j.items, j.state) for j in jobs) == [
        ("claude", 3, "collected"),
        ("claude", 7, "collected"),
        ("gpt", 3, "collected"),
        ("gpt", 7, "collected"),
    ]
