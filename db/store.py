"""The result store: one async API over SQLite and Postgres (see docs/ARCHITECTURE.md, "Store").

Bulk writes are SQLAlchemy Core inserts with the dialect's ``ON CONFLICT`` clause, executed many
at a time with plain dicts, so saving the same work item twice keeps one row and costs little CPU.
Reads that can be large (resume keys, items awaiting the critic) stream or page by key instead of
loading whole tables.

A run's counts, tokens and spend are kept in ``run_totals`` and ``verdict_totals`` by the same
transactions that write its responses and verdicts (``_Tally``), so reading them costs one row per
(target, outcome) or (critic, version, status) whatever the run's size. A transaction works out its
changes from the rows it finds stored and adds them last, in key order. On Postgres, a write that
meets stored rows (a retry replacing a failure, a rescore, a duplicate) is rolled back and redone
under the run's advisory lock, taken first (``_counted_write``); every writer that changes or deletes
stored rows holds it, so what it read stays true until it commits, and no transaction waits for that
lock holding row locks. Writes of new keys only, the common case, take no lock; rows are written in
key order, so concurrent writers never deadlock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

from core.errors import ServiceError
from core.protocols import Critic
from core.records import CriticInfo, RunCounts, StoredRun, StoredTarget
from core.types import (
    Case,
    Outcome,
    PendingCritique,
    ResponseRecord,
    SkippedRow,
    Verdict,
    VerdictStatus,
)
from db import migrate
from db.engine import DEFAULT_URL, SQLITE_BEGIN_OPTION, create_engine, describe_error, redact_url
from db.records import (
    case_to_row,
    response_to_row,
    row_to_case,
    row_to_pending,
    row_to_response,
    skipped_to_row,
    verdict_to_row,
)
from db.report_queries import ReportQueries, reading
from db.tables import utcnow

_RUNS: Table = SQLModel.metadata.tables["runs"]
_TARGETS: Table = SQLModel.metadata.tables["run_targets"]
_CASES: Table = SQLModel.metadata.tables["cases"]
_RESPONSES: Table = SQLModel.metadata.tables["responses"]
_VERDICTS: Table = SQLModel.metadata.tables["verdicts"]
_SKIPPED: Table = SQLModel.metadata.tables["skipped_rows"]
_TOTALS: Table = SQLModel.metadata.tables["run_totals"]
_VERDICT_TOTALS: Table = SQLModel.metadata.tables["verdict_totals"]

# Keys per IN (...) list: well under every driver's bound-parameter limit.
_IN_CHUNK = 500
_STREAM_PARTITION = 10_000
_CACHEABLE = (Outcome.COMPLETED.value, Outcome.BLOCKED_BY_VENDOR.value)
RETRYABLE_OUTCOMES = (Outcome.FAILED_TRANSIENT.value, Outcome.INCOMPLETE.value)
"""Stored outcomes a rerun sends again and a later save replaces; every other outcome is final."""
# On replacement these add up (what the work item cost over every try); the other columns
# describe the latest answer.
_ACCUMULATED = ("attempts", "prompt_tokens", "completion_tokens", "cost_usd")
_RESPONSE_KEY = ("run_id", "work_key")
_TOTALS_KEY = ("run_id", "target", "outcome")
_TOTALS_SUMS = ("prompt_tokens", "completion_tokens", "cost_usd")
_VERDICT_KEY = ("run_id", "work_key", "critic", "critic_version")
_VERDICT_TOTALS_KEY = ("run_id", "critic", "critic_version", "status")
_SCORED = VerdictStatus.SCORED.value
# Keyed by schema too, so stores in different schemas of one database do not wait on each other.
_RUN_LOCK = text(
    "SELECT pg_advisory_xact_lock(hashtextextended('seval-rows:' || current_schema() || ':' || :run, 0))"
)
# What a replacement needs of a stored response to move it between total rows.
_STORED_FIELDS = (*_RESPONSE_KEY, *_TOTALS_KEY[1:], *_TOTALS_SUMS)
# Postgres: (run_id, work_key)s as two array parameters, ``unnest(...) AS k(run_id, work_key)``.
# Joined on a table's leading key columns it is planned as a loop over the primary key or unique
# index, with or without statistics (an IN list can be planned as a scan of the whole run), and the
# statement is the same for any number of keys, so it is compiled once.
_TEXT_ARRAY = postgresql.ARRAY(String)
_KEYS = (
    func.unnest(bindparam("runs", type_=_TEXT_ARRAY), bindparam("keys", type_=_TEXT_ARRAY))
    .table_valued("run_id", "work_key")
    .render_derived(name="k")
)
_R, _V = _RESPONSES.c, _VERDICTS.c
_STORED_RETRYABLE = (
    select(*(_R[name] for name in _STORED_FIELDS))
    .select_from(_RESPONSES.join(_KEYS, and_(_R.run_id == _KEYS.c.run_id, _R.work_key == _KEYS.c.work_key)))
    .where(_R.outcome.in_(RETRYABLE_OUTCOMES))
)
_VERDICT_FIELDS = (_V.run_id, _V.work_key, _V.critic, _V.critic_version, _V.status)
_STORED_VERDICTS = select(*_VERDICT_FIELDS).select_from(
    _VERDICTS.join(_KEYS, and_(_V.run_id == _KEYS.c.run_id, _V.work_key == _KEYS.c.work_key))
)
_DELETE_VERDICTS = (
    delete(_VERDICTS)
    .where(_V.run_id == _KEYS.c.run_id, _V.work_key == _KEYS.c.work_key)
    .returning(*_VERDICT_FIELDS)
)
_T = TypeVar("_T")
_TARGET_FIELDS = ("target", "model", "adapter", "limit_key", "planned", "status", "status_detail")


class TargetPlan(Protocol):
    """What ``Store.start_run`` records per target (``StoredTarget`` is one)."""

    @property
    def target(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def adapter(self) -> str: ...

    @property
    def limit_key(self) -> str: ...

    @property
    def planned(self) -> int: ...

    @property
    def status(self) -> str: ...

    @property
    def status_detail(self) -> str: ...


class StoreError(ServiceError):
    """The store could not be opened, or a reference it was given is ambiguous."""


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _StoredRows(Exception):
    """A Postgres write met stored rows before holding the runs' locks: it is redone under them."""


