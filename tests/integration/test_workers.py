"""Several real ``seval run`` processes on one run, against one simulated vendor in this process.

Each test starts worker processes as a user would (``seval run CONFIG`` on one Postgres database, or
one SQLite file), with a generated generic JSONL suite big enough for several shards (a shard is a
block of 256 source cases), and checks what the vendor received against what the store holds:
every item sent by exactly one worker, a killed worker's shards taken over, a second process on
SQLite refused, one budget and one rate limit shared by every worker.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from cli_helpers import seval, start_seval

from simulator import SimulatedVendor

SHARD_CASES = 256


def write_suite(path: Path, items: int) -> Path:
    """A generic JSONL suite of ``items`` distinct placeholder prompts (read with a column mapping)."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(items):
            out.write(json.dumps({"question": f"Placeholder prompt {i}: reply with one word.", "cat": "CI"}))
            out.write("\n")
    return path


def write_config(tmp: Path, *, db_url: str, base_url: str, items: int, in_flight: int, **extra: Any) -> Path:
    """A run config with one simulated target (no critic, no cache) over a fresh generic suite."""
    suite = write_suite(tmp / "suite.jsonl", items)
    target: dict[str, Any] = {
        "name": "sim",
        "model": "sim-compliant",
        "api_base": base_url,
        "limits": {"max_in_flight": in_flight, **extra.pop("limits", {})},
        "prices": extra.pop("prices", {"input_per_1m": 0.5, "output_per_1m": 1.5}),
    }
    spec = {
        "name": "workers",
        "suites": [str(suite)],
        "mapping": "text=question,risk=cat,lang:=en",
        "targets": [target],
        "critic": {"enabled": False},
        "cache": False,
        "db_url": db_url,
        **extra,
    }
    config = tmp / "run.yaml"
    config.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return config


@asynccontextmanager
async def pg(url: str) -> AsyncIterator[Any]:
    """An asyncpg connection to the test's own schema of the real Postgres."""
    import asyncpg

    parts = urlsplit(url)
    schema = parse_qs(parts.query)["search_path"][0]
    dsn = parts._replace(scheme="postgresql", query="").geturl()
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        yield conn
    finally:
        await conn.close()


async def pg_value(url: str, sql: str) -> Any:
    """One value from the test's schema; None while the tables do not exist yet."""
    import asyncpg

    async with pg(url) as conn:
        try:
            return await conn.fetchval(sql)
        except asyncpg.UndefinedTableError:
            return None


async def start_workers(n: int, config: Path, *args: str) -> list[asyncio.subprocess.Process]:
    """``n`` ``seval run`` processes on ``config``, started at once."""
    return list(await asyncio.gather(*(start_seval("run", str(config), *args) for _ in range(n))))


async def finish(procs: Sequence[asyncio.subprocess.Process]) -> list[tuple[int | None, str]]:
    """Wait for every process: (exit code, output)."""
    outs = await asyncio.gather(*(p.communicate() for p in procs))
    return [(p.returncode, out.decode(errors="replace")) for p, (out, _) in zip(procs, outs, strict=True)]


async def shard_holder(url: str, *, stored: int = 150) -> int:
    """The pid of a worker holding a shard, once ``stored`` answers are in the store."""
    holder_sql = (
        "SELECT w.pid FROM run_shards s JOIN run_workers w USING (run_id, worker_id) "
        "WHERE s.state = 'held' AND s.shard >= 0 ORDER BY w.pid LIMIT 1"
    )
    async with asyncio.timeout(60):
        while (await pg_value(url, "SELECT count(*) FROM responses") or 0) < stored:  # noqa: ASYNC110 (another process)
            await asyncio.sleep(0.05)
        while (pid := await pg_value(url, holder_sql)) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return int(pid)


def assert_each_sent_once(vendor: SimulatedVendor, items: int) -> None:
    """The vendor received every item's prompt exactly once."""
    prompts = Counter(vendor.stats.prompts())
    assert len(prompts) == items
    assert [p for p, n in prompts.items() if n > 1] == []
    assert vendor.stats.requests == items


