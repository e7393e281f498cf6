"""Orders, shares, shopfloors and materials in the database: the planner's commands, the reads, and the
engine side the dispatcher calls (heartbeats, reports, acks, hellos, the outbox, reassignment).

Every function takes a Connection inside the caller's transaction (for writes: a write_connection, so
SQLite takes its lock at BEGIN; PostgreSQL rows are locked FOR UPDATE where two workstations may meet).
Times are aware datetimes in, UTC epoch microseconds in the tables.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from hmi.domain.audit import AuditEntry
from hmi.domain.orders import (
    CANCELLABLE, FINISHED, MOVABLE, ON_THE_SHOPFLOOR, RELEASABLE, UNFINISHED_SHARES, Material, MaterialShortfall,
    NoShopfloorAvailable, Order, OrderDetail, OrderStateError, OrderStatus, OutboxMessage, ProductionRow,
    Reassignment, ReportRejected, Share, ShareStatus, Shopfloor, ShopfloorHealth, UnknownMaterial, UnknownOrder,
    UnknownShopfloor, instruction_id_for, job_number_for, order_id_for, order_status_after,
    split_by_capacity,
)  # fmt: skip
from hmi.domain.planning import PlanItem, Planned, insert_position, lateness, moved, plan, queued_rank, sent_rank
from hmi.domain.shopfloor import Ack, Heartbeat, Hello, Instruction, Report, Resume, Withdraw, encode, iso, parse_time
from hmi.store.audit import append
from hmi.store.oee import add_output
from hmi.store.schema import (
    audit_log, id_counters, invalid_messages, material_movements, materials, order_shares, orders, outbox,
    reassignments, report_receipts, shopfloors,
)  # fmt: skip

US = 1_000_000
ACTIVE = (OrderStatus.RELEASED.value, OrderStatus.IN_PROGRESS.value)
UNFINISHED_ORDERS = (OrderStatus.PLANNED.value, *ACTIVE)
_UNFINISHED_SHARES = tuple(s.value for s in UNFINISHED_SHARES)
_ON_FLOOR = tuple(s.value for s in ON_THE_SHOPFLOOR)
MAX_REASON = 200
SYSTEM = "system"


def to_us(when: datetime) -> int:
    """An aware datetime as UTC epoch microseconds."""
    return round(when.timestamp() * US)


def from_us(us: int | None) -> datetime | None:
    """UTC epoch microseconds (or None) as an aware UTC datetime."""
    return None if us is None else datetime.fromtimestamp(us / US, tz=timezone.utc)


def _insert(conn: Connection, table: Any) -> Any:
    """An INSERT with the dialect's ON CONFLICT clauses available."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


# --- ids ----------------------------------------------------------------------------------------------


def next_ids(conn: Connection, day: date) -> tuple[str, str]:
    """(order id, job number) of the next order of a UTC day, from its counter row in this transaction.

    One statement increments or creates the row (INSERT ... ON CONFLICT DO UPDATE ... RETURNING), which
    locks it until commit: two workstations never get one number.
    """
    key = f"{day:%Y%m%d}"
    stmt = _insert(conn, id_counters).values(day=key, kind="order", last=1)
    stmt = stmt.on_conflict_do_update(index_elements=["day", "kind"], set_={"last": id_counters.c.last + 1})
    n = int(conn.execute(stmt.returning(id_counters.c.last)).scalar_one())
    return order_id_for(day, n), job_number_for(day, n)


# --- materials ----------------------------------------------------------------------------------------


def _material(row: Row) -> Material:
    return Material(row.name, float(row.on_hand), float(row.reserved), row.unit)


def list_materials(conn: Connection) -> list[Material]:
    """Every material by name."""
    return [_material(r) for r in conn.execute(select(materials).order_by(materials.c.name))]


def material_names(conn: Connection) -> list[str]:
    """The names of the known materials."""
    return list(conn.execute(select(materials.c.name).order_by(materials.c.name)).scalars())


def _lock_material(conn: Connection, name: str) -> Row:
    row = conn.execute(select(materials).where(materials.c.name == name).with_for_update()).first()
    if row is None:
        raise UnknownMaterial(name, material_names(conn))
    return row


def _move(conn: Connection, name: str, kind: str, quantity: float, now_us: int, order_id: str | None = None) -> None:
    conn.execute(insert(material_movements).values(at_us=now_us, material=name, kind=kind, quantity=quantity,
                                                   order_id=order_id))  # fmt: skip


def receive_material(conn: Connection, name: str, quantity: float, unit: str, now: datetime) -> tuple[Material | None, Material]:
    """Add ``quantity`` to a material's on-hand (creating it with ``unit``); (before, after)."""
    row = conn.execute(select(materials).where(materials.c.name == name).with_for_update()).first()
    if row is None:
        before = None
        conn.execute(insert(materials).values(name=name, on_hand=quantity, reserved=0.0, unit=unit))
    else:
        before = _material(row)
        conn.execute(update(materials).where(materials.c.name == name).values(on_hand=materials.c.on_hand + quantity))
    _move(conn, name, "receive", quantity, to_us(now))
    return before, _material(conn.execute(select(materials).where(materials.c.name == name)).one())


def _release_reservation(conn: Connection, order: Row, now_us: int) -> None:
    """Free what an order still holds reserved (at its end)."""
    left = float(order.reserved)
    if left <= 0:
        return
    reserved = case((materials.c.reserved > left, materials.c.reserved - left), else_=0.0)
    conn.execute(update(materials).where(materials.c.name == order.material).values(reserved=reserved))
    conn.execute(update(orders).where(orders.c.order_id == order.order_id).values(reserved=0.0))
    _move(conn, order.material, "release", left, now_us, order.order_id)


# --- shopfloors -----------------------------------------------------------------------------------------


