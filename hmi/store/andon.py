"""Andon calls, their steps and the downtime records in the database (issue 14).

Every function takes a Connection inside the caller's transaction (writes: a write_connection, so SQLite
takes its lock at BEGIN). The causes (start_cause, end_cause) may run inside someone else's transaction,
the dispatcher's batch for instance. What two workstations may do at once is settled by the database:
"raise when the cause starts" is an INSERT .. ON CONFLICT DO NOTHING on the call's and the stop's
open_key, and every user step is a conditional UPDATE (acknowledge only an open call, resolve only one not
resolved, escalate only to a tier not yet reached), so of two, one wins and the other learns who did.
Times are UTC epoch microseconds.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from hmi.domain.andon import (
    MICRO_STOP, ORIGIN_CATEGORY, SYSTEM, AndonCall, CallState, CallStep, CallTaken, Category, Downtime, LineKind,
    Loss, Origin, Reason, Step, UnknownCall, UnknownDowntime, line_key,
)  # fmt: skip
from hmi.store.schema import andon_calls, andon_steps, audit_head, downtime, shopfloors

US = 1_000_000
_RESOLVED = CallState.RESOLVED.value
_OPEN = CallState.OPEN.value


def _insert(conn: Connection, table: Any) -> Any:
    """An INSERT with the dialect's ON CONFLICT clauses available."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _step(conn: Connection, call_id: int, at_us: int, step: Step, by: str, note: str = "", tier: int = 0) -> None:
    conn.execute(insert(andon_steps).values(call_id=call_id, at_us=at_us, step=step.value, by_user=by, note=note,
                                            tier=tier))  # fmt: skip


# --- reading ------------------------------------------------------------------------------------------


def _call(row: Row) -> AndonCall:  # type: ignore[type-arg]
    return AndonCall(
        call_id=int(row.call_id), line=row.line, line_kind=LineKind(row.line_kind), origin=Origin(row.origin),
        category=Category(row.category), state=CallState(row.state), cause_active=bool(row.cause_active),
        detail=row.detail, raised_us=int(row.raised_us), raised_by=row.raised_by, acked_us=row.acked_us,
        acked_by=row.acked_by, ack_note=row.ack_note or "", cleared_us=row.cleared_us, resolved_us=row.resolved_us,
        resolved_by=row.resolved_by, resolve_note=row.resolve_note or "", reason_code=row.reason_code,
        tier=int(row.tier or 0), micro=bool(row.micro),
    )  # fmt: skip


def _downtime(row: Row) -> Downtime:  # type: ignore[type-arg]
    return Downtime(
        downtime_id=int(row.downtime_id), line=row.line, line_kind=LineKind(row.line_kind), origin=Origin(row.origin),
        start_us=int(row.start_us), end_us=row.end_us, reason_code=row.reason_code, planned=bool(row.planned),
        micro=bool(row.micro), call_id=row.call_id, note=row.note or "", entered_by=row.entered_by,
    )  # fmt: skip


def load_call(conn: Connection, call_id: int) -> AndonCall | None:
    """One call, or None."""
    row = conn.execute(select(andon_calls).where(andon_calls.c.call_id == call_id)).first()
    return None if row is None else _call(row)


def board(conn: Connection) -> list[AndonCall]:
    """Every call not resolved, oldest first."""
    rows = conn.execute(select(andon_calls).where(andon_calls.c.state != _RESOLVED)
                        .order_by(andon_calls.c.raised_us, andon_calls.c.call_id))  # fmt: skip
    return [_call(r) for r in rows]


def calls(conn: Connection, *, since_us: int | None = None, until_us: int | None = None, line: str | None = None,
          include_resolved: bool = True, limit: int = 10_000) -> list[AndonCall]:  # fmt: skip
    """Calls raised in [since, until) (either end open), on one line if given, oldest first."""
    c = andon_calls.c
    conds = []
    if since_us is not None:
        conds.append(c.raised_us >= since_us)
    if until_us is not None:
        conds.append(c.raised_us < until_us)
    if line is not None:
        conds.append(c.line == line)
    if not include_resolved:
        conds.append(c.state != _RESOLVED)
    stmt = select(andon_calls).where(and_(True, *conds)).order_by(c.raised_us, c.call_id).limit(limit)
    return [_call(r) for r in conn.execute(stmt)]


