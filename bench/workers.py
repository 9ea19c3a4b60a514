"""Many workers on one run: 1 worker, then 3 worker processes sharing a Postgres run, a shared rpm
limit through Redis, and a worker killed with SIGKILL mid-run.

A simulated vendor (in this process, 200 ms latency) counts every request it receives; each phase
runs ``seval run`` subprocesses on a fresh schema of the real Postgres, every worker capped at
16 in flight. Phases:

1. one worker, then three on the same run (no shared limit): ``vendor_requests_over_items``,
   ``duplicates``, ``lost``, ``speedup_3_over_1`` (vendor latency, not CPU, bounds each worker);
2. three workers sharing one rpm limit (600) through Redis, stopped (SIGINT) after ``--rpm-seconds``:
   ``max_10s_window_over_limit`` (sends in the busiest sliding 10 s window over the limit's 10 s
   share) and ``responses_429``;
3. three workers, one killed with SIGKILL once ``--kill-at`` of the items are stored:
   ``kill_lost``, ``reclaimed_shards``, ``extra_vendor_calls`` (requests beyond the items), to be at
   most ``killed_in_flight_cap``.

Run: ``python bench/workers.py [--items 10000] [--latency-ms 200] [--in-flight 16] [--rpm 600]
[--rpm-seconds 40] [--db URL] [--redis URL]``. Ends with one JSON line (targets:
vendor_requests_over_items <= 1.01, duplicates 0, lost 0, speedup_3_over_1 >= 2.5,
max_10s_window_over_limit <= 1.10, responses_429 0, kill_lost 0, reclaimed_shards > 0,
extra_vendor_calls <= killed_in_flight_cap).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from gateway_common import run_config, start_seval_run, write_suite

DEFAULT_DB = "postgresql+asyncpg://127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def fresh_schema(base_url: str) -> AsyncIterator[tuple[str, Any]]:
    """(database URL of a new schema, an asyncpg connection to it); the schema is dropped after."""
    import asyncpg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_dsn(base_url))
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    conn = await asyncpg.connect(_dsn(base_url), server_settings={"search_path": schema})
    try:
        sep = "&" if "?" in base_url else "?"
        yield f"{base_url}{sep}search_path={schema}", conn
    finally:
        await conn.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def value(conn: Any, sql: str) -> Any:
    """One value; None while the tables do not exist yet."""
    import asyncpg

    try:
        return await conn.fetchval(sql)
    except asyncpg.UndefinedTableError:
        return None


async def wait_all(procs: list[asyncio.subprocess.Process], ok: tuple[int, ...] = (0,)) -> None:
    """Wait for every worker; exit with its stderr unless its code is in ``ok``."""
    outs = await asyncio.gather(*(p.communicate() for p in procs))
    for p, (_, err) in zip(procs, outs, strict=True):
        if p.returncode not in ok:
            raise SystemExit(f"worker {p.pid} exited {p.returncode}: {err.decode(errors='replace')[-2000:]}")


def write_config(tmp: Path, name: str, db_url: str, base_url: str, suite: Path, **kw: Any) -> Path:
    spec = run_config(name=name, suite=suite, db=tmp / "unused.db", base_url=base_url, adapter="openai", **kw)
    spec["db_url"] = db_url
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


class Sampler:
    """Samples the vendor's running request count (time, count) every 20 ms."""

    def __init__(self, vendor: Any) -> None:
        self.vendor = vendor
        self.samples: list[tuple[float, int]] = []
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self.vendor.stats.requests))
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._stop.set()
        await self._task

    def max_window(self, seconds: float) -> int:
        """The most requests in any whole ``seconds`` window after the first request."""
        samples = [s for s in self.samples if s[1] > 0]
        best, j = 0, 0
        for t, n in samples:
            if samples[-1][0] < t + seconds:
                break
            while samples[j + 1][0] <= t + seconds:
                j += 1
            best = max(best, samples[j][1] - n)
        return best


async def integrity(conn: Any, vendor: Any, items: int) -> dict[str, int]:
    """What the store and the vendor say about one phase."""
    total = int(await conn.fetchval("SELECT count(*) FROM responses"))
    distinct = int(await conn.fetchval("SELECT count(DISTINCT work_key) FROM responses"))
    prompts = vendor.stats.prompts()
    return {
        "requests": vendor.stats.requests,
        "stored_twice": total - distinct,
        "sent_twice": len(prompts) - len(set(prompts)),
        "lost": items - distinct,
    }


async def phase_workers(
    n: int, tmp: Path, suite: Path, items: int, args: argparse.Namespace, vendor: Any, url: str
) -> tuple[float, dict[str, int]]:
    """``n`` workers to the end of a fresh run: (wall seconds, integrity)."""
    vendor.stats.reset()
    async with fresh_schema(args.db) as (db_url, conn):
        config = write_config(tmp, f"w{n}", db_url, url, suite, in_flight=args.in_flight)
        start = time.perf_counter()
        procs = [await start_seval_run(config, "--journal-dir", str(tmp / "journal")) for _ in range(n)]
        await wait_all(procs)
        wall = time.perf_counter() - start
        facts = await integrity(conn, vendor, items)
    print(f"{n} worker(s): {wall:.1f} s, {facts}", file=sys.stderr, flush=True)
    return wall, facts