@pytest.mark.timeout(150)
async def test_three_workers_send_each_item_once(postgres_url: str, tmp_path: Path) -> None:
    # 12 shards, the last one short: more than one worker queues ahead (about 6 shards), so the
    # workers really race for them.
    shards = 12
    items = shards * SHARD_CASES - 80
    vendor = SimulatedVendor(latency_ms=20)
    async with vendor as url:
        config = write_config(tmp_path, db_url=postgres_url, base_url=url, items=items, in_flight=8)
        procs = await start_workers(3, config, "--journal-dir", str(tmp_path / "journal"))
        results = await finish(procs)
        for code, out in results:
            assert code == 0, out[-2000:]
        assert_each_sent_once(vendor, items)
    assert vendor.handler_errors == []
    async with pg(postgres_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM responses WHERE outcome = 'COMPLETED'") == items
        assert await conn.fetchval("SELECT count(DISTINCT work_key) FROM responses") == items
        assert await conn.fetchval("SELECT status FROM runs") == "completed"
        rows = await conn.fetch("SELECT * FROM run_shards WHERE shard >= 0 ORDER BY shard")
        workers = await conn.fetch("SELECT pid, state FROM run_workers")
    assert [(r["shard"], r["state"], r["claims"]) for r in rows] == [(n, "done", 1) for n in range(shards)]
    assert sum(r["cases"] for r in rows) == items
    assert len({r["worker_id"] for r in rows}) >= 2  # the work was shared
    assert sorted(w["pid"] for w in workers) == sorted(p.pid for p in procs)
    assert {w["state"] for w in workers} == {"finished"}
    show = await asyncio.to_thread(seval, "runs", "show", "workers", "--db", postgres_url)
    assert show.returncode == 0, show.stderr
    assert f"shards: {shards} done, 0 held" in show.stdout
    assert sum(f"pid {p.pid} " in show.stdout for p in procs) == 3


@pytest.mark.timeout(150)
async def test_a_killed_workers_shards_are_taken_over(postgres_url: str, tmp_path: Path) -> None:
    items, in_flight = 6 * SHARD_CASES, 4
    vendor = SimulatedVendor(latency_ms=60)
    async with vendor as url:
        config = write_config(tmp_path, db_url=postgres_url, base_url=url, items=items, in_flight=in_flight)
        # A lease long enough that no live worker misses it on a loaded CI machine (a worker whose
        # renewals stall for a whole lease is taken for dead and its shard sent twice), short enough to
        # take the killed worker's shards over within seconds.
        procs = await start_workers(3, config, "--journal-dir", str(tmp_path / "journal"), "--lease-s", "8")
        by_pid = {p.pid: p for p in procs}
        victim = await shard_holder(postgres_url)
        by_pid[victim].send_signal(signal.SIGKILL)
        await by_pid[victim].wait()
        results = await finish([p for p in procs if p.pid != victim])
        for code, out in results:
            assert code == 0, out[-2000:]
        sent = Counter(vendor.stats.prompts())
    async with pg(postgres_url) as conn:
        assert await conn.fetchval("SELECT count(DISTINCT work_key) FROM responses") == items  # none lost
        assert await conn.fetchval("SELECT count(*) FROM responses") == items  # none twice
        assert await conn.fetchval("SELECT status FROM runs") == "completed"
        reclaimed = await conn.fetchval("SELECT sum(claims - 1) FROM run_shards WHERE shard >= 0")
        states = await conn.fetch("SELECT DISTINCT state FROM run_shards")
        dead = await conn.fetchval("SELECT state FROM run_workers WHERE pid = $1", victim)
    assert reclaimed > 0
    assert [s["state"] for s in states] == ["done"]
    assert dead == "dead"
    assert len(sent) == items
    # Sent twice at most what the killed worker had in flight: an answer it received was journaled
    # (flushed to the kernel, so kill -9 keeps it) or stored before anything else, and whoever takes
    # over its shards imports that journal before sending; only calls still waiting on the vendor at
    # the kill have no answer anywhere, and the killed worker never had more than its cap of those.
    assert sum(sent.values()) - items <= in_flight


@pytest.mark.timeout(150)
async def test_a_stalled_worker_leaves_the_shards_it_lost(postgres_url: str, tmp_path: Path) -> None:
    """SIGSTOP a worker holding shards until the other takes them over, then SIGCONT it: it must find
    out at once that they are no longer its own and not send their remaining items a second time."""
    items, in_flight = 6 * SHARD_CASES, 4
    vendor = SimulatedVendor(latency_ms=60)
    async with vendor as url:
        config = write_config(tmp_path, db_url=postgres_url, base_url=url, items=items, in_flight=in_flight)
        procs = await start_workers(2, config, "--journal-dir", str(tmp_path / "journal"), "--lease-s", "6")
        by_pid = {p.pid: p for p in procs}
        victim = await shard_holder(postgres_url)
        by_pid[victim].send_signal(signal.SIGSTOP)
        try:
            # Resume it once the other worker has taken its shards over and finished its own, so both
            # would be sending the same shards from then on.
            taken = (
                "SELECT count(*) FILTER (WHERE claims > 1) > 0 AND count(*) FILTER (WHERE state = 'done' "
                "OR claims > 1) = 6 FROM run_shards WHERE shard >= 0"
            )
            async with asyncio.timeout(90):
                while not await pg_value(postgres_url, taken):  # noqa: ASYNC110 (another process)
                    await asyncio.sleep(0.1)
        finally:
            by_pid[victim].send_signal(signal.SIGCONT)
        results = await finish(procs)
        for code, out in results:
            assert code == 0, out[-2000:]
        sent = Counter(vendor.stats.prompts())
    assert "lease lost" in dict(zip(by_pid, (out for _c, out in results), strict=True))[victim]
    async with pg(postgres_url) as conn:
        assert await conn.fetchval("SELECT count(DISTINCT work_key) FROM responses") == items
        assert await conn.fetchval("SELECT count(*) FROM responses") == items
        assert await conn.fetchval("SELECT status FROM runs") == "completed"
    assert len(sent) == items
    # Sent twice: calls in flight at the stop and answers still waiting for a writer flush (0.2 s, about
    # 13 answers here), which the other worker could not see. Without the lease check the resumed
    # worker went on sending the rest of the shard it had lost: about 180 calls twice.
    assert sum(sent.values()) - items <= in_flight + 24


@pytest.mark.timeout(120)
async def test_sqlite_refuses_a_second_live_worker(tmp_path: Path) -> None:
    db = tmp_path / "seval.db"
    items = 300
    vendor = SimulatedVendor(latency_ms=50)
    async with vendor as url:
        config = write_config(
            tmp_path, db_url=f"sqlite+aiosqlite:///{db}", base_url=url, items=items, in_flight=2
        )
        first = await start_seval("run", str(config))

        def stored() -> int:
            try:
                with sqlite3.connect(db) as conn:
                    return int(conn.execute("SELECT count(*) FROM responses").fetchone()[0])
            except sqlite3.OperationalError:  # no file or schema yet
                return 0

        async with asyncio.timeout(60):
            while await asyncio.to_thread(stored) < 5:  # noqa: ASYNC110 (another process)
                await asyncio.sleep(0.05)
        second = await asyncio.to_thread(seval, "run", str(config), timeout=60)
        first_running = first.returncode is None
        assert first_running  # refused while the first was still sending
        assert second.returncode != 0
        assert f"pid {first.pid} on " in second.stderr
        assert "SQLite cannot share a run" in second.stderr
        sent_while_refused = vendor.stats.requests
        first.send_signal(signal.SIGINT)
        out, _ = await first.communicate()
        assert first.returncode == 130, out.decode(errors="replace")[-2000:]
        assert sent_while_refused < items
        # Once the first has stopped, the same command runs and finishes the run.
        third = await asyncio.to_thread(seval, "run", str(config), timeout=90)
        assert third.returncode == 0, third.stderr[-2000:]
        assert_each_sent_once(vendor, items)


@pytest.mark.timeout(150)
async def test_three_workers_share_one_budget(postgres_url: str, tmp_path: Path) -> None:
    items, in_flight = 4 * SHARD_CASES, 4
    # Priced by output only, at $1 per 1,000 tokens: each item reserves its worst case, 512 completion
    # tokens ($0.512), and the simulator answers with at most ~100 tokens, so a settled cost is always
    # below its reservation. The workers' spend can then never pass max_usd (float rounding aside):
    # the only excess the ledger allows, in-flight calls costing more than their estimate, is nil here.
    max_usd = 2.0
    vendor = SimulatedVendor(latency_ms=30)
    async with vendor as url:
        config = write_config(
            tmp_path,
            db_url=postgres_url,
            base_url=url,
            items=items,
            in_flight=in_flight,
            prices={"input_per_1m": 0.0, "output_per_1m": 1000.0},
            budget={"max_usd": max_usd},
        )
        procs = await start_workers(3, config, "--journal-dir", str(tmp_path / "journal"))
        results = await finish(procs)
        for code, out in results:
            assert code == 3, out[-2000:]  # stopped by the budget, resumable
        requests = vendor.stats.requests
        assert len(set(vendor.stats.prompts())) == requests  # nothing sent twice
    async with pg(postgres_url) as conn:
        spent = await conn.fetchval("SELECT sum(cost_usd) FROM responses")
        stored = await conn.fetchval("SELECT count(*) FROM responses")
        ledger = await conn.fetchrow("SELECT spent_usd, calls, reserved_usd, reserved_calls FROM run_budget")
        status = await conn.fetchval("SELECT status FROM runs")
    assert status == "budget_exhausted"
    assert spent <= max_usd + 1e-9
    assert ledger["spent_usd"] == pytest.approx(spent)
    assert (ledger["reserved_usd"], ledger["reserved_calls"]) == (pytest.approx(0.0), 0)
    assert ledger["calls"] == stored == requests  # one figure: the vendor, the store and the ledger agree
    # The cap really bound them: they stopped short of the items, and the last refused reservation
    # means settled spend plus what was reserved in flight (at most 3 x in_flight items) had reached it.
    assert requests < items
    worst_item = 0.512
    assert spent + (3 * in_flight + 1) * worst_item >= max_usd


def max_window(samples: list[tuple[float, int]], seconds: float) -> int:
    """The most requests counted in any whole ``seconds`` window of (time, running count) samples."""
    best, j = 0, 0
    for t, n in samples:
        if samples[-1][0] < t + seconds:
            break
        while samples[j + 1][0] <= t + seconds:
            j += 1
        best = max(best, samples[j][1] - n)
    return best


@pytest.mark.timeout(150)
async def test_three_workers_share_one_rate_limit_through_redis(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    # 8 shards: more than one worker queues ahead, so several send at once under the one limit.
    items, rpm = 8 * SHARD_CASES, 3600
    # The vendor refuses (429) more than 1.10 x the limit in any sliding 10 s window: zero 429s
    # proves the workers together kept under the bound, not just each on its own.
    vendor = SimulatedVendor(
        latency_ms=20,
        rate_limit_rpm=int(rpm * 1.10),
        rate_limit_window_s=10.0,
        rate_limit_mode="sliding_window",
    )
    async with vendor as url:
        config = write_config(
            tmp_path, db_url=postgres_url, base_url=url, items=items, in_flight=8, limits={"rpm": rpm}
        )
        samples: list[tuple[float, int]] = []

        async def sample(stop: asyncio.Event) -> None:
            while not stop.is_set():
                samples.append((time.monotonic(), vendor.stats.requests))
                await asyncio.sleep(0.02)

        stop = asyncio.Event()
        sampler = asyncio.create_task(sample(stop))
        procs = await start_workers(
            3, config, "--journal-dir", str(tmp_path / "journal"), "--redis", redis_url
        )
        results = await finish(procs)
        stop.set()
        await sampler
        for code, out in results:
            assert code == 0, out[-2000:]
        assert vendor.stats.responses_429 == 0
        assert_each_sent_once(vendor, items)
    async with pg(postgres_url) as conn:
        busy = await conn.fetchval("SELECT count(DISTINCT worker_id) FROM run_shards WHERE shard >= 0")
    assert busy >= 2  # several workers really sent at the same time under the one limit
    first = next(i for i, (_, n) in enumerate(samples) if n > 0)
    assert max_window(samples[first:], 10.0) <= 1.10 * rpm / 6
