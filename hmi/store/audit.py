"""The audit trail in the database: append a record to the chain, read it back, verify it.

`append` runs inside the caller's transaction, so a command's change and its audit record commit
together or not at all. It locks the audit_head row first (SQLite: the write transaction itself),
so appenders on several workstations form one chain.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from sqlalchemy import Select, and_, exc, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

# US, AuditQuery and AuditUnavailable are defined in the domain; imported here for the store's callers too.
from hmi.domain.audit import (
    US, AuditEntry, AuditQuery, AuditRecord, AuditUnavailable, ChainReport, ChainVerifier, next_record,
)  # fmt: skip
from hmi.store.db import one_line, safe_url
from hmi.store.locking import write_connection
from hmi.store.schema import audit_head, audit_log

VERIFY_CHUNK = 5000


def now_us() -> int:
    """The UTC time now, in epoch microseconds."""
    return int(time.time() * US)


def append(conn: Connection, entry: AuditEntry, *, clock: Callable[[], int] = now_us) -> AuditRecord:
    """Add ``entry`` to the chain inside the caller's open transaction; returns the stored record."""
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()).first()
    if head is None:
        raise AuditUnavailable("the audit trail has no head row; run `hmi db upgrade`")
    rec = next_record(int(head.seq), head.hash, clock(), entry)
    e = rec.entry
    conn.execute(
        insert(audit_log).values(
            seq=rec.seq, ts_us=rec.ts_us, user_name=e.user, role=e.role, workstation=e.workstation,
            action=e.action, target=e.target, result=e.result, old_value=e.old_value, new_value=e.new_value,
            detail=e.detail, prev_hash=rec.prev_hash, hash=rec.hash,
        )  # fmt: skip
    )
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=rec.seq, hash=rec.hash))
    return rec


def record(engine: Engine, entry: AuditEntry, *, clock: Callable[[], int] = now_us) -> AuditRecord:
    """Append ``entry`` in a transaction of its own; AuditUnavailable if the database refuses."""
    try:
        with write_connection(engine) as conn, conn.begin():
            return append(conn, entry, clock=clock)
    except exc.DBAPIError as error:
        raise AuditUnavailable(f"the audit trail in {safe_url(engine.url)} cannot be written: {one_line(error)}") from None


def _to_record(row) -> AuditRecord:  # noqa: ANN001 - a Row of audit_log
    entry = AuditEntry(
        user=row.user_name, role=row.role, workstation=row.workstation, action=row.action, target=row.target,
        result=row.result, old_value=row.old_value, new_value=row.new_value, detail=row.detail,
    )  # fmt: skip
    return AuditRecord(int(row.seq), int(row.ts_us), entry, row.prev_hash, row.hash)


def iter_records(conn: Connection, after_seq: int = 0, chunk: int = VERIFY_CHUNK) -> Iterator[AuditRecord]:
    """Every record from ``after_seq`` on, in seq order, read in chunks (constant memory)."""
    last = after_seq
    while True:
        rows = conn.execute(select(audit_log).where(audit_log.c.seq > last).order_by(audit_log.c.seq).limit(chunk)).all()
        if not rows:
            return
        for row in rows:
            rec = _to_record(row)
            last = rec.seq
            yield rec


def verify(engine: Engine) -> ChainReport:
    """Walk the whole chain and report each record that was changed, deleted or put out of place."""
    verifier = ChainVerifier()
    with engine.connect() as conn, conn.begin():
        for rec in iter_records(conn):
            verifier.add(rec)
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    if head is None:
        return verifier.finish(-1, "")
    return verifier.finish(int(head.seq), head.hash)


def _select(q: AuditQuery) -> Select:
    conds = []
    if q.since_us is not None:
        conds.append(audit_log.c.ts_us >= q.since_us)
    if q.until_us is not None:
        conds.append(audit_log.c.ts_us < q.until_us)
    if q.user:
        conds.append(audit_log.c.user_name == q.user)
    if q.action:
        conds.append(audit_log.c.action == q.action)
    if q.result:
        conds.append(audit_log.c.result == q.result)
    if q.text:
        pattern = f"%{q.text.lower()}%"
        cols = (audit_log.c.target, audit_log.c.old_value, audit_log.c.new_value, audit_log.c.detail,
                audit_log.c.user_name, audit_log.c.workstation, audit_log.c.action)  # fmt: skip
        conds.append(or_(*(col.ilike(pattern) for col in cols)))
    stmt = select(audit_log)
    if conds:
        stmt = stmt.where(and_(*conds))
    order = audit_log.c.seq.desc() if q.newest_first else audit_log.c.seq
    return stmt.order_by(order).limit(q.limit)


def query(engine: Engine, q: AuditQuery = AuditQuery()) -> list[AuditRecord]:
    """The records that match ``q``, newest first unless asked otherwise."""
    with engine.connect() as conn:
        return [_to_record(row) for row in conn.execute(_select(q))]


def last_seq(engine: Engine) -> int:
    """The seq of the newest record (0 for an empty trail)."""
    with engine.connect() as conn:
        return int(conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar_one_or_none() or 0)
