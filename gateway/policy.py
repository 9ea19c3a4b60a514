"""The policy layer: the one way the gateway calls a vendor.

Every vendor call (a target's item, the attack generator's rewrite) goes through
``CallPolicy.call(adapter, request, counters)``, which composes, in this order:

1. the quota pause: once an answer under a limit key said ``pause_target`` (quota, spend limit,
   credentials), later calls under that key return that answer without sending (nothing under
   that key can succeed until a person acts; calls already waiting on the limiter still go out);
2. the limiter of the adapter's limit key, from one ``LimiterRegistry`` per run shared by targets
   and the generator alike (token estimate: ``core.tokens.request_tokens``);
3. the retry loop (``gateway.retry.RetryPolicy``: what is retried, backoff, attempt cap, the
   per-item deadline);
4. the Retry-After pause: a vendor's Retry-After pauses the whole limiter (every caller under that
   key), capped at ``retry.max_wait_s`` like the item's own wait;
5. the repeated-failure pause: ``retry.pause_after_identical_failures`` FAILED_PERMANENT answers in
   a row under a key with the same HTTP status and vendor code (a misspelt model's 404) pause the
   key like a quota answer for the calls after them: every further call would fail the same way.
   Statuses a prompt itself can cause (400, 413, 422: its content or length) never count.

Counting (calls, retries, 429s; the run's ``Budget`` when given) happens here too, per attempt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Callable, Iterable, Mapping

from core.protocols import TargetAdapter
from core.tokens import request_tokens
from core.types import AttemptResult, ChatRequest, Outcome
from gateway.budget import Budget, Price, charged_tokens
from gateway.config import Limits, RetryConfig, RunConfig
from gateway.limits import Clock, RateLimiter, Sleep, build_limiters, merge_limits
from gateway.retry import CallOutcome, RetryCounters, RetryPolicy

MakeLimiter = Callable[[str, Limits], RateLimiter]
"""Builds the limiter of one limit key from its merged limits (e.g. a Redis-shared one)."""


class LimiterRegistry:
    """One limiter per limit key for a whole run: every caller under a key shares its buckets.

    Built up front from every (key, limits) pair that will send (targets and the generator);
    callers sharing a key share one limiter under the strictest of their limits. By default the
    limiters live in this process; ``make`` builds others (``gateway.shared_limits`` for limits that
    every worker of a sweep shares).
    """

    def __init__(
        self,
        keyed: Iterable[tuple[str, Limits]],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        make: MakeLimiter | None = None,
    ) -> None:
        self._by_key: dict[str, RateLimiter]
        if make is None:
            self._by_key = dict(build_limiters(keyed, clock=clock, sleep=sleep))
        else:
            self._by_key = {key: make(key, limits) for key, limits in merge_limits(keyed).items()}

    @classmethod
    def for_run(
        cls,
        config: RunConfig,
        adapters: Mapping[str, TargetAdapter],
        generator: TargetAdapter | None = None,
        *,
        extra: Iterable[tuple[str, Limits]] = (),
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        make: MakeLimiter | None = None,
    ) -> LimiterRegistry:
        """Limiters for the run's targets (``adapters`` by target name), its generator adapter and
        ``extra`` (limit key, limits) pairs (the judge critic's)."""
        keyed = [(adapters[t.name].limit_key, t.limits) for t in config.targets]
        keyed.extend(extra)
        gen_target = config.attacks.generator
        if generator is not None and gen_target is not None:
            keyed.append((generator.limit_key, gen_target.limits))
        return cls(keyed, clock=clock, sleep=sleep, make=make)

    def __getitem__(self, key: str) -> RateLimiter:
        try:
            return self._by_key[key]
        except KeyError:
            raise KeyError(f"no limiter for limit key {key!r}: it was not registered for this run") from None


_PROMPT_DEPENDENT_STATUSES = frozenset({400, 413, 422})
"""Permanent failures whose cause may be the prompt itself (its content or length), so a run of
them says nothing about the next item: they never pause a key."""


class CallPolicy:
    """Limiter, retries, Retry-After pause, deadline and quota pause around one vendor call."""

    def __init__(
        self,
        config: RetryConfig,
        limiters: LimiterRegistry,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.limiters = limiters
        self._retry = RetryPolicy(config, sleep=sleep, clock=clock, rng=rng)
        self._max_wait_s = config.max_wait_s
        # The answer that paused each limit key; the run's state, not a process-wide one.
        self._paused: dict[str, AttemptResult] = {}
        self._pause_after = config.pause_after_identical_failures
        # Per limit key: (status, vendor code) of the last final answer when it failed permanently,
        # and how many final answers in a row failed that way.
        self._streaks: dict[str, tuple[tuple[int | None, str | None], int]] = {}

    async def call(
        self,
        adapter: TargetAdapter,
        request: ChatRequest,
        counters: RetryCounters,
        budget: Budget | None = None,
    ) -> CallOutcome:
        """Send ``request`` through ``adapter`` under the policy; errors come back as results."""
        key = adapter.limit_key
        held = self._paused.get(key)
        if held is not None:
            return CallOutcome(held, 0)
        limiter = self.limiters[key]
        estimate = request_tokens(request.prompt, request.decoding.max_tokens)

        async def attempt() -> AttemptResult:
            await limiter.acquire(estimate)
            actual: int | None = None
            try:
                if budget is not None:
                    budget.calls += 1
                counters.calls += 1
                result = await adapter.send(request)
                if result.usage is not None:
                    actual = result.usage.total_tokens
                return result
            finally:
                limiter.release(estimate, actual)

        def after(result: AttemptResult) -> None:
            if result.retry_after_s is not None:
                # Every sender under this key backs off, not only the item that saw the 429/503.
                limiter.pause(min(result.retry_after_s, self._max_wait_s))
            if result.pause_target:
                self._paused.setdefault(key, result)

        return self._watch(key, await self._retry.run(attempt, counters, after))

    def _watch(self, key: str, done: CallOutcome) -> CallOutcome:
        """Count identical permanent failures in a row under ``key``; pause it at the threshold."""
        result = done.result
        if result.outcome is not Outcome.FAILED_PERMANENT or result.pause_target or self._pause_after == 0:
            self._streaks.pop(key, None)
            return done
        if result.status_code in _PROMPT_DEPENDENT_STATUSES:
            return done  # neither counts nor breaks a streak: the next prompt may well be accepted
        signature = (result.status_code, result.vendor_code)
        last, count = self._streaks.get(key, (signature, 0))
        count = count + 1 if last == signature else 1
        self._streaks[key] = (signature, count)
        if count >= self._pause_after:
            # This answer is a real one and is kept; the calls after it return the pause unsent
            # (when every item was already sent, nothing is held back and nothing is paused).
            paused = dataclasses.replace(
                result,
                pause_target=True,
                error=f"{count} identical permanent failures in a row: {result.error or 'no detail'}",
            )
            self._paused.setdefault(key, paused)
        return done


class PolicyAdapter:
    """A ``TargetAdapter`` whose every send goes through a ``CallPolicy``: how a generator model
    (the attack generator, test generation's Mt) is called, under the same limiters (and the same
    limit keys) as the targets.

    With a ``budget`` it spends like a target: a send once a cap is reached returns an unsent
    FAILED_PERMANENT, attempts count as calls, and ``price`` charges each final answer's tokens.
    """

    def __init__(
        self,
        inner: TargetAdapter,
        policy: CallPolicy,
        *,
        budget: Budget | None = None,
        price: Price | None = None,
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._budget = budget
        self._price = price
        self.counters = RetryCounters()

    @property
    def limit_key(self) -> str:
        """The wrapped adapter's limit key."""
        return self._inner.limit_key

    @property
    def name(self) -> str:
        """The wrapped adapter's name."""
        return self._inner.name

    async def send(self, request: ChatRequest) -> AttemptResult:
        """Send under the policy; the final result of all attempts."""
        budget = self._budget
        if budget is not None and not budget.check():
            return AttemptResult(Outcome.FAILED_PERMANENT, error=budget.reason, vendor_code="budget")
        result = (await self._policy.call(self._inner, request, self.counters, budget)).result
        if budget is not None and self._price is not None:
            budget.spent_usd += self._price.cost(*charged_tokens(request.prompt, result))
        return result

    async def aclose(self) -> None:
        """Close the wrapped adapter."""
        await self._inner.aclose()
