"""The MES tables with real databases: ids, release, reports applied exactly once, reassignment, withdraw, outbox.

The dispatcher's side is fed Heartbeat/Report/Ack/Hello objects directly; each call runs in its own
write transaction as the dispatcher will run them.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from hmi.domain.orders import (
    MaterialShortfall, NoShopfloorAvailable, OrderStateError, OrderStatus, ReportRejected, ShareStatus, ShopfloorHealth,
    UnknownMaterial,
)  # fmt: skip
from hmi.domain.dispatch import judge_health
from hmi.domain.shopfloor import Ack, Activity, Heartbeat, Hello, Report, decode, iso
from hmi.store import dispatch as dispatch_store
from hmi.store import orders as store
from hmi.store.db import make_engine
from hmi.store.locking import write_connection
from hmi.store.migrate import upgrade
from hmi.store.schema import audit_log, material_movements, outbox

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """An engine on a migrated SQLite file or a fresh PostgreSQL database."""
    url = f"sqlite:///{tmp_path / 'mes.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def tx(engine, fn, *args, **kwargs):
    with write_connection(engine) as conn, conn.begin():
        return fn(conn, *args, **kwargs)


def heartbeat(engine, sid, capacity=1000.0, at=T0):
    tx(engine, store.record_heartbeat, Heartbeat(sid, capacity, Activity.IDLE, 0, iso(at), 1), at)


def new_order(engine, quantity=3000, material="PET", per_unit=1.0, priority=3, due=T0 + timedelta(days=1)):
    return tx(engine, store.insert_order, product="Cola 500ml", quantity=quantity, material=material, due=due,
              priority=priority, material_per_unit=per_unit, now=T0, user="pia")


def reports_for(share, shopfloor=None, step=250, defect_every=10):
    """The running-total reports a shopfloor sends while making a share: seq 1.. with the final last."""
    out, produced, defective, seq = [], 0, 0, 0
    while produced < share.quantity:
        produced = min(share.quantity, produced + step)
        defective = produced // defect_every
        seq += 1
        final = produced == share.quantity
        out.append(Report(f"{share.instruction_id}/{seq}", share.instruction_id, share.order_id,
                          shopfloor or share.shopfloor_id, seq, produced, defective, iso(T0 + timedelta(minutes=seq)),
                          final=final))  # fmt: skip
    return out


def material(engine, name="PET"):
    with engine.connect() as conn:
        return {m.name: m for m in store.list_materials(conn)}[name]


def test_two_days_give_their_own_sequences(db):
    with write_connection(db) as conn, conn.begin():
        a = store.next_ids(conn, T0.date())
        b = store.next_ids(conn, T0.date())
        c = store.next_ids(conn, (T0 + timedelta(days=1)).date())
    assert (a, b, c) == (("ORD-20261207-0001", "JO-20261207-0001"), ("ORD-20261207-0002", "JO-20261207-0002"),
                         ("ORD-20261208-0001", "JO-20261208-0001"))


def test_unknown_material_is_refused_naming_the_known_ones(db):
    tx(db, store.receive_material, "PET", 10, "kg", T0)
    with pytest.raises(UnknownMaterial, match="known materials: PET"):
        new_order(db, material="Gold")


def test_release_with_a_shortfall_changes_nothing(db):
    tx(db, store.receive_material, "PET", 1000, "kg", T0)
    heartbeat(db, "sf1")
    order = new_order(db, quantity=3000, per_unit=0.5)
    with pytest.raises(MaterialShortfall) as caught:
        tx(db, store.release, order.order_id, T0)
    assert (caught.value.needed, caught.value.available, caught.value.shortfall) == (1500, 1000, 500)
    with db.connect() as conn:
        assert store.get_order(conn, order.order_id, T0).status is OrderStatus.PLANNED
    assert material(db).reserved == 0


def test_release_without_a_shopfloor_is_refused(db):
    tx(db, store.receive_material, "PET", 5000, "kg", T0)
    order = new_order(db)
    with pytest.raises(NoShopfloorAvailable):
        tx(db, store.release, order.order_id, T0)
    tx(db, store.ensure_shopfloors, [("sf9", 100.0)])  # declared but never heard from: unknown, not online
    with pytest.raises(NoShopfloorAvailable):
        tx(db, store.release, order.order_id, T0)


def test_an_order_of_3000_over_three_shopfloors_completes_with_exact_totals_from_shuffled_duplicated_reports(db):
    tx(db, store.receive_material, "PET", 10_000, "kg", T0)
    for sid, cap in (("sf1", 600.0), ("sf2", 1200.0), ("sf3", 1200.0)):
        heartbeat(db, sid, cap)
    order = new_order(db, per_unit=2.0)
    released, split = tx(db, store.release, order.order_id, T0)
    assert split == [("sf1", 600), ("sf2", 1200), ("sf3", 1200)]
    assert released.status is OrderStatus.RELEASED and material(db).reserved == 6000
    assert released.expected_finish == T0 + timedelta(hours=1) and released.late_by_s == 0.0
    sent = tx(db, store.dispatch_queued, T0, 2)
    assert sorted(sent) == sorted(s.instruction_id for s in released.shares)
    due = tx(db, store.outbox_due, T0, 3.0)
    assert {decode(m.payload).quantity for m in due} == {600, 1200}
    for m in due:
        assert tx(db, store.apply_ack, Ack(m.msg_id, m.shopfloor_id), T0)
    assert tx(db, store.outbox_due, T0 + timedelta(seconds=10), 3.0) == []

    reports = [r for s in released.shares for r in reports_for(s)]
    stream = reports + random.Random(3).sample(reports, len(reports) // 2)
    random.Random(4).shuffle(stream)
    applied = [tx(db, store.apply_report, r, T0 + timedelta(hours=1)) for r in stream]
    assert applied.count(True) == len(reports)

    with db.connect() as conn:
        done = store.get_order(conn, order.order_id, T0)
    assert (done.status, done.produced, done.defective) == (OrderStatus.COMPLETED, 3000, 60 + 120 + 120)
    assert {s.status for s in done.shares} == {ShareStatus.DONE}
    pet = material(db)
    assert (pet.on_hand, pet.reserved) == (10_000 - 2 * 3300, 0)


def test_a_report_for_no_instruction_of_ours_changes_nothing(db):
    with pytest.raises(ReportRejected, match="names no instruction"):
        tx(db, store.apply_report, Report("X/sf1/1/1", "X/sf1/1", "ORD-x", "sf1", 1, 5, 0, iso(T0)), T0)
    tx(db, store.count_invalid, "sf1", "report names no instruction of ours", T0)
    tx(db, store.count_invalid, "sf1", "report names no instruction of ours", T0)
    tx(db, store.count_invalid, None, "topic is not shopfloor/<id>/<channel>", T0)
    with db.connect() as conn:
        assert store.invalid_counts(conn) == {"sf1": 2, "": 1, "*": 3}


def _running(db, order_id):
    with db.connect() as conn:
        return store.get_order(conn, order_id, T0)


def test_offline_shopfloor_remainder_is_reassigned_withdrawn_confirmed_and_the_total_is_exact(db):
    tx(db, store.receive_material, "PET", 10_000, "kg", T0)
    for sid in ("sf1", "sf2", "sf3"):
        heartbeat(db, sid, 1000.0)
    order = new_order(db)
    tx(db, store.release, order.order_id, T0)
    tx(db, store.dispatch_queued, T0, 2)
    shares = {s.shopfloor_id: s for s in _running(db, order.order_id).shares}
    first = reports_for(shares["sf1"])[:2]  # sf1 makes 500 of its 1000, then dies
    for r in first:
        tx(db, store.apply_report, r, T0)
    for sid in ("sf2", "sf3"):
        heartbeat(db, sid, 1000.0, T0 + timedelta(seconds=20))
    with db.connect() as conn:  # as the dispatcher judges: by the heartbeats' age, the link up since T0
        health = judge_health(dispatch_store.last_heartbeats(conn), T0 + timedelta(seconds=21), T0, 5, 10)
    assert health == {"sf1": ShopfloorHealth.OFFLINE, "sf2": ShopfloorHealth.ONLINE, "sf3": ShopfloorHealth.ONLINE}
    assert ("sf1", ShopfloorHealth.ONLINE) in tx(db, dispatch_store.save_health, health)
    moves = tx(db, store.reassign_offline, "sf1", "sf1 offline: no heartbeat for 10 s", T0 + timedelta(seconds=21))
    assert [(m.order_id, m.from_shopfloor, m.quantity, m.to) for m in moves] == [
        (order.order_id, "sf1", 500, (("sf2", 250), ("sf3", 250)))]
    with db.connect() as conn:
        audited = conn.execute(select(audit_log.c.user_name, audit_log.c.action, audit_log.c.target)).all()
        withdraws = conn.execute(select(outbox.c.msg_id).where(outbox.c.kind == "withdraw")).scalars().all()
        detail = store.order_detail(conn, order.order_id, T0)
    assert audited == [("system", "reassign", f"order {order.order_id}")]
    assert withdraws == [f"W/{shares['sf1'].instruction_id}"]
    assert detail.reassignments[0].reason == "sf1 offline: no heartbeat for 10 s"

    # sf1 comes back: its hello gets the withdraw again; it confirms with its final withdrawn report.
    written = tx(db, store.answer_hello, Hello("H-sf1-1", "sf1", (shares["sf1"].instruction_id,), iso(T0)), T0)
    assert written == [f"W/{shares['sf1'].instruction_id}"]
    final = Report(f"{shares['sf1'].instruction_id}/3", shares["sf1"].instruction_id, order.order_id, "sf1", 3, 500,
                   50, iso(T0), final=True, withdrawn=True)  # fmt: skip
    assert tx(db, store.apply_report, final, T0)
    with db.connect() as conn:
        pending = [m.msg_id for m in store.outbox_due(conn, T0 + timedelta(hours=1), 3.0)]
    assert f"W/{shares['sf1'].instruction_id}" not in pending

    tx(db, store.dispatch_queued, T0, 2)
    for s in _running(db, order.order_id).shares:
        if s.status in (ShareStatus.SENT, ShareStatus.RUNNING):
            for r in reports_for(s):
                tx(db, store.apply_report, r, T0 + timedelta(hours=1))
    done = _running(db, order.order_id)
    assert (done.status, done.produced) == (OrderStatus.COMPLETED, 3000)
    assert sorted((s.shopfloor_id, s.status.value, s.produced) for s in done.shares) == [
        ("sf1", "withdrawn", 500), ("sf2", "done", 250), ("sf2", "done", 1000), ("sf3", "done", 250),
        ("sf3", "done", 1000)]
    assert material(db).reserved == 0


def test_hello_resumes_what_is_still_its_own_and_resends_what_it_lost(db):
    tx(db, store.receive_material, "PET", 10_000, "kg", T0)
    heartbeat(db, "sf1")
    a = new_order(db, quantity=100)
    b = new_order(db, quantity=100)
    for o in (a, b):
        tx(db, store.release, o.order_id, T0)
    tx(db, store.dispatch_queued, T0, 2)
    ia, ib = (f"{o.job_number}/sf1/1" for o in (a, b))
    for m in tx(db, store.outbox_due, T0, 3):
        tx(db, store.apply_ack, Ack(m.msg_id, "sf1"), T0)
    written = tx(db, store.answer_hello, Hello("H-sf1-2", "sf1", (ia, "JO-1/sf1/9"), iso(T0)), T0)
    assert written[0].startswith(f"R/{ia}/") and written[1].startswith("W/JO-1/sf1/9/") and written[2] == ib
    again = tx(db, store.answer_hello, Hello("H-sf1-2", "sf1", (ia, "JO-1/sf1/9"), iso(T0)), T0)
    assert again == written  # a redelivered hello writes nothing new
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar() == 4


def test_release_inserts_by_priority_and_move_changes_the_queue(db):
    tx(db, store.receive_material, "PET", 100_000, "kg", T0)
    heartbeat(db, "sf1", 1000.0)
    late = new_order(db, quantity=1000, priority=3)
    urgent = new_order(db, quantity=1000, priority=1, due=T0 + timedelta(hours=1, minutes=30))
    tx(db, store.release, late.order_id, T0)
    tx(db, store.release, urgent.order_id, T0)
    with db.connect() as conn:
        queue = [o.order_id for o in store.load_orders(conn, T0, {OrderStatus.RELEASED})]
        lanes = store.timeline(conn, T0)
    assert queue == [urgent.order_id, late.order_id]
    assert [s.order_id for s in lanes["sf1"]] == [urgent.order_id, late.order_id]
    old, after = tx(db, store.move, late.order_id, -1, T0)
    assert old == 2 and after.queue_position < _running(db, urgent.order_id).queue_position
    again = _running(db, urgent.order_id)
    assert again.expected_finish == T0 + timedelta(hours=2) and again.late_by_s == 1800.0


def test_cancel_frees_the_reservation_and_a_cancelled_order_cannot_be_released(db):
    tx(db, store.receive_material, "PET", 5000, "kg", T0)
    heartbeat(db, "sf1")
    order = new_order(db)
    tx(db, store.release, order.order_id, T0)
    tx(db, store.dispatch_queued, T0, 2)
    cancelled = tx(db, store.cancel, order.order_id, "customer withdrew", T0)
    assert cancelled.status is OrderStatus.CANCELLED and material(db).reserved == 0
    assert {s.status for s in cancelled.shares} == {ShareStatus.WITHDRAWING}
    with pytest.raises(OrderStateError, match="is cancelled; only planned orders can be released"):
        tx(db, store.release, order.order_id, T0)
    with db.connect() as conn:
        kinds = conn.execute(select(material_movements.c.kind).order_by(material_movements.c.id)).scalars().all()
    assert kinds == ["receive", "reserve", "release"]


def test_production_report_counts_increments_once_by_shopfloor_order_and_hour(db):
    tx(db, store.receive_material, "PET", 10_000, "kg", T0)
    heartbeat(db, "sf1")
    order = new_order(db, quantity=1000)
    tx(db, store.release, order.order_id, T0)
    tx(db, store.dispatch_queued, T0, 2)
    share = _running(db, order.order_id).shares[0]
    for r in reports_for(share) * 2:
        tx(db, store.apply_report, r, T0)
    with db.connect() as conn:
        rows = store.production_report(conn, T0, T0 + timedelta(hours=2), "shopfloor", T0 + timedelta(hours=2))
        hours = store.production_report(conn, T0, T0 + timedelta(hours=2), "hour", T0 + timedelta(hours=2))
        half = store.production_report(conn, T0 + timedelta(minutes=2, seconds=30), T0 + timedelta(hours=2), "order",
                                       T0 + timedelta(hours=2))  # fmt: skip
    assert [(r.key, r.planned, r.produced, r.defective) for r in rows] == [("sf1", 1000, 1000, 100)]
    assert [(r.key, r.produced) for r in hours] == [("2026-12-07T10:00:00.000Z", 1000), ("2026-12-07T11:00:00.000Z", 0)]
    assert [(r.key, r.planned, r.produced) for r in half] == [(order.order_id, 1000, 500)]
