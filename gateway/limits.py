"""Per-vendor rate limiting: smooth token buckets for requests and tokens, an in-flight cap, pauses.

One ``Limiter`` exists per limit key (provider, API key fingerprint, model), shared by every caller
that sends under that key, targets and the attack generator alike (``gateway.policy.LimiterRegistry``
holds them; ``gateway.policy.CallPolicy`` is their only user). Pacing is smooth: the buckets hold at
most ``burst_s`` seconds of rate (half a second by default), so requests leave evenly instead of in a
burst at each minute boundary, and any 10 s window stays within a few percent of the configured rate.

Token limits are charged with an estimate before the call and corrected with the vendor's reported
usage afterwards. A 429's ``Retry-After`` pauses the whole limiter (every target under that key),
and the buckets restart empty after a pause so that the first second after it is not a burst.

Pure asyncio; the clock and sleep are injectable so the pacing is tested on a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from gateway.config import Limits

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """A token bucket refilled continuously at ``rate`` per second, holding at most ``capacity``.

    The level may go negative (a request larger than the capacity, or usage above the estimate):
    the debt is paid back by refill before the next request passes, so the long-run rate holds.
    """

    __slots__ = ("capacity", "level", "rate", "stamp")

    def __init__(self, rate_per_s: float, capacity: float, *, now: float, initial: float) -> None:
        self.rate = rate_per_s
        self.capacity = capacity
        self.level = min(initial, capacity)
        self.stamp = now

    def refill(self, now: float) -> None:
        """Add what accrued since the last refill (nothing before ``stamp``, which a pause may push)."""
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_time(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` (at most one bucketful) is available; 0 when it is now."""
        self.refill(now)
        need = min(amount, self.capacity)
        start = max(0.0, self.stamp - now)
        # The epsilon absorbs float error that would otherwise ask for sleeps below the clock's ulp.
        return start + (0.0 if self.level >= need - 1e-9 else (need - self.level) / self.rate)

    def take(self, amount: float) -> None:
        """Spend ``amount`` (may leave the bucket in debt)."""
        self.level -= amount

    def give(self, amount: float) -> None:
        """Return ``amount`` (a negative amount charges more), never above capacity."""
        self.level = min(self.capacity, self.level + amount)

    def hold_until(self, when: float) -> None:
        """Empty the bucket and stop refilling until ``when`` (after a Retry-After pause)."""
        self.level = min(self.level, 0.0)
        self.stamp = max(self.stamp, when)


