"""Andon calls, their steps and the downtime records (issue 14).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    """Create andon_calls, andon_steps and downtime with their indexes."""
    op.create_table(
        "andon_calls",
        sa.Column("call_id", _ID, primary_key=True, autoincrement=True),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("line_kind", sa.Text, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("cause_active", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("raised_us", sa.BigInteger, nullable=False),
        sa.Column("raised_by", sa.Text, nullable=False),
        sa.Column("acked_us", sa.BigInteger, nullable=True),
        sa.Column("acked_by", sa.Text, nullable=True),
        sa.Column("ack_note", sa.Text, nullable=False),
        sa.Column("cleared_us", sa.BigInteger, nullable=True),
        sa.Column("resolved_us", sa.BigInteger, nullable=True),
        sa.Column("resolved_by", sa.Text, nullable=True),
        sa.Column("resolve_note", sa.Text, nullable=False),
        sa.Column("reason_code", sa.Text, nullable=True),
        sa.Column("tier", sa.SmallInteger, nullable=False),
        sa.Column("micro", sa.Boolean, nullable=False),
        sa.Column("open_key", sa.Text, nullable=True, unique=True),
    )
    op.create_index("ix_andon_calls_state", "andon_calls", ["state", "raised_us"])
    op.create_index("ix_andon_calls_line", "andon_calls", ["line", "raised_us"])
    op.create_table(
        "andon_steps",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.BigInteger, sa.ForeignKey("andon_calls.call_id"), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("by_user", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("tier", sa.SmallInteger, nullable=False),
    )
    op.create_index("ix_andon_steps_call", "andon_steps", ["call_id", "id"])
    op.create_table(
        "downtime",
        sa.Column("downtime_id", _ID, primary_key=True, autoincrement=True),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("line_kind", sa.Text, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=True),
        sa.Column("reason_code", sa.Text, nullable=True),
        sa.Column("planned", sa.Boolean, nullable=False),
        sa.Column("micro", sa.Boolean, nullable=False),
        sa.Column("call_id", sa.BigInteger, sa.ForeignKey("andon_calls.call_id"), nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("entered_by", sa.Text, nullable=True),
        sa.Column("open_key", sa.Text, nullable=True, unique=True),
    )
    op.create_index("ix_downtime_line_start", "downtime", ["line", "start_us"])
    op.create_index("ix_downtime_start", "downtime", ["start_us"])


def downgrade() -> None:
    """Drop the andon and downtime tables."""
    op.drop_table("downtime")
    op.drop_table("andon_steps")
    op.drop_table("andon_calls")
