"""The policy layer on virtual time: one limiter per limit key for targets and the generator,
Retry-After pauses every caller under the key (capped), the deadline ends retries, a quota answer
stops at once and holds the key."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

import pytest

from core.tokens import text_tokens
from core.types import AttemptResult, ChatRequest, Decoding, Outcome, Usage
from gateway.budget import Budget, Price, charged_tokens
from gateway.config import Limits, RetryConfig, RunConfig
from gateway.limits import PACING_HEADROOM, Limiter
from gateway.policy import CallPolicy, LimiterRegistry, PolicyAdapter
from gateway.retry import RetryCounters

KEY = "openai@127.0.0.1:1:nokey:m"
OK = AttemptResult(Outcome.COMPLETED, text="fine", finish_reason="stop", usage=Usage(10, 5))
BUSY = AttemptResult(Outcome.FAILED_TRANSIENT, status_code=503, retryable=True)
QUOTA = AttemptResult(
    Outcome.FAILED_PERMANENT, status_code=429, vendor_code="insufficient_quota", pause_target=True
)
T = TypeVar("T")
REQUEST = ChatRequest(prompt="hello there", decoding=Decoding(max_tokens=16))


def limited(retry_after_s: float) -> AttemptResult:
    return AttemptResult(
        Outcome.FAILED_TRANSIENT, status_code=429, retryable=True, retry_after_s=retry_after_s
    )


class VirtualTime:
    """A clock and a sleep for every part under test: sleepers wake in time order, and time jumps
    to the next wake-up only once every task has run as far as it can."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), fut))
        await fut

    async def settle(self) -> None:
        """Let every task run until it waits on virtual time (no real I/O is involved)."""
        for _ in range(200):
            await asyncio.sleep(0)

    async def run(self, tasks: Iterable[asyncio.Task[Any]]) -> None:
        """Advance time until every task is done."""
        pending = list(tasks)
        while True:
            await self.settle()
            if all(t.done() for t in pending):
                return
            assert self._sleepers, "deadlock: tasks wait on something other than virtual time"
            wake = self._sleepers[0][0]
            self.now = max(self.now, wake)
            while self._sleepers and self._sleepers[0][0] <= self.now:
                heapq.heappop(self._sleepers)[2].set_result(None)


class Scripted:
    """A tiny adapter: answers from its script (then OK) and records when each request left."""

    def __init__(self, time: VirtualTime, *script: AttemptResult, key: str = KEY) -> None:
        self._time = time
        self._script = list(script)
        self._key = key
        self.sent_at: list[float] = []

    @property
    def limit_key(self) -> str:
        return self._key

    @property
    def name(self) -> str:
        return "scripted"

    async def send(self, request: ChatRequest) -> AttemptResult:
        self.sent_at.append(self._time.now)
        return self._script.pop(0) if self._script else OK

    async def aclose(self) -> None:
        return None


def retry_config(**over: float) -> RetryConfig:
    values: dict[str, float] = {"initial_wait_s": 0.5, "max_wait_s": 30.0, "max_attempts": 5, **over}
    return RetryConfig.model_validate(values)


def make_policy(time: VirtualTime, keyed: list[tuple[str, Limits]], **retry: float) -> CallPolicy:
    registry = LimiterRegistry(keyed, clock=time.clock, sleep=time.sleep)
    return CallPolicy(retry_config(**retry), registry, sleep=time.sleep, clock=time.clock, rng=lambda: 1.0)


