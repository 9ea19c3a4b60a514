"""Limits shared through the real Redis: several limiters (as several workers would hold) on one key,
and several real processes pacing against one requests/min limit."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import time
from collections.abc import AsyncIterator

import pytest
from cli_helpers import PROJECT_ROOT
from redis.asyncio import Redis

from gateway.shared_limits import SharedLimiter


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def _limiter(redis: Redis, ns: str, **kw: float) -> SharedLimiter:
    opts: dict[str, float] = {"rpm": 0, "tpm": 0, "max_in_flight": 0, "slot_ttl_s": 30, **kw}
    return SharedLimiter(
        redis,
        "vendor|key|model",
        rpm=opts["rpm"] or None,
        tpm=opts["tpm"] or None,
        max_in_flight=int(opts["max_in_flight"]),
        slot_ttl_s=opts["slot_ttl_s"],
        namespace=ns,
    )


async def test_the_in_flight_cap_holds_across_workers(redis: Redis, redis_namespace: str) -> None:
    a, b = (
        _limiter(redis, redis_namespace, max_in_flight=2),
        _limiter(redis, redis_namespace, max_in_flight=2),
    )
    await a.acquire()
    await b.acquire()
    third = asyncio.create_task(b.acquire())
    await asyncio.sleep(0.3)
    assert not third.done()  # two in flight between the two workers
    a.release()
    await asyncio.wait_for(third, 2)
    await a.aclose()


async def test_a_killed_workers_slots_expire(redis: Redis, redis_namespace: str) -> None:
    dead = _limiter(redis, redis_namespace, max_in_flight=1, slot_ttl_s=0.3)
    await dead.acquire()  # never released: the worker died mid-call
    start = time.monotonic()
    await asyncio.wait_for(_limiter(redis, redis_namespace, max_in_flight=1).acquire(), 3)
    assert time.monotonic() - start >= 0.25


async def test_retry_after_from_one_worker_pauses_the_others(redis: Redis, redis_namespace: str) -> None:
    a, b = _limiter(redis, redis_namespace, rpm=6000), _limiter(redis, redis_namespace, rpm=6000)
    a.pause(0.5)
    await a.aclose()
    start = time.monotonic()
    await b.acquire()
    assert time.monotonic() - start >= 0.45
    assert a.pauses == 1


async def test_rpm_is_paced_across_workers(redis: Redis, redis_namespace: str) -> None:
    workers = [_limiter(redis, redis_namespace, rpm=1200) for _ in range(3)]  # 20 per second in all
    sent: list[float] = []

    async def work(lim: SharedLimiter) -> None:
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            await lim.acquire()
            sent.append(time.monotonic())

    await asyncio.gather(*(work(w) for w in workers))
    # 2 s at 20/s, the half-second of slack a fresh limiter allows, and one late acquire per worker;
    # never three times that.
    assert 35 <= len(sent) <= 56


async def test_token_usage_is_charged_back(redis: Redis, redis_namespace: str) -> None:
    lim = _limiter(redis, redis_namespace, tpm=60_000)  # 1,000 tokens per second
    await lim.acquire(1500)
    lim.release(1500, 100)  # the call used far less than estimated
    await lim.aclose()
    start = time.monotonic()
    await lim.acquire(400)
    assert time.monotonic() - start < 0.3  # the refund made room at once


_PACER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from redis.asyncio import Redis
    from gateway.shared_limits import SharedLimiter

    async def main(url, ns, start_at):
        redis = Redis.from_url(url)
        lim = SharedLimiter(redis, "k", rpm=600, tpm=None, max_in_flight=0, slot_ttl_s=30, namespace=ns)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        stamps = []
        while time.time() < start_at + 4.0:
            await lim.acquire()
            stamps.append(time.time())
        await redis.aclose()
        print(json.dumps(stamps))

    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
    """
)


async def test_three_processes_share_one_rpm_limit(redis_url: str, redis_namespace: str) -> None:
    start_at = time.time() + 1.5
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _PACER,
            redis_url,
            redis_namespace,
            str(start_at),
            cwd=PROJECT_ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    stamps: list[float] = []
    for p in procs:
        out, _ = await asyncio.wait_for(p.communicate(), 60)
        assert p.returncode == 0
        stamps.extend(json.loads(out))
    stamps.sort()
    # 4 s at 10/s: 40, the slack of a fresh limiter (6) and one late acquire per process; three
    # processes limiting alone would send 3x that.
    assert 35 <= len(stamps) <= 50
    per_2s = max(sum(1 for t in stamps if s <= t < s + 2.0) for s in stamps)
    assert per_2s <= 2.0 * 10 * 1.10 + 5
