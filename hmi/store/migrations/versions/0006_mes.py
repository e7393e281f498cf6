"""MES: orders, their shares, shopfloors, materials and their movements, the outbox, report receipts,
reassignments, the daily id counters and the invalid-message counters (issue 13).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER material_movements_no_update BEFORE UPDATE ON material_movements "
    "BEGIN SELECT RAISE(ABORT, 'material_movements is append-only'); END",
    "CREATE TRIGGER material_movements_no_delete BEFORE DELETE ON material_movements "
    "BEGIN SELECT RAISE(ABORT, 'material_movements is append-only'); END",
)
_PG_TRIGGERS = (
    "CREATE FUNCTION material_movements_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'material_movements is append-only'; END $$",
    "CREATE TRIGGER material_movements_no_change BEFORE UPDATE OR DELETE ON material_movements "
    "FOR EACH ROW EXECUTE FUNCTION material_movements_append_only()",
)


def upgrade() -> None:
    """Create the MES tables, their indexes and the append-only triggers of material_movements."""
    op.create_table(
        "orders",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("job_number", sa.Text, unique=True, nullable=False),
        sa.Column("product", sa.Text, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("material", sa.Text, nullable=False),
        sa.Column("material_per_unit", sa.Float, nullable=False),
        sa.Column("due_us", sa.BigInteger, nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("queue_position", sa.Integer, nullable=False),
        sa.Column("produced", sa.Integer, nullable=False),
        sa.Column("defective", sa.Integer, nullable=False),
        sa.Column("reserved", sa.Float, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("released_us", sa.BigInteger, nullable=True),
        sa.Column("finished_us", sa.BigInteger, nullable=True),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("ix_orders_status", "orders", ["status", "queue_position"])
    op.create_table(
        "order_shares",
        sa.Column("instruction_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, sa.ForeignKey("orders.order_id"), nullable=False),
        sa.Column("shopfloor_id", sa.Text, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("produced", sa.Integer, nullable=False),
        sa.Column("defective", sa.Integer, nullable=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("expected_start_us", sa.BigInteger, nullable=True),
        sa.Column("expected_finish_us", sa.BigInteger, nullable=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("sent_us", sa.BigInteger, nullable=True),
        sa.Column("finished_us", sa.BigInteger, nullable=True),
        sa.Column("replaces", sa.Text, nullable=True),
    )
    op.create_index("ix_order_shares_shopfloor", "order_shares", ["shopfloor_id", "status"])
    op.create_index("ix_order_shares_order", "order_shares", ["order_id"])
    op.create_table(
        "shopfloors",
        sa.Column("shopfloor_id", sa.Text, primary_key=True),
        sa.Column("capacity", sa.Float, nullable=False),
        sa.Column("capacity_manual", sa.Boolean, nullable=False),
        sa.Column("in_dispatch", sa.Boolean, nullable=False),
        sa.Column("last_heartbeat_us", sa.BigInteger, nullable=True),
        sa.Column("activity", sa.Text, nullable=False),
        sa.Column("heartbeat_seq", sa.BigInteger, nullable=False),
        sa.Column("health", sa.Text, nullable=False),
        sa.Column("last_report_us", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "materials",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("on_hand", sa.Float, nullable=False),
        sa.Column("reserved", sa.Float, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
    )
    op.create_table(
        "material_movements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("material", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("quantity", sa.Float, nullable=False),
        sa.Column("order_id", sa.Text, nullable=True),
    )
    op.create_index("ix_material_movements_material", "material_movements", ["material", "id"])
    op.create_table(
        "outbox",
        sa.Column("msg_id", sa.Text, primary_key=True),
        sa.Column("shopfloor_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("last_sent_us", sa.BigInteger, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("acked_us", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_outbox_pending", "outbox", ["acked_us", "created_us"])
    op.create_table(
        "report_receipts",
        sa.Column("msg_id", sa.Text, primary_key=True),
        sa.Column("instruction_id", sa.Text, nullable=False),
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("shopfloor_id", sa.Text, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("produced", sa.Integer, nullable=False),
        sa.Column("defective", sa.Integer, nullable=False),
        sa.Column("reported_us", sa.BigInteger, nullable=False),
        sa.Column("received_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_report_receipts_reported", "report_receipts", ["reported_us"])
    op.create_index("ix_report_receipts_instruction", "report_receipts", ["instruction_id", "seq"])
    op.create_table(
        "reassignments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("from_shopfloor", sa.Text, nullable=False),
        sa.Column("from_instruction", sa.Text, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("to_shares", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("by_user", sa.Text, nullable=False),
    )
    op.create_index("ix_reassignments_order", "reassignments", ["order_id"])
    op.create_table(
        "id_counters",
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("last", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "invalid_messages",
        sa.Column("shopfloor_id", sa.Text, primary_key=True),
        sa.Column("reason", sa.Text, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("last_us", sa.BigInteger, nullable=False),
    )
    triggers = _PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    """Drop the MES tables."""
    op.drop_table("invalid_messages")
    op.drop_table("id_counters")
    op.drop_table("reassignments")
    op.drop_table("report_receipts")
    op.drop_table("outbox")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE material_movements CASCADE")
        op.execute("DROP FUNCTION material_movements_append_only()")
    else:
        op.drop_table("material_movements")
    op.drop_table("materials")
    op.drop_table("shopfloors")
    op.drop_table("order_shares")
    op.drop_table("orders")
