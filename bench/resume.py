"""Crash safety: a 10,000-item run killed with SIGKILL at 5 random moments and resumed each time.

``seval run`` runs in a subprocess against the simulated vendor (a child process that counts every
request). At 5 random points of progress the run is killed with SIGKILL and started again with the
same config; the sixth session runs to the end. Then the store and the vendor's counters say
whether anything was stored twice, lost, or sent more often than needed.

Run: ``python bench/resume.py [--items 10000] [--kills 5] [--seed N] [--store sqlite|postgres]``.
Ends with one JSON line:
``{"items", "kills", "sessions", "killed_at_stored", "distinct_responses", "completed", "duplicates",
"lost", "extra_vendor_calls"}``
(targets: duplicates 0, lost 0). ``extra_vendor_calls`` are requests whose answers were in flight or
not yet flushed to the store when a kill landed; they are sent again on resume.

Blocked writer (``--blocked-writer``): each kill lands while the store's writer is stalled. At each
random point of progress the bench takes the store's write lock from a connection of its own (SQLite:
``BEGIN IMMEDIATE`` held open; Postgres: ``LOCK TABLE responses IN ACCESS EXCLUSIVE MODE`` in an open
transaction), holds it for ``--hold-s`` (SQLite: 5 s past the store's 30 s busy timeout, so a write
times out and must be retried; Postgres: 8 s), kills the run with SIGKILL while the lock is still
held, releases the lock and resumes. The kill points lie between 3% and 70% of the items (and each
waits until the session has sent a request, as a resumed session may start past its point once its
journal is imported). The last session is not killed: it is stalled the same way once while it
sends, then released, and must finish. Postgres runs in a fresh database
(``seval_bench_resume_PID``, dropped at the end); journals go to a folder of the bench's own.

Accounting (the vendor records every prompt it receives, in order, so each request maps to its case):

- ``kept`` after kill ``k``: the cases whose answer is in the store or in a readable journal line.
- ``extra_vendor_calls_per_kill[k]``: requests of session ``k`` whose case is not kept after kill
  ``k``: answers the kill cut off before they were journaled, i.e. requests in flight. They are sent
  again later. Target: at most ``in_flight_cap`` per kill.
- ``rebought_kept_answers``: requests for a case already kept after the previous kill (a journal the
  next session did not import, or a stored answer it did not see): paid twice for no reason.
- ``dropped_paid_answers``: ``rebought_kept_answers`` plus, per kill, whatever exceeds
  ``in_flight_cap`` in ``extra_vendor_calls_per_kill`` (more answers missing than could have been in
  flight: some the run had received were dropped unjournaled). Target 0. It is a lower bound on
  drops at a kill: an answer received and dropped while fewer than the cap were in flight looks like
  one in flight.
- ``extra_vendor_calls``: all requests beyond one per item; it equals the per-kill sum plus
  ``rebought_kept_answers`` plus ``unexplained_extra_calls`` (resends neither accounts for, such as
  retries; 0 against the simulated vendor's compliant model).
- ``vendor_calls_while_blocked[k]``: requests made while the lock was held before kill ``k``; bounded
  by what the run may hold unstored: the writer's queue (``writer_queue_bound``) plus the batch being
  written (``writer_batch``) plus the requests in flight, less what was queued when the lock came.
  Under these locks the shard loop stops sooner: the next shard's claim and case save (SQLite) or
  its stored-answer check (Postgres) wait on the lock, so sending stops once the shard under way
  (256 cases) is sent. ``stall_vendor_calls_while_blocked`` is the same for the last session's
  stall, held for ``stall_held_s`` (less than ``hold_s`` when the session had written everything
  before the lock came and finished meanwhile; both null when it finished before its stall point).
- ``journal_rows_at_kill[k]``: answers in a readable journal line but not in the store after kill ``k``;
  ``journal_imported``: rows the resumed sessions wrote to the store from journals (their
  ``journal imported`` log events).

Blocked mode adds to the JSON line: ``mode``, ``store``, ``hold_s``, ``in_flight_cap``,
``writer_queue_bound``, ``writer_batch``, ``extra_vendor_calls_per_kill``,
``extra_vendor_calls_per_kill_max``, ``vendor_calls_while_blocked``,
``vendor_calls_while_blocked_max``, ``journal_rows_at_kill``, ``journal_imported``,
``rebought_kept_answers``, ``dropped_paid_answers``, ``unexplained_extra_calls``,
``stall_at_stored``, ``stall_vendor_calls_while_blocked``, ``stall_held_s``, ``wall_s``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import yaml
from gateway_common import IN_FLIGHT, run_config, start_seval_run, write_suite

DEFAULT_POSTGRES = os.environ.get(
    "SEVAL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
POSTGRES_HOLD_S = 8.0
SQLITE_HOLD_PAST_TIMEOUT_S = 5.0

COUNT_SQL = "SELECT count(*) FROM responses"
KEPT_SQL = "SELECT case_id FROM responses"
PROMPTS_SQL = "SELECT id, text FROM cases"
TOTAL_SQL = "SELECT count(*) FROM responses"
DISTINCT_SQL = "SELECT count(DISTINCT work_key) FROM responses"
# the same planned item stored under two keys would be a duplicate too
SAME_ITEM_SQL = (
    "SELECT count(*) FROM (SELECT case_id, target, decoding_key, sample_index FROM responses "
    "GROUP BY case_id, target, decoding_key, sample_index HAVING count(*) > 1) AS twice"
)
COMPLETED_SQL = "SELECT count(*) FROM responses WHERE outcome = 'COMPLETED'"

Release = Callable[[], Awaitable[None]]


class BenchStore(Protocol):
    """The run's database as the bench reads and locks it (from outside the run's process)."""

    url: str

    async def rows(self, sql: str, *, before_schema_ok: bool = False) -> list[tuple[Any, ...]]:
        """Rows of ``sql``; with ``before_schema_ok``, none while the tables do not exist yet."""
        ...

    async def lock_writes(self) -> Release:
        """Take a lock that stalls the run's response writes; returns its release."""
        ...

    async def aclose(self) -> None:
        """Close the bench's connections (and drop a database it created)."""
        ...


