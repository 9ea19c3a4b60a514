"""Block categories on responses; vendor batch jobs (batch mode).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``responses.block_category`` and the ``batch_jobs`` table."""
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("block_category", sa.String(length=200), nullable=True))
    op.create_table(
        "batch_jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("batch_id", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("vendor_status", sa.String(length=32), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("work_keys_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_batch_jobs_run_target", "batch_jobs", ["run_id", "target"])


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    op.drop_index("ix_batch_jobs_run_target", table_name="batch_jobs")
    op.drop_table("batch_jobs")
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("block_category")
