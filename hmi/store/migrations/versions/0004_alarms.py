"""Alarms: the alarm journal and the lease that says which workstation writes its process events.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create alarm_journal (with its time and alarm indexes) and alarm_lease with its free journal lease."""
    op.create_table(
        "alarm_journal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("ts_us", sa.BigInteger, nullable=False),
        sa.Column("alarm_id", sa.Text, nullable=False),
        sa.Column("tag", sa.Text, nullable=False),
        sa.Column("twin", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        sa.Column("from_state", sa.Text, nullable=False),
        sa.Column("to_state", sa.Text, nullable=False),
        sa.Column("what", sa.Text, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("until_us", sa.BigInteger, nullable=True),
        sa.Column("workstation", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_alarm_journal_ts", "alarm_journal", ["ts_us"])
    op.create_index("ix_alarm_journal_alarm", "alarm_journal", ["alarm_id", "id"])
    lease = op.create_table(
        "alarm_lease",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(lease, [{"name": "journal", "holder": "", "expires_us": 0}])


def downgrade() -> None:
    """Drop the alarm tables."""
    op.drop_table("alarm_lease")
    op.drop_table("alarm_journal")
