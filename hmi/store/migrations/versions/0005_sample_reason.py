"""Historian: why a Bad sample is Bad (samples.reason), e.g. the gap a stopped collector left.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable samples.reason (ALTER TABLE ADD COLUMN: no copy of the samples table)."""
    op.add_column("samples", sa.Column("reason", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop samples.reason."""
    with op.batch_alter_table("samples") as batch:
        batch.drop_column("reason")