class SqliteStore:
    """A SQLite file; the lock is a second connection holding ``BEGIN IMMEDIATE`` (WAL readers go on)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite+aiosqlite:///{path}"

    def _rows(self, sql: str, before_schema_ok: bool) -> list[tuple[Any, ...]]:
        if before_schema_ok and not self.path.exists():
            return []
        try:
            with contextlib.closing(sqlite3.connect(self.path, timeout=30)) as conn:
                return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            if before_schema_ok:
                return []
            raise

    async def rows(self, sql: str, *, before_schema_ok: bool = False) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(self._rows, sql, before_schema_ok)

    async def lock_writes(self) -> Release:
        # The statements run in worker threads so the bench's event loop keeps timing and counting.
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")

        async def release() -> None:
            await asyncio.to_thread(conn.execute, "ROLLBACK")
            conn.close()

        return release

    async def aclose(self) -> None:
        return None


class PostgresStore:
    """A fresh Postgres database of the bench's own; the lock is ``ACCESS EXCLUSIVE`` on ``responses``."""

    def __init__(self, admin: Any, admin_dsn: str, name: str, url: str, conn: Any) -> None:
        self._admin = admin
        self._admin_dsn = admin_dsn
        self._name = name
        self._conn = conn
        self.url = url

    @classmethod
    async def create(cls, base_url: str) -> PostgresStore:
        """Create ``seval_bench_resume_PID`` next to the database of ``base_url``."""
        import asyncpg
        from sqlalchemy.engine import make_url

        base = make_url(base_url)
        name = f"seval_bench_resume_{os.getpid()}"
        admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = base.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
        url = base.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
        return cls(admin, admin_dsn, name, url, await asyncpg.connect(dsn))

    async def rows(self, sql: str, *, before_schema_ok: bool = False) -> list[tuple[Any, ...]]:
        import asyncpg

        try:
            return [tuple(r) for r in await self._conn.fetch(sql)]
        except asyncpg.UndefinedTableError:
            if before_schema_ok:
                return []
            raise

    async def lock_writes(self) -> Release:
        import asyncpg

        conn = await asyncpg.connect(self.url.replace("postgresql+asyncpg://", "postgresql://", 1))
        tx = conn.transaction()
        await tx.start()
        await conn.execute("LOCK TABLE responses IN ACCESS EXCLUSIVE MODE")

        async def release() -> None:
            await tx.rollback()
            await conn.close()

        return release

    async def aclose(self) -> None:
        await self._conn.close()
        await self._admin.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
        await self._admin.close()


