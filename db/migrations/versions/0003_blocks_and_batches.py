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
    """Add ``responses.block_category``."""
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("block_category", sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("block_category")
