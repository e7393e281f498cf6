"""The Orders and Production panes on the real OrderService and a migrated SQLite: an order created in the
New order dialog is seen through planned, refused for lack of material, released over two shopfloors and,
with reports applied as the dispatcher applies them (hmi.store.orders.apply_report, no MQTT here), in
progress and completed, in the table and the detail; material received in the GUI is on hand for it."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from hmi.config import load_config
from hmi.domain.session import Session, SessionUser
from hmi.domain.shopfloor import Activity, Heartbeat, Report, iso
from hmi.domain.tag_bus import TagBus
from hmi.services.commands import CommandService
from hmi.store import orders as store
from hmi.store.locking import write_connection
from hmi.store.schema import audit_log
from hmi.ui.context import AppContext
from hmi.ui.order_dialogs import NewOrderDialog, ReceiveMaterialDialog
from hmi.ui.panes.orders import OrdersPane
from hmi.ui.panes.production import ProductionPane

PIA = SessionUser("pia", "production_planner")
OLAF = SessionUser("olaf", "operator")


def real_context(engine, user: SessionUser) -> AppContext:
    """A context on the test's database with ``user`` logged in: the panes build their ServiceOrdersSource."""
    session = Session("ws-test")
    session.login(user)
    return AppContext(load_config().plant(), TagBus(), "sqlite://", session=session,
                      commands=CommandService(engine, session.actor, "ws-test"))  # fmt: skip


def heartbeat(engine, sid: str, capacity: float) -> None:
    """A shopfloor heard from now (what the dispatcher records from its heartbeat topic)."""
    now = datetime.now(timezone.utc)
    with write_connection(engine) as conn, conn.begin():
        store.record_heartbeat(conn, Heartbeat(sid, capacity, Activity.IDLE, 0, iso(now), 1), now)


def report(engine, instruction_id: str, order_id: str, seq: int, produced: int, defective: int,
           final: bool = False) -> None:  # fmt: skip
    """A shopfloor's report applied as the dispatcher applies it."""
    now = datetime.now(timezone.utc)
    sid = instruction_id.split("/")[1]
    r = Report(f"{instruction_id}/{seq}", instruction_id, order_id, sid, seq, produced, defective, iso(now), final)
    with write_connection(engine) as conn, conn.begin():
        assert store.apply_report(conn, r, now)


