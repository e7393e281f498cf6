"""Historian: tags, samples, rollup_1m and rollup_1h.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _rollup(name: str) -> None:
    op.create_table(
        name,
        sa.Column("tag_id", sa.Integer, sa.ForeignKey("tags.id"), primary_key=True, autoincrement=False),
        sa.Column("bucket_us", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("vmin", sa.Float, nullable=True),
        sa.Column("vmax", sa.Float, nullable=True),
        sa.Column("vsum", sa.Float, nullable=True),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("n_bad", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    """Create the historian tables."""
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
    )
    op.create_table(
        "samples",
        sa.Column("tag_id", sa.Integer, sa.ForeignKey("tags.id"), primary_key=True, autoincrement=False),
        sa.Column("ts_us", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("quality", sa.SmallInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    _rollup("rollup_1m")
    _rollup("rollup_1h")


def downgrade() -> None:
    """Drop the historian tables."""
    for name in ("rollup_1h", "rollup_1m", "samples", "tags"):
        op.drop_table(name)
