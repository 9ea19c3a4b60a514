"""The result store: one async API over SQLite and Postgres (see docs/ARCHITECTURE.md, "Store").

Bulk writes are SQLAlchemy Core inserts with the dialect's ``ON CONFLICT`` clause, executed many
at a time with plain dicts, so saving the same work item twice keeps one row and costs little CPU.
Reads that can be large (resume keys, items awaiting the critic) stream or page by key instead of
loading whole tables.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import Table, and_, bindparam, delete, exists, func, literal_column, or_, select, update
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
        # One key per execution, both key columns bound: the unique index's plan, with or without
        # table statistics (an IN list can get a scan of the whole run on Postgres).
        self._delete_verdicts = delete(_VERDICTS).where(
            _VERDICTS.c.run_id == bindparam("run"), _VERDICTS.c.work_key == bindparam("key")
        )

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
        (critic, version, status): only ``critic``'s own name and version when it is given."""
        r, v = _RESPONSES.c, _VERDICTS.c
        outcomes: dict[str, dict[str, int]] = {}
        cost: dict[str, float] = {}
        tokens: dict[str, int] = {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(
                    r.target,
                    r.outcome,
                    func.count(),
                    func.coalesce(func.sum(r.cost_usd), 0.0),
                    func.coalesce(func.sum(r.prompt_tokens + r.completion_tokens), 0),
                )
                .where(r.run_id == run_id)
                .group_by(r.target, r.outcome)
            )
            for target, outcome, n, usd, used in rows:
                outcomes.setdefault(target, {})[outcome] = int(n)
                cost[target] = cost.get(target, 0.0) + float(usd)
                tokens[target] = tokens.get(target, 0) + int(used)
            query = select(v.critic, v.critic_version, v.status, func.count()).where(v.run_id == run_id)
            if critic is not None:
                query = query.where(v.critic == critic.name, v.critic_version == critic.version)
            vrows = await conn.execute(query.group_by(v.critic, v.critic_version, v.status))
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
        """How many work keys each target of ``run_id`` has stored (no keys are loaded)."""
        r = _RESPONSES.c
        query = select(r.target, func.count()).where(r.run_id == run_id)
        if not include_retryable:
            query = query.where(r.outcome.not_in(RETRYABLE_OUTCOMES))
        async with self._engine.connect() as conn:
            return {t: int(n) for t, n in await conn.execute(query.group_by(r.target))}

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
        same key apply in order under the same rule.

        NUL bytes are stripped and text longer than ``max_text_chars`` is cut with ``truncated`` set.
        """
        if not rows:
            return 0
        now = utcnow()
        values = _fold_same_key([response_to_row(rec, self._max_text_chars, now) for rec in rows])
        async with self._write_engine.begin() as conn:
            if self._dialect == "sqlite":
                written, replaced = await self._save_responses_sqlite(conn, values)
            else:
                written, replaced = await self._save_responses_postgres(conn, values)
            if replaced:
                await conn.execute(self._delete_verdicts, [{"run": r, "key": k} for r, k in replaced])
        return written

    async def _save_responses_sqlite(
        self, conn: AsyncConnection, values: list[dict[str, Any]]
    ) -> tuple[int, list[tuple[str, str]]]:
        """(rows written, keys replaced). sqlite3 runs executemany row by row and its rowcount
        counts inserted and updated rows, so the conditional upsert does it all; the keys it will
        replace are looked up first (by primary key: SQLite's planner always takes it here)."""
        replaced: list[tuple[str, str]] = []
        by_run: dict[str, list[str]] = {}
        for row in values:
            by_run.setdefault(row["run_id"], []).append(row["work_key"])
        r = _RESPONSES.c
        for run_id, keys in by_run.items():
            for chunk in _chunks(keys, _IN_CHUNK):
                found = await conn.scalars(
                    select(r.work_key).where(
                        r.run_id == run_id, r.work_key.in_(chunk), r.outcome.in_(RETRYABLE_OUTCOMES)
                    )
                )
                replaced.extend((run_id, key) for key in found)
        written = (await conn.execute(self._replace_responses, values)).rowcount
        return written, replaced

    async def _save_responses_postgres(
        self, conn: AsyncConnection, values: list[dict[str, Any]]
    ) -> tuple[int, list[tuple[str, str]]]:
        """(rows written, keys replaced). asyncpg reports no executemany rowcount, so RETURNING
        lists the keys. New keys go in by insert-or-ignore first: a fresh run's batches end there,
        and no statement looks keys up with an IN list, which Postgres plans as a scan of the
        whole run while the table has no statistics yet."""
        key = (_RESPONSES.c.run_id, _RESPONSES.c.work_key)
        inserted = {(r, k) for r, k in await conn.execute(self._insert_responses.returning(*key), values)}
        stored = [row for row in values if (row["run_id"], row["work_key"]) not in inserted]
        if not stored:
            return len(inserted), []
        result = await conn.execute(self._replace_responses.returning(*key), stored)
        replaced = [(r, k) for r, k in result]
        return len(inserted) + len(replaced), replaced

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
        """Total cost in USD of the responses stored for ``run_id``."""
        async with self._engine.connect() as conn:
            total = await conn.scalar(
                select(func.coalesce(func.sum(_RESPONSES.c.cost_usd), 0.0)).where(
                    _RESPONSES.c.run_id == run_id
                )
            )
        return float(total or 0.0)

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
        keeps the earlier score); within one call the last verdict for a key wins.
        """
        if not verdicts:
            return
        now = utcnow()
        latest = {(v.id, v.critic, v.critic_version): v for v in verdicts}
        values = [verdict_to_row(run_id, v, self._max_text_chars, now) for v in latest.values()]
        stmt = self._insert(_VERDICTS)
        replaced = ("status", "label", "risk_score", "risk_tags_json", "explanation", "error", "created_at")
        upsert = stmt.on_conflict_do_update(
            index_elements=["run_id", "work_key", "critic", "critic_version"],
            set_={name: stmt.excluded[name] for name in replaced},
            where=or_(
                stmt.excluded.status == VerdictStatus.SCORED.value,
                _VERDICTS.c.status != VerdictStatus.SCORED.value,
            ),
        )
        async with self._write_engine.begin() as conn:
            await conn.execute(upsert, values)

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
