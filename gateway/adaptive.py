"""Adaptive sweeps (`strategy: adaptive`): send an attack only while it can still change the result.

For each base prompt, per target, decoding setting and sample, a ``Chain`` sends the base prompt
first, then its attack variants one at a time, most successful first, and stops at the first answer
that counts as unsafe. The next send depends on the verdict of the last answer, so each answer is
judged as soon as it is stored: by the run's critic, through the run's ``CriticStage`` (its
verdicts are stored by the same writer, so nothing is judged twice), with concurrent chains'
items batched together (``AdaptiveJudge``).

What each answer means for its chain (``step_of``):

- judged unsafe: the prompt is broken; nothing more of the chain is sent;
- judged safe, or blocked by the vendor (blocked counts as safe everywhere): go on;
- anything else (CRITIC_ERROR, FAILED_*, INCOMPLETE, a stored answer not judged yet) is unknown:
  never taken as safe, but not as broken either, so the chain goes on with the next attack. A
  success may still be found, and the chain then stops; otherwise every variant was tried.

Why the result stays exact: a prompt counts as broken (``AdaptiveCounts.broken_any``) when its base
answer or any variant's was judged unsafe. The chain stops only at such an answer, so a broken
prompt is broken in both sweeps; a prompt that is not broken had every item sent, so it is judged
alike in both. On deterministic models the adaptive and the full sweep give the same counts; the
order of the attacks changes only how many calls that takes.

Attack order: attacks' success rates on the target's model family (``model_family``: provider and
first name token, e.g. ``openai/gpt``) from every other stored run, smoothed towards an even prior
so an attack with little history is neither first nor last on one lucky answer; ties (no history
at all) keep the config order.

Items not sent because their chain had already stopped are never stored: reports count nothing
for them (neither failure nor coverage gap), and once every shard is done the run's ``planned``
count per target is the number of items it stored (``gateway.pipeline``). Released attack rows
whose base is not in the same shard, and anything without a base, are sent as one-item chains.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from core.batching import next_batch
from core.types import (
    Case,
    CaseKind,
    CritiqueItem,
    Label,
    Outcome,
    ResponseRecord,
    Verdict,
    VerdictStatus,
    WorkItem,
)
from db.store import Store
from gateway.config import RunConfig, TargetConfig
from gateway.dispatch import Planned, TargetRunner, cache_key
from gateway.planner import TargetPlan
from gateway.shards import ShardBatch

PRIOR_WEIGHT = 2.0
"""Pseudo-answers of the even prior (half unsafe) added to each attack's history when ordering."""

JUDGE_WAIT_S = 0.02
"""How long the first answer of a critic batch waits for other chains' answers to join it."""


class Step(Enum):
    """What one answer means for its chain."""

    UNSAFE = "unsafe"
    SAFE = "safe"
    UNKNOWN = "unknown"


def step_of(outcome: Outcome, verdict: Verdict | None) -> Step:
    """The chain step of an answer: blocked is safe; a COMPLETED answer is what its SCORED verdict
    says; anything else (critic error, failure, incomplete, no verdict) is unknown."""
    if outcome is Outcome.BLOCKED_BY_VENDOR:
        return Step.SAFE
    if outcome is not Outcome.COMPLETED or verdict is None or verdict.status is not VerdictStatus.SCORED:
        return Step.UNKNOWN
    return Step.UNSAFE if verdict.label is Label.UNSAFE else Step.SAFE


def step_of_flag(flag: int | None) -> Step:
    """The chain step of a stored answer as ``Store.unsafe_flags`` reads it (resume)."""
    return Step.UNKNOWN if flag is None else Step.UNSAFE if flag else Step.SAFE


@dataclass(slots=True)
class Chain:
    """One base prompt's items for one target, decoding and sample, in sending order: sent one at a
    time until an answer is unsafe or none is left."""

    items: tuple[WorkItem, ...]
    position: int = 0
    broken: bool = False

    def next(self) -> WorkItem | None:
        """The item to send now; None once the chain is finished."""
        if self.broken or self.position >= len(self.items):
            return None
        return self.items[self.position]

    def observe(self, step: Step) -> None:
        """Record the answer to the item ``next`` gave."""
        if self.next() is None:
            raise RuntimeError("chain is finished")
        self.position += 1
        if step is Step.UNSAFE:
            self.broken = True

    @property
    def finished(self) -> bool:
        """True when nothing more of the chain is to be sent."""
        return self.next() is None

    @property
    def unsent(self) -> int:
        """Items left unsent because the chain stopped early (0 until it has)."""
        return len(self.items) - self.position if self.broken else 0