async def eventually(condition, what: str, timeout: float = 15.0) -> None:
    """Wait on the running loop until ``condition()`` holds (a bound against a hang, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.02)


@pytest.fixture
def pane(qtbot, qasync_loop, engine) -> OrdersPane:
    heartbeat(engine, "sf1", 600.0)
    heartbeat(engine, "sf2", 400.0)
    p = OrdersPane(real_context(engine, PIA))
    qtbot.addWidget(p)
    p.resize(1600, 600)
    p.show()
    qasync_loop.run_until_complete(eventually(lambda: p.loads >= 1, "the first read"))
    return p


async def receive(pane: OrdersPane, name: str, quantity: float, unit: str) -> None:
    pane.materials.receive_button.click()
    await eventually(lambda: isinstance(pane.dialog, ReceiveMaterialDialog), "the Receive material dialog")
    d = pane.dialog
    d.name.setCurrentText(name)
    d.quantity.setValue(quantity)
    if not d.unit.isReadOnly():
        d.unit.setText(unit)
    d.ok_button.click()
    await eventually(lambda: pane.dialog is None, "the Receive dialog closed")


def material_row(pane: OrdersPane, name: str) -> dict[str, str]:
    m = pane.materials.model
    row = m.row_of(name)
    return {c.key: m.text(row, c.key) for c in m.columns}


def test_an_order_from_the_dialog_is_seen_through_to_completed(qtbot, qasync_loop, engine, pane):
    qasync_loop.run_until_complete(order_to_completed(engine, pane))


async def order_to_completed(engine, pane: OrdersPane) -> None:
    await receive(pane, "PET", 300, "kg")
    assert pane.message.text() == "✔ Received 300 kg of PET: 300 kg available"

    pane.buttons["new"].click()
    await eventually(lambda: isinstance(pane.dialog, NewOrderDialog), "the New order dialog")
    dialog = pane.dialog
    assert dialog.material.currentText() == "PET — 300 kg available"
    dialog.product.setText("Cola 500ml")
    dialog.quantity.setValue(1000)
    dialog.per_unit.setValue(0.5)
    assert dialog.material_note.text() == ("▲ Release reserves 500 kg of PET; 300 kg available now: short by 200, "
                                           "so release will be refused")  # fmt: skip
    dialog.ok_button.click()
    await eventually(lambda: pane.dialog is None, "the dialog closed")
    await eventually(lambda: pane.selected() is not None, "the new order selected")
    order = pane.selected()
    assert order.job_number.startswith("JO-") and order.material_per_unit == 0.5
    assert pane.row_texts(order.order_id)["status"] == "planned"
    assert pane.message.text() == f"✔ Created {order.job_number}: 1,000 × Cola 500ml (planned)"
    assert material_row(pane, "PET")["state"] == "▲ short by 200 kg"
    assert pane.side.tabText(1) == "▲ Materials (1 short)"

    # not enough material: the service's refusal, in its words, and nothing changed
    pane.buttons["release"].click()
    await eventually(lambda: "Not done" in pane.message.text(), "the refusal")
    assert pane.message.text() == (f"▲ Not done: cannot release {order.order_id}: it needs 500 kg of PET, 300 available "
                                   "(short by 200); receive material first (hmi material receive)")  # fmt: skip
    assert pane.row_texts(order.order_id)["status"] == "planned"

    await receive(pane, "PET", 250, "kg")
    # the materials are read again after the dialog closed: under load that read can come a poll later
    await eventually(lambda: material_row(pane, "PET")["state"] == "ok", "PET no longer short")
    assert pane.side.tabText(1) == "Materials"
    pane.select(order.order_id)
    pane.buttons["release"].click()
    await eventually(lambda: pane.row_texts(order.order_id)["status"] == "released", "released on screen")
    await eventually(lambda: pane.detail.shares.rowCount() == 2, "the shares in the detail")
    d = pane.detail
    shares = {d.shares.text(r, "shopfloor"): (d.shares.text(r, "quantity"), d.shares.text(r, "status"))
              for r in range(d.shares.rowCount())}  # fmt: skip
    assert shares == {"sf1": ("600", "queued"), "sf2": ("400", "queued")}  # by capacity, 600 : 400
    await eventually(lambda: material_row(pane, "PET")["reserved"] == "500 kg", "the reservation on screen")
    assert material_row(pane, "PET")["available"] == "50 kg"

    sf1, sf2 = (f"{order.job_number}/{sid}/1" for sid in ("sf1", "sf2"))
    report(engine, sf1, order.order_id, 1, 250, 10)
    await eventually(lambda: pane.row_texts(order.order_id)["status"] == "in progress", "in progress on screen")
    await eventually(lambda: d.reports.rowCount() == 1, "the report in the detail")
    assert pane.row_texts(order.order_id)["produced"] == "250  25 %"
    assert d.title.text().splitlines()[1].startswith("250 of 1,000 made, 10 rejected · in progress")
    assert d.tabs.tabText(1) == "Reports (1)"

    report(engine, sf1, order.order_id, 2, 600, 12, final=True)
    report(engine, sf2, order.order_id, 1, 400, 8, final=True)
    await eventually(lambda: pane.row_texts(order.order_id).get("status") == "completed", "completed on screen")
    pane.set_filter("every order")
    pane.select(order.order_id)
    await eventually(lambda: d.reports.rowCount() == 3, "every report in the detail")
    row = pane.row_texts(order.order_id)
    assert (row["produced"], row["late"]) == ("1,000  100 %", "")
    assert d.title.text().splitlines()[1].startswith("1,000 of 1,000 made, 20 rejected · completed")
    assert sorted(d.shares.text(r, "status") for r in range(2)) == ["done", "done"]
    assert all(d.shares.text(r, "when").startswith("done ") for r in range(2))
    # consumed (1,000 good + 20 rejected) x 0.5 kg; the reservation is gone with the order
    await eventually(lambda: material_row(pane, "PET")["on_hand"] == "40 kg", "the consumption on screen")
    assert material_row(pane, "PET")["reserved"] == "0 kg"
    with engine.connect() as conn:
        acts = conn.execute(select(audit_log.c.user_name, audit_log.c.action, audit_log.c.result)
                            .order_by(audit_log.c.seq)).all()  # fmt: skip
    assert [tuple(a) for a in acts] == [("pia", "release_order", "ok"), ("pia", "create_order", "ok"),
                                        ("pia", "release_order", "refused"), ("pia", "release_order", "ok"),
                                        ("pia", "release_order", "ok")]  # fmt: skip


def test_an_operator_sees_the_materials_but_cannot_receive(qtbot, qasync_loop, engine):
    from hmi.services.orders import OrderService

    OrderService(CommandService(engine, lambda: PIA, "ws-test")).receive_material("PET", 100, "kg")
    pane = OrdersPane(real_context(engine, OLAF))
    qtbot.addWidget(pane)
    pane.show()
    qasync_loop.run_until_complete(eventually(lambda: pane.loads >= 1, "the first read"))
    assert material_row(pane, "PET")["available"] == "100 kg"
    assert not pane.materials.receive_button.isEnabled()
    assert pane.materials.receive_button.toolTip().endswith("may receive material (you are olaf, operator)")


def test_production_by_order_names_the_job_and_by_hour_counts_the_reports(qtbot, qasync_loop, engine):
    from hmi.services.orders import OrderService

    heartbeat(engine, "sf1", 500.0)
    planner = OrderService(CommandService(engine, lambda: PIA, "ws-test"))
    planner.receive_material("PET", 1000, "kg")
    o = planner.create_order("Cola", 300, "PET", datetime.now(timezone.utc) + timedelta(hours=4))
    planner.release_order(o.order_id)
    report(engine, f"{o.job_number}/sf1/1", o.order_id, 1, 120, 6)
    pane = ProductionPane(real_context(engine, OLAF))
    qtbot.addWidget(pane)
    pane.resize(900, 700)
    pane.show()
    qasync_loop.run_until_complete(by_shopfloor_order_and_hour(pane, o))


async def by_shopfloor_order_and_hour(pane: ProductionPane, o) -> None:
    await eventually(lambda: pane.model.row_of("sf1") is not None, "the rows by shopfloor")
    assert pane.model.text(pane.model.row_of("sf1"), "produced") == "120"
    pane.by_box.setCurrentIndex(pane.by_box.findData("order"))
    await eventually(lambda: pane.model.row_of(o.order_id) is not None, "the rows by order")
    assert pane.model.text(pane.model.row_of(o.order_id), "key") == o.job_number
    assert pane.model.text(pane.model.row_of(o.order_id), "planned") == "300"
    pane.by_box.setCurrentIndex(pane.by_box.findData("hour"))
    await eventually(lambda: pane.model.columns[0].header == "Hour" and pane.model.rowCount() > 0, "by hour")
    made = [pane.model.record(r) for r in range(pane.model.rowCount())]
    assert sum(r.produced for r in made) == 120 and sum(r.defective for r in made) == 6
    assert {r.planned for r in made} == {500}  # the capacity in dispatch, per hour
