"""The alarm journal in SQL: append entries, read them back (since an id, or by a query), the latest
state of each alarm, and the lease that names the process writing the process events."""

from __future__ import annotations

import time
from sys import intern
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import and_, exc, func, insert, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.sql import Select

from hmi.domain.alarm_defs import AlarmKind
from hmi.domain.alarm_engine import AlarmState
from hmi.domain.alarm_journal import PROCESS, JournalEntry, JournalQuery  # JournalQuery: defined in the domain
from hmi.store.db import unavailable
from hmi.store.locking import write_connection
from hmi.store.schema import US, alarm_journal, alarm_lease

JOURNAL_LEASE = "journal"


def _us(ts: float) -> int:
    return round(ts * US)


def _row(entry: JournalEntry) -> dict[str, object]:
    return {
        "ts_us": _us(entry.ts), "alarm_id": entry.alarm_id, "tag": entry.tag, "twin": entry.twin,
        "kind": entry.kind.value, "priority": entry.priority, "from_state": entry.from_state.value,
        "to_state": entry.to_state.value, "what": entry.what, "value": entry.value, "user_name": entry.user,
        "comment": entry.comment, "until_us": None if entry.until is None else _us(entry.until),
        "workstation": entry.workstation, "message": entry.message,
    }  # fmt: skip


def _entry(row: Row) -> JournalEntry:  # type: ignore[type-arg]
    m = row._mapping
    # The same few hundred alarm ids, tags, messages and names come back in every row: one copy each
    # keeps a month of journal (a million rows, for the health report) in a fraction of the memory.
    return JournalEntry(
        ts=m["ts_us"] / US, alarm_id=intern(m["alarm_id"]), tag=intern(m["tag"]), twin=intern(m["twin"]),
        kind=AlarmKind(m["kind"]), priority=m["priority"], from_state=AlarmState(m["from_state"]),
        to_state=AlarmState(m["to_state"]), what=intern(m["what"]), value=m["value"], user=intern(m["user_name"]),
        comment=m["comment"], until=None if m["until_us"] is None else m["until_us"] / US,
        workstation=intern(m["workstation"]), message=intern(m["message"]), entry_id=m["id"],
    )  # fmt: skip


def append(conn: Connection, entries: Sequence[JournalEntry]) -> list[JournalEntry]:
    """Insert entries in the caller's transaction; the entries with their row ids, in order."""
    written: list[JournalEntry] = []
    for entry in entries:
        result = conn.execute(insert(alarm_journal).values(_row(entry)).returning(alarm_journal.c.id))
        written.append(_with_id(entry, int(result.scalar_one())))
    return written


def append_many(engine: Engine, entries: Sequence[JournalEntry]) -> None:
    """Insert a batch of entries in one transaction (the journal writer's path; ids not returned)."""
    if not entries:
        return
    with engine.begin() as conn:
        conn.execute(insert(alarm_journal), [_row(e) for e in entries])


def _with_id(entry: JournalEntry, entry_id: int) -> JournalEntry:
    return replace(entry, entry_id=entry_id)


def since(engine: Engine, after_id: int, limit: int = 5000) -> list[JournalEntry]:
    """Entries with an id above ``after_id``, oldest first, at most ``limit``."""
    q = select(alarm_journal).where(alarm_journal.c.id > after_id).order_by(alarm_journal.c.id).limit(limit)
    with engine.connect() as conn:
        return [_entry(r) for r in conn.execute(q)]


def last_id(engine: Engine) -> int:
    """The newest entry's id (0 for an empty journal)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(alarm_journal.c.id), 0))).scalar_one())


def _select(q: JournalQuery) -> Select:  # type: ignore[type-arg]
    c = alarm_journal.c
    conditions = []
    if q.start is not None:
        conditions.append(c.ts_us >= _us(q.start))
    if q.end is not None:
        conditions.append(c.ts_us < _us(q.end))
    if q.twin:
        conditions.append(c.twin == q.twin)
    if q.priority is not None:
        conditions.append(c.priority == q.priority)
    if q.user:
        conditions.append(c.user_name == q.user)
    if q.alarm_id:
        conditions.append(c.alarm_id == q.alarm_id)
    if q.what is not None:
        conditions.append(c.what.in_(list(q.what)))
    stmt = select(alarm_journal).where(and_(True, *conditions))
    order = (c.ts_us.desc(), c.id.desc()) if q.newest_first else (c.ts_us, c.id)
    stmt = stmt.order_by(*order)
    return stmt.limit(q.limit) if q.limit is not None else stmt


def query(engine: Engine, q: JournalQuery = JournalQuery()) -> list[JournalEntry]:
    """The entries matching ``q``, oldest first (newest first if asked); DatabaseUnavailable in words."""
    try:
        with engine.connect() as conn:
            return [_entry(r) for r in conn.execute(_select(q))]
    except exc.DBAPIError as error:
        raise unavailable(engine, error) from None


@dataclass(frozen=True, slots=True)
class LatestState:
    """An alarm's state as the journal last recorded it, and whether its condition was last active."""

    entry: JournalEntry
    active: bool
    activated_at: float | None