def ensure_shopfloors(conn: Connection, known: Sequence[tuple[str, float]]) -> None:
    """Add the shopfloors the plant declares (id, capacity) that are not in the table yet."""
    for shopfloor_id, capacity in known:
        stmt = _insert(conn, shopfloors).values(shopfloor_id=shopfloor_id, capacity=capacity, capacity_manual=True,
                                                in_dispatch=True, activity="", heartbeat_seq=0,
                                                health=ShopfloorHealth.UNKNOWN.value)  # fmt: skip
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["shopfloor_id"]))


def _loads(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(order_shares.c.shopfloor_id, func.sum(order_shares.c.quantity - order_shares.c.produced))
        .where(order_shares.c.status.in_(_UNFINISHED_SHARES)).group_by(order_shares.c.shopfloor_id)
    )  # fmt: skip
    return {sid: max(0, int(total or 0)) for sid, total in rows}


def _shopfloor(row: Row, load: int = 0) -> Shopfloor:
    return Shopfloor(row.shopfloor_id, float(row.capacity), bool(row.in_dispatch), ShopfloorHealth(row.health),
                     from_us(row.last_heartbeat_us), row.activity, load, from_us(row.last_report_us))  # fmt: skip


def list_shopfloors(conn: Connection) -> list[Shopfloor]:
    """Every shopfloor by id, with the good units assigned to it and not yet made."""
    loads = _loads(conn)
    rows = conn.execute(select(shopfloors).order_by(shopfloors.c.shopfloor_id))
    return [_shopfloor(r, loads.get(r.shopfloor_id, 0)) for r in rows]


def _lock_shopfloor(conn: Connection, shopfloor_id: str) -> Row:
    row = conn.execute(select(shopfloors).where(shopfloors.c.shopfloor_id == shopfloor_id).with_for_update()).first()
    if row is None:
        known = list(conn.execute(select(shopfloors.c.shopfloor_id).order_by(shopfloors.c.shopfloor_id)).scalars())
        raise UnknownShopfloor(shopfloor_id, known)
    return row


def set_capacity(conn: Connection, shopfloor_id: str, capacity: float, now: datetime) -> tuple[Shopfloor, Shopfloor]:
    """Set a shopfloor's capacity (it then stays, whatever its heartbeat announces); (before, after)."""
    before = _shopfloor(_lock_shopfloor(conn, shopfloor_id))
    conn.execute(update(shopfloors).where(shopfloors.c.shopfloor_id == shopfloor_id)
                 .values(capacity=capacity, capacity_manual=True))  # fmt: skip
    replan(conn, now)
    return before, _one_shopfloor(conn, shopfloor_id)


def set_dispatch(conn: Connection, shopfloor_id: str, on: bool, now: datetime) -> tuple[Shopfloor, Shopfloor]:
    """Take a shopfloor into dispatch or out of it; out, its queued (unsent) shares move to the others
    where any is online and in dispatch (what it already has, it finishes). (before, after)."""
    before = _shopfloor(_lock_shopfloor(conn, shopfloor_id))
    conn.execute(update(shopfloors).where(shopfloors.c.shopfloor_id == shopfloor_id).values(in_dispatch=on))
    if not on:
        _move_work(conn, shopfloor_id, f"{shopfloor_id} taken out of dispatch", now, (ShareStatus.QUEUED.value,),
                   by="dispatch", workstation=None)  # fmt: skip
    replan(conn, now)
    return before, _one_shopfloor(conn, shopfloor_id)


def _one_shopfloor(conn: Connection, shopfloor_id: str) -> Shopfloor:
    row = conn.execute(select(shopfloors).where(shopfloors.c.shopfloor_id == shopfloor_id)).one()
    return _shopfloor(row, _loads(conn).get(shopfloor_id, 0))


# --- orders: reading ------------------------------------------------------------------------------------


def _share(row: Row, planned: Planned | None = None) -> Share:
    start = planned.start if planned else from_us(row.expected_start_us)
    finish = planned.finish if planned else from_us(row.expected_finish_us)
    return Share(row.instruction_id, row.order_id, row.shopfloor_id, int(row.quantity), ShareStatus(row.status),
                 int(row.produced), int(row.defective), int(row.position), start, finish, from_us(row.sent_us),
                 from_us(row.finished_us))  # fmt: skip


def _plan_items(conn: Connection) -> tuple[list[PlanItem], dict[str, float]]:
    j = order_shares.join(orders, orders.c.order_id == order_shares.c.order_id)
    rows = conn.execute(
        select(order_shares.c.instruction_id, order_shares.c.order_id, order_shares.c.shopfloor_id,
               order_shares.c.quantity, order_shares.c.produced, order_shares.c.status, order_shares.c.position,
               order_shares.c.n, orders.c.queue_position)
        .select_from(j).where(order_shares.c.status.in_(_UNFINISHED_SHARES))
    )  # fmt: skip
    items = [
        PlanItem(r.instruction_id, r.order_id, r.shopfloor_id, max(0, r.quantity - r.produced),
                 queued_rank(r.queue_position, r.n) if r.status == ShareStatus.QUEUED.value else sent_rank(r.position))
        for r in rows
    ]  # fmt: skip
    caps = {sid: float(c) for sid, c in conn.execute(select(shopfloors.c.shopfloor_id, shopfloors.c.capacity))}
    return items, caps


def current_plan(conn: Connection, now: datetime) -> dict[str, Planned]:
    """Expected start and finish of every unfinished share as of ``now``."""
    items, caps = _plan_items(conn)
    return plan(items, caps, now)


def replan(conn: Connection, now: datetime) -> None:
    """Store the current plan's expected times on the unfinished shares whose times changed."""
    planned = current_plan(conn, now)
    stored = {r.instruction_id: (r.expected_start_us, r.expected_finish_us) for r in conn.execute(
        select(order_shares.c.instruction_id, order_shares.c.expected_start_us, order_shares.c.expected_finish_us)
        .where(order_shares.c.status.in_(_UNFINISHED_SHARES)))}  # fmt: skip
    for iid, p in planned.items():
        times = (None if p.start is None else to_us(p.start), None if p.finish is None else to_us(p.finish))
        if stored.get(iid) != times:
            conn.execute(update(order_shares).where(order_shares.c.instruction_id == iid)
                         .values(expected_start_us=times[0], expected_finish_us=times[1]))  # fmt: skip


