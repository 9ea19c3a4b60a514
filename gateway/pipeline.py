"""One run, end to end: plan, dispatch to every target, store, critique, and say how it ended.

Shape (all asyncio, bounded queues everywhere):

    suites --stream--> case batches (attacked variants frozen in the store first)
        --one bounded queue per target--> feeder (skip stored keys, answer from the cache)
        --bounded item queue--> max_in_flight workers (call policy: limiter, retry, adapter) --> BatchWriter
                                                        `--COMPLETED--> critic stage --> BatchWriter

After dispatch, responses stored without a SCORED verdict from the run's critic (cache hits, a
killed session's leftovers, earlier critic errors) are scored from the store. Concrete parts
(store, adapters, call policy, critic, attack expander) are given by the caller (``gateway.sdk``).
Statuses and result types: ``gateway.run_results``; the critic stage: ``gateway.critic_stage``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from adapters.batch import BatchClient
from core.errors import ConfigError
from core.protocols import Critic, TargetAdapter
from core.redaction import Redactor
from core.types import AttemptResult, Case, CaseKind, CritiqueItem, SkippedRow
from db.journal import Journal
from db.store import RETRYABLE_OUTCOMES, Store
from db.tables import RunTargetRow
from db.writer import BatchWriter, wait_out_locks
from gateway.adaptive import AdaptiveJudge, AdaptiveRunner, attack_order
from gateway.batch_runner import BatchRunner
from gateway.budget import Budget, Price, price_for
from gateway.config import RunConfig
from gateway.critic_stage import CriticStage, CriticStats
from gateway.dispatch import TargetRunner, TargetStats
from gateway.planner import (
    Expander,
    FrozenAttacks,
    case_chunks,
    count_source_cases,
    planned_cases,
    planned_counts,
    prepare_batch,
)
from gateway.planner import suite_cases as plan_suite_cases
from gateway.policy import CallPolicy, LimiterRegistry
from gateway.progress import ProgressSink
from gateway.run_results import EarlierWork, RunResult, RunStatus, TargetResult, TargetStatus
from gateway.shards import (
    LEFTOVERS_SHARD,
    Membership,
    ShardBatch,
    ShardQueue,
    ShardTracker,
    WorkerOptions,
)

CASE_QUEUE_BATCHES = 4
"""Case batches a target may have waiting: how far a fast target runs ahead of a slow one."""

WAIT_POLL_S = 0.5
"""How often a worker whose stream is done looks whether the other workers have finished."""

CLAIM_POLL_S = 0.02
"""How often a worker looks whether its targets need the next shard."""


@dataclass(frozen=True, slots=True)
class Wiring:
    """The concrete parts a run uses, built by the SDK."""

    store: Store
    adapters: Mapping[str, TargetAdapter]
    critic: Critic | None = None
    expander: Expander | None = None
    redactor: Redactor = field(default_factory=Redactor)
    policy: CallPolicy | None = None
    """The call policy shared with the attack generator; None: one for the targets alone."""
    batch_clients: Mapping[str, BatchClient] = field(default_factory=dict)
    """The vendor batch clients of the `mode: batch` targets, by target name."""


async def execute(
    config: RunConfig,
    wiring: Wiring,
    *,
    stop: asyncio.Event | None = None,
    use_cache: bool | None = None,
    retry_failed: bool | None = None,
    progress: ProgressSink | None = None,
    workers: WorkerOptions | None = None,
) -> RunResult:
    """Run (or resume) ``config`` with the given parts; returns how it ended.

    Any number of processes may run the same config against one Postgres database at once: each
    claims shards of the plan (``gateway.shards``), so every item is sent by one of them, and each
    returns once the whole run is done. ``workers`` says how this process takes part (leases,
    journal folder, shared limits); answers journaled by this run's dead workers on this host are
    stored before anything is sent.

    Items already stored are not sent again, except those stored as FAILED_TRANSIENT or INCOMPLETE
    while ``retry_failed`` (default: ``config.retry_failed``) holds; their new answer replaces them.
    ``stop`` set by the caller (Ctrl-C) ends the run gracefully: nothing new is sent, in-flight
    requests finish, everything is stored, and the status is ``interrupted``.
    """
    stop = stop if stop is not None else asyncio.Event()
    store, run_id = wiring.store, config.run_id
    cache_on = config.cache if use_cache is None else use_cache
    retry_on = config.retry_failed if retry_failed is None else retry_failed
    prices = {t.name: price_for(t) for t in config.targets}
    _check_prices(config, prices)
    if config.strategy == "adaptive" and wiring.critic is None:
        raise ConfigError("strategy: adaptive needs the run's critic to judge each answer as it comes")

    base, released = count_source_cases(config)
    estimate = planned_cases(config, base, released)
    planned = planned_counts(config, estimate)
    policy = wiring.policy or CallPolicy(config.retry, LimiterRegistry.for_run(config, wiring.adapters))
    await store.start_run(
        run_id=run_id,
        name=config.name,
        spec_json=config.spec_json(),
        targets=_target_rows(config, wiring, planned),
    )
    await store.set_run_status(run_id, RunStatus.RUNNING)

    options = (workers or WorkerOptions()).for_store(config.db_url)
    membership = Membership(store, run_id, options)
    await membership.import_journals()
    await membership.join()

    stored = await store.done_counts(run_id, include_retryable=not retry_on)
    earlier = await store.run_counts(run_id)
    resent = RETRYABLE_OUTCOMES if retry_on else ()
    stats = {
        t.name: TargetStats(
            planned=planned[t.name],
            already_done=stored.get(t.name, 0),
            earlier=EarlierWork.of(earlier, t.name, resent=resent),
        )
        for t in config.targets
    }
    spent = await store.spent_usd(run_id)
    capped = config.budget.max_usd is not None or config.budget.max_calls is not None
    budget = Budget(
        max_usd=config.budget.max_usd,
        max_calls=config.budget.max_calls,
        spent_usd=spent,
        ledger=await membership.open_ledger(spent) if capped else None,
    )
    tracker = ShardTracker(len(config.targets))
    journal = Journal(options.journal, run_id, membership.worker_id)
    journal.open()
    critic_stats = CriticStats() if wiring.critic is not None else None
    if progress is not None:
        progress.start(run_id, stats, critic_stats)

    status, detail = RunStatus.FAILED, ""
    runners: list[TargetRunner] = []
    try:
        async with BatchWriter(store, journal=journal) as writer:
            stage = (
                CriticStage(
                    wiring.critic,
                    writer,
                    run_id,
                    batch_size=config.critic.batch_size,
                    concurrency=config.critic.concurrency,
                    redactor=wiring.redactor,
                    stats=critic_stats or CriticStats(),
                )
                if wiring.critic is not None
                else None
            )

            async def on_pause(name: str, result: AttemptResult) -> None:
                runner = next(r for r in runners if r.name == name)
                await store.set_target_status(run_id, name, TargetStatus.PAUSED, runner.status_detail)

            judge = _adaptive_judge(config, stage)
            for t in config.targets:
                adapter = wiring.adapters[t.name]
                batch = {"store": store, "client": wiring.batch_clients[t.name]} if t.mode == "batch" else {}
                if judge is not None and wiring.critic is not None:
                    critic_id = (wiring.critic.name, wiring.critic.version)
                    order = await attack_order(store, config, t)
                    batch = {"store": store, "judge": judge, "order": order, "critic": critic_id}
                runners.append(
                    (AdaptiveRunner if judge is not None else BatchRunner if batch else TargetRunner)(
                        run_id=run_id,
                        config=config,
                        target=t,
                        adapter=adapter,
                        policy=policy,
                        price=prices[t.name],
                        budget=budget,
                        stop=stop,
                        put_response=writer.put_response,
                        put_critique=stage.put if stage is not None and judge is None else None,
                        find_cached=store.find_cached if cache_on else None,
                        on_pause=on_pause,
                        tracker=tracker,
                        stats=stats[t.name],
                        **batch,  # type: ignore[arg-type]
                    )
                )
            stage_task = asyncio.create_task(stage.run()) if stage is not None else None
            judge_task = asyncio.create_task(judge.run()) if judge is not None else None
            membership.start(tracker, writer.flush)
            try:
                shards = await _dispatch(config, wiring, runners, stop, budget, membership, retry_on=retry_on)
            finally:
                if judge is not None and judge_task is not None:
                    await judge.close()
                    await judge_task
                if stage is not None and stage_task is not None:
                    await stage.close()
                    await stage_task
            await writer.flush()
            await membership.record()
            sent_cases = await membership.coord.done_cases(run_id, shards) if shards is not None else None
            if sent_cases is not None and (sent_cases != estimate or judge is not None):
                exact = planned_counts(config, sent_cases)
                if judge is not None:  # adaptive: what a chain left unsent was never planned
                    stored_now = await store.done_counts(run_id)
                    exact = {name: stored_now.get(name, 0) for name in exact}
                for name, n in exact.items():
                    stats[name].planned = n
                await store.start_run(
                    run_id=run_id,
                    name=config.name,
                    spec_json=config.spec_json(),
                    targets=_target_rows(config, wiring, exact),
                )
            if (
                stage is not None
                and wiring.critic is not None
                and not stop.is_set()
                and await membership.claim(LEFTOVERS_SHARD)
            ):
                # One worker scores what is left unjudged; the others would only repeat its critic calls.
                try:
                    await _score_leftovers(stage, store, run_id, wiring.critic, config.critic.batch_size)
                finally:
                    await membership.coord.release(run_id, [LEFTOVERS_SHARD], membership.worker_id)
            status, detail = _final_status(runners, budget, stop)
    except BaseException as exc:
        detail = wiring.redactor.redact_exception(_root(exc)) if isinstance(exc, Exception) else "stopped"
        status = RunStatus.FAILED if isinstance(exc, Exception) else RunStatus.INTERRUPTED
        with contextlib.suppress(Exception):
            await asyncio.shield(_record_status(store, run_id, runners, status, detail))
        root = _root(exc)
        if root is not exc and isinstance(root, Exception):
            raise root from exc
        raise
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(membership.leave())
        journal.close()
        if progress is not None:
            await progress.stop()
    await _record_status(store, run_id, runners, status, detail)
    return await collect_result(store, run_id, config, runners, wiring.critic)


def _adaptive_judge(config: RunConfig, stage: CriticStage | None) -> AdaptiveJudge | None:
    """The judge an adaptive run's chains wait on (None for a full sweep)."""
    if config.strategy != "adaptive":
        return None
    assert stage is not None, "execute() refuses an adaptive run without a critic"
    critic = config.critic
    return AdaptiveJudge(stage.judge, batch_size=critic.batch_size, concurrency=critic.concurrency)