class _Tally:
    """What one write transaction changes in the run totals, added to them at its end."""

    __slots__ = ("met_stored", "responses", "verdicts")

    def __init__(self) -> None:
        self.met_stored = False
        """The write found some of its keys stored (Postgres: it ran under the runs' locks)."""
        # (run_id, target, outcome) -> [responses, prompt_tokens, completion_tokens, cost_usd]
        self.responses: dict[tuple[str, str, str], list[Any]] = {}
        # (run_id, critic, critic_version, status) -> verdicts
        self.verdicts: dict[tuple[str, str, str, str], int] = {}

    def response(self, row: Mapping[str, Any], sign: int) -> None:
        """A responses row appeared (``sign`` 1) or went away (-1)."""
        sums = self.responses.setdefault((row["run_id"], row["target"], row["outcome"]), [0, 0, 0, 0.0])
        sums[0] += sign
        sums[1] += sign * row["prompt_tokens"]
        sums[2] += sign * row["completion_tokens"]
        sums[3] += sign * row["cost_usd"]

    def replaced(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """A retryable row ``old`` was replaced by ``new``: the stored row is ``new`` with the old
        row's tokens and cost added (``_ACCUMULATED``)."""
        self.response(old, -1)
        self.response({**new, **{name: old[name] + new[name] for name in _TOTALS_SUMS}}, 1)

    def verdict(self, run_id: str, critic: str, version: str, status: str, sign: int) -> None:
        """A verdict row with ``status`` appeared (``sign`` 1) or went away (-1)."""
        key = (run_id, critic, version, status)
        self.verdicts[key] = self.verdicts.get(key, 0) + sign

    def response_rows(self) -> list[dict[str, Any]]:
        """The changes to ``run_totals``, in key order (the order writers lock total rows in)."""
        return [
            dict(zip((*_TOTALS_KEY, "responses", *_TOTALS_SUMS), (*key, *sums), strict=True))
            for key, sums in sorted(self.responses.items())
            if any(sums)
        ]

    def verdict_rows(self) -> list[dict[str, Any]]:
        """The changes to ``verdict_totals``, in key order."""
        return [
            dict(zip((*_VERDICT_TOTALS_KEY, "verdicts"), (*key, n), strict=True))
            for key, n in sorted(self.verdicts.items())
            if n
        ]


class Store:
    """Async access to runs, cases, responses, verdicts and skipped rows. Build with ``Store.open``."""

    def __init__(self, engine: AsyncEngine, *, max_text_chars: int) -> None:
        if max_text_chars < 1:
            raise ValueError(f"max_text_chars must be positive, got {max_text_chars}")
        self._engine = engine
        self._dialect = engine.dialect.name
        # Write transactions on SQLite take the write lock up front (BEGIN IMMEDIATE), so a write
        # that follows a read never fails on a lock upgrade; reads stay deferred and never block.
        self._write_engine = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self._max_text_chars = max_text_chars
        self._insert_responses = self._insert_ignore(_RESPONSES, _RESPONSE_KEY)
        self._replace_responses = self._replace_retryable()
        self._insert_verdicts = self._insert_ignore(_VERDICTS, _VERDICT_KEY)
        self._upsert_verdicts = self._replace_verdicts()
        self._add_totals = self._adding(_TOTALS, _TOTALS_KEY, "responses", _TOTALS_SUMS)
        self._add_verdict_totals = self._adding(_VERDICT_TOTALS, _VERDICT_TOTALS_KEY, "verdicts", ())
        self._meeting_stored: set[str] = set()  # runs whose last write found stored rows (Postgres)

    @classmethod
    async def open(
        cls, url: str = DEFAULT_URL, *, max_text_chars: int = 100_000, create: bool = True
    ) -> Store:
        """Connect to ``url``; with ``create``, bring the schema up to date (Alembic, under a lock).

        Without ``create`` the schema must already be current (``seval db upgrade``).
        """
        engine = create_engine(url)
        try:
            if create:
                await migrate.upgrade(engine)
            else:
                await migrate.require_current(engine)
            return cls(engine, max_text_chars=max_text_chars)
        except migrate.SchemaError as exc:
            await engine.dispose()
            raise StoreError(f"{redact_url(url)}: {exc}") from exc
        except (DBAPIError, OSError) as exc:
            await engine.dispose()
            raise StoreError(describe_error(url, "open database", exc)) from exc
        except BaseException:
            await engine.dispose()
            raise

    async def close(self) -> None:
        """Dispose of the engine and its pooled connections."""
        await self._engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def engine(self) -> AsyncEngine:
        """The ``AsyncEngine`` (tests and benchmarks that seed or inspect tables directly)."""
        return self._engine

    def reading(self) -> AbstractAsyncContextManager[ReportQueries]:
        """Report queries on one connection (``db.report_queries``): ``async with store.reading() as q``."""
        return reading(self._engine)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._dialect

    @property
    def max_text_chars(self) -> int:
        """The cap on stored response text (longer text is cut and flagged ``truncated``)."""
        return self._max_text_chars

    # -- statements -------------------------------------------------------------------------

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        if self._dialect == "sqlite":
            return sqlite.insert(table)
        return postgresql.insert(table)

    def _insert_ignore(self, table: Table, keys: Sequence[str]) -> sqlite.Insert | postgresql.Insert:
        return self._insert(table).on_conflict_do_nothing(index_elements=keys)

    def _replace_retryable(self) -> sqlite.Insert | postgresql.Insert:
        """Upsert of responses that replaces a stored row only while its outcome is retryable."""
        stmt = self._insert(_RESPONSES)
        new = stmt.excluded
        replace: dict[str, Any] = {
            c.name: new[c.name] for c in _RESPONSES.columns if c.name not in _RESPONSE_KEY
        }
        replace.update({name: _RESPONSES.c[name] + new[name] for name in _ACCUMULATED})
        return stmt.on_conflict_do_update(
            index_elements=list(_RESPONSE_KEY),
            set_=replace,
            # Inlined constants: executemany cannot expand a bound IN list.
            where=_RESPONSES.c.outcome.in_([literal_column(f"'{v}'") for v in RETRYABLE_OUTCOMES]),
        )

    def _replace_verdicts(self) -> sqlite.Insert | postgresql.Insert:
        """Upsert of verdicts: a CRITIC_ERROR never replaces a SCORED verdict."""
        stmt = self._insert(_VERDICTS)
        replaced = ("status", "label", "risk_score", "risk_tags_json", "explanation", "error", "created_at")
        return stmt.on_conflict_do_update(
            index_elements=list(_VERDICT_KEY),
            set_={name: stmt.excluded[name] for name in replaced},
            where=or_(stmt.excluded.status == _SCORED, _VERDICTS.c.status != _SCORED),
        )

    def _adding(
        self, table: Table, keys: Sequence[str], count: str, sums: Sequence[str]
    ) -> sqlite.Insert | postgresql.Insert:
        """Upsert that adds a row's numbers to the stored total row of its key."""
        stmt = self._insert(table)
        t, new = table.c, stmt.excluded
        added: dict[str, Any] = {name: t[name] + new[name] for name in (count, *sums)}
        if "cost_usd" in sums:
            # A bucket that empties holds exactly 0, not the rounding left by adding and subtracting.
            added["cost_usd"] = case((t[count] + new[count] == 0, 0.0), else_=t.cost_usd + new.cost_usd)
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=added)

    async def _add_tally(self, conn: AsyncConnection, tally: _Tally) -> None:
        """Add a transaction's changes to the totals: its last statements, in key order."""
        rows = tally.response_rows()
        if rows:
            await conn.execute(self._add_totals, rows)
        verdict_rows = tally.verdict_rows()
        if verdict_rows:
            await conn.execute(self._add_verdict_totals, verdict_rows)

    async def _lock_runs(self, conn: AsyncConnection, run_ids: Iterable[str]) -> None:
        """On Postgres, take the runs' advisory locks (until commit), in order. Every transaction
        that changes or deletes stored responses or verdicts of a run holds its lock, so stored rows
        it read stay as read; SQLite has one writer at a time anyway."""
        if self._dialect != "postgresql":
            return
        for run_id in sorted(set(run_ids)):
            await conn.execute(_RUN_LOCK, {"run": run_id})

    # -- runs and targets -------------------------------------------------------------------

    async def start_run(
        self, *, run_id: str, name: str, spec_json: str, targets: Sequence[TargetPlan]
    ) -> bool:
        """Record a run and its targets. True when the run is new; on resume, targets' planned
        counts are updated (and targets not seen before are added)."""
        now = utcnow()
        run = {
            "id": run_id,
            "name": name,
            "spec_json": spec_json,
            "spec_hash": run_id,
            "status": "created",
            "status_detail": "",
            "created_at": now,
            "updated_at": now,
        }
        target_rows = [{"run_id": run_id, **{f: getattr(t, f) for f in _TARGET_FIELDS}} for t in targets]
        async with self._write_engine.begin() as conn:
            result = await conn.execute(self._insert_ignore(_RUNS, ["id"]), run)
            is_new = result.rowcount == 1
            if not is_new:
                await conn.execute(update(_RUNS).where(_RUNS.c.id == run_id).values(updated_at=now))
            if target_rows:
                stmt = self._insert(_TARGETS)
                upsert = stmt.on_conflict_do_update(
                    index_elements=["run_id", "target"], set_={"planned": stmt.excluded.planned}
                )
                await conn.execute(upsert, target_rows)
        return is_new

    async def set_run_status(self, run_id: str, status: str, detail: str = "") -> None:
        """Set a run's status and detail text. Raises ``LookupError`` for an unknown run."""
        async with self._write_engine.begin() as conn:
            result = await conn.execute(
                update(_RUNS)
                .where(_RUNS.c.id == run_id)
                .values(status=status, status_detail=detail, updated_at=utcnow())
            )
            if result.rowcount == 0:
                raise LookupError(f"no run {run_id!r}")

    async def set_target_status(self, run_id: str, target: str, status: str, detail: str = "") -> None:
        """Set one target's status and detail. Raises ``LookupError`` for an unknown run or target."""
        async with self._write_engine.begin() as conn:
            result = await conn.execute(
                update(_TARGETS)
                .where(_TARGETS.c.run_id == run_id, _TARGETS.c.target == target)
                .values(status=status, status_detail=detail)
            )
            if result.rowcount == 0:
                raise LookupError(f"no target {target!r} in run {run_id!r}")

    async def get_run(self, ref: str) -> StoredRun | None:
        """The run with id ``ref``, else the one whose id starts with ``ref`` if only one does, else the
        latest run named ``ref``. Raises ``StoreError`` when ``ref`` is an ambiguous prefix and no name."""
        if not ref:
            return None
        async with self._engine.connect() as conn:
            exact = (await conn.execute(select(_RUNS).where(_RUNS.c.id == ref))).mappings().first()
            if exact is not None:
                return StoredRun(**exact)
            by_prefix = (
                (
                    await conn.execute(
                        select(_RUNS).where(_RUNS.c.id.startswith(ref, autoescape=True)).limit(2)
                    )
                )
                .mappings()
                .all()
            )
            if len(by_prefix) == 1:
                return StoredRun(**by_prefix[0])
            by_name = (
                (
                    await conn.execute(
                        select(_RUNS)
                        .where(_RUNS.c.name == ref)
                        .order_by(_RUNS.c.created_at.desc(), _RUNS.c.id.desc())
                        .limit(1)
                    )
                )
                .mappings()
                .first()
            )
        if by_name is not None:
            return StoredRun(**by_name)
        if by_prefix:
            raise StoreError(f"run reference {ref!r} matches several run ids: give more characters")
        return None

    async def list_runs(self) -> list[StoredRun]:
        """Every run, newest first."""
        async with self._engine.connect() as conn:
            result = await conn.execute(select(_RUNS).order_by(_RUNS.c.created_at.desc(), _RUNS.c.id))
            return [StoredRun(**row) for row in result.mappings()]

    async def run_targets(self, run_id: str) -> list[StoredTarget]:
        """A run's targets, by target name."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                select(_TARGETS).where(_TARGETS.c.run_id == run_id).order_by(_TARGETS.c.target)
            )
            return [StoredTarget(**row) for row in result.mappings()]

    async def run_counts(self, run_id: str, critic: Critic | None = None) -> RunCounts:
        """Responses of ``run_id`` counted by target and outcome, spend by target, and verdicts by
        (critic, version, status): only ``critic``'s own name and version when it is given.
        Read from the run totals: one row per (target, outcome), not one per item."""
        t, vt = _TOTALS.c, _VERDICT_TOTALS.c
        outcomes: dict[str, dict[str, int]] = {}
        cost: dict[str, float] = {}
        tokens: dict[str, int] = {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(t.target, t.outcome, t.responses, t.cost_usd, t.prompt_tokens + t.completion_tokens)
                .where(t.run_id == run_id)
                .order_by(t.target, t.outcome)
            )
            for target, outcome, n, usd, used in rows:
                if n:  # an emptied bucket (its failures were retried) still holds spend of 0
                    outcomes.setdefault(target, {})[outcome] = int(n)
                cost[target] = cost.get(target, 0.0) + float(usd)
                tokens[target] = tokens.get(target, 0) + int(used)
            query = select(vt.critic, vt.critic_version, vt.status, vt.verdicts).where(
                vt.run_id == run_id, vt.verdicts > 0
            )
            if critic is not None:
                query = query.where(vt.critic == critic.name, vt.critic_version == critic.version)
            vrows = await conn.execute(query)
            verdicts: Mapping[tuple[str, str, str], int] = {
                (name, version, status): int(n) for name, version, status, n in vrows
            }
        return RunCounts(outcomes=outcomes, cost_usd=cost, verdicts=verdicts, tokens=tokens)

    # -- cases ------------------------------------------------------------------------------

    async def save_cases(self, cases: Iterable[Case]) -> None:
        """Store cases; a case whose id is already stored is left as it is."""
        rows = [case_to_row(case) for case in cases]
        if not rows:
            return
        async with self._write_engine.begin() as conn:
            await conn.execute(self._insert_ignore(_CASES, ["id"]), rows)

    async def get_cases(self, ids: Iterable[str]) -> dict[str, Case]:
        """The stored cases among ``ids``, by id (unknown ids are absent)."""
        unique = list(dict.fromkeys(ids))
        found: dict[str, Case] = {}
        async with self._engine.connect() as conn:
            for chunk in _chunks(unique, _IN_CHUNK):
                result = await conn.execute(select(_CASES).where(_CASES.c.id.in_(chunk)))
                for row in result.mappings():
                    found[row["id"]] = row_to_case(row)
        return found

    async def cases_by_parent(self, parent_id: str, attack: str | None) -> list[Case]:
        """The stored cases made from ``parent_id`` by ``attack`` (``None``: no attack), by id."""
        attack_match = _CASES.c.attack.is_(None) if attack is None else _CASES.c.attack == attack
        async with self._engine.connect() as conn:
            result = await conn.execute(
                select(_CASES).where(_CASES.c.parent_id == parent_id, attack_match).order_by(_CASES.c.id)
            )
            return [row_to_case(row) for row in result.mappings()]

    # -- responses --------------------------------------------------------------------------

    async def done_for_cases(
        self, run_id: str, case_ids: Sequence[str], *, include_retryable: bool = True
    ) -> dict[str, set[str]]:
        """Work keys with a stored response among the items of ``case_ids``, by target: what one
        shard of the plan already has (``include_retryable`` as in ``done_keys``)."""
        r = _RESPONSES.c
        done: dict[str, set[str]] = {}
        async with self._engine.connect() as conn:
            for part in _chunks(list(case_ids), _IN_CHUNK):
                query = select(r.target, r.work_key).where(r.run_id == run_id, r.case_id.in_(part))
                if not include_retryable:
                    query = query.where(r.outcome.not_in(RETRYABLE_OUTCOMES))
                for target, key in await conn.execute(query):
                    done.setdefault(target, set()).add(key)
        return done

    async def retryable_count(self, run_id: str, case_ids: Sequence[str]) -> int:
        """Items of ``case_ids`` stored as FAILED_TRANSIENT or INCOMPLETE (a rerun sends them again)."""
        r = _RESPONSES.c
        total = 0
        async with self._engine.connect() as conn:
            for part in _chunks(list(case_ids), _IN_CHUNK):
                query = select(func.count()).where(
                    r.run_id == run_id, r.case_id.in_(part), r.outcome.in_(RETRYABLE_OUTCOMES)
                )
                total += int((await conn.execute(query)).scalar_one())
        return total

    async def done_counts(self, run_id: str, *, include_retryable: bool = True) -> dict[str, int]:
        """How many work keys each target of ``run_id`` has stored (from the run totals)."""
        t = _TOTALS.c
        query = select(t.target, func.sum(t.responses)).where(t.run_id == run_id, t.responses > 0)
        if not include_retryable:
            query = query.where(t.outcome.not_in(RETRYABLE_OUTCOMES))
        async with self._engine.connect() as conn:
            return {target: int(n) for target, n in await conn.execute(query.group_by(t.target))}

    async def done_keys(
        self, run_id: str, target: str | None = None, *, include_retryable: bool = True
    ) -> set[str]:
        """Work keys of ``run_id`` (optionally one target) that have a stored response, streamed.

        With ``include_retryable=False`` only final answers count: keys whose stored outcome is
        FAILED_TRANSIENT or INCOMPLETE are left out, so a rerun sends them again.
        """
        query = select(_RESPONSES.c.work_key).where(_RESPONSES.c.run_id == run_id)
        if target is not None:
            query = query.where(_RESPONSES.c.target == target)
        if not include_retryable:
            query = query.where(_RESPONSES.c.outcome.not_in(RETRYABLE_OUTCOMES))
        keys: set[str] = set()
        async with self._engine.connect() as conn:
            result = await conn.stream_scalars(query, execution_options={"yield_per": _STREAM_PARTITION})
            async for part in result.partitions():
                keys.update(part)
        return keys

    async def save_responses(self, rows: Sequence[ResponseRecord]) -> int:
        """Store responses, one row per (run_id, work_key); returns how many rows were written.

        A key not yet stored is inserted. A key whose stored outcome is FAILED_TRANSIENT or
        INCOMPLETE is replaced by the new response (a rerun filling a hole), with ``attempts``,
        tokens and ``cost_usd`` added to the earlier row's, and the old row's verdicts deleted (they
        judged another answer). Any other stored outcome is final and the new row is ignored.
        Written = inserted + replaced, each key counted once per call. Within one call, rows for the
        same key apply in order under the same rule. The run totals change in the same transaction.

        NUL bytes are stripped and text longer than ``max_text_chars`` is cut with ``truncated`` set.
        """
        if not rows:
            return 0
        now = utcnow()
        values = _fold_same_key([response_to_row(rec, self._max_text_chars, now) for rec in rows])
        # In key order: concurrent writers take row locks in one order and never deadlock on them.
        values.sort(key=lambda row: (row["run_id"], row["work_key"]))

        async def write(conn: AsyncConnection, tally: _Tally, locked: bool) -> int:
            if self._dialect == "sqlite":
                written, replaced = await self._save_responses_sqlite(conn, values, tally)
            else:
                written, replaced = await self._save_responses_postgres(conn, values, tally, locked)
            if replaced:
                await self._delete_verdicts_of(conn, replaced, tally)
            return written

        return await self._counted_write({row["run_id"] for row in values}, write)

    async def _counted_write(
        self, run_ids: set[str], write: Callable[[AsyncConnection, _Tally, bool], Awaitable[_T]]
    ) -> _T:
        """Run ``write(conn, tally, locked)`` in one write transaction and add its tally to the
        totals at the end. A Postgres write that meets stored rows without ``locked`` raises
        ``_StoredRows``: the transaction is rolled back and run again with ``locked``, taking the
        runs' locks before it writes anything, so a transaction never waits for a run's lock while
        it holds row locks and writers cannot deadlock on it. While a run's writes keep meeting
        stored rows (a rerun replacing failures), they start locked instead of trying twice."""
        locked = self._dialect == "postgresql" and not run_ids.isdisjoint(self._meeting_stored)
        while True:
            tally = _Tally()
            try:
                async with self._write_engine.begin() as conn:
                    result = await write(conn, tally, locked)
                    await self._add_tally(conn, tally)
            except _StoredRows:
                locked = True
                continue
            if tally.met_stored:
                self._meeting_stored |= run_ids
            else:
                self._meeting_stored -= run_ids
            return result

    async def _save_responses_sqlite(
        self, conn: AsyncConnection, values: list[dict[str, Any]], tally: _Tally
    ) -> tuple[int, list[tuple[str, str]]]:
        """(rows written, keys replaced). sqlite3 runs executemany row by row and its rowcount
        counts inserted and updated rows, so the conditional upsert does it all; the stored rows
        among the keys are looked up first (by primary key: SQLite's planner always takes it here),
        and the write lock, taken when the transaction began, keeps them as read."""
        by_run: dict[str, list[str]] = {}
        for row in values:
            by_run.setdefault(row["run_id"], []).append(row["work_key"])
        stored: dict[tuple[str, str], dict[str, Any]] = {}
        r = _RESPONSES.c
        for run_id, keys in by_run.items():
            for chunk in _chunks(keys, _IN_CHUNK):
                found = await conn.execute(
                    select(*(r[name] for name in _STORED_FIELDS)).where(
                        r.run_id == run_id, r.work_key.in_(chunk)
                    )
                )
                stored.update(((run_id, row["work_key"]), dict(row)) for row in found.mappings())
        replaced: list[tuple[str, str]] = []
        for row in values:
            key = (row["run_id"], row["work_key"])
            old = stored.get(key)
            if old is None:
                tally.response(row, 1)
            elif old["outcome"] in RETRYABLE_OUTCOMES:
                tally.replaced(old, row)
                replaced.append(key)
        written = (await conn.execute(self._replace_responses, values)).rowcount
        return written, replaced

    async def _save_responses_postgres(
        self, conn: AsyncConnection, values: list[dict[str, Any]], tally: _Tally, locked: bool
    ) -> tuple[int, list[tuple[str, str]]]:
        """(rows written, keys replaced). asyncpg reports no executemany rowcount, so RETURNING
        lists the keys. New keys go in by insert-or-ignore first: a fresh run's batches end there,
        without a lock or a lookup. Keys found stored are read only under the runs' locks (which
        every writer that replaces rows holds), through ``_KEYS``: an IN list is planned as a scan
        of the whole run while the table has no statistics yet."""
        key = (_RESPONSES.c.run_id, _RESPONSES.c.work_key)
        if locked:
            await self._lock_runs(conn, (row["run_id"] for row in values))
        inserted = {(r, k) for r, k in await conn.execute(self._insert_responses.returning(*key), values)}
        stored: list[dict[str, Any]] = []
        for row in values:
            if (row["run_id"], row["work_key"]) in inserted:
                tally.response(row, 1)
            else:
                stored.append(row)
        if not stored:
            return len(inserted), []
        if not locked:
            raise _StoredRows
        tally.met_stored = True
        found = await conn.execute(
            _STORED_RETRYABLE, _key_arrays((row["run_id"], row["work_key"]) for row in stored)
        )
        old = {(row["run_id"], row["work_key"]): dict(row) for row in found.mappings()}
        retry = [row for row in stored if (row["run_id"], row["work_key"]) in old]
        if not retry:
            return len(inserted), []
        result = await conn.execute(self._replace_responses.returning(*key), retry)
        replaced = [(r, k) for r, k in result]
        news = {(row["run_id"], row["work_key"]): row for row in retry}
        for found_key in replaced:
            tally.replaced(old[found_key], news[found_key])
        return len(inserted) + len(replaced), replaced

    async def _delete_verdicts_of(
        self, conn: AsyncConnection, keys: Sequence[tuple[str, str]], tally: _Tally
    ) -> None:
        """Delete the verdicts of these (run_id, work_key)s, counting what was deleted. SQLite: one
        IN list per run (its planner takes the unique index); Postgres: through ``_KEYS``."""
        results = []
        if self._dialect == "sqlite":
            by_run: dict[str, list[str]] = {}
            for run_id, work_key in keys:
                by_run.setdefault(run_id, []).append(work_key)
            for run_id, run_keys in by_run.items():
                for chunk in _chunks(run_keys, _IN_CHUNK):
                    stmt = delete(_VERDICTS).where(_V.run_id == run_id, _V.work_key.in_(chunk))
                    results.append(await conn.execute(stmt.returning(*_VERDICT_FIELDS)))
        else:
            results.append(await conn.execute(_DELETE_VERDICTS, _key_arrays(keys)))
        for result in results:
            for run_id, _key, critic, version, status in result:
                tally.verdict(run_id, critic, version, status, -1)

    async def find_cached(self, cache_keys: Iterable[str]) -> dict[str, ResponseRecord]:
        """For each cache key with a COMPLETED or BLOCKED_BY_VENDOR response in any run, the earliest one."""
        unique = list(dict.fromkeys(cache_keys))
        found: dict[str, ResponseRecord] = {}
        async with self._engine.connect() as conn:
            for chunk in _chunks(unique, _IN_CHUNK):
                result = await conn.execute(
                    select(_RESPONSES)
                    .where(_RESPONSES.c.cache_key.in_(chunk), _RESPONSES.c.outcome.in_(_CACHEABLE))
                    .order_by(_RESPONSES.c.created_at, _RESPONSES.c.run_id, _RESPONSES.c.work_key)
                )
                for row in result.mappings():
                    if row["cache_key"] not in found:
                        found[row["cache_key"]] = row_to_response(row)
        return found

    async def spent_usd(self, run_id: str) -> float:
        """Total cost in USD of the responses stored for ``run_id`` (from the run totals)."""
        async with self._engine.connect() as conn:
            total = await conn.scalar(
                select(func.coalesce(func.sum(_TOTALS.c.cost_usd), 0.0)).where(_TOTALS.c.run_id == run_id)
            )
        return float(total or 0.0)

    async def recount_totals(self, run_id: str) -> None:
        """Set ``run_id``'s totals to a fresh count of its stored responses and verdicts.

        For tools that load rows with plain SQL instead of ``save_responses``/``save_verdicts``
        (benchmarks building large stores, repairs); the store's own writes keep the totals. Run it
        while nothing else writes the run.
        """
        r, v = _RESPONSES.c, _VERDICTS.c
        counted = select(
            r.run_id,
            r.target,
            r.outcome,
            func.count(),
            func.coalesce(func.sum(r.prompt_tokens), 0),
            func.coalesce(func.sum(r.completion_tokens), 0),
            func.coalesce(func.sum(r.cost_usd), 0.0),
        ).where(r.run_id == run_id)
        verdicts = select(v.run_id, v.critic, v.critic_version, v.status, func.count()).where(
            v.run_id == run_id
        )
        async with self._write_engine.begin() as conn:
            await self._lock_runs(conn, [run_id])
            await conn.execute(delete(_TOTALS).where(_TOTALS.c.run_id == run_id))
            await conn.execute(delete(_VERDICT_TOTALS).where(_VERDICT_TOTALS.c.run_id == run_id))
            await conn.execute(
                _TOTALS.insert().from_select(
                    [*_TOTALS_KEY, "responses", *_TOTALS_SUMS],
                    counted.group_by(r.run_id, r.target, r.outcome),
                )
            )
            await conn.execute(
                _VERDICT_TOTALS.insert().from_select(
                    [*_VERDICT_TOTALS_KEY, "verdicts"],
                    verdicts.group_by(v.run_id, v.critic, v.critic_version, v.status),
                )
            )

    async def unsafe_flags(
        self, run_id: str, keys: Sequence[str], critic: str, critic_version: str
    ) -> dict[str, int | None]:
        """How the stored answers of ``keys`` count under that critic: 1 unsafe, 0 safe (blocked
        included), None not evaluated; keys without a stored answer are absent (the adaptive
        sweep's resume reads its chains' state with this)."""
        info = CriticInfo(critic, critic_version, 0)
        out: dict[str, int | None] = {}
        async with self._engine.connect() as conn:
            queries = ReportQueries(conn)
            for part in _chunks(list(keys), _IN_CHUNK):
                out.update(await queries.unsafe_flags(run_id, part, info))
        return out

    async def attack_history(self, model_prefix: str, *, exclude_run: str) -> dict[str, tuple[int, int]]:
        """(evaluated, unsafe) attack answers per attack for models starting with ``model_prefix``,
        from every stored run but ``exclude_run`` (``ReportQueries.attack_history``)."""
        async with self._engine.connect() as conn:
            return await ReportQueries(conn).attack_history(model_prefix, exclude_run=exclude_run)

    # -- verdicts ---------------------------------------------------------------------------

    async def save_verdicts(self, run_id: str, verdicts: Sequence[Verdict]) -> None:
        """Upsert verdicts per (run, work key = ``Verdict.id``, critic, critic version).

        A CRITIC_ERROR never replaces a SCORED verdict of the same critic version (a failed rescore
        keeps the earlier score); within one call the last verdict for a key wins. The verdict
        totals change in the same transaction.
        """
        if not verdicts:
            return
        now = utcnow()
        latest = {(v.id, v.critic, v.critic_version): v for v in verdicts}
        # In key order: concurrent writers take row locks in one order and never deadlock on them.
        rows = [verdict_to_row(run_id, latest[k], self._max_text_chars, now) for k in sorted(latest)]

        async def write(conn: AsyncConnection, tally: _Tally, locked: bool) -> None:
            if self._dialect == "sqlite":
                stored = await self._stored_verdicts(conn, run_id, rows)
                await self._upsert_known(conn, run_id, rows, stored, tally)
            else:
                await self._save_verdicts_postgres(conn, run_id, rows, tally, locked)

        await self._counted_write({run_id}, write)

    async def _save_verdicts_postgres(
        self, conn: AsyncConnection, run_id: str, rows: list[dict[str, Any]], tally: _Tally, locked: bool
    ) -> None:
        """New keys by insert-or-ignore, without a lock or a lookup; keys found stored are read and
        upserted only under the run's lock, which every writer that changes or deletes stored
        verdicts holds, so the statuses read stay as read until the upsert."""
        v = _VERDICTS.c
        key = (v.work_key, v.critic, v.critic_version)
        if locked:
            await self._lock_runs(conn, [run_id])
        inserted = {tuple(k) for k in await conn.execute(self._insert_verdicts.returning(*key), rows)}
        rest: list[dict[str, Any]] = []
        for row in rows:
            if (row["work_key"], row["critic"], row["critic_version"]) in inserted:
                tally.verdict(run_id, row["critic"], row["critic_version"], row["status"], 1)
            else:
                rest.append(row)
        if not rest:
            return
        if not locked:
            raise _StoredRows
        tally.met_stored = True
        await self._upsert_known(conn, run_id, rest, await self._stored_verdicts(conn, run_id, rest), tally)

    async def _stored_verdicts(
        self, conn: AsyncConnection, run_id: str, rows: Sequence[Mapping[str, Any]]
    ) -> dict[tuple[str, str, str], str]:
        """The stored status of each (work key, critic, version) among ``rows``. Looked up by
        (run_id, work_key), the unique index's leading columns (naming the critic too would let
        Postgres take the (run, critic) index and scan it): SQLite with an IN list, Postgres
        through ``_KEYS``."""
        work_keys = list(dict.fromkeys(row["work_key"] for row in rows))
        results = []
        if self._dialect == "sqlite":
            for chunk in _chunks(work_keys, _IN_CHUNK):
                query = select(*_VERDICT_FIELDS).where(_V.run_id == run_id, _V.work_key.in_(chunk))
                results.append(await conn.execute(query))
        else:
            arrays = _key_arrays((run_id, work_key) for work_key in work_keys)
            results.append(await conn.execute(_STORED_VERDICTS, arrays))
        return {
            (work_key, critic, version): status
            for result in results
            for _run, work_key, critic, version, status in result
        }

    async def _upsert_known(
        self,
        conn: AsyncConnection,
        run_id: str,
        rows: list[dict[str, Any]],
        stored: Mapping[tuple[str, str, str], str],
        tally: _Tally,
    ) -> None:
        """Upsert ``rows``, whose stored statuses are ``stored`` (a key absent is not stored), and
        count each change by the upsert's own rule. The caller keeps ``stored`` exact until commit
        (SQLite's write lock, or the run's lock on Postgres)."""
        for row in rows:
            old = stored.get((row["work_key"], row["critic"], row["critic_version"]))
            if old is None:
                tally.verdict(run_id, row["critic"], row["critic_version"], row["status"], 1)
            elif row["status"] == _SCORED or old != _SCORED:
                tally.verdict(run_id, row["critic"], row["critic_version"], old, -1)
                tally.verdict(run_id, row["critic"], row["critic_version"], row["status"], 1)
        await conn.execute(self._upsert_verdicts, rows)

    async def pending_critique(
        self, run_id: str, critic: str, critic_version: str, *, rescore: bool = False, batch_size: int = 256
    ) -> AsyncIterator[list[PendingCritique]]:
        """Batches of COMPLETED responses of ``run_id`` that lack a SCORED verdict from this critic
        version (all COMPLETED responses with ``rescore``), with their prompt text, in work-key order.

        Pages by key (each batch is a short query of its own), so verdicts saved between batches
        neither skip nor repeat items. Responses whose case is not stored are not yielded.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        r, c, v = _RESPONSES, _CASES, _VERDICTS
        query = (
            select(r.c.work_key, r.c.text, r.c.lang, r.c.dimension, c.c.text.label("prompt"))
            .select_from(r.join(c, c.c.id == r.c.case_id))
            .where(r.c.run_id == run_id, r.c.outcome == Outcome.COMPLETED.value)
            .order_by(r.c.work_key)
            .limit(batch_size)
        )
        if not rescore:
            scored = exists().where(
                and_(
                    v.c.run_id == r.c.run_id,
                    v.c.work_key == r.c.work_key,
                    v.c.critic == critic,
                    v.c.critic_version == critic_version,
                    v.c.status == VerdictStatus.SCORED.value,
                )
            )
            query = query.where(~scored)
        after: str | None = None
        while True:
            page = query if after is None else query.where(r.c.work_key > after)
            async with self._engine.connect() as conn:
                rows = (await conn.execute(page)).mappings().all()
            if not rows:
                return
            yield [row_to_pending(run_id, row) for row in rows]
            if len(rows) < batch_size:
                return
            after = rows[-1]["work_key"]

    # -- skipped rows -----------------------------------------------------------------------

    async def save_skipped(self, run_id: str, rows: Sequence[SkippedRow]) -> None:
        """Store skipped dataset rows for a run; the same (file, line) is kept once."""
        if not rows:
            return
        values = [skipped_to_row(run_id, row) for row in rows]
        async with self._write_engine.begin() as conn:
            await conn.execute(self._insert_ignore(_SKIPPED, ["run_id", "file", "line"]), values)


def _key_arrays(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The parameters of ``_KEYS`` for these (run_id, work_key)s."""
    runs: list[str] = []
    work_keys: list[str] = []
    for run_id, work_key in keys:
        runs.append(run_id)
        work_keys.append(work_key)
    return {"runs": runs, "keys": work_keys}


def _fold_same_key(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (run_id, work_key), as if the rows were saved one after another.

    Postgres refuses an upsert that touches the same row twice in one statement.
    """
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for row in values:
        key = (row["run_id"], row["work_key"])
        prev = merged.get(key)
        if prev is None:
            merged[key] = row
        elif prev["outcome"] in RETRYABLE_OUTCOMES:
            for name in _ACCUMULATED:
                row[name] += prev[name]
            merged[key] = row
    return list(merged.values()) if len(merged) < len(values) else values
