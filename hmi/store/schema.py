"""The tables (SQLAlchemy Core): the historian (tags, raw samples, min/max rollups), the users, the audit trail and the alarm journal."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, MetaData, SmallInteger, Table, Text

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

# Who writes the process events to the journal: one row per lease name, held by a workstation until
# expires_us unless renewed; another takes it over when it has expired (the holder went away).
alarm_lease = Table(
    "alarm_lease",
    metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
)
