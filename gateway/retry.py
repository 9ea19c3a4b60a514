"""The one retry loop: jittered exponential backoff, finite attempts, a per-item deadline.

Adapters never retry and litellm's own retries are off, so every repeated vendor request in the
gateway comes from here (through ``gateway.policy.CallPolicy``, which puts each attempt under the
limiter). What is retried is decided by the adapter's classification alone:

- ``FAILED_TRANSIENT`` and ``INCOMPLETE`` results marked ``retryable`` are retried;
- ``BLOCKED_BY_VENDOR``, ``FAILED_PERMANENT`` and anything with ``pause_target`` never are
  (a safety block is an answer; a quota error cannot succeed until a person acts).

A wait is the larger of the jittered exponential backoff and the vendor's ``retry_after_s``, both
capped at ``max_wait_s``; the deadline stops retrying when the next wait would end past it. When all
attempts fail, the last result is returned as it is (errors are data, never exceptions).

A plain loop rather than tenacity: nearly every item succeeds at once, and the loop costs nothing
on that path, while a retrying controller per item (millions of them) would cost CPU for nothing;
the whole policy also reads in one place this way.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.types import AttemptResult, Outcome
from gateway.config import RetryConfig

Attempt = Callable[[], Awaitable[AttemptResult]]
Sleep = Callable[[float], Awaitable[None]]

_RETRIED_OUTCOMES = frozenset({Outcome.FAILED_TRANSIENT, Outcome.INCOMPLETE})


def should_retry(result: AttemptResult) -> bool:
    """True when another attempt could succeed: a retryable transient failure or cut stream."""
    return result.retryable and not result.pause_target and result.outcome in _RETRIED_OUTCOMES


@dataclass(slots=True)
class RetryCounters:
    """Running counts for progress: vendor calls sent, retries made, rate-limit (429) answers seen."""

    calls: int = 0
    retries: int = 0
    rate_limited: int = 0


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """The final result of an item and how many attempts it took (0: none was sent)."""

    result: AttemptResult
    attempts: int

    @property
    def paused(self) -> bool:
        """True when the vendor refuses until a person acts (quota, spend limit, credentials)."""
        return self.result.pause_target


class RetryPolicy:
    """Runs one item's attempts under the configured policy.

    ``on_result`` sees every attempt's result as it arrives, before any wait (the call policy
    pauses the limiter there on a Retry-After, so every sender under that key backs off).
    """

    def __init__(
        self,
        config: RetryConfig,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._config = config
        self._sleep = sleep
        self._clock = clock
        self._rng = rng

    def backoff(self, attempt_number: int) -> float:
        """Full-jitter exponential backoff for the wait after attempt ``attempt_number`` (1-based)."""
        ceiling = min(self._config.max_wait_s, self._config.initial_wait_s * 2.0 ** (attempt_number - 1))
        return ceiling * (0.5 + 0.5 * self._rng())

    def wait(self, attempt_number: int, result: AttemptResult) -> float:
        """The wait before the next attempt: backoff or the vendor's Retry-After, capped."""
        wait = self.backoff(attempt_number)
        if result.retry_after_s is not None and result.retry_after_s > wait:
            wait = result.retry_after_s
        return min(wait, self._config.max_wait_s)

    async def run(
        self,
        attempt: Attempt,
        counters: RetryCounters,
        on_result: Callable[[AttemptResult], None] | None = None,
    ) -> CallOutcome:
        """Attempt until success, a terminal outcome, the attempt cap or the deadline.

        The deadline is measured from the start of the first attempt (limiter wait included).
        """
        max_attempts = self._config.max_attempts
        deadline = self._clock() + self._config.deadline_s
        attempts = 0
        while True:
            result = await attempt()
            attempts += 1
            if result.status_code == 429:
                counters.rate_limited += 1
            if on_result is not None:
                on_result(result)
            if attempts >= max_attempts or not should_retry(result):
                return CallOutcome(result, attempts)
            wait = self.wait(attempts, result)
            if self._clock() + wait >= deadline:
                return CallOutcome(result, attempts)
            await self._sleep(wait)
            counters.retries += 1