def history(conn: Connection, call_id: int) -> list[CallStep]:
    """Every step of a call in the order they happened; UnknownCall."""
    if load_call(conn, call_id) is None:
        raise UnknownCall(call_id)
    rows = conn.execute(select(andon_steps).where(andon_steps.c.call_id == call_id).order_by(andon_steps.c.id))
    return [CallStep(int(r.call_id), int(r.at_us), Step(r.step), r.by_user, r.note or "", int(r.tier or 0))
            for r in rows]  # fmt: skip


def load_downtime(conn: Connection, downtime_id: int) -> Downtime | None:
    """One downtime record, or None."""
    row = conn.execute(select(downtime).where(downtime.c.downtime_id == downtime_id)).first()
    return None if row is None else _downtime(row)


def downtime_between(conn: Connection, from_us: int, to_us: int, line: str | None = None) -> list[Downtime]:
    """The stops that overlap [from, to) (a stop still lasting overlaps everything after its start), by start."""
    d = downtime.c
    conds = [d.start_us < to_us, or_(d.end_us.is_(None), d.end_us > from_us)]
    if line is not None:
        conds.append(d.line == line)
    rows = conn.execute(select(downtime).where(and_(*conds)).order_by(d.start_us, d.downtime_id))
    return [_downtime(r) for r in rows]


def shopfloor_ids(conn: Connection) -> list[str]:
    """The shopfloors the database knows (from their heartbeats or a capacity set), by id."""
    return [r[0] for r in conn.execute(select(shopfloors.c.shopfloor_id).order_by(shopfloors.c.shopfloor_id))]


def version(conn: Connection) -> int:
    """A number that changes whenever a call or a stop changes: every step of a call appends a row, a new stop
    adds one, an ended stop counts, and a reason given to a stop is audited (the audit head moves)."""
    row = conn.execute(select(
        select(func.max(andon_steps.c.id)).scalar_subquery(),
        select(func.max(downtime.c.downtime_id)).scalar_subquery(),
        select(func.count(downtime.c.end_us)).scalar_subquery(),
        select(func.max(audit_head.c.seq)).scalar_subquery(),
    )).one()  # fmt: skip
    digest = hashlib.blake2b(repr(tuple(row)).encode(), digest_size=7).digest()
    return int.from_bytes(digest, "big")


# --- the causes (no user) -----------------------------------------------------------------------------


def start_cause(conn: Connection, line: str, kind: LineKind, origin: Origin, detail: str, at_us: int,
                *, raised_us: int | None = None) -> int:  # fmt: skip
    """The call of a cause that started: raised if there is none yet for (line, origin), marked active again
    (step "recurred") if it was cleared; and its stop opened (start = at_us). Idempotent: a second start
    of the same cause, by this or another process, changes nothing and returns the same call."""
    key = line_key(line, origin)
    for _attempt in range(3):
        call_id = _open_call_id(conn, key)
        if call_id is not None:
            recurred = conn.execute(
                update(andon_calls).where(andon_calls.c.call_id == call_id, andon_calls.c.cause_active.is_(False))
                .values(cause_active=True, cleared_us=None)
            ).rowcount  # fmt: skip
            if recurred:
                _step(conn, call_id, at_us, Step.RECURRED, SYSTEM, detail)
            break
        stop = conn.execute(select(downtime.c.call_id).where(downtime.c.open_key == key)).first()
        if stop is not None and stop.call_id is not None:
            return int(stop.call_id)  # the stop still lasts, its call was resolved meanwhile: no new call
        stmt = _insert(conn, andon_calls).values(
            line=line, line_kind=kind.value, origin=origin.value, category=_category(origin).value, state=_OPEN,
            cause_active=True, detail=detail, raised_us=at_us if raised_us is None else raised_us, raised_by=SYSTEM,
            ack_note="", resolve_note="", tier=0, micro=False, open_key=key,
        ).on_conflict_do_nothing(index_elements=["open_key"]).returning(andon_calls.c.call_id)  # fmt: skip
        inserted = conn.execute(stmt).first()
        if inserted is not None:
            call_id = int(inserted.call_id)
            _step(conn, call_id, at_us, Step.RAISED, SYSTEM, detail)
            break
        # another process raised it between our look and our insert: look again
    else:
        raise RuntimeError(f"andon call {key} could not be raised: it was raised and resolved three times meanwhile")
    conn.execute(_insert(conn, downtime).values(
        line=line, line_kind=kind.value, origin=origin.value, start_us=at_us, end_us=None, reason_code=None,
        planned=False, micro=False, call_id=call_id, note="", open_key=key,
    ).on_conflict_do_nothing(index_elements=["open_key"]))  # fmt: skip
    return call_id


