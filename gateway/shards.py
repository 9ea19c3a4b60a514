"""Many workers, one sweep: this worker's share of a run's plan.

The plan is cut into shards (``gateway.planner.case_chunks``: block ``n`` of the source cases is
shard ``n``, the same for every worker). A worker claims a shard in the store before preparing it
(``db.coordination``), sends its items to every target, and marks it done once every item's answer
is in the store. Shards another worker holds, and shards already done, are skipped without reading
their answers, so starting or resuming costs one small query per shard, not one row per stored item.
When its stream ends, a worker takes over shards whose holder stopped renewing its lease (a killed
worker), imports that worker's journal first, and waits while live workers still hold shards, so
every worker returns once the whole run is done.

``ShardTracker`` counts each claimed shard's items still in the pipeline across all targets;
``Membership`` runs this worker's heartbeat: it renews the leases, records finished shards after a
writer flush, gives unfinished ones back, reaps silent workers and imports orphaned journals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.types import Case
from db.coordination import Coordination, WorkerIdentity, WorkerInfo
from db.journal import ImportReport, import_orphans
from db.store import Store
from db.writer import wait_out_locks

log = logging.getLogger("seval.workers")

LEFTOVERS_SHARD = -1
"""A pseudo-shard claimed by the one worker that scores the run's unjudged answers at the end."""


def default_journal_dir(db_url: str) -> Path:
    """Where a run's journal lives by default: beside a SQLite file, else in the user's cache folder."""
    from db.engine import parse_url

    url = parse_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database).expanduser().with_name(Path(url.database).name + ".seval-journal")
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "seval" / "journal"


