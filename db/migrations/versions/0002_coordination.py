"""Several workers on one run: worker registry, shard leases, the shared budget ledger, and an index
that finds one shard's stored responses by case.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the worker, shard and budget tables and the responses-by-case index."""
    op.create_index("ix_responses_run_case", "responses", ["run_id", "case_id"])
    op.create_table(
        "run_workers",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("heartbeat_at", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reserved_usd", sa.Float(), nullable=False),
        sa.Column("reserved_calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "worker_id"),
    )
    op.create_table(
        "run_shards",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("lease_until", sa.Float(), nullable=False),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("retryable", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "shard"),
    )
    op.create_index("ix_run_shards_run_state", "run_shards", ["run_id", "state"])
    op.create_table(
        "run_budget",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("spent_usd", sa.Float(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("reserved_usd", sa.Float(), nullable=False),
        sa.Column("reserved_calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id"),
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_responses_run_case", table_name="responses")
    op.drop_table("run_budget")
    op.drop_index("ix_run_shards_run_state", table_name="run_shards")
    op.drop_table("run_shards")
    op.drop_table("run_workers")