def _order(row: Row, shares: Sequence[Share]) -> Order:
    due = from_us(row.due_us)
    assert due is not None
    unfinished = [s.expected_finish for s in shares if s.status in UNFINISHED_SHARES]
    finish, late = lateness(due, unfinished) if unfinished else (None, None)
    if row.status in FINISHED and row.finished_us is not None:
        finished = from_us(row.finished_us)
        finish, late = finished, max(0.0, (finished - due).total_seconds()) if finished else None
    return Order(
        row.order_id, row.job_number, row.product, int(row.quantity), row.material, due, int(row.priority),
        OrderStatus(row.status), from_us(row.created_us) or due, row.created_by, int(row.produced), int(row.defective),
        float(row.material_per_unit), int(row.queue_position), finish, late, tuple(shares),
    )  # fmt: skip


def load_orders(conn: Connection, now: datetime, statuses: Collection[OrderStatus] | None = None,
                limit: int = 1000, order_ids: Collection[str] | None = None) -> list[Order]:  # fmt: skip
    """Orders (unfinished first in queue order, then the newest finished), with their shares and plan."""
    query = select(orders)
    if statuses is not None:
        query = query.where(orders.c.status.in_([OrderStatus(s).value for s in statuses]))
    if order_ids is not None:
        query = query.where(orders.c.order_id.in_(list(order_ids)))
    unfinished_first = (orders.c.status.in_(UNFINISHED_ORDERS)).desc()
    rows = conn.execute(query.order_by(unfinished_first, orders.c.queue_position, orders.c.created_us.desc())
                        .limit(limit)).all()  # fmt: skip
    if not rows:
        return []
    planned = current_plan(conn, now)
    by_order: dict[str, list[Share]] = defaultdict(list)
    ids = [r.order_id for r in rows]
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        for s in conn.execute(select(order_shares).where(order_shares.c.order_id.in_(part))
                              .order_by(order_shares.c.created_us, order_shares.c.instruction_id)):  # fmt: skip
            by_order[s.order_id].append(_share(s, planned.get(s.instruction_id)))
    return [_order(r, by_order[r.order_id]) for r in rows]


def get_order(conn: Connection, order_id: str, now: datetime) -> Order:
    """One order with its shares and plan; UnknownOrder."""
    found = load_orders(conn, now, order_ids=[order_id], limit=1)
    if not found:
        raise UnknownOrder(order_id)
    return found[0]


def order_target(order_id: str) -> str:
    """The audit target of an order's commands."""
    return f"order {order_id}"


def _reassignment(row: Row) -> Reassignment:
    to = tuple((sid, int(units)) for sid, units in (part.rsplit(":", 1) for part in row.to_shares.split(",") if part))
    return Reassignment(from_us(row.at_us), row.order_id, row.from_shopfloor, int(row.quantity), to, row.reason,
                        row.by_user)  # type: ignore[arg-type]  # fmt: skip


def order_detail(conn: Connection, order_id: str, now: datetime) -> OrderDetail:
    """An order with its reports, reassignments and audit history; UnknownOrder."""
    order = get_order(conn, order_id, now)
    reports = tuple(
        (from_us(r.received_us), r.shopfloor_id, int(r.produced), int(r.defective))
        for r in conn.execute(select(report_receipts).where(report_receipts.c.order_id == order_id)
                              .order_by(report_receipts.c.received_us, report_receipts.c.seq))
    )  # fmt: skip
    moves = tuple(_reassignment(r) for r in conn.execute(
        select(reassignments).where(reassignments.c.order_id == order_id).order_by(reassignments.c.id)))
    history = tuple(
        (from_us(r.ts_us), r.user_name, f"{r.action} {r.result}" + (f": {r.detail}" if r.detail else ""))
        for r in conn.execute(select(audit_log).where(audit_log.c.target == order_target(order_id))
                              .order_by(audit_log.c.seq))
    )  # fmt: skip
    return OrderDetail(order, reports, moves, history)  # type: ignore[arg-type]


def timeline(conn: Connection, now: datetime) -> dict[str, list[Share]]:
    """Per shopfloor (every known one), its queued and running shares in the order it works them."""
    items, caps = _plan_items(conn)
    planned = plan(items, caps, now)
    ranks = {i.instruction_id: i.rank for i in items}
    out: dict[str, list[Share]] = {sid: [] for sid in conn.execute(select(shopfloors.c.shopfloor_id)).scalars()}
    rows = conn.execute(select(order_shares).where(order_shares.c.status.in_(_UNFINISHED_SHARES)))
    for r in rows:
        out.setdefault(r.shopfloor_id, []).append(_share(r, planned.get(r.instruction_id)))
    for lane in out.values():
        lane.sort(key=lambda s: ranks[s.instruction_id])
    return out


# --- orders: the planner's commands ---------------------------------------------------------------------


def insert_order(conn: Connection, *, product: str, quantity: int, material: str, due: datetime, priority: int,
                 material_per_unit: float, now: datetime, user: str) -> Order:  # fmt: skip
    """A new planned order with the next id and job number of the UTC day; UnknownMaterial."""
    if conn.execute(select(materials.c.name).where(materials.c.name == material)).first() is None:
        raise UnknownMaterial(material, material_names(conn))
    order_id, job = next_ids(conn, now.astimezone(timezone.utc).date())
    last = conn.execute(select(func.max(orders.c.queue_position))).scalar() or 0
    conn.execute(insert(orders).values(
        order_id=order_id, job_number=job, product=product, quantity=quantity, material=material,
        material_per_unit=material_per_unit, due_us=to_us(due), priority=priority, status=OrderStatus.PLANNED.value,
        queue_position=last + 1, produced=0, defective=0, reserved=0.0, created_us=to_us(now), created_by=user, note="",
    ))  # fmt: skip
    return get_order(conn, order_id, now)