def latest_states(engine: Engine) -> dict[str, LatestState]:
    """Per alarm id: its newest entry (by time), and whether its newest process event left it active."""
    c = alarm_journal.c
    with engine.connect() as conn:
        last = _newest_per_alarm(conn, None)
        process = _newest_per_alarm(conn, ["activate", "return"])
    states: dict[str, LatestState] = {}
    for alarm_id, entry in last.items():
        p = process.get(alarm_id)
        active = p is not None and p.what == "activate"
        states[alarm_id] = LatestState(entry, active, p.ts if active and p is not None else None)
    return states


def active_before(engine: Engine, ts: float) -> list[JournalEntry]:
    """The activations of the alarms whose condition was active at ``ts`` (their newest process event before it)."""
    try:
        with engine.connect() as conn:
            newest = _newest_per_alarm(conn, ["activate", "return"], before=ts)
    except exc.DBAPIError as error:
        raise unavailable(engine, error) from None
    return [e for e in newest.values() if e.what == "activate"]


def _newest_per_alarm(conn: Connection, what: list[str] | None, before: float | None = None) -> dict[str, JournalEntry]:
    c = alarm_journal.c
    rank = func.row_number().over(partition_by=c.alarm_id, order_by=(c.ts_us.desc(), c.id.desc())).label("rank")
    inner = select(alarm_journal, rank)
    if what is not None:
        inner = inner.where(c.what.in_(what))
    if before is not None:
        inner = inner.where(c.ts_us < _us(before))
    ranked = inner.subquery()
    rows = conn.execute(select(*[ranked.c[col.name] for col in alarm_journal.c]).where(ranked.c.rank == 1))
    return {e.alarm_id: e for e in (_entry(r) for r in rows)}


def is_process(entry: JournalEntry) -> bool:
    """True for an event the process or the clock caused (not an operator command)."""
    return entry.what in PROCESS


def hold_lease(engine: Engine, holder: str, ttl_s: float, name: str = JOURNAL_LEASE, now: float | None = None) -> bool:
    """Take or renew the lease ``name`` for ``holder`` (for ttl_s); True when ``holder`` holds it now.

    ``holder`` names one process (hmi.services.alarm_center.lease_name), not a workstation: two processes
    under one workstation name must not both hold it.
    """
    now_us = _us(time.time() if now is None else now)
    expires = now_us + _us(ttl_s)
    c = alarm_lease.c
    with write_connection(engine) as conn, conn.begin():
        taken = conn.execute(
            update(alarm_lease)
            .where(c.name == name, (c.holder == holder) | (c.expires_us < now_us))
            .values(holder=holder, expires_us=expires)
        ).rowcount
        if taken:
            return True
        exists = conn.execute(select(c.holder).where(c.name == name)).first()
        if exists is None:
            conn.execute(insert(alarm_lease).values(name=name, holder=holder, expires_us=expires))
            return True
        return False


def release_lease(engine: Engine, holder: str, name: str = JOURNAL_LEASE) -> None:
    """Give the lease up (at shutdown), so another process takes over at once."""
    c = alarm_lease.c
    with write_connection(engine) as conn, conn.begin():
        conn.execute(update(alarm_lease).where(c.name == name, c.holder == holder).values(expires_us=0))


def lease_holder(engine: Engine, name: str = JOURNAL_LEASE) -> tuple[str, float] | None:
    """Who holds the lease and until when (UTC epoch s), or None if nobody ever took it."""
    c = alarm_lease.c
    with engine.connect() as conn:
        row = conn.execute(select(c.holder, c.expires_us).where(c.name == name)).first()
    return None if row is None else (row[0], row[1] / US)