class Limiter:
    """Requests/min and tokens/min buckets, an in-flight cap and Retry-After pauses for one limit key.

    ``acquire(tokens)`` waits (FIFO) until a request may be sent; ``release(estimate, actual)``
    frees its in-flight slot and corrects the token bucket with the reported usage.
    """

    def __init__(
        self,
        *,
        rpm: float | None = None,
        tpm: float | None = None,
        max_in_flight: int = 16,
        burst_s: float = 0.5,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if burst_s <= 0:
            raise ValueError("burst_s must be positive")
        self._clock = clock
        self._sleep = sleep
        now = clock()
        # The first request goes at once; after that the rate paces, with at most burst_s of slack.
        # Paced a little under the configured rate: a vendor's sliding window sees arrival times,
        # and network jitter can bunch two evenly sent requests; the headroom absorbs that.
        self._rpm = _bucket(rpm, burst_s, now, initial=1.0) if rpm else None
        self._tpm = _bucket(tpm, burst_s, now, initial=None) if tpm else None
        self._slots = asyncio.Semaphore(max_in_flight)
        self._lock = asyncio.Lock()
        self._paused_until = now
        self.max_in_flight = max_in_flight
        self.pauses = 0

    @property
    def paced(self) -> bool:
        """True when a rate (requests or tokens per minute) is enforced."""
        return self._rpm is not None or self._tpm is not None

    @property
    def paused_until(self) -> float:
        """Monotonic time before which nothing is sent."""
        return self._paused_until

    async def acquire(self, tokens: int = 0) -> None:
        """Wait for an in-flight slot, the pause to end, and room in both buckets; then charge them."""
        await self._slots.acquire()
        try:
            if self._rpm is None and self._tpm is None and self._paused_until <= self._clock():
                return
            # One waiter at a time computes and sleeps; the others queue behind it in FIFO order,
            # so a crowd of workers does not wake up together for every token.
            async with self._lock:
                while True:
                    now = self._clock()
                    wait = self._paused_until - now
                    if self._rpm is not None:
                        wait = max(wait, self._rpm.wait_time(1.0, now))
                    if self._tpm is not None:
                        wait = max(wait, self._tpm.wait_time(float(tokens), now))
                    if wait <= 0:
                        break
                    await self._sleep(wait)
                if self._rpm is not None:
                    self._rpm.take(1.0)
                if self._tpm is not None:
                    self._tpm.take(float(tokens))
        except BaseException:
            self._slots.release()
            raise

    def release(self, estimate: int = 0, actual: int | None = None) -> None:
        """Free the in-flight slot; correct the token bucket by ``estimate - actual`` when known."""
        self._slots.release()
        if self._tpm is not None and actual is not None and actual != estimate:
            self._tpm.give(float(estimate - actual))

    def pause(self, seconds: float) -> None:
        """Send nothing under this key for ``seconds`` (a vendor's Retry-After); buckets restart empty."""
        if seconds <= 0:
            return
        until = self._clock() + seconds
        if until <= self._paused_until:
            return
        self._paused_until = until
        self.pauses += 1
        if self._rpm is not None:
            self._rpm.hold_until(until)
        if self._tpm is not None:
            self._tpm.hold_until(until)


PACING_HEADROOM = 0.985
"""Share of a configured rate actually used for pacing (the rest absorbs arrival jitter)."""


def _bucket(per_minute: float, burst_s: float, now: float, *, initial: float | None) -> TokenBucket:
    """A bucket for ``per_minute`` (minus headroom) holding ``burst_s`` seconds of it (at least 1)."""
    rate = per_minute / 60.0 * PACING_HEADROOM
    capacity = max(1.0, rate * burst_s)
    return TokenBucket(rate, capacity, now=now, initial=capacity if initial is None else initial)


class RateLimiter(Protocol):
    """What the policy layer needs from a limiter: the in-process ``Limiter`` or a ``SharedLimiter``
    (``gateway.shared_limits``) whose state every worker of a sweep shares through Redis."""

    max_in_flight: int
    pauses: int

    @property
    def paced(self) -> bool:
        """True when a rate is enforced."""
        ...

    async def acquire(self, tokens: int = 0) -> None:
        """Wait until a request estimated at ``tokens`` may be sent."""
        ...

    def release(self, estimate: int = 0, actual: int | None = None) -> None:
        """Free the request's in-flight slot; correct its token charge with the reported usage."""
        ...

    def pause(self, seconds: float) -> None:
        """Send nothing under this key for ``seconds``."""
        ...


def merge_limits(keyed: Iterable[tuple[str, Limits]]) -> dict[str, Limits]:
    """The limits of each limit key: callers sharing a key share the strictest of their limits."""
    merged: dict[str, Limits] = {}
    for key, limits in keyed:
        prev = merged.get(key)
        merged[key] = limits if prev is None else _strictest(prev, limits)
    return merged


def build_limiters(
    keyed: Iterable[tuple[str, Limits]], *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
) -> dict[str, Limiter]:
    """One in-process limiter per limit key, under the strictest limits of the callers sharing it."""
    return {
        key: Limiter(rpm=lim.rpm, tpm=lim.tpm, max_in_flight=lim.max_in_flight, clock=clock, sleep=sleep)
        for key, lim in merge_limits(keyed).items()
    }


def _strictest(a: Limits, b: Limits) -> Limits:
    def low(x: float | None, y: float | None) -> float | None:
        return y if x is None else x if y is None else min(x, y)

    return Limits(
        rpm=low(a.rpm, b.rpm), tpm=low(a.tpm, b.tpm), max_in_flight=min(a.max_in_flight, b.max_in_flight)
    )