class WorkerOptions(BaseModel):
    """How this process takes part in a run. Operational only: none of it enters the run id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lease_s: float = Field(default=60.0, gt=0, description="A claimed shard's lease; renewed by heartbeats.")
    heartbeat_s: float | None = Field(
        default=None, gt=0, description="Seconds between heartbeats (default: a sixth of the lease)."
    )
    journal_dir: Path | None = Field(
        default=None,
        description="Where this worker journals paid answers until the store has them, per run and "
        "worker (default: beside a SQLite database, else ~/.cache/seval/journal).",
    )
    redis_url: str | None = Field(
        default=None, description="Redis for limits shared by every worker (None: per-process limits)."
    )

    def for_store(self, db_url: str) -> WorkerOptions:
        """These options with the journal folder filled in for the database at ``db_url``."""
        if self.journal_dir is not None:
            return self
        return self.model_copy(update={"journal_dir": default_journal_dir(db_url)})

    @property
    def journal(self) -> Path:
        """The journal folder (``for_store`` fills it in)."""
        if self.journal_dir is None:
            raise ValueError("WorkerOptions.journal_dir is unset: call for_store(db_url) first")
        return self.journal_dir

    @property
    def beat_s(self) -> float:
        """The heartbeat interval in effect."""
        return self.heartbeat_s if self.heartbeat_s is not None else self.lease_s / 6.0


@dataclass(frozen=True, slots=True)
class ShardBatch:
    """One claimed shard's cases as the targets receive them, with the work keys already stored
    (by target), so a feeder never sends an item twice."""

    shard: int
    cases: list[Case]
    done: Mapping[str, set[str]]


class ShardQueue(asyncio.Queue["ShardBatch | None"]):
    """One target's queue of claimed shards. A target asking for its next shard while the queue is
    empty has put every item it was given in its send queue: ``hungry`` tells the producer to claim
    another shard now, not before, so a worker holds no more unsent work than it needs to stay busy."""

    def __init__(self, maxsize: int, hungry: asyncio.Event) -> None:
        super().__init__(maxsize)
        self._hungry = hungry

    async def get(self) -> ShardBatch | None:
        """The next shard batch (or the end mark); sets ``hungry`` first when none is waiting."""
        if self.empty():
            self._hungry.set()
        return await super().get()


@dataclass(slots=True)
class _Open:
    feeding: int
    pending: int = 0
    complete: bool = True


@dataclass(slots=True)
class ShardTracker:
    """Items of each open shard still in the pipeline, across every target of this worker, and
    whether this worker's leases on them are known to be live."""

    targets: int
    _lease_until: float = math.inf  # monotonic; no lease to watch until a Membership renews one
    _lease_s: float = math.inf
    _renewed: asyncio.Event = field(default_factory=asyncio.Event)
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a shard leaves the pipeline (``take`` has something); the recorder clears it."""
    _open: dict[int, _Open] = field(default_factory=dict)
    _finished: list[int] = field(default_factory=list)
    _unfinished: list[int] = field(default_factory=list)
    _lost: set[int] = field(default_factory=set)
    cases: dict[int, list[str]] = field(default_factory=dict)

    def open(self, shard: int, case_ids: list[str]) -> None:
        """``shard`` was claimed and its cases (``case_ids``) go to every target now."""
        self._open[shard] = _Open(feeding=self.targets)
        self._lost.discard(shard)
        self.cases[shard] = case_ids

    def open_shards(self) -> set[int]:
        """Shards still in the pipeline (claimed by this worker, not yet settled)."""
        return set(self._open)

    def lose(self, shards: set[int]) -> set[int]:
        """Another worker took over ``shards`` (this worker's lease ran out while it was stalled):
        their items still queued here are dropped unsent. Returns those newly lost."""
        lost = shards & self._open.keys() - self._lost
        self._lost |= lost
        return lost

    def renewed(self, started: float, lease_s: float) -> None:
        """A heartbeat that began at ``started`` (monotonic) extended this worker's leases by ``lease_s``."""
        self._lease_s = lease_s
        self._lease_until = started + lease_s
        self._renewed.set()

    async def lease_live(self) -> None:
        """Return at once while this worker's leases are live. Past their end (the process was stopped
        or starved longer than a lease), wait for the next heartbeat, which says whether another worker
        took a shard over, so no item of a lost shard goes out before ``is_lost`` knows. A renewal that
        does not come within a lease (the store is unreachable) stops the wait: the writer then fails
        the run, and the journal keeps whatever is answered meanwhile."""
        if time.monotonic() < self._lease_until:
            return
        self._renewed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._renewed.wait(), self._lease_s)

    def is_lost(self, shard: int) -> bool:
        """True when ``shard`` now belongs to another worker: send none of its remaining items."""
        return shard in self._lost

    def add(self, shard: int, items: int) -> None:
        """A target queued ``items`` of ``shard`` for sending."""
        self._open[shard].pending += items

    def fed(self, shard: int, *, complete: bool = True) -> None:
        """A target queued everything it will of ``shard`` (``complete=False``: it skipped some)."""
        state = self._open[shard]
        state.feeding -= 1
        state.complete &= complete
        self._settle(shard, state)

    def done(self, shard: int, *, stored: bool = True) -> None:
        """One queued item of ``shard`` left the pipeline: its answer queued for the store, or
        (``stored=False``) dropped unsent (target paused, budget, stop)."""
        state = self._open[shard]
        state.pending -= 1
        state.complete &= stored
        self._settle(shard, state)

    def take(self) -> tuple[list[int], list[int]]:
        """Shards that left the pipeline since the last call: (every item stored, some not)."""
        finished, unfinished = self._finished, self._unfinished
        self._finished, self._unfinished = [], []
        return finished, unfinished

    def give_back(self, finished: list[int], unfinished: list[int]) -> None:
        """Shards ``take`` returned that could not be recorded: the next ``take`` returns them again."""
        self._finished[:0] = finished
        self._unfinished[:0] = unfinished
        if finished or unfinished:
            self.settled.set()

    @property
    def in_flight(self) -> int:
        """Shards still in the pipeline."""
        return len(self._open)

    def _settle(self, shard: int, state: _Open) -> None:
        if state.feeding == 0 and state.pending == 0:
            del self._open[shard]
            self._lost.discard(shard)
            (self._finished if state.complete else self._unfinished).append(shard)
            self.settled.set()


