"""The tables (SQLAlchemy Core): the historian (tags, raw samples, min/max rollups), the users, the audit trail,
the alarm journal, the MES tables (orders, their shares, shopfloors, materials, the outbox, report receipts),
and andon calls with their steps and the downtime records."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, SmallInteger, Table, Text,
)  # fmt: skip

metadata = MetaData()

US = 1_000_000
MINUTE_US = 60 * US
HOUR_US = 3600 * US
BAD = 2  # Quality.BAD: the sample is a gap marker, its value is NULL

tags = Table(
    "tags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
)

# ts_us is UTC epoch microseconds. The primary key makes inserts idempotent and is the index
# every range query walks; SQLite stores the table clustered on it (WITHOUT ROWID).
samples = Table(
    "samples",
    metadata,
    Column("tag_id", Integer, ForeignKey("tags.id"), primary_key=True, autoincrement=False),
    Column("ts_us", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Float, nullable=True),
    Column("quality", SmallInteger, nullable=False),
    Column("reason", Text, nullable=True),  # why a Bad sample is Bad, where it is known (a gap marker)
    sqlite_with_rowid=False,
)


def _rollup(name: str) -> Table:
    """A rollup level: per tag and bucket, min/max/sum/count of the numeric values and the Bad count."""
    return Table(
        name,
        metadata,
        Column("tag_id", Integer, ForeignKey("tags.id"), primary_key=True, autoincrement=False),
        Column("bucket_us", BigInteger, primary_key=True, autoincrement=False),
        Column("vmin", Float, nullable=True),
        Column("vmax", Float, nullable=True),
        Column("vsum", Float, nullable=True),
        Column("n", Integer, nullable=False),
        Column("n_bad", Integer, nullable=False),
        sqlite_with_rowid=False,
    )


rollup_1m = _rollup("rollup_1m")
rollup_1h = _rollup("rollup_1h")

# (table, bucket width in µs), finest first; each level is rebuilt from the one before it.
ROLLUPS: tuple[tuple[Table, int], ...] = ((rollup_1m, MINUTE_US), (rollup_1h, HOUR_US))

# Users of the HMI. Times are UTC epoch seconds. password_hash is bcrypt (cost 12), never the password.
# locked_until is set when failed_logins reaches the lockout threshold (hmi.domain.passwords).
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# The audit trail (hmi.domain.audit): append-only, each row chained to the one before by its hash.
# seq is given by the writer (1, 2, ...) under the lock of the audit_head row, so a gap means a
# deleted row; triggers refuse UPDATE and DELETE, and `hmi audit verify` finds what got past them.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("user_name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("workstation", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("result", Text, nullable=False),
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=True),
    Column("detail", Text, nullable=False),
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
    Index("ix_audit_log_ts", "ts_us"),
)

# One row (id = 1): the last record's seq and hash. Appenders lock it, so the chain stays a chain
# with several workstations writing; it also shows records cut off the end.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", Text, nullable=False),
)

# The alarm journal (hmi.domain.alarm_journal): every alarm event. Process events are written by the
# journal holder (one workstation at a time, see alarm_lease), commands by whoever gave them, in the
# transaction of their audit record. Other workstations apply the commands they read back.
alarm_journal = Table(
    "alarm_journal",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("ts_us", BigInteger, nullable=False),
    Column("alarm_id", Text, nullable=False),
    Column("tag", Text, nullable=False),
    Column("twin", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("priority", SmallInteger, nullable=False),
    Column("from_state", Text, nullable=False),
    Column("to_state", Text, nullable=False),
    Column("what", Text, nullable=False),
    Column("value", Float, nullable=True),
    Column("user_name", Text, nullable=False),
    Column("comment", Text, nullable=False),
    Column("until_us", BigInteger, nullable=True),
    Column("workstation", Text, nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_alarm_journal_ts", "ts_us"),
    Index("ix_alarm_journal_alarm", "alarm_id", "id"),
)

# Who writes the process events to the journal: one row per lease name, held by one process (workstation,
# host, pid, nonce) until expires_us unless renewed; another takes it over when it has expired.
alarm_lease = Table(
    "alarm_lease",
    metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
)

# --- MES (issue 13). Times are UTC epoch microseconds (*_us). -------------------------------------------

# Production orders. order_id ORD-YYYYMMDD-XXXX and job_number JO-YYYYMMDD-XXXX come from id_counters.
# queue_position orders the unfinished ones (a release inserts by priority and due; the planner moves);
# reserved is the material this order still holds reserved (freed as reports consume it, and at the end).
orders = Table(
    "orders",
    metadata,
    Column("order_id", Text, primary_key=True),
    Column("job_number", Text, nullable=False, unique=True),
    Column("product", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("material", Text, nullable=False),
    Column("material_per_unit", Float, nullable=False),
    Column("due_us", BigInteger, nullable=False),
    Column("priority", SmallInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("queue_position", Integer, nullable=False),
    Column("produced", Integer, nullable=False, default=0),
    Column("defective", Integer, nullable=False, default=0),
    Column("reserved", Float, nullable=False, default=0.0),
    Column("created_us", BigInteger, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("released_us", BigInteger, nullable=True),
    Column("finished_us", BigInteger, nullable=True),
    Column("note", Text, nullable=False, default=""),  # why it was cancelled
    Index("ix_orders_status", "status", "queue_position"),
)

# One share of an order on one shopfloor; instruction_id (<job>/<shopfloor>/<n>) is its instruction's msgId.
# produced/defective/last_seq: the running totals of the report with the highest seq. position: the order
# it was sent to its shopfloor in (0 while queued). replaces: the share whose remainder it took over.
order_shares = Table(
    "order_shares",
    metadata,
    Column("instruction_id", Text, primary_key=True),
    Column("order_id", Text, ForeignKey("orders.order_id"), nullable=False),
    Column("shopfloor_id", Text, nullable=False),
    Column("n", Integer, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("produced", Integer, nullable=False, default=0),
    Column("defective", Integer, nullable=False, default=0),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("position", BigInteger, nullable=False, default=0),
    Column("expected_start_us", BigInteger, nullable=True),
    Column("expected_finish_us", BigInteger, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("sent_us", BigInteger, nullable=True),
    Column("finished_us", BigInteger, nullable=True),
    Column("replaces", Text, nullable=True),
    Index("ix_order_shares_order", "order_id"),
    Index("ix_order_shares_shopfloor", "shopfloor_id", "status"),
)

# Shopfloors: declared in the config or announced by their heartbeat. capacity_manual: the MES manager set
# the capacity (a heartbeat's announced capacity then no longer overwrites it). health: as last judged.
shopfloors = Table(
    "shopfloors",
    metadata,
    Column("shopfloor_id", Text, primary_key=True),
    Column("capacity", Float, nullable=False),
    Column("capacity_manual", Boolean, nullable=False, default=False),
    Column("in_dispatch", Boolean, nullable=False, default=True),
    Column("last_heartbeat_us", BigInteger, nullable=True),
    Column("activity", Text, nullable=False, default=""),
    Column("heartbeat_seq", BigInteger, nullable=False, default=0),
    Column("health", Text, nullable=False, default="unknown"),
    Column("last_report_us", BigInteger, nullable=True),
)

materials = Table(
    "materials",
    metadata,
    Column("name", Text, primary_key=True),
    Column("on_hand", Float, nullable=False),
    Column("reserved", Float, nullable=False),
    Column("unit", Text, nullable=False),
)

# Every change to a material, append-only: receive, reserve, consume, release (of a reservation).
material_movements = Table(
    "material_movements",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False),
    Column("material", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("quantity", Float, nullable=False),
    Column("order_id", Text, nullable=True),
    Index("ix_material_movements_material", "material", "id"),
)

# Every message to a shopfloor, written in the transaction of the change that causes it, re-sent with the
# same msg_id until acked_us is set (by its ack, or for a withdraw by the final withdrawn report).
outbox = Table(
    "outbox",
    metadata,
    Column("msg_id", Text, primary_key=True),
    Column("shopfloor_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("last_sent_us", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("acked_us", BigInteger, nullable=True),
    Index("ix_outbox_pending", "acked_us", "created_us"),
)

# Each report applied, by msgId: the unique key makes a report apply exactly once. The production report
# reads the running totals from here (the increase from one seq to the next, in the hour it was reported).
report_receipts = Table(
    "report_receipts",
    metadata,
    Column("msg_id", Text, primary_key=True),
    Column("instruction_id", Text, nullable=False),
    Column("order_id", Text, nullable=False),
    Column("shopfloor_id", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("produced", Integer, nullable=False),
    Column("defective", Integer, nullable=False),
    Column("reported_us", BigInteger, nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Index("ix_report_receipts_reported", "reported_us"),
    Index("ix_report_receipts_instruction", "instruction_id", "seq"),
)

# Work moved away from a shopfloor: "to" is "sf2:500,sf3:500".
reassignments = Table(
    "reassignments",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False),
    Column("order_id", Text, nullable=False),
    Column("from_shopfloor", Text, nullable=False),
    Column("from_instruction", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("to_shares", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("by_user", Text, nullable=False),
    Index("ix_reassignments_order", "order_id"),
)

# The last number given per UTC day (YYYYMMDD) and kind, taken in the creating transaction.
id_counters = Table(
    "id_counters",
    metadata,
    Column("day", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("last", BigInteger, nullable=False),
)

# Messages that were not valid, counted per shopfloor ("" when the topic named none) and reason.
invalid_messages = Table(
    "invalid_messages",
    metadata,
    Column("shopfloor_id", Text, primary_key=True),
    Column("reason", Text, primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("last_us", BigInteger, nullable=False),
)

# The running totals of what each shopfloor made, good and defective, after each instant it reported at (issue 14,
# OEE): what a line made in [a, b) is its totals before b less its totals before a, two index seeks however many
# reports lie between. apply_report adds each report's increase in its own transaction (a late report raises the
# totals after it too); migration 0008 filled it from report_receipts.
line_totals = Table(
    "line_totals",
    metadata,
    Column("shopfloor_id", Text, primary_key=True),
    Column("at_us", BigInteger, primary_key=True, autoincrement=False),
    Column("good", BigInteger, nullable=False),
    Column("defective", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# --- andon and downtime (issue 14) ------------------------------------------------------------------
# An andon call on a line (a twin id or a shopfloor id): raised by a cause (a twin's trip, a shopfloor's
# machine stop, a shopfloor gone offline) or by a user; open -> acknowledged -> resolved. open_key is
# "<line>:<origin>" while an automatic call is not resolved, NULL otherwise: its unique index makes
# "raise when the cause starts" idempotent across every process that sees the cause. The acknowledge and
# the resolve are conditional UPDATEs (state = the expected one): of two workstations, one wins.
andon_calls = Table(
    "andon_calls",
    metadata,
    Column("call_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("line", Text, nullable=False),
    Column("line_kind", Text, nullable=False),  # twin | shopfloor
    Column("origin", Text, nullable=False),  # trip | machine | offline | manual
    Column("category", Text, nullable=False),  # maintenance | quality | material | safety | other
    Column("state", Text, nullable=False),  # open | acknowledged | resolved
    Column("cause_active", Boolean, nullable=False),  # False: the cause cleared by itself ("cleared")
    Column("detail", Text, nullable=False),  # the cause's words ("jam at the capper") or the raiser's note
    Column("raised_us", BigInteger, nullable=False),
    Column("raised_by", Text, nullable=False),  # a user, or "system"
    Column("acked_us", BigInteger, nullable=True),
    Column("acked_by", Text, nullable=True),
    Column("ack_note", Text, nullable=False, default=""),
    Column("cleared_us", BigInteger, nullable=True),
    Column("resolved_us", BigInteger, nullable=True),
    Column("resolved_by", Text, nullable=True),
    Column("resolve_note", Text, nullable=False, default=""),
    Column("reason_code", Text, nullable=True),
    Column("tier", SmallInteger, nullable=False, default=0),  # escalation tiers reached (0: none)
    Column("micro", Boolean, nullable=False, default=False),  # closed by itself as a micro-stop
    Column("open_key", Text, nullable=True, unique=True),
    Index("ix_andon_calls_state", "state", "raised_us"),
    Index("ix_andon_calls_line", "line", "raised_us"),
)

# Every step of every call, append-only: raised, acknowledged, resolved, cleared, recurred, escalated.
andon_steps = Table(
    "andon_steps",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("call_id", BigInteger, ForeignKey("andon_calls.call_id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("step", Text, nullable=False),
    Column("by_user", Text, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("tier", SmallInteger, nullable=False, default=0),
    Index("ix_andon_steps_call", "call_id", "id"),
)

# One stop of a line: from the cause's start to its end (NULL while it lasts). reason_code comes from the
# call's resolution or is entered afterwards by a supervisor; micro: shorter than [andon] micro_stop_s
# (counted, not called). open_key: "<line>:<origin>" while open, as for the calls.
downtime = Table(
    "downtime",
    metadata,
    Column("downtime_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("line", Text, nullable=False),
    Column("line_kind", Text, nullable=False),
    Column("origin", Text, nullable=False),  # trip | machine | offline | manual | entered
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=True),
    Column("reason_code", Text, nullable=True),
    Column("planned", Boolean, nullable=False, default=False),
    Column("micro", Boolean, nullable=False, default=False),
    Column("call_id", BigInteger, ForeignKey("andon_calls.call_id"), nullable=True),
    Column("note", Text, nullable=False, default=""),
    Column("entered_by", Text, nullable=True),
    Column("open_key", Text, nullable=True, unique=True),
    Index("ix_downtime_line_start", "line", "start_us"),
    Index("ix_downtime_start", "start_us"),
)