def _root(exc: BaseException) -> BaseException:
    """The first real error inside task-group wrappers (their own message says nothing)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


async def _dispatch(
    config: RunConfig,
    wiring: Wiring,
    runners: list[TargetRunner],
    stop: asyncio.Event,
    budget: Budget,
    membership: Membership,
    *,
    retry_on: bool,
) -> int | None:
    """Claim shards of the plan and stream their cases to every target, until every shard of the run
    is done (by this worker or another) or this worker must stop; returns the number of shards, or
    None when this worker stopped before the run was done."""
    store, run_id = wiring.store, config.run_id
    tracker = membership.tracker
    assert tracker is not None, "membership.start() comes first"
    skipped: list[SkippedRow] = []
    frozen = (
        FrozenAttacks.for_expander(store, wiring.expander, config.attacks.seed)
        if wiring.expander is not None and config.attacks.apply
        else None
    )
    send_base = CaseKind.BASE in config.kinds
    hungry = asyncio.Event()
    queues = [ShardQueue(CASE_QUEUE_BATCHES, hungry) for _ in runners]

    def halted() -> bool:
        return stop.is_set() or budget.reason is not None or any(r.halted for r in runners)

    async def send(shard: int, chunk: list[Case]) -> None:
        batch = await prepare_batch(
            chunk, store=store, send_base=send_base, frozen=frozen, on_skip=skipped.append
        )
        done = await store.done_for_cases(run_id, [c.id for c in batch], include_retryable=not retry_on)
        tracker.open(shard, [c.id for c in batch])
        for q in queues:
            await q.put(ShardBatch(shard, batch, done))

    async def stream(wanted: Callable[[int], Awaitable[bool]]) -> tuple[int, int]:
        """Stream the plan, sending each shard ``wanted`` says to: (shards in the plan, shards sent)."""
        total = sent = 0
        for shard, chunk in case_chunks(plan_suite_cases(config, on_skip=skipped.append)):
            total = shard + 1
            if skipped:
                await wait_out_locks(functools.partial(store.save_skipped, run_id, list(skipped)))
                skipped.clear()
            if halted():
                break
            # Claim the next shard only once every target has taken the last one and one of them has
            # queued all its items for sending: a worker holds about one shard of unsent work, so
            # workers of a sweep finish together instead of one of them sitting on a backlog of
            # claimed shards at the end. (Polled: at most a few times per shard.)
            while (any(q.qsize() for q in queues) or not hungry.is_set()) and not halted():  # noqa: ASYNC110
                await asyncio.sleep(CLAIM_POLL_S)
            if await wanted(shard):
                hungry.clear()
                await send(shard, chunk)
                sent += 1
        return total, sent

    result: int | None = None

    async def produce() -> None:
        nonlocal result
        try:
            done = await membership.coord.done_shards(run_id)
            settled = await membership.coord.done_shards(run_id, settled_only=True) if retry_on else done

            async def first_pass(shard: int) -> bool:
                if shard in settled:
                    return False
                if shard in done:  # done, but with failures this run sends once more
                    return await membership.claim_retry(shard)
                return await membership.claim(shard)

            total, _sent = await stream(first_pass)
            # The rest of the run: shards a dead worker held, or that a halted one gave back; meanwhile
            # this worker's own shards finish. A worker with a halted target of its own leaves such
            # shards to a later run instead of cycling on them.
            # This worker's own shards finish as its targets drain, after this loop: it waits only
            # for other live workers' shards (which it takes over if their leases run out).
            me = membership.worker_id
            while not halted():
                mine = set(await membership.takeover())
                done = await membership.coord.done_shards(run_id)
                held = await membership.coord.held_shards(run_id)
                others = {s for s, w, _t in held if w != me}
                todo = set(range(total)) - done - others - ({s for s, w, _t in held if w == me} - mine)
                sent = 0
                if todo:

                    async def again(shard: int, todo: set[int] = todo, mine: set[int] = mine) -> bool:
                        return shard in todo and (shard in mine or await membership.claim(shard))

                    _total, sent = await stream(again)
                elif not others:
                    result = total
                    return
                if not sent:
                    # Soon after the others finish, this worker returns too; a dead worker's shards are
                    # taken over once its lease runs out.
                    await asyncio.sleep(min(membership.options.beat_s, WAIT_POLL_S))
        finally:
            for q in queues:
                await q.put(None)

    async with asyncio.TaskGroup() as group:
        group.create_task(produce())
        for runner, q in zip(runners, queues, strict=True):
            group.create_task(runner.run(q))
    return result


async def _score_leftovers(
    stage: CriticStage, store: Store, run_id: str, critic: Critic, batch_size: int
) -> None:
    """Judge every COMPLETED response of the run still lacking a SCORED verdict from this critic."""
    async for pending in store.pending_critique(run_id, critic.name, critic.version, batch_size=batch_size):
        await stage.judge(
            [CritiqueItem(p.work_key, p.prompt, p.response, p.lang, p.dimension) for p in pending]
        )


def _final_status(
    runners: Sequence[TargetRunner], budget: Budget, stop: asyncio.Event
) -> tuple[RunStatus, str]:
    if stop.is_set():
        for r in runners:
            if r.status == TargetStatus.ACTIVE:
                r.status, r.status_detail = TargetStatus.STOPPED, "interrupted"
        return RunStatus.INTERRUPTED, "stopped on request; run again to resume"
    if budget.reason is not None:
        for r in runners:
            if r.status == TargetStatus.ACTIVE:
                r.status, r.status_detail = TargetStatus.STOPPED, budget.reason
        return RunStatus.BUDGET, budget.reason
    paused = [r.name for r in runners if r.status == TargetStatus.PAUSED]
    for r in runners:
        if r.status == TargetStatus.ACTIVE:
            r.status = TargetStatus.DONE
    if paused:
        return RunStatus.PARTIAL, f"target(s) paused: {', '.join(paused)}; the others finished"
    return RunStatus.COMPLETED, ""


async def _record_status(
    store: Store, run_id: str, runners: Sequence[TargetRunner], status: RunStatus, detail: str
) -> None:
    for r in runners:
        target_status = r.status if r.status != TargetStatus.ACTIVE else TargetStatus.STOPPED
        await store.set_target_status(run_id, r.name, target_status, r.status_detail)
    await store.set_run_status(run_id, status, detail)


def _target_rows(config: RunConfig, wiring: Wiring, planned: Mapping[str, int]) -> list[RunTargetRow]:
    return [
        RunTargetRow(
            run_id=config.run_id,
            target=t.name,
            model=t.model,
            adapter=wiring.adapters[t.name].name,
            limit_key=wiring.adapters[t.name].limit_key,
            planned=planned[t.name],
        )
        for t in config.targets
    ]


def _check_prices(config: RunConfig, prices: Mapping[str, Price]) -> None:
    unknown = [name for name, p in prices.items() if not p.known]
    if unknown and config.budget.max_usd is not None:
        raise ValueError(
            f"budget.max_usd is set but no price is known for target(s) {', '.join(unknown)}: "
            "add `prices: {input_per_1m: ..., output_per_1m: ...}` to each"
        )


async def collect_result(
    store: Store,
    run_id: str,
    config: RunConfig | None,
    runners: Sequence[TargetRunner],
    critic: Critic | None,
) -> RunResult:
    """The run's result as stored: outcome counts and spend per target, verdict counts."""
    counts = await store.run_counts(run_id, critic)
    outcomes, cost = counts.outcomes, counts.cost_usd
    # With the run's critic: counts by status. Without one (`seval runs show`): by critic too.
    verdicts = {
        status if critic is not None else f"{name}@{version} {status}": n
        for (name, version, status), n in counts.verdicts.items()
    }
    run = await store.get_run(run_id)
    if run is None:
        raise LookupError(f"no run {run_id!r}")
    live = {x.name: x for x in runners}
    targets = []
    for row in await store.run_targets(run_id):
        runner = live.get(row.target)
        targets.append(
            TargetResult(
                name=row.target,
                model=row.model,
                adapter=row.adapter,
                status=row.status,
                detail=row.status_detail,
                planned=row.planned,
                outcomes=outcomes.get(row.target, {}),
                cost_usd=cost.get(row.target, 0.0),
                retries=runner.stats.retry.retries if runner else 0,
                rate_limited=runner.stats.retry.rate_limited if runner else 0,
                calls=runner.stats.retry.calls if runner else 0,
            )
        )
    return RunResult(
        run_id=run_id,
        name=run.name,
        status=run.status,
        detail=run.status_detail,
        targets=tuple(targets),
        spent_usd=counts.spent_usd,
        critic=f"{critic.name}@{critic.version}" if critic is not None else None,
        verdicts=verdicts,
    )
