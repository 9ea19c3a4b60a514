"""Several workers on one run: who takes part, which shard of the plan each holds, and one budget.

Every statement that decides something is a single atomic SQL statement (or one short transaction),
so any number of processes on any number of machines can share one Postgres database:

- **Shard claims** are a conditional upsert: the row is inserted as ``held`` by the claimer, or taken
  over when the holder's lease ran out; anything else (done, or held under a live lease) makes the
  statement change nothing, and the claimer moves on. A shard is claimed by exactly one worker at a
  time; a shard marked ``done`` is never claimed again.
- **Reclaiming** a dead worker's shards picks expired leases with ``SELECT ... FOR UPDATE SKIP LOCKED``
  on Postgres (the work-queue pattern of procrastinate and pg-boss), so reclaimers never wait on each
  other; on SQLite the database's single write lock serializes the same update.
- **The budget** is a ledger row per run. A call reserves its estimated cost with one conditional
  update that fails when settled spend plus every reservation plus this one would pass the cap; after
  the call the reservation is replaced by the actual cost. The worker's own row counts what it holds,
  so a dead worker's reservations are handed back when it is reaped.

Times are epoch seconds from the workers' clocks (leases are tens of seconds; NTP-synced hosts agree
to milliseconds). SQLite is single-host by nature: there a second live worker is refused at ``join``.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, RowMapping, Table, Update, and_, cast, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import ServiceError
from db.engine import SQLITE_BEGIN_OPTION
from db.tables import RunBudgetRow, RunShardRow, RunWorkerRow

_WORKERS: Table = RunWorkerRow.__table__  # type: ignore[attr-defined]
_SHARDS: Table = RunShardRow.__table__  # type: ignore[attr-defined]
_BUDGET: Table = RunBudgetRow.__table__  # type: ignore[attr-defined]

HELD = "held"
DONE = "done"
ACTIVE = "active"
FINISHED = "finished"
DEAD = "dead"
_USD_EPSILON = 1e-9


class RunBusyError(ServiceError):
    """Another live worker holds this run on a database that cannot share it (SQLite)."""


@dataclass(frozen=True, slots=True)
class WorkerIdentity:
    """Who a worker is: a fresh id per process, its host name and pid."""

    worker_id: str
    host: str
    pid: int

    @classmethod
    def current(cls) -> WorkerIdentity:
        """This process, under a new random id."""
        return cls(uuid.uuid4().hex[:16], socket.gethostname()[:255], os.getpid())


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker of a run as stored, with the shards it holds now."""

    worker_id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    state: str
    held: int
    done: int

    def live(self, now: float, stale_after_s: float) -> bool:
        """Active and heard from within ``stale_after_s``."""
        return self.state == ACTIVE and now - self.heartbeat_at <= stale_after_s


@dataclass(frozen=True, slots=True)
class ShardCounts:
    """How a run's shards stand: done, held under a live lease, held past their lease, and how many
    claims were take-overs of an expired lease."""

    done: int
    held: int
    expired: int
    reclaimed: int


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A run's ledger: settled spend and calls, and what is reserved for calls in flight."""

    spent_usd: float
    calls: int
    reserved_usd: float
    reserved_calls: int

    @property
    def committed_usd(self) -> float:
        """Settled spend plus reservations: what the caps are checked against."""
        return self.spent_usd + self.reserved_usd