def _lock_order(conn: Connection, order_id: str) -> Row:
    row = conn.execute(select(orders).where(orders.c.order_id == order_id).with_for_update()).first()
    if row is None:
        raise UnknownOrder(order_id)
    return row


def _healthy(conn: Connection, exclude: str | None = None) -> list[Row]:
    q = select(shopfloors).where(shopfloors.c.in_dispatch.is_(True), shopfloors.c.health == ShopfloorHealth.ONLINE.value,
                                 shopfloors.c.capacity > 0)  # fmt: skip
    if exclude is not None:
        q = q.where(shopfloors.c.shopfloor_id != exclude)
    return conn.execute(q.order_by(shopfloors.c.shopfloor_id)).all()


def _queued_ahead(conn: Connection, position: int, exclude_order: str) -> dict[str, float]:
    """Per shopfloor, the good units it must make before a share of an order at ``position``."""
    j = order_shares.join(orders, orders.c.order_id == order_shares.c.order_id)
    remaining = func.sum(order_shares.c.quantity - order_shares.c.produced)
    ahead = or_(order_shares.c.status.in_(_ON_FLOOR),
                and_(order_shares.c.status == ShareStatus.QUEUED.value, orders.c.queue_position < position))
    rows = conn.execute(select(order_shares.c.shopfloor_id, remaining).select_from(j)
                        .where(ahead, order_shares.c.order_id != exclude_order).group_by(order_shares.c.shopfloor_id))
    return {sid: max(0.0, float(total or 0)) for sid, total in rows}


def _add_shares(conn: Connection, order: Row, split: Sequence[tuple[str, int]], now_us: int,
                replaces: str | None = None) -> list[str]:  # fmt: skip
    made = []
    for shopfloor_id, units in split:
        n = 1 + (conn.execute(select(func.count()).select_from(order_shares).where(
            order_shares.c.order_id == order.order_id, order_shares.c.shopfloor_id == shopfloor_id)).scalar() or 0)
        iid = instruction_id_for(order.job_number, shopfloor_id, n)
        conn.execute(insert(order_shares).values(
            instruction_id=iid, order_id=order.order_id, shopfloor_id=shopfloor_id, n=n, quantity=units,
            status=ShareStatus.QUEUED.value, produced=0, defective=0, last_seq=0, position=0, created_us=now_us,
            replaces=replaces,
        ))  # fmt: skip
        made.append(iid)
    return made


def _split_for(conn: Connection, order: Row, units: int, position: int, exclude: str | None = None) -> list[tuple[str, int]]:
    targets = _healthy(conn, exclude)
    ahead = _queued_ahead(conn, position, order.order_id)
    return split_by_capacity(units, [(t.shopfloor_id, float(t.capacity), ahead.get(t.shopfloor_id, 0.0)) for t in targets])


def release(conn: Connection, order_id: str, now: datetime) -> tuple[Order, list[tuple[str, int]]]:
    """Reserve the order's material, place it in the queue by priority and due, split it into queued shares.

    MaterialShortfall, NoShopfloorAvailable, OrderStateError, UnknownOrder; nothing changes then.
    """
    row = _lock_order(conn, order_id)
    status = OrderStatus(row.status)
    if status not in RELEASABLE:
        raise OrderStateError(order_id, status, "released", RELEASABLE)
    mat = _lock_material(conn, row.material)
    needed = row.quantity * row.material_per_unit
    available = float(mat.on_hand) - float(mat.reserved)
    if needed > available + 1e-9:
        raise MaterialShortfall(order_id, row.material, needed, available, mat.unit)
    queue = [(r.priority, from_us(r.due_us), r.queue_position) for r in conn.execute(
        select(orders.c.priority, orders.c.due_us, orders.c.queue_position).where(orders.c.status.in_(ACTIVE)))]
    position = insert_position(queue, row.priority, from_us(row.due_us))  # type: ignore[arg-type]
    targets = _healthy(conn)
    ahead = _queued_ahead(conn, position, order_id)
    split = split_by_capacity(row.quantity, [(t.shopfloor_id, float(t.capacity), ahead.get(t.shopfloor_id, 0.0))
                                             for t in targets])  # fmt: skip
    if not split:
        raise NoShopfloorAvailable("no shopfloor is online and in dispatch to take the order")
    now_us = to_us(now)
    last_in_queue = all(pos < position for _, _, pos in queue)
    conn.execute(update(orders).where(orders.c.queue_position >= position, orders.c.status.in_(UNFINISHED_ORDERS),
                                      orders.c.order_id != order_id)
                 .values(queue_position=orders.c.queue_position + 1))  # fmt: skip
    conn.execute(update(orders).where(orders.c.order_id == order_id).values(
        status=OrderStatus.RELEASED.value, queue_position=position, reserved=needed, released_us=now_us))
    conn.execute(update(materials).where(materials.c.name == row.material).values(reserved=materials.c.reserved + needed))
    _move(conn, row.material, "reserve", needed, now_us, order_id)
    made = _add_shares(conn, row, split, now_us)
    if last_in_queue:  # nothing else moves: only the new shares need their times (the work ahead is known)
        caps = {t.shopfloor_id: float(t.capacity) for t in targets}
        for iid, (sid, units) in zip(made, split):
            start = ahead.get(sid, 0.0) / caps[sid] * 3600
            conn.execute(update(order_shares).where(order_shares.c.instruction_id == iid).values(
                expected_start_us=now_us + round(start * US), expected_finish_us=now_us + round((start + units / caps[sid] * 3600) * US)))
    else:
        replan(conn, now)
    return _release_result(conn, order_id, now), split


