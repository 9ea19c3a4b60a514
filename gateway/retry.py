"""The one retry layer (tenacity): jittered exponential backoff, finite attempts, a per-item deadline.

Adapters never retry and litellm's own retries are off, so every repeated request in the gateway
comes from here. What is retried is decided by the adapter's classification alone:

- ``FAILED_TRANSIENT`` and ``INCOMPLETE`` results marked ``retryable`` are retried;
- ``BLOCKED_BY_VENDOR``, ``FAILED_PERMANENT`` and anything with ``pause_target`` never are
  (a safety block is an answer; a quota error cannot succeed until a person acts).

A wait is the larger of the jittered exponential backoff and the vendor's ``retry_after_s``, both
capped at ``max_wait_s``; the deadline stops retrying when the next wait would pass it. When all
attempts fail, the last result is returned as it is (errors are data, never exceptions).

The first attempt runs outside tenacity: nearly every item succeeds at once, and building a
retrying controller for each of millions of items would cost CPU for nothing. Only an item whose
first attempt asks for a retry enters tenacity, with that first result counted as attempt one.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt
from tenacity.stop import stop_base

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
    """Running counts for progress: retries made and rate-limit (429) answers seen."""

    retries: int = 0
    rate_limited: int = 0


@dataclass(frozen=True, slots=True)
class Retried:
    """The final result of an item and how many attempts it took."""

    result: AttemptResult
    attempts: int


class RetryPolicy:
    """Runs one item's attempts under the configured policy.

    ``on_result`` sees every attempt's result as it arrives (the pipeline pauses the target's
    limiter there on a 429's Retry-After, so every sender under that key backs off, not only this
    item).
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
        self._clock = clock
        self._rng = rng
        self._template = AsyncRetrying(
            wait=self._wait,
            retry=retry_if_result(should_retry),
            retry_error_callback=_last_result,
            sleep=sleep,
        )

    def backoff(self, attempt_number: int) -> float:
        """Full-jitter exponential backoff for the wait after attempt ``attempt_number`` (1-based)."""
        ceiling = min(self._config.max_wait_s, self._config.initial_wait_s * 2.0 ** (attempt_number - 1))
        return ceiling * (0.5 + 0.5 * self._rng())

    def _wait(self, state: RetryCallState) -> float:
        wait = self.backoff(state.attempt_number)
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            last: AttemptResult = outcome.result()
            if last.retry_after_s is not None:
                wait = max(wait, last.retry_after_s)
        return min(wait, self._config.max_wait_s)

    async def run(
        self,
        attempt: Attempt,
        counters: RetryCounters,
        on_result: Callable[[AttemptResult], None] | None = None,
    ) -> Retried:
        """Attempt until success, a terminal outcome, the attempt cap or the deadline."""
        started = self._clock()
        first = await attempt()
        if first.status_code == 429:
            counters.rate_limited += 1
        if on_result is not None:
            on_result(first)
        if not should_retry(first) or self._config.max_attempts == 1:
            return Retried(first, 1)

        calls = 0

        async def again() -> AttemptResult:
            nonlocal calls
            calls += 1
            if calls == 1:
                return first
            counters.retries += 1
            result = await attempt()
            if result.status_code == 429:
                counters.rate_limited += 1
            if on_result is not None:
                on_result(result)
            return result

        stop = stop_after_attempt(self._config.max_attempts) | _Deadline(
            self._clock, started + self._config.deadline_s
        )
        result: AttemptResult = await self._template.copy(stop=stop)(again)
        return Retried(result, calls)


class _Deadline(stop_base):
    """Stop when the wait about to be taken would end past the item's deadline.

    Measured from the start of the item's first attempt (tenacity's own clock starts later).
    """

    def __init__(self, clock: Callable[[], float], deadline: float) -> None:
        self._clock = clock
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._clock() + (retry_state.upcoming_sleep or 0.0) >= self._deadline


def _last_result(state: RetryCallState) -> AttemptResult:
    # Exhausted attempts or deadline: the last classified result is the item's outcome.
    assert state.outcome is not None
    result: AttemptResult = state.outcome.result()
    return result
