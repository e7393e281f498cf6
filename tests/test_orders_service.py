"""OrderService: permissions by role, every change and every refusal on the audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from hmi.domain.orders import InvalidOrderValue, MaterialShortfall, OrderStatus, UnknownMaterial, UnknownOrder
from hmi.domain.permissions import PermissionDenied
from hmi.domain.session import SessionUser
from hmi.domain.shopfloor import Activity, Heartbeat, iso
from hmi.services.commands import CommandService
from hmi.services.orders import OrderService
from hmi.store import orders as store
from hmi.store.locking import write_connection
from hmi.store.schema import audit_log

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def service(engine, role, name=None):
    return OrderService(CommandService(engine, lambda: SessionUser(name or role, role), "ws-1"), clock=lambda: T0)


def trail(engine):
    with engine.connect() as conn:
        return conn.execute(select(audit_log.c.user_name, audit_log.c.action, audit_log.c.target, audit_log.c.result)
                            .order_by(audit_log.c.seq)).all()  # fmt: skip


@pytest.fixture
def planner(engine):
    return service(engine, "production_planner", "pia")


def online(engine, sid="sf1", capacity=1000.0):
    with write_connection(engine) as conn, conn.begin():
        store.record_heartbeat(conn, Heartbeat(sid, capacity, Activity.IDLE, 0, iso(T0), 1), T0)


def test_planner_creates_and_releases_and_each_step_is_audited(engine, planner):
    online(engine)
    planner.receive_material("PET", 5000, "kg")
    order = planner.create_order("Cola 500ml", 3000, "PET", T0 + timedelta(days=1), priority=2)
    assert (order.order_id, order.job_number, order.created_by) == ("ORD-20261207-0001", "JO-20261207-0001", "pia")
    released = planner.release_order(order.order_id)
    assert released.status is OrderStatus.RELEASED and [s.quantity for s in released.shares] == [3000]
    assert trail(engine) == [
        ("pia", "release_order", "material PET", "ok"),
        ("pia", "create_order", "orders", "ok"),
        ("pia", "release_order", f"order {order.order_id}", "ok"),
    ]
    assert [o.order_id for o in service(engine, "viewer").list_orders()] == [order.order_id]


def test_refusals_are_audited_as_refused_and_change_nothing(engine, planner):
    planner.receive_material("PET", 100, "kg")
    with pytest.raises(UnknownMaterial, match="known materials: PET"):
        planner.create_order("Cola", 10, "Gold", T0 + timedelta(days=1))
    with pytest.raises(InvalidOrderValue, match="quantity"):
        planner.create_order("Cola", 0, "PET", T0 + timedelta(days=1))
    order = planner.create_order("Cola", 1000, "PET", T0 + timedelta(days=1))
    online(engine)
    with pytest.raises(MaterialShortfall, match="short by 900"):
        planner.release_order(order.order_id)
    with pytest.raises(UnknownOrder):
        planner.cancel_order("ORD-20990101-0001", "x")
    results = [r[3] for r in trail(engine)]
    assert results == ["ok", "refused", "refused", "ok", "refused", "refused"]
    assert planner.order_detail(order.order_id).order.status is OrderStatus.PLANNED


def test_roles_may_do_only_what_the_matrix_allows(engine):
    online(engine)
    with pytest.raises(PermissionDenied):
        service(engine, "operator").create_order("Cola", 10, "PET", T0 + timedelta(days=1))
    with pytest.raises(PermissionDenied):
        service(engine, "production_planner").set_capacity("sf1", 500)
    assert service(engine, "mes_manager").set_capacity("sf1", 500).capacity == 500
    assert service(engine, "mes_manager").set_dispatch("sf1", False).in_dispatch is False
    assert [r[3] for r in trail(engine)] == ["denied", "denied", "ok", "ok"]
    assert service(engine, "viewer").list_shopfloors()[0].capacity == 500
