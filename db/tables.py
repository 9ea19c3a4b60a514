"""The relational schema (sqlmodel). Alembic migrations in ``db/migrations`` create exactly this.

Report-relevant case fields (language, dimension, risk id, kind, attack, parent case) are copied
onto each response row so reports aggregate one table with SQL, without joins over millions of rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Dialect, Index, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Timezone-aware now, used for created/updated stamps."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite and Postgres alike.

    Postgres stores ``timestamptz``; SQLite has no time zones, so values are stored as UTC and the
    zone is attached again on the way out (otherwise readers would get naive datetimes there only).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store timestamps as timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


def _stamp() -> Column[datetime]:
    return Column(UTCDateTime(), nullable=False, default=utcnow)


class RunRow(SQLModel, table=True):
    """One run: its frozen spec (JSON) and the spec's hash, which is also the run id."""

    __tablename__ = "runs"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(default="", max_length=200, index=True)
    spec_json: str = Field(sa_column=Column(Text, nullable=False))
    spec_hash: str = Field(max_length=64, index=True)
    status: str = Field(default="created", max_length=40)
    status_detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_stamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_stamp())


class RunTargetRow(SQLModel, table=True):
    """A target of a run: its model string, adapter, limit key and how many items were planned."""

    __tablename__ = "run_targets"

    run_id: str = Field(primary_key=True, max_length=64, foreign_key="runs.id")
    target: str = Field(primary_key=True, max_length=200)
    model: str = Field(max_length=300)
    adapter: str = Field(default="litellm", max_length=40)
    limit_key: str = Field(default="", max_length=300)
    planned: int = Field(default=0)
    status: str = Field(default="active", max_length=40)
    status_detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class CaseRow(SQLModel, table=True):
    """A test prompt (base or attacked). Attacked prompts made by the attack library are frozen here,
    keyed by content hash, before they are sent, so a resumed run sends identical text."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_parent_attack", "parent_id", "attack"),)

    id: str = Field(primary_key=True, max_length=200)
    lang: str = Field(max_length=16)
    text: str = Field(sa_column=Column(Text, nullable=False))
    text_sha: str = Field(max_length=64, index=True)
    dimension: str = Field(max_length=100)
    risk_id: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    attack: str | None = Field(default=None, max_length=100)
    parent_id: str | None = Field(default=None, max_length=200)
    twin_id: str | None = Field(default=None, max_length=200)
    source: str = Field(default="", max_length=500)
    line: int = Field(default=0)
    provenance_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))


class ResponseRow(SQLModel, table=True):
    """The result of one work item (after retries). One row per (run, work key), ever; a
    FAILED_TRANSIENT or INCOMPLETE row is replaced when a rerun gets another result."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_run_target_kind", "run_id", "target", "kind"),
        Index("ix_responses_cache_key", "cache_key"),
        Index("ix_responses_run_case", "run_id", "case_id"),
    )

    run_id: str = Field(primary_key=True, max_length=64, foreign_key="runs.id")
    work_key: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(max_length=200)
    target: str = Field(max_length=200)
    decoding_key: str = Field(default="default", max_length=200)
    decoding_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    sample_index: int = Field(default=0)
    lang: str = Field(max_length=16)
    dimension: str = Field(max_length=100)
    risk_id: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    attack: str | None = Field(default=None, max_length=100)
    parent_case_id: str | None = Field(default=None, max_length=200)
    cache_key: str = Field(max_length=64)
    outcome: str = Field(max_length=32)
    finish_reason: str | None = Field(default=None, max_length=100)
    vendor_code: str | None = Field(default=None, max_length=200)
    status_code: int | None = Field(default=None)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    truncated: bool = Field(default=False)
    prompt_tokens: int = Field(default=0)
    completion_tokens: int = Field(default=0)
    cost_usd: float = Field(default=0.0)
    latency_ms: float = Field(default=0.0)
    ttft_ms: float | None = Field(default=None)
    attempts: int = Field(default=1)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    cached_from: str | None = Field(default=None, max_length=64)
    block_category: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_stamp())