async def phase_rpm(
    tmp: Path, suite: Path, args: argparse.Namespace, vendor: Any, url: str
) -> dict[str, Any]:
    """Three workers under one shared rpm limit, stopped after ``--rpm-seconds``."""
    vendor.stats.reset()
    async with fresh_schema(args.db) as (db_url, _conn):
        config = write_config(tmp, "rpm", db_url, url, suite, in_flight=args.in_flight, rpm=args.rpm)
        extra = ("--journal-dir", str(tmp / "journal"), "--redis", args.redis)
        sampler = Sampler(vendor)
        procs = [await start_seval_run(config, *extra) for _ in range(3)]
        await asyncio.sleep(args.rpm_seconds)
        for p in procs:
            p.send_signal(signal.SIGINT)
        await wait_all(procs, ok=(0, 130))
        await sampler.stop()
    worst = sampler.max_window(10.0)
    print(f"rpm: busiest 10 s window {worst}, {vendor.stats.responses_429} 429s", file=sys.stderr, flush=True)
    return {
        "rpm_limit": args.rpm,
        "rpm_phase_requests": vendor.stats.requests,
        "max_10s_window": worst,
        "max_10s_window_over_limit": round(worst / (args.rpm / 6.0), 4),
        "responses_429": vendor.stats.responses_429,
    }


async def phase_kill(
    tmp: Path, suite: Path, items: int, args: argparse.Namespace, vendor: Any, url: str
) -> dict[str, Any]:
    """Three workers, one killed with SIGKILL while it holds a shard; the others finish the run."""
    vendor.stats.reset()
    async with fresh_schema(args.db) as (db_url, conn):
        config = write_config(tmp, "kill", db_url, url, suite, in_flight=args.in_flight)
        extra = ("--journal-dir", str(tmp / "journal"), "--lease-s", str(args.lease_s))
        procs = [await start_seval_run(config, *extra) for _ in range(3)]
        by_pid = {p.pid: p for p in procs}
        holder = (
            "SELECT w.pid FROM run_shards s JOIN run_workers w USING (run_id, worker_id) "
            "WHERE s.state = 'held' AND s.shard >= 0 ORDER BY random() LIMIT 1"
        )
        while (await value(conn, "SELECT count(*) FROM responses") or 0) < args.kill_at * items:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        while (victim := await value(conn, holder)) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        stored_at_kill = int(await conn.fetchval("SELECT count(*) FROM responses"))
        by_pid[victim].send_signal(signal.SIGKILL)
        await by_pid[victim].wait()
        await wait_all([p for p in procs if p.pid != victim])
        facts = await integrity(conn, vendor, items)
        reclaimed = int(
            await conn.fetchval("SELECT coalesce(sum(claims - 1), 0) FROM run_shards WHERE shard >= 0")
        )
    print(
        f"kill at {stored_at_kill} stored: {facts}, {reclaimed} shards reclaimed", file=sys.stderr, flush=True
    )
    return {
        "kill_stored_at_kill": stored_at_kill,
        "kill_lost": facts["lost"],
        "kill_duplicates": facts["stored_twice"],  # what was sent twice is in extra_vendor_calls
        "reclaimed_shards": reclaimed,
        "extra_vendor_calls": facts["requests"] - items,
        "killed_in_flight_cap": args.in_flight,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--rpm", type=float, default=600.0)
    parser.add_argument("--rpm-seconds", type=float, default=40.0)
    parser.add_argument("--lease-s", type=float, default=5.0)
    parser.add_argument("--kill-at", type=float, default=0.3, help="Share of items stored at the kill.")
    parser.add_argument("--db", default=os.environ.get("SEVAL_TEST_POSTGRES_URL", DEFAULT_DB))
    parser.add_argument("--redis", default=os.environ.get("SEVAL_TEST_REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()
    items: int = args.items

    from simulator import SimulatedVendor

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        suite = write_suite(tmp / "suite.jsonl", items, tag="workers")
        # A per-minute limit as vendors enforce it (sliding 60 s window).
        vendor = SimulatedVendor(latency_ms=args.latency_ms, rate_limit_rpm=int(args.rpm))
        async with vendor as url:
            # The unlimited phases send far more than `rpm` a minute: their vendor has no limit.
            free = SimulatedVendor(latency_ms=args.latency_ms)
            async with free as free_url:
                wall1, one = await phase_workers(1, tmp, suite, items, args, free, free_url)
                wall3, three = await phase_workers(3, tmp, suite, items, args, free, free_url)
                kill = await phase_kill(tmp, suite, items, args, free, free_url)
            rpm = await phase_rpm(tmp, suite, args, vendor, url)
    summary = {
        "items": items,
        "latency_ms": args.latency_ms,
        "in_flight_per_worker": args.in_flight,
        "one_worker_s": round(wall1, 2),
        "three_workers_s": round(wall3, 2),
        "one_worker_lost": one["lost"],
        "vendor_requests_over_items": round(three["requests"] / items, 4),
        "duplicates": sum(f["stored_twice"] + f["sent_twice"] for f in (one, three)),
        "lost": three["lost"],
        "speedup_3_over_1": round(wall1 / wall3, 3),
        **rpm,
        **kill,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
