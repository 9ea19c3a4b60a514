"""Initial schema: runs, run targets, cases, responses, verdicts, skipped rows.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamp(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    """Create every table and index of ``db/tables.py`` as of this revision."""
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("status_detail", sa.Text(), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_runs_name", "runs", ["name"])
    op.create_index("ix_runs_spec_hash", "runs", ["spec_hash"])

    op.create_table(
        "run_targets",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("adapter", sa.String(length=40), nullable=False),
        sa.Column("limit_key", sa.String(length=300), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("status_detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("run_id", "target"),
    )

    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=100), nullable=False),
        sa.Column("risk_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("attack", sa.String(length=100), nullable=True),
        sa.Column("parent_id", sa.String(length=200), nullable=True),
        sa.Column("twin_id", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("provenance_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cases_parent_attack", "cases", ["parent_id", "attack"])
    op.create_index("ix_cases_text_sha", "cases", ["text_sha"])

    op.create_table(
        "responses",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("work_key", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("decoding_key", sa.String(length=200), nullable=False),
        sa.Column("decoding_json", sa.Text(), nullable=False),
        sa.Column("sample_index", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=False),
        sa.Column("dimension", sa.String(length=100), nullable=False),
        sa.Column("risk_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("attack", sa.String(length=100), nullable=True),
        sa.Column("parent_case_id", sa.String(length=200), nullable=True),
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("finish_reason", sa.String(length=100), nullable=True),
        sa.Column("vendor_code", sa.String(length=200), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cached_from", sa.String(length=64), nullable=True),
        _stamp("created_at"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("run_id", "work_key"),
    )
    op.create_index("ix_responses_cache_key", "responses", ["cache_key"])
    op.create_index("ix_responses_run_target_kind", "responses", ["run_id", "target", "kind"])

    op.create_table(
        "verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("work_key", sa.String(length=64), nullable=False),
        sa.Column("critic", sa.String(length=100), nullable=False),
        sa.Column("critic_version", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=True),
        sa.Column("risk_score", sa.Float(), nullable=True),
        sa.Column("risk_tags_json", sa.Text(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _stamp("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "work_key", "critic", "critic_version", name="uq_verdict"),
    )
    op.create_index("ix_verdicts_run_critic", "verdicts", ["run_id", "critic", "critic_version"])

    op.create_table(
        "skipped_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("file", sa.String(length=500), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "file", "line", name="uq_skipped"),
    )
    op.create_index("ix_skipped_rows_run_id", "skipped_rows", ["run_id"])


def downgrade() -> None:
    """Drop everything this revision created."""
    for table in ("skipped_rows", "verdicts", "responses", "cases", "run_targets", "runs"):
        op.drop_table(table)