class Session:
    """One ``seval run`` process; its stderr (JSON log lines) is read as it comes so it never blocks."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._err: list[bytes] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, config: Path, journal_dir: Path) -> Session:
        """``seval run CONFIG`` journaling into ``journal_dir``."""
        return cls(await start_seval_run(config, "--journal-dir", str(journal_dir)))

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self._err.append(line)

    @property
    def alive(self) -> bool:
        """The process has not exited."""
        return self.proc.returncode is None

    async def kill(self) -> None:
        """SIGKILL, then wait for the process and its stderr."""
        self.proc.send_signal(signal.SIGKILL)
        await self.finish()

    async def finish(self) -> int:
        """Wait for the process to exit; its exit code."""
        rc = await self.proc.wait()
        await self._reader
        return rc

    def stderr_tail(self, chars: int = 2000) -> str:
        """The end of what the process wrote to stderr."""
        return b"".join(self._err).decode(errors="replace")[-chars:]

    def journal_written(self) -> int:
        """Rows this session wrote to the store from journals (its ``journal imported`` events)."""
        written = 0
        for line in self._err:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and event.get("event") == "journal imported":
                    written += int(event.get("written", 0))
        return written


async def stored_count(store: BenchStore) -> int:
    """Responses stored so far (0 before the schema exists)."""
    rows = await store.rows(COUNT_SQL, before_schema_ok=True)
    return int(rows[0][0]) if rows else 0


async def progress_to(store: BenchStore, session: Session, mark: float) -> int:
    """Wait until ``mark`` responses are stored or the session exits; responses stored then."""
    while (n := await stored_count(store)) < mark and session.alive:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    return n


async def sending_at(store: BenchStore, session: Session, mark: float, vendor: Any, before: int) -> int:
    """``progress_to(mark)``, then until the session has sent a request (the vendor's count passes
    ``before``): a resumed session may start past the mark with its journal imported, and a lock
    taken before it sends would only stall its start-up."""
    n = await progress_to(store, session, mark)
    while session.alive and await requests(vendor) <= before:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    return await stored_count(store) if session.alive else n


async def single(store: BenchStore, sql: str) -> int:
    """The one integer ``sql`` returns."""
    return int((await store.rows(sql))[0][0])


def journal_cases(root: Path) -> set[str]:
    """Case ids of the readable lines of every journal under ``root``."""
    from db.journal import decode

    cases: set[str] = set()
    for segment in root.rglob("*.jsonl"):
        with segment.open("rb") as fh:
            for line in fh:
                with contextlib.suppress(ValueError, TypeError, KeyError):  # torn by the kill: not kept
                    cases.add(decode(line).case_id)
    return cases


async def requests(vendor: Any) -> int:
    """The vendor's request count so far."""
    return int((await vendor.stats())["requests"])


async def hold(session: Session, seconds: float) -> bool:
    """Sleep ``seconds`` while the session lives; False when it exited meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not session.alive:
            return False
        await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
    return True


async def tallies(store: BenchStore, items: int) -> dict[str, int]:
    """The store's figures shared by both modes."""
    total = await single(store, TOTAL_SQL)
    distinct = await single(store, DISTINCT_SQL)
    return {
        "distinct_responses": distinct,
        "completed": await single(store, COMPLETED_SQL),
        "duplicates": total - distinct + await single(store, SAME_ITEM_SQL),
        "lost": items - distinct,
    }


