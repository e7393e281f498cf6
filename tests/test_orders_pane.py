"""The Orders pane over a fake OrdersSource (unit tests of the pane): the rows as shown, the New order dialog's
checks, release, cancel, move, permissions. The pane on the real service: tests/test_orders_pane_service.py."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from PySide6.QtCore import QDateTime, Qt

from hmi.domain.orders import OrderStatus
from hmi.ui.order_dialogs import NewOrderDialog
from hmi.ui.pane_registry import PANES
from hmi.ui.panes import load_panes
from hmi.ui.panes.orders import OrdersPane
from tests.orders_fake import NOW, plant
from tests.orders_panes_support import OLAF, PIA, context, until


@pytest.fixture
def fake():
    return plant()


def make(qtbot, loop, fake, user=PIA) -> OrdersPane:
    pane = OrdersPane(context(user), fake, clock=lambda: NOW)
    qtbot.addWidget(pane)
    pane.resize(1600, 600)
    pane.show()
    until(loop, lambda: pane.loads >= 1, "the first read")
    return pane


def test_registered_tabbed_with_the_alarm_list():
    load_panes()
    spec = PANES["orders"]
    assert (spec.area, spec.tab_with) == (Qt.DockWidgetArea.BottomDockWidgetArea, "alarms")
    assert PANES["planning"].tab_with == "alarms"


def test_rows_show_progress_status_and_lateness(qtbot, qasync_loop, fake):
    pane = make(qtbot, qasync_loop, fake)
    late = pane.row_texts("ORD-20240506-0002")
    assert late["job"] == "JO-20240506-0002"
    assert late["produced"] == "300  25 %"
    assert late["status"] == "in progress"
    assert late["late"] == "◷ +2 h 10 min"
    on_time = pane.row_texts("ORD-20240506-0001")
    assert (on_time["quantity"], on_time["late"]) == ("3,000", "")
    # open orders by default; the short and the completed one under 'every order', the short one with its shape
    assert {o.order_id for o in pane.visible_orders()} == {f"ORD-20240506-000{n}" for n in (1, 2, 3, 4)}
    pane.set_filter("every order")
    assert len(pane.visible_orders()) == 6
    assert pane.row_texts("ORD-20240506-0006")["status"] == "▲ short"
    assert pane.count.text() == "6 shown of 6 · 1 late"


def test_detail_shows_shares_reports_and_the_reassignment_with_its_reason(qtbot, qasync_loop, fake):
    pane = make(qtbot, qasync_loop, fake)
    pane.select("ORD-20240506-0001")
    until(qasync_loop, lambda: pane.detail.order_id == "ORD-20240506-0001", "the detail")
    d = pane.detail
    assert [d.shares.text(r, "shopfloor") for r in range(d.shares.rowCount())] == ["sf1", "sf2", "sf3", "sf2"]
    assert d.shares.text(2, "status") == "▲ withdrawn"
    assert d.reports.rowCount() == 3
    assert d.moves.text(0, "reason") == "sf3 offline: no heartbeat for 10 s"
    assert d.moves.text(0, "to") == "sf2 600"
    assert d.tabs.tabText(2) == "▲ Reassignments (1)"
    assert d.title.text().splitlines()[1].startswith("1,240 of 3,000 made, 31 rejected · in progress")
    hhmm = lambda h: (NOW + timedelta(hours=h)).astimezone().strftime("%H:%M")  # noqa: E731
    assert d.shares.text(0, "when") == f"{hhmm(-2)} → {hhmm(2)}"  # running: expected start → finish
    assert d.shares.text(2, "when") == "—"  # withdrawn, no finish recorded: it will not run


def open_new(pane: OrdersPane, loop) -> NewOrderDialog:
    pane.buttons["new"].click()
    until(loop, lambda: isinstance(pane.dialog, NewOrderDialog), "the New order dialog")
    return pane.dialog


def test_create_dialog_validates_then_creates_with_the_values_entered(qtbot, qasync_loop, fake):
    pane = make(qtbot, qasync_loop, fake)
    dialog = open_new(pane, qasync_loop)
    dialog.ok_button.click()
    assert dialog.error.text() == "✖ Product: type what to make"
    dialog.product.setText("flange-E")
    dialog.ok_button.click()
    assert dialog.error.text() == "✖ Quantity: give at least 1 good unit"
    dialog.quantity.setValue(2500)
    dialog.material.setCurrentIndex(dialog.material.findData("alu"))
    dialog.priority.setCurrentIndex(dialog.priority.findData(2))
    dialog.due.setDateTime(QDateTime.fromSecsSinceEpoch(int((NOW - timedelta(hours=1)).timestamp())))
    dialog.ok_button.click()
    assert dialog.error.text() == "✖ Due: choose a time in the future"
    assert not [c for c in fake.calls if c[0] == "create_order"]
    due = NOW + timedelta(hours=20)
    dialog.due.setDateTime(QDateTime.fromSecsSinceEpoch(int(due.timestamp())))
    dialog.ok_button.click()
    until(qasync_loop, lambda: pane.dialog is None, "the dialog closed")
    assert fake.calls[-1] == ("create_order", ("flange-E", 2500, "alu", due.astimezone(timezone.utc), 2, 1.0))
    until(qasync_loop, lambda: pane.selected_id() == "ORD-20240506-0007", "the new order selected")
    assert pane.row_texts("ORD-20240506-0007")["status"] == "planned"
    assert pane.message.text() == "✔ Created JO-20240506-0007: 2,500 × flange-E (planned)"


def test_a_refusal_of_the_service_stays_in_the_open_dialog(qtbot, qasync_loop, fake):
    pane = make(qtbot, qasync_loop, fake)
    dialog = open_new(pane, qasync_loop)
    dialog.product.setText("flange-E")
    dialog.quantity.setValue(10)
    fake.refuse = "unknown material 'steel': known are alu"
    dialog.ok_button.click()
    until(qasync_loop, lambda: dialog.error.text().startswith("✖ Not created"), "the refusal shown")
    assert dialog.error.text() == "✖ Not created: unknown material 'steel': known are alu"
    assert dialog.isVisible() and pane.dialog is dialog
    assert dialog.product.text() == "flange-E"  # the input is kept
    dialog.ok_button.click()  # the fake accepts the second time
    until(qasync_loop, lambda: pane.dialog is None, "the dialog closed")
    assert len([c for c in fake.calls if c[0] == "create_order"]) == 2


def test_release_cancel_and_move_are_disabled_without_permission(qtbot, qasync_loop, fake):
    pane = make(qtbot, qasync_loop, fake, user=OLAF)
    pane.select("ORD-20240506-0004")  # planned: release would apply
    for key in ("new", "release", "cancel", "up", "down"):
        assert not pane.buttons[key].isEnabled(), key
    assert "(you are olaf, operator)" in pane.buttons["release"].toolTip()
    assert "production planners" in pane.buttons["release"].toolTip()


def test_release_and_cancel_with_a_reason_as_the_planner(qtbot, qasync_loop, fake):
    pane = make(qtbot, qasync_loop, fake)
    pane.select("ORD-20240506-0004")
    assert pane.buttons["release"].isEnabled()
    pane.buttons["release"].click()
    until(qasync_loop, lambda: pane.row_texts("ORD-20240506-0004")["status"] == "released", "released on screen")
    assert fake.calls[-1] == ("release_order", ("ORD-20240506-0004",))
    assert not pane.buttons["release"].isEnabled()  # a released order is not released twice
    pane.buttons["cancel"].click()
    until(qasync_loop, lambda: pane.dialog is not None, "the reason dialog")
    pane.dialog.ok_button.click()
    assert pane.dialog.error.text() == "✖ give a reason"
    pane.dialog.comment_edit.setText("customer withdrew")
    pane.dialog.ok_button.click()
    until(qasync_loop, lambda: fake.calls[-1][0] == "cancel_order", "cancelled")
    assert fake.calls[-1] == ("cancel_order", ("ORD-20240506-0004", "customer withdrew"))
    until(qasync_loop, lambda: pane.message.text() == "✔ Cancelled JO-20240506-0004", "the outcome")


def test_move_up_sends_a_negative_step(qtbot, qasync_loop, fake):
    pane = make(qtbot, qasync_loop, fake)
    pane.select("ORD-20240506-0003")
    pane.buttons["up"].click()
    until(qasync_loop, lambda: fake.calls and fake.calls[-1][0] == "move_order", "moved")
    assert fake.calls[-1] == ("move_order", ("ORD-20240506-0003", -1))


def test_reads_only_while_on_screen(qtbot, qasync_loop, fake):
    pane = make(qtbot, qasync_loop, fake)
    assert pane._poll.isActive()
    pane.hide()
    assert not pane._poll.isActive()
    pane.show()
    assert pane._poll.isActive()