def _release_result(conn: Connection, order_id: str, now: datetime) -> Order:
    """The released order with its shares' stored expected times (no plan of the whole queue)."""
    row = conn.execute(select(orders).where(orders.c.order_id == order_id)).one()
    shares = [_share(s) for s in conn.execute(select(order_shares).where(order_shares.c.order_id == order_id)
                                              .order_by(order_shares.c.instruction_id))]  # fmt: skip
    return _order(row, shares)


def _put(conn: Connection, msg_id: str, shopfloor_id: str, message: Instruction | Withdraw | Resume, now_us: int,
         *, again: bool = False) -> None:  # fmt: skip
    """Write a message to the outbox (once per msg_id); ``again``: an existing one is made due now and unconfirmed."""
    stmt = _insert(conn, outbox).values(msg_id=msg_id, shopfloor_id=shopfloor_id, kind=message.TYPE,
                                        payload=encode(message), created_us=now_us, attempts=0)  # fmt: skip
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["msg_id"]))
    if again:
        conn.execute(update(outbox).where(outbox.c.msg_id == msg_id).values(last_sent_us=None, acked_us=None))


def withdraw_id(instruction_id: str) -> str:
    """The msgId of the one withdraw of an instruction."""
    return f"W/{instruction_id}"


def _withdraw(conn: Connection, share: Row, reason: str, now: datetime, *, again: bool = False) -> None:
    message = Withdraw(withdraw_id(share.instruction_id), share.instruction_id, reason[:MAX_REASON], iso(now))
    _put(conn, message.msgId, share.shopfloor_id, message, to_us(now), again=again)


def _stop_share(conn: Connection, share: Row, reason: str, now: datetime) -> None:
    """A queued share is dropped at once; one on its shopfloor gets a withdraw and waits for the confirmation."""
    now_us = to_us(now)
    if share.status == ShareStatus.QUEUED.value:
        conn.execute(update(order_shares).where(order_shares.c.instruction_id == share.instruction_id)
                     .values(status=ShareStatus.WITHDRAWN.value, finished_us=now_us))  # fmt: skip
        return
    conn.execute(update(order_shares).where(order_shares.c.instruction_id == share.instruction_id)
                 .values(status=ShareStatus.WITHDRAWING.value))  # fmt: skip
    _withdraw(conn, share, reason, now)


def cancel(conn: Connection, order_id: str, reason: str, now: datetime) -> Order:
    """Cancel an order: withdraw its shares, free its reservation; OrderStateError, UnknownOrder."""
    row = _lock_order(conn, order_id)
    status = OrderStatus(row.status)
    if status not in CANCELLABLE:
        raise OrderStateError(order_id, status, "cancelled", CANCELLABLE)
    for share in conn.execute(select(order_shares).where(order_shares.c.order_id == order_id,
                                                         order_shares.c.status.in_(_UNFINISHED_SHARES))).all():
        _stop_share(conn, share, f"order {order_id} cancelled: {reason}", now)
    conn.execute(update(orders).where(orders.c.order_id == order_id).values(
        status=OrderStatus.CANCELLED.value, finished_us=to_us(now), note=reason[:MAX_REASON]))
    _release_reservation(conn, row, to_us(now))
    replan(conn, now)
    return get_order(conn, order_id, now)


def move(conn: Connection, order_id: str, steps: int, now: datetime) -> tuple[int, Order]:
    """Move an order ``steps`` places in its queue (released ones among released, planned among planned);
    (old place, order). OrderStateError, UnknownOrder."""
    row = _lock_order(conn, order_id)
    status = OrderStatus(row.status)
    if status not in MOVABLE:
        raise OrderStateError(order_id, status, "moved", MOVABLE)
    group = ACTIVE if status.value in ACTIVE else (OrderStatus.PLANNED.value,)
    queue = conn.execute(select(orders.c.order_id, orders.c.queue_position).where(orders.c.status.in_(group))
                         .order_by(orders.c.queue_position, orders.c.created_us).with_for_update()).all()  # fmt: skip
    ids = [r.order_id for r in queue]
    new = moved(ids, order_id, steps)
    for oid, pos in zip(new, sorted(r.queue_position for r in queue)):
        conn.execute(update(orders).where(orders.c.order_id == oid).values(queue_position=pos))
    replan(conn, now)
    return ids.index(order_id) + 1, get_order(conn, order_id, now)


# --- the engine side: what the dispatcher calls ---------------------------------------------------------


def record_heartbeat(conn: Connection, hb: Heartbeat, received_at: datetime) -> None:
    """A shopfloor is alive: its last heartbeat, activity and seq; a new one is added (in dispatch) with the
    capacity it announces, which also updates one whose capacity the MES manager never set."""
    now_us = to_us(received_at)
    values = dict(last_heartbeat_us=now_us, activity=hb.activity.value, heartbeat_seq=hb.seq,
                  health=ShopfloorHealth.ONLINE.value)  # fmt: skip
    stmt = _insert(conn, shopfloors).values(shopfloor_id=hb.shopfloorId, capacity=hb.capacity, capacity_manual=False,
                                            in_dispatch=True, **values)  # fmt: skip
    stmt = stmt.on_conflict_do_update(index_elements=["shopfloor_id"], set_={
        **values,  # the announced capacity, unless the MES manager set one
        "capacity": case((shopfloors.c.capacity_manual.is_(True), shopfloors.c.capacity), else_=stmt.excluded.capacity),
    })
    conn.execute(stmt)


