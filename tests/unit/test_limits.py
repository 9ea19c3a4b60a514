"""Limiter pacing on a fake clock: no bursts, 10 s windows within 10%, tpm correction, pauses."""

from __future__ import annotations

import asyncio
import bisect

import pytest

from core.tokens import request_tokens
from gateway.config import Limits
from gateway.limits import PACING_HEADROOM, Limiter, TokenBucket, build_limiters


class FakeClock:
    """Monotonic fake time: ``sleep`` advances it (only the limiter's single waiter ever sleeps)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


async def drive(limiter: Limiter, clock: FakeClock, n: int, workers: int, tokens: int = 0) -> list[float]:
    stamps: list[float] = []
    remaining = iter(range(n))

    async def worker() -> None:
        for _ in remaining:
            await limiter.acquire(tokens)
            stamps.append(clock())
            limiter.release(tokens, tokens)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return sorted(stamps)


def max_window(stamps: list[float], width: float) -> int:
    return max(bisect.bisect_left(stamps, t + width) - i for i, t in enumerate(stamps))


async def test_rpm_pacing_is_smooth_over_every_10s_window() -> None:
    clock = FakeClock()
    limiter = Limiter(rpm=600, max_in_flight=64, clock=clock, sleep=clock.sleep)
    stamps = await drive(limiter, clock, 2000, workers=64)
    span = stamps[-1] - stamps[0]
    assert span == pytest.approx(1999 / (10.0 * PACING_HEADROOM), rel=0.001)  # 10/s less the headroom
    assert max_window(stamps, 10.0) <= 110  # within 10% of 100 per 10 s
    assert max_window(stamps, 10.0) >= 97  # and not far under it
    assert max_window(stamps, 60.0) <= 600  # a vendor's strict 60 s window never sees more than 600
    assert max_window(stamps, 1.0) <= 11  # not even a one-second burst


async def test_no_burst_after_idle_beyond_half_a_second_of_rate() -> None:
    clock = FakeClock()
    limiter = Limiter(rpm=6000, max_in_flight=1000, clock=clock, sleep=clock.sleep)
    await drive(limiter, clock, 100, workers=8)
    clock.now += 3600  # an hour idle: a naive per-minute bucket would now allow 6000 at once
    stamps = await drive(limiter, clock, 500, workers=64)
    at_once = sum(1 for t in stamps if t == stamps[0])
    assert at_once <= 50  # capacity is 0.5 s of rate (100/s)
    assert max_window(stamps, 1.0) <= 150


async def test_tpm_limits_tokens_and_correction_refunds_overestimates() -> None:
    clock = FakeClock()
    limiter = Limiter(tpm=60_000, max_in_flight=64, clock=clock, sleep=clock.sleep)  # 1000 tokens/s
    stamps = await drive(limiter, clock, 200, workers=16, tokens=100)
    assert stamps[-1] - stamps[0] == pytest.approx(199 * 100 / (1000 * PACING_HEADROOM), rel=0.05)

    # Estimate 500, real usage 100: corrections give back the difference, so the real token rate
    # is what paces (about 10 requests/s, not 2).
    clock2 = FakeClock()
    corrected = Limiter(tpm=60_000, max_in_flight=64, clock=clock2, sleep=clock2.sleep)
    stamps2: list[float] = []

    async def worker(k: int) -> None:
        for _ in range(k):
            await corrected.acquire(500)
            stamps2.append(clock2())
            corrected.release(500, 100)

    await asyncio.gather(*(worker(25) for _ in range(8)))
    rate = (len(stamps2) - 1) / (max(stamps2) - min(stamps2))
    assert 8.0 <= rate <= 11.0


async def test_usage_above_estimate_charges_the_debt() -> None:
    clock = FakeClock()
    limiter = Limiter(tpm=6_000, max_in_flight=4, clock=clock, sleep=clock.sleep)  # 100 tokens/s
    await limiter.acquire(10)
    limiter.release(10, 1010)  # 1000 more than estimated: ten seconds of tokens owed
    start = clock()
    await limiter.acquire(10)
    assert clock() - start >= 9.5
    limiter.release(10, 10)


async def test_pause_holds_every_sender_and_restarts_without_burst() -> None:
    clock = FakeClock()
    limiter = Limiter(rpm=600, max_in_flight=64, clock=clock, sleep=clock.sleep)
    stamps: list[float] = []
    pause_at: list[float] = []

    async def worker() -> None:
        for _ in range(20):
            await limiter.acquire()
            stamps.append(clock())
            if len(stamps) == 50:
                limiter.pause(30.0)
                pause_at.append(clock())
            limiter.release()

    await asyncio.gather(*(worker() for _ in range(10)))
    (t0,) = pause_at
    assert not [t for t in stamps if t0 < t < t0 + 30.0]
    after = sorted(t for t in stamps if t >= t0 + 30.0)
    assert len(after) == 150
    assert max_window(after, 1.0) <= 11
    assert limiter.pauses == 1


async def test_shorter_pause_does_not_shorten_a_longer_one() -> None:
    clock = FakeClock()
    limiter = Limiter(clock=clock, sleep=clock.sleep)
    limiter.pause(10)
    limiter.pause(2)
    assert limiter.paused_until == clock() + 10
    start = clock()
    await limiter.acquire()
    assert clock() - start == pytest.approx(10)
    limiter.release()


async def test_in_flight_cap_is_enforced() -> None:
    limiter = Limiter(max_in_flight=3)
    in_flight = 0
    peak = 0

    async def one() -> None:
        nonlocal in_flight, peak
        await limiter.acquire()
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        limiter.release()

    await asyncio.gather(*(one() for _ in range(20)))
    assert peak == 3


async def test_cancelled_waiter_gives_its_slot_back() -> None:
    clock = FakeClock()
    limiter = Limiter(max_in_flight=1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.release()
    await asyncio.wait_for(limiter.acquire(), 1)  # the slot is free again
    limiter.release()
    assert clock.now == 1000.0


def test_shared_key_takes_strictest_limits() -> None:
    lims = build_limiters(
        [
            ("k", Limits(rpm=100, max_in_flight=8)),
            ("k", Limits(rpm=50, tpm=1000, max_in_flight=16)),
            ("other", Limits()),
        ]
    )
    assert set(lims) == {"k", "other"}
    assert lims["k"].max_in_flight == 8
    assert lims["k"].paced
    assert not lims["other"].paced


def test_bucket_wait_and_estimate() -> None:
    b = TokenBucket(10.0, 5.0, now=0.0, initial=0.0)
    assert b.wait_time(1, 0.0) == pytest.approx(0.1)
    assert b.wait_time(50, 0.0) == pytest.approx(0.5)  # never more than one bucketful to wait for
    assert request_tokens("x" * 300, 100) == 201
    assert request_tokens("", None) == 513