async def default_mode(
    store: BenchStore, vendor: Any, config: Path, journal: Path, items: int, marks: Sequence[float]
) -> dict[str, Any]:
    """Kill with a free store at each mark; resume; the figures of the default JSON line."""
    killed_at: list[int] = []
    for mark in marks:
        session = await Session.start(config, journal)
        n = await progress_to(store, session, mark)
        if not session.alive:
            rc = await session.finish()
            raise SystemExit(f"run ended ({rc}) before the kill at {mark:.0f}: {session.stderr_tail(1000)}")
        await session.kill()
        killed_at.append(n)
        print(f"killed with {n} responses stored", flush=True)
    session = await Session.start(config, journal)
    if (rc := await session.finish()) != 0:
        raise SystemExit(f"final session failed ({rc}): {session.stderr_tail()}")
    stats = await vendor.stats()
    return {
        "items": items,
        "kills": len(killed_at),
        "sessions": len(killed_at) + 1,
        "killed_at_stored": killed_at,
        **await tallies(store, items),
        "extra_vendor_calls": int(stats["requests"]) - items,
    }


async def blocked_mode(
    store: BenchStore,
    vendor: Any,
    config: Path,
    journal: Path,
    items: int,
    marks: Sequence[float],
    *,
    hold_s: float,
    rng: random.Random,
) -> dict[str, Any]:
    """Kill at each mark while the bench holds the store's write lock; resume; stall the last
    session once without killing it; the blocked mode's figures (see the module docstring)."""
    from db.writer import DEFAULT_MAX_BATCH, DEFAULT_QUEUE_BATCHES

    killed_at: list[int] = []
    while_blocked: list[int] = []
    boundaries: list[int] = [0]  # vendor request count at the start of each session
    kept_after: list[set[str]] = []
    journal_rows: list[int] = []
    imported = 0
    for mark in marks:
        session = await Session.start(config, journal)
        n = await sending_at(store, session, mark, vendor, boundaries[-1])
        if not session.alive:
            rc = await session.finish()
            raise SystemExit(f"run ended ({rc}) before the kill at {mark:.0f}: {session.stderr_tail(1000)}")
        release = await store.lock_writes()
        at_lock = await requests(vendor)
        if not await hold(session, hold_s):
            rc = await session.finish()
            raise SystemExit(f"the run exited ({rc}) while the store was locked: {session.stderr_tail()}")
        while_blocked.append(await requests(vendor) - at_lock)
        await session.kill()
        await release()
        imported += session.journal_written()
        boundaries.append(await requests(vendor))
        in_store = {row[0] for row in await store.rows(KEPT_SQL)}
        in_journal = await asyncio.to_thread(journal_cases, journal)
        kept_after.append(in_store | in_journal)
        journal_rows.append(len(in_journal - in_store))
        killed_at.append(n)
        print(
            f"killed with {n} responses stored, {while_blocked[-1]} requests while blocked, "
            f"{journal_rows[-1]} answers only in the journal",
            flush=True,
        )

    session = await Session.start(config, journal)
    kept = len(kept_after[-1]) if kept_after else 0
    stall_mark = kept + rng.uniform(0.2, 0.6) * (items - kept)
    stall_at: int | None = await sending_at(store, session, stall_mark, vendor, boundaries[-1])
    stall_calls: int | None = None
    stall_held: float | None = None
    if session.alive:
        release = await store.lock_writes()
        at_lock, locked = await requests(vendor), time.monotonic()
        await hold(session, hold_s)  # a session that ends meanwhile had written everything first
        stall_calls = await requests(vendor) - at_lock
        stall_held = round(time.monotonic() - locked, 1)
        await release()
        print(
            f"stalled {stall_held} s with {stall_at} responses stored: {stall_calls} requests while blocked",
            flush=True,
        )
    else:
        stall_at = None
    if (rc := await session.finish()) != 0:
        raise SystemExit(f"final session failed ({rc}): {session.stderr_tail()}")
    imported += session.journal_written()

    stats = await vendor.stats(with_prompts=True)
    case_of = {text: case_id for case_id, text in await store.rows(PROMPTS_SQL)}
    sent = [case_of.get(r["prompt"]) for r in stats["received"]]
    per_kill = [
        sum(1 for case in sent[boundaries[k] : boundaries[k + 1]] if case not in kept_after[k])
        for k in range(len(marks))
    ]
    # A request in session k + 1 or later for a case kept after kill k was paid for twice.
    rebought = sum(
        1
        for k in range(len(marks))
        for case in sent[boundaries[k + 1] : boundaries[k + 2] if k + 2 < len(boundaries) else None]
        if case in kept_after[k]
    )
    extra = int(stats["requests"]) - items
    cap = IN_FLIGHT
    return {
        "mode": "blocked_writer",
        "items": items,
        "kills": len(killed_at),
        "sessions": len(killed_at) + 1,
        "killed_at_stored": killed_at,
        **await tallies(store, items),
        "extra_vendor_calls": extra,
        "extra_vendor_calls_per_kill": per_kill,
        "extra_vendor_calls_per_kill_max": max(per_kill, default=0),
        "in_flight_cap": cap,
        "writer_queue_bound": DEFAULT_QUEUE_BATCHES * DEFAULT_MAX_BATCH,
        "writer_batch": DEFAULT_MAX_BATCH,
        "hold_s": hold_s,
        "vendor_calls_while_blocked": while_blocked,
        "vendor_calls_while_blocked_max": max(while_blocked, default=0),
        "journal_rows_at_kill": journal_rows,
        "journal_imported": imported,
        "rebought_kept_answers": rebought,
        "dropped_paid_answers": rebought + sum(max(0, n - cap) for n in per_kill),
        "unexplained_extra_calls": extra - sum(per_kill) - rebought,
        "stall_at_stored": stall_at,
        "stall_vendor_calls_while_blocked": stall_calls,
        "stall_held_s": stall_held,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES, help="a database the bench may create its own next to"
    )
    parser.add_argument(
        "--blocked-writer", action="store_true", help="kill while the store's write lock is held elsewhere"
    )
    parser.add_argument(
        "--hold-s",
        type=float,
        default=None,
        help="seconds the lock is held (default: SQLite's busy timeout + 5, Postgres 8)",
    )
    args = parser.parse_args()
    items: int = args.items
    rng = random.Random(args.seed)
    # Random moments, as points of progress (so every kill lands while the run is sending). A
    # blocked kill leaves up to a writer queue of answers in the journal, and the last session is
    # stalled once too: its kills come earlier so that session still has sending to do.
    last = 0.7 if args.blocked_writer else 0.95
    marks = sorted(rng.uniform(0.03, last) * items for _ in range(args.kills))

    from db.engine import SQLITE_BUSY_TIMEOUT_MS
    from simulator import SimulatedVendorProcess

    hold_s: float | None = args.hold_s
    if hold_s is None:
        hold_s = (
            SQLITE_BUSY_TIMEOUT_MS / 1000 + SQLITE_HOLD_PAST_TIMEOUT_S
            if args.store == "sqlite"
            else POSTGRES_HOLD_S
        )
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        suite = write_suite(tmp / "suite.jsonl", items)
        journal = tmp / "journal"
        store: BenchStore = (
            SqliteStore(tmp / "resume.db")
            if args.store == "sqlite"
            else await PostgresStore.create(args.postgres_url)
        )
        try:
            vendor = SimulatedVendorProcess(latency_ms=20)
            async with vendor as base_url:
                config = tmp / "run.yaml"
                spec = run_config(
                    name="resume",
                    suite=suite,
                    db=tmp / "resume.db",
                    base_url=base_url,
                    adapter="openai",
                    in_flight=IN_FLIGHT,
                )
                spec["db_url"] = store.url
                config.write_text(yaml.safe_dump(spec), encoding="utf-8")
                if args.blocked_writer:
                    summary = await blocked_mode(
                        store, vendor, config, journal, items, marks, hold_s=hold_s, rng=rng
                    )
                    summary = {"mode": summary.pop("mode"), "store": args.store, **summary}
                    summary["wall_s"] = round(time.perf_counter() - began, 1)
                else:
                    summary = await default_mode(store, vendor, config, journal, items, marks)
        finally:
            await store.aclose()
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