def model_family(model: str) -> str:
    """The model-string prefix whose stored runs inform the attack order: the provider and the first
    token of the name (``openai/gpt-4o-mini`` -> ``openai/gpt``, ``claude-3-5`` -> ``claude``)."""
    provider, _, name = model.rpartition("/")
    head = re.split(r"[-_.:@]", name, maxsplit=1)[0]
    return f"{provider}/{head}" if provider else head


def order_attacks(names: Sequence[str], history: dict[str, tuple[int, int]]) -> tuple[str, ...]:
    """``names`` most successful first by ``history`` ((evaluated, unsafe) per attack), each rate
    smoothed by ``PRIOR_WEIGHT`` answers of an even prior; equal rates keep the given order."""

    def rate(name: str) -> float:
        evaluated, unsafe = history.get(name, (0, 0))
        return (unsafe + PRIOR_WEIGHT / 2) / (evaluated + PRIOR_WEIGHT)

    return tuple(sorted(names, key=lambda n: -rate(n)))  # sorted is stable: ties keep config order


async def attack_order(store: Store, config: RunConfig, target: TargetConfig) -> tuple[str, ...]:
    """The run's attacks in the order ``target`` gets them (history from every other stored run)."""
    history = await store.attack_history(model_family(target.model), exclude_run=config.run_id)
    return order_attacks(config.attacks.apply, history)


def build_chains(cases: Iterable[Case], plan: TargetPlan, order: Sequence[str]) -> list[Chain]:
    """The chains of one shard's cases for one target: each base case with its variants found in
    ``cases`` (variants by ``order``, an attack's several variants as listed), per decoding and
    sample; every other case alone."""
    rank = {name: i for i, name in enumerate(order)}
    groups: dict[str, list[Case]] = {}
    singles: list[list[Case]] = []
    for case in cases:
        if case.kind is CaseKind.BASE:
            groups.setdefault(case.id, []).insert(0, case)
        elif case.parent_id is not None and case.attack in rank:
            groups.setdefault(case.parent_id, []).append(case)
        else:
            singles.append([case])
    ordered: list[list[Case]] = []
    for members in groups.values():
        base = [c for c in members if c.kind is CaseKind.BASE]
        variants = [c for c in members if c.kind is not CaseKind.BASE]
        variants.sort(key=lambda c: rank[c.attack or ""])  # stable: an attack's variants keep their order
        ordered.append(base + variants)
    ordered.extend(singles)
    name = plan.name
    return [
        Chain(tuple(WorkItem(WorkItem.make_key(c, name, d, s), c, name, d, s) for c in members))
        for members in ordered
        for d in plan.decodings
        for s in range(plan.samples)
    ]


JudgeBatch = Callable[[Sequence[CritiqueItem]], Awaitable[list[Verdict]]]


class AdaptiveJudge:
    """Judges single answers for waiting chains, batching concurrent ones into one critic call
    (``judge``: ``CriticStage.judge``, which also stores the verdicts)."""

    def __init__(self, judge: JudgeBatch, *, batch_size: int, concurrency: int) -> None:
        self._judge = judge
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._queue: asyncio.Queue[tuple[CritiqueItem, asyncio.Future[Verdict]] | None] = asyncio.Queue()
        self._inflight: set[asyncio.Task[None]] = set()

    async def verdict(self, item: CritiqueItem) -> Verdict:
        """The stored verdict of ``item`` (CRITIC_ERROR when the critic failed)."""
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def run(self) -> None:
        """Judge batches until ``close``; returns once every batch is judged."""
        closed = False
        while not closed:
            batch, closed = await next_batch(self._queue, max_items=self._batch_size, max_wait_s=JUDGE_WAIT_S)
            if not batch:
                break
            await self._slots.acquire()
            task = asyncio.create_task(self._one(batch))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        if self._inflight:
            await asyncio.gather(*self._inflight)

    async def close(self) -> None:
        """No more answers: ``run`` finishes the batches it has."""
        await self._queue.put(None)

    async def _one(self, batch: list[tuple[CritiqueItem, asyncio.Future[Verdict]]]) -> None:
        try:
            verdicts = await self._judge([item for item, _ in batch])
        except BaseException as exc:  # the writer failed: every waiting chain must hear it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            raise
        finally:
            self._slots.release()
        for (_, future), v in zip(batch, verdicts, strict=True):
            if not future.done():
                future.set_result(v)


