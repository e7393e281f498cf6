"""The dispatcher's own reads and writes (hmi.store.dispatch) on a migrated SQLite database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hmi.domain.orders import ShopfloorHealth
from hmi.domain.session import SessionUser
from hmi.domain.shopfloor import Activity, Heartbeat, iso
from hmi.services.commands import CommandService
from hmi.services.orders import OrderService
from hmi.store import dispatch
from hmi.store.locking import write_connection

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def beat(engine, sf: str, at: datetime) -> None:
    hb = Heartbeat(shopfloorId=sf, capacity=1200.0, activity=Activity.IDLE, queued=0, timestamp=iso(at), seq=1)
    with write_connection(engine) as conn, conn.begin():
        dispatch.record_heartbeat(conn, hb, at)


def test_last_heartbeats_and_the_judged_health_where_it_changed(engine):
    with write_connection(engine) as conn, conn.begin():
        dispatch.ensure_shopfloors(conn, [("declared", 600.0)])
    beat(engine, "sf1", T0)
    with engine.connect() as conn:
        assert dispatch.last_heartbeats(conn) == {"declared": None, "sf1": T0}
    with write_connection(engine) as conn, conn.begin():
        changed = dispatch.save_health(conn, {"sf1": ShopfloorHealth.OFFLINE, "declared": ShopfloorHealth.UNKNOWN})
    assert changed == [("sf1", ShopfloorHealth.ONLINE)]  # the declared one was unknown already
    planner = OrderService(CommandService(engine, lambda: SessionUser("p", "production_planner"), "ws"))
    assert {s.shopfloor_id: s.health for s in planner.list_shopfloors()} == {
        "declared": ShopfloorHealth.UNKNOWN, "sf1": ShopfloorHealth.OFFLINE}


def test_outbox_pending_counts_what_no_shopfloor_confirmed(engine):
    now = datetime.now(timezone.utc)
    beat(engine, "sf1", now)
    planner = OrderService(CommandService(engine, lambda: SessionUser("p", "production_planner"), "ws"))
    planner.receive_material("PET", 1000.0, "kg")
    order = planner.create_order("Bottles", 100, "PET", now + timedelta(days=1))
    planner.release_order(order.order_id)
    with engine.connect() as conn:
        assert dispatch.outbox_pending(conn) == 0  # queued in the HMI, nothing to send yet
    with write_connection(engine) as conn, conn.begin():
        [sent] = dispatch.dispatch_queued(conn, now, 2)
    with engine.connect() as conn:
        assert dispatch.outbox_pending(conn) == 1
        assert [m.msg_id for m in dispatch.outbox_due(conn, now, 3.0)] == [sent]