class VerdictRow(SQLModel, table=True):
    """A critic's verdict on one response. Every critic's verdicts are kept side by side."""

    __tablename__ = "verdicts"
    __table_args__ = (
        UniqueConstraint("run_id", "work_key", "critic", "critic_version", name="uq_verdict"),
        Index("ix_verdicts_run_critic", "run_id", "critic", "critic_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=64)
    work_key: str = Field(max_length=64)
    critic: str = Field(max_length=100)
    critic_version: str = Field(max_length=100)
    status: str = Field(max_length=32)
    label: str | None = Field(default=None, max_length=16)
    risk_score: float | None = Field(default=None)
    risk_tags_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    explanation: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_stamp())


class RunTotalRow(SQLModel, table=True):
    """A run's responses counted per (target, outcome), with their tokens and cost: exactly what
    ``GROUP BY target, outcome`` over the run's ``responses`` rows gives (cost up to float rounding).

    Kept by ``db.store.Store.save_responses`` in the transaction that writes the rows, so reading a
    run's counts and spend costs one row per (target, outcome), however many items it stored. A
    bucket whose last row moved to another outcome (a retried failure) stays with ``responses = 0``.
    """

    __tablename__ = "run_totals"

    run_id: str = Field(primary_key=True, max_length=64)
    target: str = Field(primary_key=True, max_length=200)
    outcome: str = Field(primary_key=True, max_length=32)
    responses: int = Field(default=0, sa_type=BigInteger)
    prompt_tokens: int = Field(default=0, sa_type=BigInteger)
    completion_tokens: int = Field(default=0, sa_type=BigInteger)
    cost_usd: float = Field(default=0.0)


class VerdictTotalRow(SQLModel, table=True):
    """A run's verdicts counted per (critic, critic version, status), as ``GROUP BY`` over its
    ``verdicts`` rows gives; kept by ``Store.save_verdicts`` and by ``Store.save_responses`` (which
    deletes the verdicts of a replaced answer) in the transaction that changes the rows."""

    __tablename__ = "verdict_totals"

    run_id: str = Field(primary_key=True, max_length=64)
    critic: str = Field(primary_key=True, max_length=100)
    critic_version: str = Field(primary_key=True, max_length=100)
    status: str = Field(primary_key=True, max_length=32)
    verdicts: int = Field(default=0, sa_type=BigInteger)


class SkippedRowRow(SQLModel, table=True):
    """A dataset row skipped while loading a suite for a run, with file, line and reason."""

    __tablename__ = "skipped_rows"
    __table_args__ = (UniqueConstraint("run_id", "file", "line", name="uq_skipped"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=64, index=True)
    file: str = Field(max_length=500)
    line: int
    reason: str = Field(sa_column=Column(Text, nullable=False))


class RunWorkerRow(SQLModel, table=True):
    """A worker process taking part in a run: who it is, where, and when it last showed life.

    ``reserved_usd`` / ``reserved_calls`` are the budget this worker holds for calls in flight; a
    worker found dead hands them back to the run's ledger.
    """

    __tablename__ = "run_workers"

    run_id: str = Field(primary_key=True, max_length=64)
    worker_id: str = Field(primary_key=True, max_length=64)
    host: str = Field(max_length=255)
    pid: int
    started_at: float
    heartbeat_at: float
    state: str = Field(default="active", max_length=16)
    reserved_usd: float = Field(default=0.0)
    reserved_calls: int = Field(default=0)


class RunShardRow(SQLModel, table=True):
    """One shard of a run's plan (a fixed block of source cases) and its lease.

    ``state`` is ``held`` (a worker works it until ``lease_until``, epoch seconds) or ``done``.
    A held shard whose lease ran out is claimed again by another worker (``claims`` counts how often
    it was claimed in all); ``cases`` is how many cases a done shard sent (attacked variants included)
    and ``retryable`` how many of its items were stored FAILED_TRANSIENT or INCOMPLETE, which a later
    run sends again.
    """

    __tablename__ = "run_shards"
    __table_args__ = (Index("ix_run_shards_run_state", "run_id", "state"),)

    run_id: str = Field(primary_key=True, max_length=64)
    shard: int = Field(primary_key=True)
    state: str = Field(max_length=16)
    worker_id: str = Field(max_length=64)
    lease_until: float
    claims: int = Field(default=1)
    cases: int = Field(default=0)
    retryable: int = Field(default=0)


class RunBudgetRow(SQLModel, table=True):
    """A run's spending ledger, shared by every worker: settled spend and calls, and what is
    reserved for calls in flight. Reservations are made and settled in single conditional updates."""

    __tablename__ = "run_budget"

    run_id: str = Field(primary_key=True, max_length=64)
    spent_usd: float = Field(default=0.0)
    calls: int = Field(default=0)
    reserved_usd: float = Field(default=0.0)
    reserved_calls: int = Field(default=0)


class CriticUsageRow(SQLModel, table=True):
    """What a vendor-model critic (the judge) spent on one run, kept apart from the targets' cost:
    calls (retries included), tokens, USD and items judged. Added to by each session that judges."""

    __tablename__ = "critic_usage"

    run_id: str = Field(primary_key=True, max_length=64)
    critic: str = Field(primary_key=True, max_length=100)
    critic_version: str = Field(primary_key=True, max_length=100)
    calls: int = Field(default=0)
    retries: int = Field(default=0)
    prompt_tokens: int = Field(default=0)
    completion_tokens: int = Field(default=0)
    cost_usd: float = Field(default=0.0)
    items: int = Field(default=0)
    errors: int = Field(default=0)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_stamp())


class CriticValidationRow(SQLModel, table=True):
    """One measurement of a critic against human labels (`seval critic validate`): which critic,
    on what labelled data (a name and a content hash), per language, and its agreement figures."""

    __tablename__ = "critic_validations"
    __table_args__ = (Index("ix_critic_validations_critic", "critic", "critic_version"),)

    id: int | None = Field(default=None, primary_key=True)
    critic: str = Field(max_length=100)
    critic_version: str = Field(max_length=100)
    dataset: str = Field(max_length=500)
    dataset_hash: str = Field(max_length=64)
    split: str = Field(max_length=32)
    lang: str = Field(max_length=16)
    n: int
    balanced_accuracy: float | None = Field(default=None)
    unsafe_precision: float | None = Field(default=None)
    unsafe_recall: float | None = Field(default=None)
    errors: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_stamp())


class BatchJobRow(SQLModel, table=True):
    """One vendor batch job of a run's target (``mode: batch``): which work keys it carries and what
    the vendor last said. A job is recorded as ``submitting`` before the vendor is asked to create
    it, gets its ``batch_id`` right after, and is ``collected`` once its results are stored, so a
    killed run polls its open jobs again instead of sending their items a second time."""

    __tablename__ = "batch_jobs"
    __table_args__ = (Index("ix_batch_jobs_run_target", "run_id", "target"),)

    id: str = Field(primary_key=True, max_length=64)
    run_id: str = Field(max_length=64)
    target: str = Field(max_length=200)
    batch_id: str | None = Field(default=None, max_length=200)
    state: str = Field(max_length=16)
    vendor_status: str = Field(default="", max_length=32)
    items: int = Field(default=0)
    work_keys_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    created_at: float
    updated_at: float
