"""A judge's spend per run (critic_usage) and critic validations against human labels.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamp(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    """Create critic_usage and critic_validations."""
    op.create_table(
        "critic_usage",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("critic", sa.String(length=100), nullable=False),
        sa.Column("critic_version", sa.String(length=100), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        _stamp("updated_at"),
        sa.PrimaryKeyConstraint("run_id", "critic", "critic_version"),
    )
    op.create_table(
        "critic_validations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("critic", sa.String(length=100), nullable=False),
        sa.Column("critic_version", sa.String(length=100), nullable=False),
        sa.Column("dataset", sa.String(length=500), nullable=False),
        sa.Column("dataset_hash", sa.String(length=64), nullable=False),
        sa.Column("split", sa.String(length=32), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("balanced_accuracy", sa.Float(), nullable=True),
        sa.Column("unsafe_precision", sa.Float(), nullable=True),
        sa.Column("unsafe_recall", sa.Float(), nullable=True),
        sa.Column("errors", sa.Integer(), nullable=False),
        _stamp("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_critic_validations_critic", "critic_validations", ["critic", "critic_version"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_critic_validations_critic", table_name="critic_validations")
    op.drop_table("critic_validations")
    op.drop_table("critic_usage")