def cause_times(conn: Connection, line: str, origin: Origin) -> tuple[int | None, int | None]:
    """(the start of the cause's stop still open, the end of its latest ended stop): to tell a message re-sent
    late (a stop older than the last end, a restart older than the open stop) from a new one."""
    d = downtime.c
    open_start = conn.execute(select(d.start_us).where(d.open_key == line_key(line, origin))).scalar()
    last_end = conn.execute(select(func.max(d.end_us)).where(d.line == line, d.origin == origin.value)).scalar()
    return (None if open_start is None else int(open_start)), (None if last_end is None else int(last_end))


def cause_open(conn: Connection, line: str, origin: Origin) -> bool:
    """Whether the cause has a stop still open or a call still waiting for it to end (a read: end_cause is due)."""
    key = line_key(line, origin)
    stop = conn.execute(select(downtime.c.downtime_id).where(downtime.c.open_key == key)).first()
    call = conn.execute(select(andon_calls.c.call_id).where(andon_calls.c.open_key == key,
                                                           andon_calls.c.cause_active.is_(True))).first()  # fmt: skip
    return stop is not None or call is not None


def _category(origin: Origin) -> Category:
    return ORIGIN_CATEGORY.get(origin, Category.OTHER)


def _open_call_id(conn: Connection, key: str) -> int | None:
    row = conn.execute(select(andon_calls.c.call_id).where(andon_calls.c.open_key == key)).first()
    return None if row is None else int(row.call_id)


def end_cause(conn: Connection, line: str, origin: Origin, at_us: int, micro_stop_s: float) -> None:
    """A cause ended: its stop ends (a micro-stop if shorter than micro_stop_s), and its call is closed by
    "system" as a micro-stop if it was one and still open, else marked cleared (it waits for a resolve).
    Idempotent: a second end, by this or another process, changes nothing."""
    key = line_key(line, origin)
    stop = conn.execute(select(downtime).where(downtime.c.open_key == key)).first()
    micro = False
    if stop is not None:
        end = max(at_us, int(stop.start_us))
        micro = (end - int(stop.start_us)) < micro_stop_s * US
        ended = conn.execute(
            update(downtime).where(downtime.c.downtime_id == stop.downtime_id, downtime.c.open_key == key)
            .values(end_us=end, open_key=None, micro=micro)
        ).rowcount  # fmt: skip
        if not ended:
            return
    row = conn.execute(select(andon_calls).where(andon_calls.c.open_key == key)).first()
    if row is None or not row.cause_active:
        return
    call_id = int(row.call_id)
    if micro and row.state == _OPEN and not _had_a_real_stop(conn, call_id):
        closed = conn.execute(
            update(andon_calls).where(andon_calls.c.call_id == call_id, andon_calls.c.state == _OPEN).values(
                state=_RESOLVED, resolved_us=at_us, resolved_by=SYSTEM, reason_code=MICRO_STOP, micro=True,
                cause_active=False, cleared_us=at_us, open_key=None,
                resolve_note=f"micro-stop of {(at_us - int(stop.start_us)) / US:.1f} s",  # type: ignore[union-attr]
            )
        ).rowcount  # fmt: skip
        if closed:
            conn.execute(update(downtime).where(downtime.c.call_id == call_id, downtime.c.reason_code.is_(None))
                         .values(reason_code=MICRO_STOP, planned=False))  # fmt: skip
            _step(conn, call_id, at_us, Step.RESOLVED, SYSTEM, "micro-stop")
            return
    cleared = conn.execute(
        update(andon_calls).where(andon_calls.c.call_id == call_id, andon_calls.c.cause_active.is_(True))
        .values(cause_active=False, cleared_us=at_us)
    ).rowcount  # fmt: skip
    if cleared:
        _step(conn, call_id, at_us, Step.CLEARED, SYSTEM)


def _had_a_real_stop(conn: Connection, call_id: int) -> bool:
    """Whether a call had a stop that was not a micro-stop (then it stays for a resolve even if it recurs briefly)."""
    d = downtime.c
    real = select(d.downtime_id).where(d.call_id == call_id, d.micro.is_(False), d.end_us.is_not(None)).limit(1)
    found = conn.execute(real).first()
    return found is not None