class Coordination:
    """Worker registry, shard leases and the budget ledger over the store's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._write = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})

    @property
    def shared(self) -> bool:
        """True where several processes may work one run together (Postgres)."""
        return self._dialect == "postgresql"

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        return sqlite.insert(table) if self._dialect == "sqlite" else postgresql.insert(table)

    # -- workers ------------------------------------------------------------------------------

    async def join(self, run_id: str, me: WorkerIdentity, *, stale_after_s: float) -> list[WorkerInfo]:
        """Register ``me`` on ``run_id``; returns the other live workers.

        On SQLite another live worker makes this raise ``RunBusyError`` naming it (pid, host, since):
        one file, one writer process, never silent duplicate sends.
        """
        now = time.time()
        async with self._write.begin() as conn:
            rows = await conn.execute(
                select(_WORKERS).where(
                    _WORKERS.c.run_id == run_id,
                    _WORKERS.c.state == ACTIVE,
                    _WORKERS.c.heartbeat_at >= now - stale_after_s,
                    _WORKERS.c.worker_id != me.worker_id,
                )
            )
            others = [_worker(r, 0, 0) for r in rows.mappings()]
            # A holder on this host whose process is gone (kill -9) is dead now, not after its lease.
            gone = [o for o in others if o.host == me.host and not _pid_alive(o.pid)]
            for o in gone:
                await self._bury(conn, run_id, o.worker_id)
            others = [o for o in others if o not in gone]
            if others and not self.shared:
                holder = others[0]
                since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(holder.started_at))
                raise RunBusyError(
                    f"run {run_id} is being worked by another process (pid {holder.pid} on "
                    f"{holder.host}, since {since}, last heartbeat {now - holder.heartbeat_at:.0f} s ago); "
                    "SQLite cannot share a run between processes: wait for it, stop it, or use Postgres "
                    "to run several workers"
                )
            await conn.execute(
                self._insert(_WORKERS).values(
                    run_id=run_id,
                    worker_id=me.worker_id,
                    host=me.host,
                    pid=me.pid,
                    started_at=now,
                    heartbeat_at=now,
                    state=ACTIVE,
                    reserved_usd=0.0,
                    reserved_calls=0,
                )
            )
        return others

    async def _bury(self, conn: AsyncConnection, run_id: str, worker_id: str) -> None:
        """Mark a worker dead: its reservations go back to the ledger and its leases end now."""
        w = _WORKERS.c
        row = (
            await conn.execute(
                select(w.reserved_usd, w.reserved_calls).where(w.run_id == run_id, w.worker_id == worker_id)
            )
        ).first()
        if row is None:
            return
        await conn.execute(
            update(_WORKERS)
            .where(w.run_id == run_id, w.worker_id == worker_id)
            .values(state=DEAD, reserved_usd=0.0, reserved_calls=0)
        )
        await conn.execute(
            update(_BUDGET)
            .where(_BUDGET.c.run_id == run_id)
            .values(
                reserved_usd=_BUDGET.c.reserved_usd - row[0],
                reserved_calls=_BUDGET.c.reserved_calls - row[1],
            )
        )
        await conn.execute(
            update(_SHARDS)
            .where(_SHARDS.c.run_id == run_id, _SHARDS.c.worker_id == worker_id, _SHARDS.c.state == HELD)
            .values(lease_until=0.0)
        )

    async def heartbeat(self, run_id: str, worker_id: str, *, lease_s: float) -> set[int]:
        """Say this worker is alive and extend the leases of the shards it holds; returns those
        shards, so a worker whose lease ran out while it was stalled learns which ones it lost."""
        now = time.time()
        async with self._write.begin() as conn:
            await conn.execute(
                update(_WORKERS)
                .where(_WORKERS.c.run_id == run_id, _WORKERS.c.worker_id == worker_id)
                .values(heartbeat_at=now)
            )
            held = _SHARDS.c.run_id == run_id, _SHARDS.c.worker_id == worker_id, _SHARDS.c.state == HELD
            await conn.execute(update(_SHARDS).where(*held).values(lease_until=now + lease_s))
            return {int(s) for s in (await conn.execute(select(_SHARDS.c.shard).where(*held))).scalars()}

    async def leave(self, run_id: str, worker_id: str) -> None:
        """This worker is finished: its unfinished shards become free for others at once."""
        async with self._write.begin() as conn:
            await conn.execute(
                _SHARDS.delete().where(
                    _SHARDS.c.run_id == run_id, _SHARDS.c.worker_id == worker_id, _SHARDS.c.state == HELD
                )
            )
            await conn.execute(
                update(_WORKERS)
                .where(_WORKERS.c.run_id == run_id, _WORKERS.c.worker_id == worker_id)
                .values(state=FINISHED, heartbeat_at=time.time())
            )

    async def workers(self, run_id: str) -> list[WorkerInfo]:
        """Every worker that took part in ``run_id``, oldest first, with its shard counts."""
        held = func.sum(cast(_SHARDS.c.state == HELD, Integer)).label("held")
        done = func.sum(cast(_SHARDS.c.state == DONE, Integer)).label("done")
        counts = (
            select(_SHARDS.c.worker_id, held, done)
            .where(_SHARDS.c.run_id == run_id)
            .group_by(_SHARDS.c.worker_id)
            .subquery()
        )
        query = (
            select(_WORKERS, counts.c.held, counts.c.done)
            .outerjoin(counts, counts.c.worker_id == _WORKERS.c.worker_id)
            .where(_WORKERS.c.run_id == run_id)
            .order_by(_WORKERS.c.started_at)
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return [_worker(r, int(r["held"] or 0), int(r["done"] or 0)) for r in rows.mappings()]

    async def last_heartbeat(self, run_ids: Sequence[str]) -> dict[str, float]:
        """The newest worker heartbeat of each run that has one (epoch seconds)."""
        if not run_ids:
            return {}
        query = (
            select(_WORKERS.c.run_id, func.max(_WORKERS.c.heartbeat_at))
            .where(_WORKERS.c.run_id.in_(list(run_ids)))
            .group_by(_WORKERS.c.run_id)
        )
        async with self._engine.connect() as conn:
            return {run_id: float(at) for run_id, at in await conn.execute(query)}

    async def reap(self, run_id: str, *, stale_after_s: float) -> int:
        """Mark workers silent for ``stale_after_s`` dead: their budget reservations go back to the
        ledger and their shards can be taken over at once. Returns how many were reaped."""
        cutoff = time.time() - stale_after_s
        async with self._write.begin() as conn:
            stale = (
                (
                    await conn.execute(
                        select(_WORKERS.c.worker_id)
                        .where(
                            _WORKERS.c.run_id == run_id,
                            _WORKERS.c.state == ACTIVE,
                            _WORKERS.c.heartbeat_at < cutoff,
                        )
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            for worker_id in stale:
                await self._bury(conn, run_id, worker_id)
        return len(stale)

    # -- shards -------------------------------------------------------------------------------

    async def claim(self, run_id: str, shard: int, worker_id: str, *, lease_s: float) -> bool:
        """Take ``shard`` for ``worker_id``: True when it was free or its holder's lease had run out."""
        now = time.time()
        insert = self._insert(_SHARDS).values(
            run_id=run_id,
            shard=shard,
            state=HELD,
            worker_id=worker_id,
            lease_until=now + lease_s,
            claims=1,
            cases=0,
            retryable=0,
        )
        stmt = insert.on_conflict_do_update(
            index_elements=["run_id", "shard"],
            set_={
                "state": HELD,
                "worker_id": worker_id,
                "lease_until": now + lease_s,
                "claims": _SHARDS.c.claims + 1,
            },
            where=and_(_SHARDS.c.state == HELD, _SHARDS.c.lease_until < now),
        ).returning(_SHARDS.c.shard)
        async with self._write.begin() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def claim_retry(self, run_id: str, shard: int, worker_id: str, *, lease_s: float) -> bool:
        """Take a done ``shard`` that has retryable failures back, to send them again."""
        now = time.time()
        stmt = (
            update(_SHARDS)
            .where(
                _SHARDS.c.run_id == run_id,
                _SHARDS.c.shard == shard,
                _SHARDS.c.state == DONE,
                _SHARDS.c.retryable > 0,
            )
            .values(state=HELD, worker_id=worker_id, lease_until=now + lease_s, claims=_SHARDS.c.claims + 1)
            .returning(_SHARDS.c.shard)
        )
        async with self._write.begin() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def reclaim_expired(
        self, run_id: str, worker_id: str, *, lease_s: float, limit: int = 64
    ) -> list[int]:
        """Take over shards whose holder's lease ran out (a dead worker's); returns their numbers."""
        now = time.time()
        expired = (
            select(_SHARDS.c.shard)
            .where(_SHARDS.c.run_id == run_id, _SHARDS.c.state == HELD, _SHARDS.c.lease_until < now)
            .order_by(_SHARDS.c.shard)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(_SHARDS)
            .where(_SHARDS.c.run_id == run_id, _SHARDS.c.shard.in_(expired.scalar_subquery()))
            .where(_SHARDS.c.state == HELD, _SHARDS.c.lease_until < now)
            .values(worker_id=worker_id, lease_until=now + lease_s, claims=_SHARDS.c.claims + 1)
            .returning(_SHARDS.c.shard)
        )
        async with self._write.begin() as conn:
            return sorted(int(s) for s in (await conn.execute(stmt)).scalars())

    async def finish(
        self,
        run_id: str,
        shards: Sequence[int],
        worker_id: str,
        cases: Sequence[int],
        retryable: Sequence[int] | None = None,
    ) -> int:
        """Mark ``shards`` (held by ``worker_id``) done with the cases each sent and the items of each
        stored as retryable failures; returns how many were marked."""
        finished = 0
        retry = retryable if retryable is not None else [0] * len(shards)
        async with self._write.begin() as conn:
            for shard, n, r in zip(shards, cases, retry, strict=True):
                result = await conn.execute(
                    update(_SHARDS)
                    .where(
                        _SHARDS.c.run_id == run_id,
                        _SHARDS.c.shard == shard,
                        _SHARDS.c.worker_id == worker_id,
                        _SHARDS.c.state == HELD,
                    )
                    .values(state=DONE, cases=n, retryable=r)
                )
                finished += result.rowcount
        return finished

    async def release(self, run_id: str, shards: Sequence[int], worker_id: str) -> None:
        """Give ``shards`` up unfinished (a target paused, the budget ran out): any worker may take them."""
        if not shards:
            return
        async with self._write.begin() as conn:
            await conn.execute(
                _SHARDS.delete().where(
                    _SHARDS.c.run_id == run_id,
                    _SHARDS.c.shard.in_(list(shards)),
                    _SHARDS.c.worker_id == worker_id,
                    _SHARDS.c.state == HELD,
                )
            )

    async def done_shards(self, run_id: str, *, settled_only: bool = False) -> set[int]:
        """Numbers of the run's finished shards (a few bytes each: one per block of source cases);
        with ``settled_only``, only those without retryable failures."""
        return set(await self.done_shard_cases(run_id, settled_only=settled_only))

    async def done_shard_cases(self, run_id: str, *, settled_only: bool = False) -> dict[int, int]:
        """The cases each finished shard sent, by shard number (``settled_only`` as in ``done_shards``)."""
        s = _SHARDS.c
        query = select(s.shard, s.cases).where(s.run_id == run_id, s.state == DONE, s.shard >= 0)
        if settled_only:
            query = query.where(s.retryable == 0)
        async with self._engine.connect() as conn:
            return {int(shard): int(cases) for shard, cases in await conn.execute(query)}

    async def done_cases(self, run_id: str, shards: int) -> int | None:
        """Cases sent from the run's done shards, when all ``shards`` of its plan are done."""
        query = select(func.count(), func.coalesce(func.sum(_SHARDS.c.cases), 0)).where(
            _SHARDS.c.run_id == run_id, _SHARDS.c.state == DONE, _SHARDS.c.shard >= 0
        )
        async with self._engine.connect() as conn:
            count, cases = (await conn.execute(query)).one()
        return int(cases) if int(count) == shards else None

    async def held_shards(self, run_id: str) -> list[tuple[int, str, float]]:
        """(shard, holder, lease_until) of every shard still held."""
        query = (
            select(_SHARDS.c.shard, _SHARDS.c.worker_id, _SHARDS.c.lease_until)
            .where(_SHARDS.c.run_id == run_id, _SHARDS.c.state == HELD)
            .order_by(_SHARDS.c.shard)
        )
        async with self._engine.connect() as conn:
            return [(int(s), str(w), float(t)) for s, w, t in await conn.execute(query)]

    async def shard_counts(self, run_id: str) -> ShardCounts:
        """Done, held, expired and reclaimed counts of the run's shards."""
        now = time.time()
        query = select(_SHARDS.c.state, _SHARDS.c.lease_until, _SHARDS.c.claims).where(
            _SHARDS.c.run_id == run_id
        )
        done = held = expired = reclaimed = 0
        async with self._engine.connect() as conn:
            for state, lease_until, claims in await conn.execute(query):
                reclaimed += int(claims) - 1
                if state == DONE:
                    done += 1
                elif lease_until < now:
                    expired += 1
                else:
                    held += 1
        return ShardCounts(done=done, held=held, expired=expired, reclaimed=reclaimed)

    # -- budget -------------------------------------------------------------------------------

    async def open_budget(self, run_id: str, *, spent_usd: float) -> None:
        """Create the run's ledger (settled spend ``spent_usd``) unless it exists."""
        stmt = self._insert(_BUDGET).values(
            run_id=run_id, spent_usd=spent_usd, calls=0, reserved_usd=0.0, reserved_calls=0
        )
        async with self._write.begin() as conn:
            await conn.execute(stmt.on_conflict_do_nothing(index_elements=["run_id"]))

    async def reserve(
        self,
        run_id: str,
        worker_id: str,
        *,
        usd: float,
        max_usd: float | None,
        max_calls: int | None,
    ) -> bool:
        """Reserve one call costing up to ``usd``; False (nothing reserved) when a cap would be passed.

        The check and the reservation are one UPDATE, so workers racing for the last dollar cannot
        both win it.
        """
        b = _BUDGET.c
        conditions = [b.run_id == run_id]
        if max_usd is not None:
            # The epsilon keeps float sums of cents (0.01 x 100 = 1.0000000000000007) within a cap they meet.
            conditions.append(b.spent_usd + b.reserved_usd + usd <= max_usd + _USD_EPSILON)
        if max_calls is not None:
            conditions.append(b.calls + b.reserved_calls + 1 <= max_calls)
        async with self._write.begin() as conn:
            result = await conn.execute(
                update(_BUDGET)
                .where(*conditions)
                .values(reserved_usd=b.reserved_usd + usd, reserved_calls=b.reserved_calls + 1)
            )
            if result.rowcount != 1:
                return False
            await conn.execute(self._worker_reservation(run_id, worker_id, usd, 1))
        return True

    async def settle(
        self, run_id: str, worker_id: str, *, reserved_usd: float, spent_usd: float, calls: int = 1
    ) -> None:
        """Replace one item's reservation of ``reserved_usd`` by its actual cost ``spent_usd`` and the
        ``calls`` it took (retries included)."""
        b = _BUDGET.c
        async with self._write.begin() as conn:
            await conn.execute(
                update(_BUDGET)
                .where(b.run_id == run_id)
                .values(
                    reserved_usd=b.reserved_usd - reserved_usd,
                    reserved_calls=b.reserved_calls - 1,
                    spent_usd=b.spent_usd + spent_usd,
                    calls=b.calls + calls,
                )
            )
            await conn.execute(self._worker_reservation(run_id, worker_id, -reserved_usd, -1))

    async def unreserve(self, run_id: str, worker_id: str, *, reserved_usd: float) -> None:
        """Hand back one reservation whose call was never made."""
        b = _BUDGET.c
        async with self._write.begin() as conn:
            await conn.execute(
                update(_BUDGET)
                .where(b.run_id == run_id)
                .values(reserved_usd=b.reserved_usd - reserved_usd, reserved_calls=b.reserved_calls - 1)
            )
            await conn.execute(self._worker_reservation(run_id, worker_id, -reserved_usd, -1))

    async def budget(self, run_id: str) -> BudgetState | None:
        """The run's ledger, or None before ``open_budget``."""
        query = select(_BUDGET).where(_BUDGET.c.run_id == run_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        return BudgetState(
            spent_usd=float(row["spent_usd"]),
            calls=int(row["calls"]),
            reserved_usd=max(0.0, float(row["reserved_usd"])),
            reserved_calls=max(0, int(row["reserved_calls"])),
        )

    @staticmethod
    def _worker_reservation(run_id: str, worker_id: str, usd: float, calls: int) -> Update:
        w = _WORKERS.c
        return (
            update(_WORKERS)
            .where(w.run_id == run_id, w.worker_id == worker_id)
            .values(reserved_usd=w.reserved_usd + usd, reserved_calls=w.reserved_calls + calls)
        )


def _worker(m: RowMapping, held: int, done: int) -> WorkerInfo:
    return WorkerInfo(
        worker_id=str(m["worker_id"]),
        host=str(m["host"]),
        pid=int(m["pid"]),
        started_at=float(m["started_at"]),
        heartbeat_at=float(m["heartbeat_at"]),
        state=str(m["state"]),
        held=held,
        done=done,
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