def apply_report(conn: Connection, r: Report, received_at: datetime) -> bool:
    """Apply a report exactly once: True if it was new (its receipt stored), False for one already applied.

    The highest seq's running totals are the share's; the units made since consume the material (and
    free as much of the reservation); the share and the order change status (an order at its quantity
    is completed, its leftover reservation freed, its remaining shares stopped). ReportRejected for a
    report that names no instruction of ours or contradicts it (nothing changes).
    """
    owner = conn.execute(select(order_shares.c.order_id).where(order_shares.c.instruction_id == r.instructionId)).scalar()
    if owner is None:
        raise ReportRejected(f"report {r.msgId[:120]!r} names no instruction of ours")
    order = _lock_order(conn, owner)  # the order first, as every command locks it: no deadlock with a cancel
    share = conn.execute(select(order_shares).where(order_shares.c.instruction_id == r.instructionId)
                         .with_for_update()).one()  # fmt: skip
    if share.order_id != r.orderId or share.shopfloor_id != r.shopfloorId or r.msgId != f"{r.instructionId}/{r.seq}":
        raise ReportRejected(f"report {r.msgId[:120]!r} does not match instruction {share.instruction_id} "
                             f"(order {share.order_id} on {share.shopfloor_id})")  # fmt: skip
    now_us = to_us(received_at)
    receipt = _insert(conn, report_receipts).values(
        msg_id=r.msgId, instruction_id=r.instructionId, order_id=r.orderId, shopfloor_id=r.shopfloorId, seq=r.seq,
        produced=r.produced, defective=r.defective, reported_us=to_us(parse_time(r.timestamp)), received_us=now_us,
    ).on_conflict_do_nothing(index_elements=["msg_id"]).returning(report_receipts.c.msg_id)  # fmt: skip
    if conn.execute(receipt).first() is None:
        return False
    conn.execute(update(shopfloors).where(shopfloors.c.shopfloor_id == r.shopfloorId).values(last_report_us=now_us))
    conn.execute(update(outbox).where(outbox.c.msg_id == r.instructionId, outbox.c.acked_us.is_(None))
                 .values(acked_us=now_us))  # a report confirms its instruction  # fmt: skip
    if r.seq <= share.last_seq:
        return True
    status = ShareStatus(share.status)
    if r.final:
        status = ShareStatus.WITHDRAWN if r.withdrawn else ShareStatus.DONE
    elif status in (ShareStatus.QUEUED, ShareStatus.SENT, ShareStatus.ACCEPTED):
        status = ShareStatus.RUNNING
    if r.final and r.withdrawn:
        conn.execute(update(outbox).where(outbox.c.msg_id == withdraw_id(r.instructionId), outbox.c.acked_us.is_(None))
                     .values(acked_us=now_us))  # fmt: skip
    conn.execute(update(order_shares).where(order_shares.c.instruction_id == r.instructionId).values(
        produced=r.produced, defective=r.defective, last_seq=r.seq, status=status.value,
        finished_us=now_us if r.final else None))  # fmt: skip
    add_output(conn, r.shopfloorId, to_us(parse_time(r.timestamp)), r.produced - share.produced,
               r.defective - share.defective)  # the line's running totals, for OEE  # fmt: skip
    made = (r.produced + r.defective) - (share.produced + share.defective)
    _consume(conn, order, made, now_us)
    _settle(conn, r.orderId, received_at)
    return True


def _consume(conn: Connection, order: Row, units: int, now_us: int) -> None:
    used = units * float(order.material_per_unit)
    if used == 0:
        return
    freed = min(max(used, 0.0), float(order.reserved))
    conn.execute(update(materials).where(materials.c.name == order.material)
                 .values(on_hand=materials.c.on_hand - used, reserved=materials.c.reserved - freed))  # fmt: skip
    conn.execute(update(orders).where(orders.c.order_id == order.order_id).values(reserved=orders.c.reserved - freed))
    _move(conn, order.material, "consume", used, now_us, order.order_id)


def _settle(conn: Connection, order_id: str, now: datetime) -> None:
    """The order's totals from its shares and its status from theirs; at its end the rest is stopped and freed."""
    order = _lock_order(conn, order_id)
    rows = conn.execute(select(order_shares).where(order_shares.c.order_id == order_id)).all()
    produced = sum(s.produced for s in rows)
    defective = sum(s.defective for s in rows)
    status = order_status_after(order.quantity, produced, [ShareStatus(s.status) for s in rows], OrderStatus(order.status))
    values: dict[str, Any] = {"produced": produced, "defective": defective, "status": status.value}
    if status in FINISHED and OrderStatus(order.status) not in FINISHED:
        values["finished_us"] = to_us(now)
        for s in rows:
            if s.status in _UNFINISHED_SHARES:
                _stop_share(conn, s, f"order {order_id} is {status.value}", now)
    conn.execute(update(orders).where(orders.c.order_id == order_id).values(**values))
    if status in FINISHED:
        _release_reservation(conn, _lock_order(conn, order_id), to_us(now))


def apply_ack(conn: Connection, ack: Ack, now: datetime | None = None) -> bool:
    """A shopfloor confirmed one of our messages: stop re-sending it; an instruction's share is accepted.
    False when it names nothing of ours (for that shopfloor)."""
    row = conn.execute(select(outbox.c.kind, outbox.c.acked_us).where(
        outbox.c.msg_id == ack.ackFor, outbox.c.shopfloor_id == ack.shopfloorId)).first()
    if row is None:
        return False
    when = to_us(now or datetime.now(timezone.utc))
    conn.execute(update(outbox).where(outbox.c.msg_id == ack.ackFor, outbox.c.acked_us.is_(None)).values(acked_us=when))
    if row.kind == Instruction.TYPE:
        conn.execute(update(order_shares).where(order_shares.c.instruction_id == ack.ackFor,
                                                order_shares.c.status == ShareStatus.SENT.value)
                     .values(status=ShareStatus.ACCEPTED.value))  # fmt: skip
    return True