@dataclass(frozen=True, slots=True)
class RunLedger:
    """The run's shared budget ledger as this worker uses it (``gateway.budget.Ledger``)."""

    coord: Coordination
    run_id: str
    worker_id: str

    # Each ledger write waits out a locked store like the shard loop's writes do: a capped run
    # pauses while the store is stalled instead of failing with answers in flight.

    async def reserve(self, *, usd: float, max_usd: float | None, max_calls: int | None) -> bool:
        """Reserve one item's estimated cost."""
        return await wait_out_locks(
            lambda: self.coord.reserve(
                self.run_id, self.worker_id, usd=usd, max_usd=max_usd, max_calls=max_calls
            )
        )

    async def settle(self, *, reserved_usd: float, spent_usd: float, calls: int) -> None:
        """Settle one item."""
        await wait_out_locks(
            lambda: self.coord.settle(
                self.run_id, self.worker_id, reserved_usd=reserved_usd, spent_usd=spent_usd, calls=calls
            )
        )

    async def unreserve(self, *, reserved_usd: float) -> None:
        """Hand one reservation back."""
        await wait_out_locks(
            lambda: self.coord.unreserve(self.run_id, self.worker_id, reserved_usd=reserved_usd)
        )


class Membership:
    """This worker's part in one run: join, heartbeat, record finished shards, leave."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        options: WorkerOptions,
        *,
        me: WorkerIdentity | None = None,
    ) -> None:
        self.coord = Coordination(store.engine)
        self.store = store
        self.run_id = run_id
        self.options = options
        self.me = me or WorkerIdentity.current()
        self.tracker: ShardTracker | None = None
        self._recording = asyncio.Lock()
        self._flush: Callable[[], Awaitable[None]] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def worker_id(self) -> str:
        """This worker's id."""
        return self.me.worker_id

    async def open_ledger(self, spent_usd: float) -> RunLedger:
        """The run's shared ledger (created with the stored spend ``spent_usd`` when new)."""
        await self.coord.open_budget(self.run_id, spent_usd=spent_usd)
        return RunLedger(self.coord, self.run_id, self.worker_id)

    async def import_journals(self) -> ImportReport:
        """Store answers journaled by this run's dead workers on this host (before sending anything)."""
        report = await import_orphans(self.options.journal, self.run_id, self.store)
        if report.rows:
            log.warning(
                "journal imported",
                extra={
                    "run_id": self.run_id,
                    "rows": report.rows,
                    "written": report.written,
                    "already_stored": report.already_stored,
                    "unreadable_lines": report.unreadable_lines,
                },
            )
        return report

    async def join(self) -> list[WorkerInfo]:
        """Register this worker (``RunBusyError`` on SQLite when another lives); returns the others."""
        others = await self.coord.join(self.run_id, self.me, stale_after_s=self.options.lease_s)
        if others and self.options.redis_url is None:
            log.warning(
                "other live workers share this run but not its rate limits: each applies the configured "
                "limits on its own; pass --redis URL (or SEVAL_REDIS) to share them",
                extra={"run_id": self.run_id, "other_workers": len(others)},
            )
        return others

    def start(self, tracker: ShardTracker, flush: Callable[[], Awaitable[None]]) -> None:
        """Start the heartbeat; ``flush`` makes every queued answer durable before shards are recorded."""
        self.tracker = tracker
        self._flush = flush
        tracker.renewed(time.monotonic(), self.options.lease_s)  # join() heartbeat just now
        self._task = asyncio.create_task(self._beat(), name="seval-heartbeat")

    async def claim(self, shard: int) -> bool:
        """Claim ``shard`` for this worker (repeated while another connection's lock refuses it: the
        shard loop waits out a stalled store instead of failing the run)."""
        return await wait_out_locks(
            lambda: self.coord.claim(self.run_id, shard, self.worker_id, lease_s=self.options.lease_s)
        )

    async def claim_retry(self, shard: int) -> bool:
        """Take back a done ``shard`` whose retryable failures are to be sent again (retried like
        ``claim``)."""
        return await wait_out_locks(
            lambda: self.coord.claim_retry(self.run_id, shard, self.worker_id, lease_s=self.options.lease_s)
        )

    async def record(self) -> None:
        """Record shards that left the pipeline: finished ones done (after a flush), others freed."""
        if self.tracker is None or self._flush is None:
            return
        tracker = self.tracker
        # One recording at a time (the heartbeat's recorder and the run's own last call can meet),
        # and shards taken but not recorded (an error, or the recorder cancelled as the worker
        # leaves) go back to the tracker: a finished shard is never forgotten and then freed unfinished.
        async with self._recording:
            finished, unfinished = tracker.take()
            try:
                if finished:
                    await self._flush()
                    cases = [tracker.cases[s] for s in finished]
                    retryable = [await self.store.retryable_count(self.run_id, ids) for ids in cases]
                    sizes = [len(c) for c in cases]
                    done = list(finished)
                    await wait_out_locks(
                        lambda: self.coord.finish(self.run_id, done, self.worker_id, sizes, retryable)
                    )
                    for s in done:
                        tracker.cases.pop(s, None)
                    finished = []
                if unfinished:
                    freed = list(unfinished)
                    await wait_out_locks(lambda: self.coord.release(self.run_id, freed, self.worker_id))
                    for s in freed:
                        tracker.cases.pop(s, None)
                    unfinished = []
            finally:
                tracker.give_back(finished, unfinished)

    async def takeover(self) -> list[int]:
        """Shards of workers that stopped renewing their leases, now this worker's (their journals
        imported first, so what they had paid for is not sent again). Each step waits out a locked
        store."""
        await wait_out_locks(self.import_journals)
        await wait_out_locks(lambda: self.coord.reap(self.run_id, stale_after_s=self.options.lease_s))
        return await wait_out_locks(
            lambda: self.coord.reclaim_expired(self.run_id, self.worker_id, lease_s=self.options.lease_s)
        )

    async def others_hold(self) -> bool:
        """True while another worker holds a shard under a live lease (it may still finish it)."""
        return any(w != self.worker_id for _s, w, _t in await self.coord.held_shards(self.run_id))

    async def leave(self) -> None:
        """Stop the heartbeat, record what finished, free the rest, and sign off."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.record()
        await self.coord.leave(self.run_id, self.worker_id)

    async def _beat(self) -> None:
        # Renewing the leases never waits behind recording finished shards (a writer flush can be
        # slow when the store is): a live worker must not look dead to the others.
        recorder = asyncio.create_task(self._record_loop(), name="seval-shard-recorder")
        try:
            while True:
                await asyncio.sleep(self.options.beat_s)
                try:
                    await self.renew()
                except Exception as exc:  # a missed beat is survivable; the lease outlives several
                    log.warning(
                        "heartbeat failed", extra={"run_id": self.run_id, "error": type(exc).__name__}
                    )
        finally:
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder

    async def renew(self) -> None:
        """Heartbeat: extend this worker's leases; shards found taken over are marked lost in the tracker."""
        # Shards opened before the renewal are claimed in the store already; one of them missing from
        # what this worker still holds was taken over while this worker was stalled past its lease.
        started = time.monotonic()
        opened = self.tracker.open_shards() if self.tracker is not None else set()
        held = await self.coord.heartbeat(self.run_id, self.worker_id, lease_s=self.options.lease_s)
        if self.tracker is None:
            return
        if lost := self.tracker.lose(opened - held):
            log.warning(
                "lease lost: another worker took over shards this worker was stalled on; their "
                "remaining items are left to it",
                extra={"run_id": self.run_id, "shards": len(lost)},
            )
        self.tracker.renewed(started, self.options.lease_s)

    async def _record_loop(self) -> None:
        # A finished shard is recorded as soon as it settles: until then other workers see it held
        # and wait for it, so a run's last shards would otherwise end up to a heartbeat late.
        settled = self.tracker.settled if self.tracker is not None else asyncio.Event()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(settled.wait(), self.options.beat_s)
            settled.clear()
            try:
                await self.record()
            except Exception as exc:  # retried at the next beat and at leave()
                log.warning(
                    "recording shards failed", extra={"run_id": self.run_id, "error": type(exc).__name__}
                )
