"""Per-target dispatch: the hot path from a planned work item to a stored ``ResponseRecord``.

Each target has a feeder (case batches -> work items, minus those with a final stored answer, minus
those the response cache answers) and ``max_in_flight`` workers. A worker takes an item, sends it
through the call policy (``gateway.policy``: limiter, retries, Retry-After and quota pauses),
prices the usage and hands the record to the batched writer and, when the answer is COMPLETED, to
the critic stage.

This path runs millions of times, so it is plain code over slotted objects: no pydantic, no
logging, no per-item tasks; counters are plain integers read by the progress reporter.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from core.protocols import TargetAdapter
from core.tokens import DEFAULT_COMPLETION_TOKENS, text_tokens
from core.types import (
    AttemptResult,
    Case,
    ChatRequest,
    CritiqueItem,
    Decoding,
    Outcome,
    ResponseRecord,
    Usage,
    WorkItem,
    stable_hash,
)
from gateway.budget import Budget, Price, charged_tokens
from gateway.config import RunConfig, TargetConfig
from gateway.planner import TargetPlan
from gateway.policy import CallPolicy
from gateway.retry import RetryCounters
from gateway.run_results import EarlierWork, TargetStatus
from gateway.shards import ShardBatch, ShardTracker

ITEM_QUEUE_PER_WORKER = 2


@dataclass(slots=True)
class TargetStats:
    """Live counters of one target, for progress and the run result (this session's work)."""

    planned: int = 0
    already_done: int = 0
    stored: int = 0
    cached: int = 0
    completed: int = 0
    blocked: int = 0
    incomplete: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    retry: RetryCounters = field(default_factory=RetryCounters)
    earlier: EarlierWork = field(default_factory=EarlierWork)
    """What earlier sessions stored (progress shows the whole run); the counters above are this session's."""

    @property
    def done(self) -> int:
        """Items with a stored response, earlier sessions included."""
        return self.already_done + self.stored

    def count(self, rec: ResponseRecord) -> None:
        """Account for one stored record."""
        self.stored += 1
        outcome = rec.outcome
        if outcome is Outcome.COMPLETED:
            self.completed += 1
        elif outcome is Outcome.BLOCKED_BY_VENDOR:
            self.blocked += 1
        elif outcome is Outcome.INCOMPLETE:
            self.incomplete += 1
        else:
            self.failed += 1
        self.prompt_tokens += rec.prompt_tokens
        self.completion_tokens += rec.completion_tokens
        self.cost_usd += rec.cost_usd


def cache_key(target: TargetConfig, decoding: Decoding, system: str | None, prompt: str, sample: int) -> str:
    """Response-cache key: only what changes the answer (model, endpoint, parameters, text, sample)."""
    return stable_hash(
        target.litellm_model, target.api_base or "", decoding.key, system or "", prompt, sample
    )


@dataclass(slots=True)
class Planned:
    """A work item with its cache key and shard, as the feeder hands it to the workers."""

    item: WorkItem
    cache_key: str
    shard: int


class TargetRunner:
    """Feeds and works one target of a run."""

    def __init__(
        self,
        *,
        run_id: str,
        config: RunConfig,
        target: TargetConfig,
        adapter: TargetAdapter,
        policy: CallPolicy,
        price: Price,
        budget: Budget,
        stop: asyncio.Event,
        put_response: Callable[[ResponseRecord], Awaitable[None]],
        put_critique: Callable[[CritiqueItem], Awaitable[None]] | None,
        find_cached: Callable[[Sequence[str]], Awaitable[dict[str, ResponseRecord]]] | None,
        on_pause: Callable[[str, AttemptResult], Awaitable[None]],
        tracker: ShardTracker,
        stats: TargetStats,
    ) -> None:
        self.name = target.name
        self.target = target
        self.plan = TargetPlan.of(config, target)
        self.stats = stats
        self.status = TargetStatus.ACTIVE
        self.status_detail = ""
        self._run_id = run_id
        self._adapter = adapter
        self._policy = policy
        self._price = price
        self._budget = budget
        self._stop = stop
        self._put_response = put_response
        self._put_critique = put_critique
        self._find_cached = find_cached
        self._on_pause = on_pause
        self._tracker = tracker
        self._failure: Exception | None = None  # the first error a worker could not handle
        self._no_keys: frozenset[str] = frozenset()
        # The shared limiter caps in-flight requests across targets; these workers cap this one.
        self._workers = target.limits.max_in_flight
        self._items: asyncio.Queue[Planned | None] = asyncio.Queue(self._workers * ITEM_QUEUE_PER_WORKER)
        self._request = config.request
        self._decoding_json = {
            d.key: json.dumps(d.as_params(), sort_keys=True, separators=(",", ":"))
            for d in self.plan.decodings
        }

    @property
    def halted(self) -> bool:
        """True once nothing more may be sent to this target (paused, budget, stop)."""
        return (
            self.status != TargetStatus.ACTIVE
            or self._stop.is_set()
            or self._budget.reason is not None
            or self._failure is not None
        )

    async def run(self, cases: asyncio.Queue[ShardBatch | None]) -> None:
        """Consume shard batches until the producer's end mark; then let the workers drain. Raises
        the first error a worker met, once every worker has drained."""
        workers = [asyncio.create_task(self._worker()) for _ in range(self._workers)]
        try:
            await self._feed(cases)
        finally:
            for _ in workers:
                await self._items.put(None)
            await asyncio.gather(*workers)
        if self._failure is not None:
            raise self._failure

    def _fail(self, exc: Exception) -> None:
        """A worker's unexpected error: the target halts (so the producer stops claiming shards and
        the queue drains unsent) instead of the worker dying and leaving the feed blocked on a full
        queue; ``run`` raises it at the end, which fails the run."""
        if self._failure is None:
            self._failure = exc

    async def _feed(self, cases: asyncio.Queue[ShardBatch | None]) -> None:
        target, system, tracker = self.target, self._request.system, self._tracker
        while (batch := await cases.get()) is not None:
            shard = batch.shard
            if self.halted or tracker.is_lost(shard):
                tracker.fed(shard, complete=False)  # keep draining so the producer never blocks
                continue
            done = batch.done.get(self.name, self._no_keys)
            planned = [
                Planned(
                    item, cache_key(target, item.decoding, system, item.case.text, item.sample_index), shard
                )
                for item in self.plan.items(batch.cases, done)
            ]
            if self._find_cached is not None and planned:
                hits = await self._find_cached([p.cache_key for p in planned])
                if hits:
                    planned = [p for p in planned if not await self._reuse(p, hits.get(p.cache_key))]
            tracker.add(shard, len(planned))
            for p in planned:
                await self._items.put(p)
            tracker.fed(shard)

    async def _reuse(self, p: Planned, hit: ResponseRecord | None) -> bool:
        if hit is None:
            return False
        item = p.item
        # No call is made and nothing is paid: zero attempts, zero cost, the source run recorded.
        rec = self._record(item, p.cache_key, _attempt_of(hit), 0, cost=0.0, cached_from=hit.run_id)
        self.stats.cached += 1
        await self._emit(rec, item.case)
        return True

    async def _worker(self) -> None:
        items, tracker = self._items, self._tracker
        while (p := await items.get()) is not None:
            stored = False
            try:
                await tracker.lease_live()
                # A shard taken over by another worker (this one stalled past its lease) is theirs now.
                if not self.halted and not tracker.is_lost(p.shard):
                    stored = await self._process(p)
            except Exception as exc:
                self._fail(exc)
            finally:
                tracker.done(p.shard, stored=stored)

    async def _process(self, p: Planned) -> bool:
        """Send one item and queue its answer; False when it was not sent (budget, target paused)."""
        item = p.item
        case = item.case
        req = self._request
        request = ChatRequest(
            prompt=case.text,
            decoding=item.decoding,
            stream=req.stream if self.target.stream is None else self.target.stream,
            system=req.system,
            max_response_chars=req.max_response_chars,
            timeout_s=req.timeout_s,
            idle_timeout_s=req.idle_timeout_s,
        )
        budget = self._budget
        reserved = 0.0
        if budget.capped:
            reserved = self._price.cost(
                text_tokens(case.text), item.decoding.max_tokens or DEFAULT_COMPLETION_TOKENS
            )
            if not await budget.reserve(reserved):
                return False
        done = await self._policy.call(self._adapter, request, self.stats.retry, budget)
        result = done.result
        if done.paused:
            await budget.unreserve(reserved)
            await self._pause(result)
            return False  # not stored: the item is sent again once the target is resumed
        prompt_tokens, completion_tokens = charged_tokens(case.text, result)
        cost = self._price.cost(prompt_tokens, completion_tokens)
        await budget.settle(reserved, cost, done.attempts)
        rec = self._record(
            item, p.cache_key, result, done.attempts, cost=cost, tokens=(prompt_tokens, completion_tokens)
        )
        await self._emit(rec, case)
        return True

    async def _pause(self, result: AttemptResult) -> None:
        if self.status == TargetStatus.PAUSED:
            return
        self.status = TargetStatus.PAUSED
        self.status_detail = (
            f"paused after {result.outcome.value} (status {result.status_code}, code {result.vendor_code}): "
            f"{result.error or 'no detail'}; unsent items stay unsent, run again to resume"
        )
        await self._on_pause(self.name, result)

    async def _emit(self, rec: ResponseRecord, case: Case) -> None:
        await self._put_response(rec)
        self.stats.count(rec)
        if self._put_critique is not None and rec.outcome is Outcome.COMPLETED:
            await self._put_critique(CritiqueItem(rec.work_key, case.text, rec.text, case.lang, case.risk_id))

    def _record(
        self,
        item: WorkItem,
        key: str,
        result: AttemptResult,
        attempts: int,
        *,
        cost: float,
        tokens: tuple[int, int] | None = None,
        cached_from: str | None = None,
    ) -> ResponseRecord:
        case = item.case
        if tokens is None:
            usage = result.usage
            tokens = (usage.prompt_tokens, usage.completion_tokens) if usage is not None else (0, 0)
        decoding = item.decoding
        return ResponseRecord(
            run_id=self._run_id,
            work_key=item.key,
            case_id=case.id,
            target=self.name,
            decoding_key=decoding.key,
            decoding_json=self._decoding_json[decoding.key],
            sample_index=item.sample_index,
            lang=case.lang,
            dimension=case.dimension,
            risk_id=case.risk_id,
            kind=case.kind.value,
            attack=case.attack,
            parent_case_id=case.parent_id,
            cache_key=key,
            outcome=result.outcome,
            finish_reason=result.finish_reason,
            vendor_code=result.vendor_code,
            status_code=result.status_code,
            text=result.text,
            truncated=result.truncated,
            prompt_tokens=tokens[0],
            completion_tokens=tokens[1],
            cost_usd=cost,
            latency_ms=result.latency_s * 1000.0,
            ttft_ms=result.ttft_s * 1000.0 if result.ttft_s is not None else None,
            attempts=attempts,
            error=result.error,
            cached_from=cached_from,
            block_category=",".join(result.categories) or None,
        )


def _attempt_of(rec: ResponseRecord) -> AttemptResult:
    """A stored answer seen again as the attempt result it was (for a cache hit)."""
    return AttemptResult(
        outcome=rec.outcome,
        text=rec.text,
        finish_reason=rec.finish_reason,
        vendor_code=rec.vendor_code,
        status_code=rec.status_code,
        usage=Usage(rec.prompt_tokens, rec.completion_tokens),
        latency_s=rec.latency_ms / 1000.0,
        ttft_s=rec.ttft_ms / 1000.0 if rec.ttft_ms is not None else None,
        truncated=rec.truncated,
        categories=tuple(rec.block_category.split(",")) if rec.block_category else (),
        error=rec.error,
    )