def answer_hello(conn: Connection, hello: Hello, now: datetime) -> list[str]:
    """Answer a shopfloor that (re)started: resume each instruction it holds that is still its own, withdraw
    the others; re-send the instructions we count on it for that it no longer holds. The msg ids written."""
    tag = hashlib.sha256(hello.msgId.encode()).hexdigest()[:10]
    now_us = to_us(now)
    written = []
    for iid in hello.instructions:
        share = conn.execute(select(order_shares).where(order_shares.c.instruction_id == iid)).first()
        if share is not None and share.shopfloor_id == hello.shopfloorId and share.status in _ON_FLOOR:
            message: Resume | Withdraw = Resume(f"R/{iid}/{tag}", iid, iso(now))
            _put(conn, message.msgId, hello.shopfloorId, message, now_us)
        elif share is not None and share.shopfloor_id == hello.shopfloorId and share.status == ShareStatus.WITHDRAWING.value:
            _withdraw(conn, share, "withdrawn while you were away", now, again=True)
            written.append(withdraw_id(iid))
            continue
        else:
            message = Withdraw(f"W/{iid}/{tag}", iid, "not an instruction of yours (any more)", iso(now))
            _put(conn, message.msgId, hello.shopfloorId, message, now_us)
        written.append(message.msgId)
    held = set(hello.instructions)
    for share in conn.execute(select(order_shares.c.instruction_id).where(
            order_shares.c.shopfloor_id == hello.shopfloorId, order_shares.c.status.in_(_ON_FLOOR))).all():
        if share.instruction_id not in held:
            conn.execute(update(outbox).where(outbox.c.msg_id == share.instruction_id)
                         .values(last_sent_us=None, acked_us=None))  # fmt: skip
            written.append(share.instruction_id)
    return written


def outbox_due(conn: Connection, now: datetime, resend_s: float, limit: int = 1000) -> list[OutboxMessage]:
    """The unconfirmed messages never sent or last sent ``resend_s`` ago or more, oldest first."""
    cutoff = to_us(now) - round(resend_s * US)
    rows = conn.execute(select(outbox.c.msg_id, outbox.c.shopfloor_id, outbox.c.payload)
                        .where(outbox.c.acked_us.is_(None),
                               or_(outbox.c.last_sent_us.is_(None), outbox.c.last_sent_us <= cutoff))
                        .order_by(outbox.c.created_us, outbox.c.msg_id).limit(limit))  # fmt: skip
    return [OutboxMessage(r.msg_id, r.shopfloor_id, bytes(r.payload)) for r in rows]


def mark_sent(conn: Connection, ids: Sequence[str], now: datetime) -> None:
    """Note that these outbox messages went out now."""
    for chunk in range(0, len(ids), 500):
        conn.execute(update(outbox).where(outbox.c.msg_id.in_(list(ids[chunk:chunk + 500])))
                     .values(last_sent_us=to_us(now), attempts=outbox.c.attempts + 1))  # fmt: skip


def dispatch_queued(conn: Connection, now: datetime, ahead: int) -> list[str]:
    """Send queued shares (outbox) so each online, in-dispatch shopfloor holds up to ``ahead`` unfinished
    instructions, in queue order; the instruction ids sent."""
    sent: list[str] = []
    now_us = to_us(now)
    floors = conn.execute(select(shopfloors.c.shopfloor_id).where(
        shopfloors.c.in_dispatch.is_(True),
        shopfloors.c.health.in_([ShopfloorHealth.ONLINE.value, ShopfloorHealth.LATE.value]))).scalars().all()
    j = order_shares.join(orders, orders.c.order_id == order_shares.c.order_id)
    for sid in floors:
        holding = conn.execute(select(func.count()).select_from(order_shares).where(
            order_shares.c.shopfloor_id == sid, order_shares.c.status.in_(_ON_FLOOR))).scalar() or 0
        if holding >= ahead:
            continue
        last = conn.execute(select(func.max(order_shares.c.position)).where(order_shares.c.shopfloor_id == sid)).scalar() or 0
        rows = conn.execute(
            select(order_shares.c.instruction_id, order_shares.c.quantity, orders.c.order_id, orders.c.job_number,
                   orders.c.product, orders.c.material)
            .select_from(j).where(order_shares.c.shopfloor_id == sid, order_shares.c.status == ShareStatus.QUEUED.value)
            .order_by(orders.c.queue_position, order_shares.c.n).limit(ahead - holding)
        ).all()  # fmt: skip
        for r in rows:
            last += 1
            conn.execute(update(order_shares).where(order_shares.c.instruction_id == r.instruction_id)
                         .values(status=ShareStatus.SENT.value, sent_us=now_us, position=last))  # fmt: skip
            message = Instruction(r.instruction_id, r.order_id, r.job_number, r.product, r.quantity, r.material, iso(now))
            _put(conn, r.instruction_id, sid, message, now_us)
            sent.append(r.instruction_id)
    return sent


def reassign_offline(conn: Connection, shopfloor_id: str, reason: str, now: datetime,
                     workstation: str = "dispatch") -> list[Reassignment]:  # fmt: skip
    """Move the unfinished work of a shopfloor that went offline to the healthy ones (by free capacity):
    its sent shares get a withdraw, their remainder new queued shares; each order's move is a
    Reassignment row and an audit record by user "system". [] when nothing moved (no work, or nobody
    healthy to take it: the work then waits for the shopfloor)."""
    moves = _move_work(conn, shopfloor_id, reason, now, _UNFINISHED_SHARES, by=SYSTEM, workstation=workstation)
    if moves:
        replan(conn, now)
    return moves