def task(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    return asyncio.create_task(coro)


async def test_target_and_generator_with_one_limit_key_share_one_limiter() -> None:
    time = VirtualTime()
    cfg = RunConfig.model_validate(
        {
            "name": "p",
            "suites": ["sample"],
            "targets": [{"name": "t", "model": "openai/m", "limits": {"rpm": 60}}],
            "attacks": {"generator": {"name": "gen", "model": "openai/m", "limits": {"rpm": 120}}},
        }
    )
    target, generator = Scripted(time), Scripted(time)
    registry = LimiterRegistry.for_run(cfg, {"t": target}, generator, clock=time.clock, sleep=time.sleep)
    policy = CallPolicy(retry_config(), registry, sleep=time.sleep, clock=time.clock)
    gen = PolicyAdapter(generator, policy)
    counters = RetryCounters()
    from_target = [task(policy.call(target, REQUEST, counters)) for _ in range(3)]
    from_generator = [task(gen.send(REQUEST)) for _ in range(3)]
    await time.run([*from_target, *from_generator])
    stamps = sorted(target.sent_at + generator.sent_at)
    assert len(target.sent_at) == len(generator.sent_at) == 3
    # One bucket at the stricter 60/min: six requests leave one per second (less the headroom),
    # never two at once; two limiters would have sent a target and a generator request together.
    gap = 1.0 / PACING_HEADROOM
    assert stamps == pytest.approx([i * gap for i in range(6)])
    assert counters.calls == 3
    assert gen.counters.calls == 3


async def test_retry_after_pauses_every_caller_under_the_key() -> None:
    time = VirtualTime()
    policy = make_policy(time, [(KEY, Limits())])
    target = Scripted(time, limited(7.0))
    generator = Scripted(time)
    counters = RetryCounters()
    first = task(policy.call(target, REQUEST, counters))
    await time.settle()  # the target has had its 429 and waits to retry
    second = task(PolicyAdapter(generator, policy).send(REQUEST))
    await time.run([first, second])
    assert target.sent_at == [0.0, 7.0]
    # The generator was never retried, yet it waited out the Retry-After it did not see itself.
    assert generator.sent_at == [7.0]
    assert counters.rate_limited == 1
    assert counters.retries == 1
    assert policy.limiters[KEY].pauses == 1


async def test_retry_after_pause_is_capped_at_max_wait() -> None:
    time = VirtualTime()
    policy = make_policy(time, [(KEY, Limits())], max_wait_s=20.0)
    target = Scripted(time, limited(3600.0))
    generator = Scripted(time)
    first = task(policy.call(target, REQUEST, RetryCounters()))
    await time.settle()
    limiter = policy.limiters[KEY]
    assert isinstance(limiter, Limiter)
    assert limiter.paused_until == 20.0
    second = task(PolicyAdapter(generator, policy).send(REQUEST))
    await time.run([first, second])
    assert target.sent_at == [0.0, 20.0]
    assert generator.sent_at == [20.0]


async def test_deadline_stops_retries() -> None:
    time = VirtualTime()
    policy = make_policy(time, [(KEY, Limits())], initial_wait_s=1.0, max_attempts=10, deadline_s=10.0)
    target = Scripted(time, *([BUSY] * 10))
    outcome = task(policy.call(target, REQUEST, RetryCounters()))
    await time.run([outcome])
    done = outcome.result()
    # waits 1, 2, 4: after 7 s the next wait (8 s) would end past the 10 s deadline
    assert target.sent_at == [0.0, 1.0, 3.0, 7.0]
    assert (done.result, done.attempts) == (BUSY, 4)


async def test_deadline_counts_the_limiter_wait() -> None:
    time = VirtualTime()
    policy = make_policy(time, [(KEY, Limits())], initial_wait_s=1.0, max_attempts=10, deadline_s=10.0)
    policy.limiters[KEY].pause(6.0)  # another caller's Retry-After holds the key first
    target = Scripted(time, *([BUSY] * 10))
    outcome = task(policy.call(target, REQUEST, RetryCounters()))
    await time.run([outcome])
    # sent at 6 (after the pause), 7, 9: the next wait (4 s) would end at 13, past 0 + 10
    assert target.sent_at == [6.0, 7.0, 9.0]


async def test_quota_answer_stops_without_retry_and_holds_the_key() -> None:
    time = VirtualTime()
    policy = make_policy(time, [(KEY, Limits()), ("other", Limits())])
    target = Scripted(time, QUOTA)
    generator = Scripted(time)
    elsewhere = Scripted(time, key="other")
    budget = Budget(max_usd=None, max_calls=None)
    counters = RetryCounters()
    first = task(policy.call(target, REQUEST, counters, budget))
    await time.run([first])
    done = first.result()
    assert (done.result, done.attempts, done.paused) == (QUOTA, 1, True)
    assert target.sent_at == [0.0]
    assert counters.retries == 0
    assert budget.calls == 1
    # Nothing more is sent under the paused key, whoever asks; other keys are untouched.
    again = await policy.call(target, REQUEST, counters, budget)
    assert (again.result, again.attempts, again.paused) == (QUOTA, 0, True)
    assert await PolicyAdapter(generator, policy).send(REQUEST) is QUOTA
    assert generator.sent_at == []
    assert target.sent_at == [0.0]
    assert budget.calls == 1
    assert (await policy.call(elsewhere, REQUEST, RetryCounters())).result is OK


async def test_tokens_are_charged_with_the_request_estimate_and_corrected_by_usage() -> None:
    time = VirtualTime()
    # 600 tokens/min = 10/s; the bucket holds half a second (5 tokens, rounded up by the estimate).
    policy = make_policy(time, [(KEY, Limits(tpm=600))])
    target = Scripted(time)
    for _ in range(2):
        await time.run([task(policy.call(target, REQUEST, RetryCounters()))])
    # Charged the estimate, len("hello there") // 3 + 1 + 16 = 20 tokens, from a full bucket of half
    # a second; the reported usage (15) gives 5 back, so the second request waits for 15 tokens of
    # refill, not 20.
    rate = 10.0 * PACING_HEADROOM
    assert target.sent_at == pytest.approx([0.0, 15.0 / rate])


async def test_policy_adapter_spends_a_budget_per_answer_and_stops_at_the_cap() -> None:
    time = VirtualTime()
    policy = make_policy(time, [(KEY, Limits())], initial_wait_s=1.0)
    no_usage = AttemptResult(Outcome.COMPLETED, text="x" * 30, finish_reason="stop")
    generator = Scripted(time, BUSY, OK, no_usage)
    budget = Budget(max_usd=None, max_calls=3)
    adapter = PolicyAdapter(generator, policy, budget=budget, price=Price(0.001, 0.002))
    first = task(adapter.send(REQUEST))
    await time.run([first])
    assert first.result() is OK
    # Both attempts count as calls; only the answer is charged, at its reported usage (10, 5).
    assert budget.calls == 2
    assert budget.spent_usd == pytest.approx(10 * 0.001 + 5 * 0.002)
    assert await adapter.send(REQUEST) is no_usage
    # No usage reported: the prompt and the answer are charged at the shared token estimate.
    prompt, completion = text_tokens(REQUEST.prompt), text_tokens(no_usage.text)
    assert charged_tokens(REQUEST.prompt, no_usage) == (prompt, completion)
    assert budget.spent_usd == pytest.approx(0.02 + prompt * 0.001 + completion * 0.002)
    refused = await adapter.send(REQUEST)
    assert (refused.outcome, refused.vendor_code) == (Outcome.FAILED_PERMANENT, "budget")
    assert refused.error is not None
    assert "max_calls 3" in refused.error
    assert len(generator.sent_at) == 3
