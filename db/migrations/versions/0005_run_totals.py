"""Run totals: responses per (run, target, outcome) with tokens and cost, verdicts per (run, critic,
version, status), so a run's counts and spend are read without scanning its rows. Filled from the
rows already stored.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create run_totals and verdict_totals and count the stored responses and verdicts into them."""
    op.create_table(
        "run_totals",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("responses", sa.BigInteger(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "target", "outcome"),
    )
    op.create_table(
        "verdict_totals",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("critic", sa.String(length=100), nullable=False),
        sa.Column("critic_version", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("verdicts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "critic", "critic_version", "status"),
    )
    # One transaction under the migration lock, before any process of this version writes. A worker
    # of an older version still running on the database would write rows these totals miss: upgrade
    # with the run's workers stopped (as with every schema change).
    op.execute(
        "INSERT INTO run_totals "
        "(run_id, target, outcome, responses, prompt_tokens, completion_tokens, cost_usd) "
        "SELECT run_id, target, outcome, COUNT(*), COALESCE(SUM(prompt_tokens), 0), "
        "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0.0) "
        "FROM responses GROUP BY run_id, target, outcome"
    )
    op.execute(
        "INSERT INTO verdict_totals (run_id, critic, critic_version, status, verdicts) "
        "SELECT run_id, critic, critic_version, status, COUNT(*) "
        "FROM verdicts GROUP BY run_id, critic, critic_version, status"
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("verdict_totals")
    op.drop_table("run_totals")