def _move_work(conn: Connection, shopfloor_id: str, reason: str, now: datetime, statuses: Sequence[str], *,
               by: str, workstation: str | None) -> list[Reassignment]:  # fmt: skip
    if not _healthy(conn, shopfloor_id):
        return []
    j = order_shares.join(orders, orders.c.order_id == order_shares.c.order_id)
    shares = conn.execute(select(order_shares).select_from(j).where(
        order_shares.c.shopfloor_id == shopfloor_id, order_shares.c.status.in_(list(statuses)))
        .order_by(orders.c.queue_position, order_shares.c.n)).all()  # fmt: skip
    now_us = to_us(now)
    done: list[Reassignment] = []
    for share in shares:
        remainder = share.quantity - share.produced
        if remainder <= 0:
            continue
        order = _lock_order(conn, share.order_id)
        split = _split_for(conn, order, remainder, order.queue_position, exclude=shopfloor_id)
        if not split:
            continue
        _stop_share(conn, share, reason, now)
        _add_shares(conn, order, split, now_us, replaces=share.instruction_id)
        to = ",".join(f"{sid}:{units}" for sid, units in split)
        conn.execute(insert(reassignments).values(
            at_us=now_us, order_id=share.order_id, from_shopfloor=shopfloor_id, from_instruction=share.instruction_id,
            quantity=remainder, to_shares=to, reason=reason[:MAX_REASON], by_user=by))  # fmt: skip
        if workstation is not None:
            append(conn, AuditEntry(user=by, role=SYSTEM, workstation=workstation, action="reassign",
                                    target=order_target(share.order_id), result="ok",
                                    old_value=f"{shopfloor_id}:{remainder}", new_value=to, detail=reason))  # fmt: skip
        done.append(Reassignment(now, share.order_id, shopfloor_id, remainder, tuple(split), reason, by))
    return done


def count_invalid(conn: Connection, shopfloor_id: str | None, reason: str, now: datetime | None = None) -> None:
    """Count an invalid message per shopfloor ("" when none is known) and reason."""
    when = to_us(now or datetime.now(timezone.utc))
    stmt = _insert(conn, invalid_messages).values(shopfloor_id=shopfloor_id or "", reason=reason[:MAX_REASON],
                                                  count=1, last_us=when)  # fmt: skip
    conn.execute(stmt.on_conflict_do_update(index_elements=["shopfloor_id", "reason"], set_={
        "count": invalid_messages.c.count + 1, "last_us": when}))


def invalid_counts(conn: Connection) -> dict[str, int]:
    """Invalid messages per shopfloor ("" for those naming none) and in all (key "*")."""
    rows = conn.execute(select(invalid_messages.c.shopfloor_id, func.sum(invalid_messages.c.count))
                        .group_by(invalid_messages.c.shopfloor_id)).all()  # fmt: skip
    out = {sid: int(n) for sid, n in rows}
    out["*"] = sum(out.values())
    return out


# --- production -------------------------------------------------------------------------------------------


def production_report(conn: Connection, start: datetime, end: datetime, by: str, now: datetime) -> list[ProductionRow]:
    """Good and rejected units made in [start, end) by shopfloor, order or hour, against what was planned.

    Made units are the increases of the running totals from one report to the next, counted at the
    report's own time. Planned: a shopfloor's or an order's share quantities active in the period; an
    hour's, the capacity of the shopfloors in dispatch.
    """
    s_us, e_us = to_us(start), to_us(end)
    active = select(report_receipts.c.instruction_id).where(
        report_receipts.c.reported_us >= s_us, report_receipts.c.reported_us < e_us).distinct()
    rows = conn.execute(select(report_receipts).where(report_receipts.c.instruction_id.in_(active),
                                                      report_receipts.c.reported_us < e_us)
                        .order_by(report_receipts.c.instruction_id, report_receipts.c.seq)).all()  # fmt: skip
    made: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    prev: dict[str, tuple[int, int]] = {}
    for r in rows:
        p0, d0 = prev.get(r.instruction_id, (0, 0))
        prev[r.instruction_id] = (r.produced, r.defective)
        if r.reported_us < s_us:
            continue
        key = {"shopfloor": r.shopfloor_id, "order": r.order_id}.get(by)
        if key is None:
            hour = from_us(r.reported_us).replace(minute=0, second=0, microsecond=0)  # type: ignore[union-attr]
            key = iso(hour)
        made[key][0] += r.produced - p0
        made[key][1] += r.defective - d0
    span_h = max(0.0, (min(end, max(now, start)) - start).total_seconds() / 3600)
    if by == "hour":
        capacity = float(conn.execute(select(func.coalesce(func.sum(shopfloors.c.capacity), 0.0))
                                      .where(shopfloors.c.in_dispatch.is_(True))).scalar() or 0.0)  # fmt: skip
        hours, t = [], start.replace(minute=0, second=0, microsecond=0)
        while t < end:
            hours.append(iso(t))
            t += timedelta(hours=1)
        keys = sorted(set(hours) | set(made))
        return [ProductionRow(k, round(capacity), made[k][0], made[k][1], 1.0) for k in keys]
    column = order_shares.c.shopfloor_id if by == "shopfloor" else order_shares.c.order_id
    planned_rows = conn.execute(select(column, func.sum(order_shares.c.quantity)).where(
        order_shares.c.sent_us.is_not(None), order_shares.c.sent_us < e_us,
        or_(order_shares.c.finished_us.is_(None), order_shares.c.finished_us >= s_us),
        order_shares.c.status != ShareStatus.WITHDRAWN.value).group_by(column)).all()
    planned = {k: int(v or 0) for k, v in planned_rows}
    if by == "order":  # an order's plan is its quantity
        for oid, q in conn.execute(select(orders.c.order_id, orders.c.quantity).where(
                orders.c.order_id.in_(list(set(planned) | set(made))))):
            planned[oid] = int(q)
    keys = sorted(set(planned) | set(made))
    return [ProductionRow(k, planned.get(k, 0), made[k][0], made[k][1], span_h) for k in keys]


__all__ = [
    "answer_hello", "apply_ack", "apply_report", "cancel", "count_invalid", "dispatch_queued", "ensure_shopfloors",
    "get_order", "insert_order", "invalid_counts", "list_materials", "list_shopfloors", "load_orders",
    "mark_sent", "move", "next_ids", "order_detail", "outbox_due", "production_report", "reassign_offline",
    "receive_material", "record_heartbeat", "release", "replan", "set_capacity", "set_dispatch", "timeline",
]
