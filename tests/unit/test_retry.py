"""The one retry layer: what is retried, how long it waits, when it stops."""

from __future__ import annotations

import pytest

from core.types import AttemptResult, Outcome
from gateway.config import RetryConfig
from gateway.retry import RetryCounters, RetryPolicy, should_retry

OK = AttemptResult(Outcome.COMPLETED, text="fine", finish_reason="stop")
BUSY = AttemptResult(Outcome.FAILED_TRANSIENT, status_code=503, retryable=True)
LIMITED = AttemptResult(Outcome.FAILED_TRANSIENT, status_code=429, retryable=True, retry_after_s=7.0)
CUT = AttemptResult(Outcome.INCOMPLETE, text="partial", vendor_code="no_finish_reason", retryable=True)
BLOCKED = AttemptResult(Outcome.BLOCKED_BY_VENDOR, vendor_code="content_filter", status_code=200)
BAD = AttemptResult(Outcome.FAILED_PERMANENT, status_code=400)
QUOTA = AttemptResult(
    Outcome.FAILED_PERMANENT, status_code=429, vendor_code="insufficient_quota", pause_target=True
)


class Script:
    """Returns the scripted results in order and records the sleeps between them."""

    def __init__(self, *results: AttemptResult) -> None:
        self.results = list(results)
        self.calls = 0
        self.sleeps: list[float] = []
        self.now = 0.0

    async def attempt(self) -> AttemptResult:
        self.calls += 1
        return self.results.pop(0)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def policy(script: Script, **cfg: float) -> RetryPolicy:
    config = RetryConfig(**{"initial_wait_s": 1.0, "max_wait_s": 30.0, "max_attempts": 5, **cfg})
    return RetryPolicy(config, sleep=script.sleep, clock=script.clock, rng=lambda: 1.0)


@pytest.mark.parametrize("terminal", [OK, BLOCKED, BAD, QUOTA])
async def test_terminal_outcomes_are_never_retried(terminal: AttemptResult) -> None:
    script = Script(terminal, OK)
    counters = RetryCounters()
    done = await policy(script).run(script.attempt, counters)
    assert done.result is terminal
    assert done.attempts == 1
    assert script.calls == 1
    assert counters.retries == 0


@pytest.mark.parametrize("transient", [BUSY, CUT])
async def test_transient_then_success(transient: AttemptResult) -> None:
    script = Script(transient, transient, OK)
    counters = RetryCounters()
    done = await policy(script).run(script.attempt, counters)
    assert done.result is OK
    assert done.attempts == 3
    assert counters.retries == 2
    assert script.sleeps == [1.0, 2.0]  # exponential (rng pinned to the top of the jitter range)


async def test_retry_after_is_honoured_and_429s_counted() -> None:
    script = Script(LIMITED, LIMITED, OK)
    counters = RetryCounters()
    seen: list[AttemptResult] = []
    done = await policy(script).run(script.attempt, counters, seen.append)
    assert done.result is OK
    assert script.sleeps == [7.0, 7.0]  # Retry-After beats the shorter backoff
    assert counters.rate_limited == 2
    assert seen == [LIMITED, LIMITED, OK]


async def test_retry_after_is_capped() -> None:
    long_wait = AttemptResult(Outcome.FAILED_TRANSIENT, status_code=429, retryable=True, retry_after_s=3600)
    script = Script(long_wait, OK)
    await policy(script, max_wait_s=20).run(script.attempt, RetryCounters())
    assert script.sleeps == [20.0]


async def test_attempts_are_finite_and_last_result_is_kept() -> None:
    script = Script(*([BUSY] * 10))
    done = await policy(script, max_attempts=4).run(script.attempt, RetryCounters())
    assert done.result is BUSY
    assert done.attempts == 4
    assert script.calls == 4


async def test_deadline_stops_before_a_wait_that_would_pass_it() -> None:
    script = Script(*([BUSY] * 10))
    # waits 1, 2, 4, 8: after 1+2+4 = 7 s the next wait (8) would end past 10 s
    done = await policy(script, max_attempts=10, deadline_s=10).run(script.attempt, RetryCounters())
    assert script.sleeps == [1.0, 2.0, 4.0]
    assert done.attempts == 4
    assert done.result.outcome is Outcome.FAILED_TRANSIENT


def test_jitter_stays_within_half_to_full_backoff() -> None:
    values = iter([0.0, 0.5, 1.0])
    p = RetryPolicy(RetryConfig(initial_wait_s=2.0), rng=lambda: next(values))
    assert [p.backoff(2) for _ in range(3)] == [2.0, 3.0, 4.0]


def test_should_retry_table() -> None:
    assert should_retry(BUSY)
    assert should_retry(CUT)
    assert not should_retry(OK)
    assert not should_retry(BLOCKED)
    assert not should_retry(BAD)
    assert not should_retry(QUOTA)
    # a non-retryable INCOMPLETE (unknown finish reason) is kept as it is
    assert not should_retry(AttemptResult(Outcome.INCOMPLETE, vendor_code="weird"))