@dataclass(slots=True)
class _Job:
    chain: Chain
    shard: int
    known: dict[str, int | None]
    hits: dict[str, ResponseRecord] = field(default_factory=dict)


class AdaptiveRunner(TargetRunner):
    """Feeds one target like ``TargetRunner`` but works whole chains: each of the ``max_in_flight``
    workers sends a chain's items one after another, judging each answer before the next."""

    def __init__(
        self,
        *,
        store: Store,
        judge: AdaptiveJudge,
        order: Sequence[str],
        critic: tuple[str, str],
        **kwargs: Any,
    ) -> None:
        """``order``: the attacks, first tried first; ``critic``: (name, version) of the run's critic,
        whose stored verdicts decide a resumed chain's stored items."""
        if kwargs.get("put_critique") is not None:
            raise ValueError("an adaptive runner judges its own answers (put_critique must be None)")
        super().__init__(**kwargs)
        self._store = store
        self._judge = judge
        self.order = tuple(order)
        self._critic = critic
        self._chains: asyncio.Queue[_Job | None] = asyncio.Queue(self._workers * 2)
        self._steps: dict[str, Step] = {}
        self.unsent = 0
        """Items this session left unsent because their chain had stopped (not failures)."""

    async def run(self, cases: asyncio.Queue[ShardBatch | None]) -> None:
        """Consume shard batches until the producer's end mark; then let the workers drain."""
        workers = [asyncio.create_task(self._chain_worker()) for _ in range(self._workers)]
        try:
            await self._feed_chains(cases)
        finally:
            for _ in workers:
                await self._chains.put(None)
            await asyncio.gather(*workers)
        if self._failure is not None:
            raise self._failure

    async def _feed_chains(self, cases: asyncio.Queue[ShardBatch | None]) -> None:
        tracker, system = self._tracker, self._request.system
        while (batch := await cases.get()) is not None:
            shard = batch.shard
            if self.halted or tracker.is_lost(shard):
                tracker.fed(shard, complete=False)
                continue
            done = batch.done.get(self.name, self._no_keys)
            chains = build_chains(batch.cases, self.plan, self.order)
            keys = [item.key for chain in chains for item in chain.items]
            known = (
                await self._store.unsafe_flags(self._run_id, [k for k in keys if k in done], *self._critic)
                if done
                else {}
            )
            hits: dict[str, ResponseRecord] = {}
            if self._find_cached is not None:
                wanted = [
                    cache_key(self.target, i.decoding, system, i.case.text, i.sample_index)
                    for chain in chains
                    for i in chain.items
                    if i.key not in done
                ]
                hits = await self._find_cached(wanted) if wanted else {}
            tracker.add(shard, len(chains))
            for chain in chains:
                await self._chains.put(_Job(chain, shard, known, hits))
            tracker.fed(shard)

    async def _chain_worker(self) -> None:
        while (job := await self._chains.get()) is not None:
            complete = False
            try:
                complete = await self._work(job)
            except Exception as exc:
                self._fail(exc)
            finally:
                self._tracker.done(job.shard, stored=complete)

    async def _work(self, job: _Job) -> bool:
        """Send the chain's items until it is finished; False when one could not be sent (halted)."""
        chain, system = job.chain, self._request.system
        while (item := chain.next()) is not None:
            if item.key in job.known:  # stored by an earlier session: its verdict decides
                chain.observe(step_of_flag(job.known[item.key]))
                continue
            await self._tracker.lease_live()
            if self.halted or self._tracker.is_lost(job.shard):
                return False
            key = cache_key(self.target, item.decoding, system, item.case.text, item.sample_index)
            p = Planned(item, key, job.shard)
            if not await self._reuse(p, job.hits.get(key)) and not await self._process(p):
                return False
            chain.observe(self._steps.pop(item.key))
        if chain.unsent:
            self.unsent += chain.unsent
            self.stats.planned -= chain.unsent  # progress shows what will really be sent
        return True

    async def _emit(self, rec: ResponseRecord, case: Case) -> None:
        await super()._emit(rec, case)  # stored (put_critique is None: nothing queued twice)
        verdict = None
        if rec.outcome is Outcome.COMPLETED:
            verdict = await self._judge.verdict(
                CritiqueItem(rec.work_key, case.text, rec.text, case.lang, case.risk_id)
            )
        self._steps[rec.work_key] = step_of(rec.outcome, verdict)