# --- the users' steps ---------------------------------------------------------------------------------


def raise_manual(conn: Connection, line: str, kind: LineKind, category: Category, note: str, user: str,
                 at_us: int) -> AndonCall:  # fmt: skip
    """A call a user raised (origin manual): no open_key, no stop; it waits for an acknowledge and a resolve."""
    call_id = conn.execute(insert(andon_calls).values(
        line=line, line_kind=kind.value, origin=Origin.MANUAL.value, category=category.value, state=_OPEN,
        cause_active=True, detail=note, raised_us=at_us, raised_by=user, ack_note="", resolve_note="", tier=0,
        micro=False, open_key=None,
    ).returning(andon_calls.c.call_id)).scalar_one()  # fmt: skip
    _step(conn, int(call_id), at_us, Step.RAISED, user, note)
    return load_call(conn, int(call_id))  # type: ignore[return-value]


def _taken(conn: Connection, call_id: int) -> CallTaken | UnknownCall:
    """Why a conditional step changed nothing: no such call, or someone else got there first."""
    call = load_call(conn, call_id)
    if call is None:
        return UnknownCall(call_id)
    if call.state is CallState.RESOLVED:
        return CallTaken(call_id, call.state, call.resolved_by, call.resolved_us)
    return CallTaken(call_id, call.state, call.acked_by, call.acked_us)


def acknowledge(conn: Connection, call_id: int, user: str, note: str, at_us: int) -> AndonCall:
    """Acknowledge an open call; CallTaken (naming who and when) if it is not open any more, UnknownCall."""
    done = conn.execute(
        update(andon_calls).where(andon_calls.c.call_id == call_id, andon_calls.c.state == _OPEN)
        .values(state=CallState.ACKNOWLEDGED.value, acked_us=at_us, acked_by=user, ack_note=note)
    ).rowcount  # fmt: skip
    if not done:
        raise _taken(conn, call_id)
    _step(conn, call_id, at_us, Step.ACKNOWLEDGED, user, note)
    return load_call(conn, call_id)  # type: ignore[return-value]


def resolve(conn: Connection, call_id: int, user: str, reason: Reason, note: str, at_us: int) -> AndonCall:
    """Resolve a call with a reason (its stops without a reason get it); CallTaken if resolved already."""
    done = conn.execute(
        update(andon_calls).where(andon_calls.c.call_id == call_id, andon_calls.c.state != _RESOLVED).values(
            state=_RESOLVED, resolved_us=at_us, resolved_by=user, resolve_note=note, reason_code=reason.code,
            open_key=None,
        )
    ).rowcount  # fmt: skip
    if not done:
        raise _taken(conn, call_id)
    conn.execute(update(downtime).where(downtime.c.call_id == call_id, downtime.c.reason_code.is_(None))
                 .values(reason_code=reason.code, planned=reason.loss is Loss.PLANNED))  # fmt: skip
    _step(conn, call_id, at_us, Step.RESOLVED, user, f"{reason.code}: {note}" if note else reason.code)
    return load_call(conn, call_id)  # type: ignore[return-value]


def escalate(conn: Connection, call_id: int, tier: int, at_us: int, note: str) -> bool:
    """Raise a call's tier to ``tier`` if it is lower and the call not resolved: True for the one process that did."""
    won = conn.execute(
        update(andon_calls).where(andon_calls.c.call_id == call_id, andon_calls.c.tier < tier,
                                  andon_calls.c.state != _RESOLVED, andon_calls.c.micro.is_(False))
        .values(tier=tier)
    ).rowcount  # fmt: skip
    if won:
        _step(conn, call_id, at_us, Step.ESCALATED, SYSTEM, note, tier)
    return bool(won)


def set_downtime_reason(conn: Connection, downtime_id: int, reason: Reason, note: str,
                        user: str) -> tuple[Downtime, Downtime]:  # fmt: skip
    """Give a stop its reason afterwards (planned follows the reason's class); (before, after); UnknownDowntime."""
    before = load_downtime(conn, downtime_id)
    if before is None:
        raise UnknownDowntime(downtime_id)
    values: dict[str, Any] = {"reason_code": reason.code, "planned": reason.loss is Loss.PLANNED, "entered_by": user}
    if note:
        values["note"] = note
    conn.execute(update(downtime).where(downtime.c.downtime_id == downtime_id).values(**values))
    return before, load_downtime(conn, downtime_id)  # type: ignore[return-value]
