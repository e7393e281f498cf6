"""The Downtime pane over a fake OeeSource: the stops of the range in words, the Pareto table's total is the
range's downtime, a supervisor enters a missing reason (the command is called and the table refreshed)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from hmi.domain.session import SessionUser
from hmi.ui.panes.downtime import DowntimePane
from tests.oee_fake import MIN, NOW, NOW_US, US, plant
from tests.orders_panes_support import OLAF, context, until

SAM = SessionUser("sam", "shift_supervisor")


def shown(qtbot, qasync_loop, fake, user=SAM) -> DowntimePane:
    pane = DowntimePane(context(user), fake, clock=lambda: NOW)
    qtbot.addWidget(pane)
    pane.resize(1500, 800)
    pane.show()
    until(qasync_loop, lambda: pane.loads >= 1, "the first read")
    return pane


def test_the_stops_of_the_last_24_h_in_words(qtbot, qasync_loop):
    fake = plant()
    pane = shown(qtbot, qasync_loop, fake)
    assert ("downtime", (NOW_US - 24 * 60 * MIN, NOW_US, None)) in fake.calls
    m = pane.stops
    assert m.rowCount() == 7
    four = m.row_of(4)
    assert m.text(four, "reason") == "— enter reason"
    assert m.text(four, "duration") == "15 min"
    assert (m.text(four, "line"), m.text(four, "origin"), m.text(four, "planned"), m.text(four, "call")) == (
        "sf1", "machine", "unplanned", "104")
    assert m.text(m.row_of(1), "reason") == "Mechanical failure"
    assert m.text(m.row_of(3), "micro") == "micro" and m.text(m.row_of(3), "call") == "—"
    assert m.text(m.row_of(5), "end") == "ongoing" and m.text(m.row_of(5), "duration") == "30 min"
    assert m.text(m.row_of(6), "planned") == "planned"
    assert "2 without a reason" in pane.total.text()


def test_the_pareto_table_total_is_the_sum_of_the_stops(qtbot, qasync_loop):
    fake = plant()
    pane = shown(qtbot, qasync_loop, fake)
    start, end = NOW_US - 24 * 60 * MIN, NOW_US
    stops = sum(min(s.end_us or NOW_US, end) - max(s.start_us, start) for s in fake.stops) / US
    rows = pane.pareto.rows()
    assert sum(r.seconds for r in rows) == stops == pane.total_s
    assert [pane.pareto.text(i, "key") for i in range(len(rows))][0] == "Mechanical failure"  # 30 + 60 min
    assert pane.pareto.text(0, "cumulative") == f"{rows[0].cumulative * 100:.1f} %"
    assert f"({stops / 60:,.1f} min) in 7 stops" in pane.total.text()
    pane.by_box.setCurrentIndex(pane.by_box.findData("line"))
    until(qasync_loop, lambda: pane.pareto.row_of("sf1") is not None, "the Pareto by line")
    assert sum(r.seconds for r in pane.pareto.rows()) == stops
    assert pane.pareto.headerData(0, Qt.Orientation.Horizontal) == "Line"


def test_a_supervisor_enters_a_missing_reason_and_the_table_refreshes(qtbot, qasync_loop):
    fake = plant()
    pane = shown(qtbot, qasync_loop, fake)
    assert not pane.reason_button.isEnabled()  # nothing selected yet
    pane.select(4)
    assert pane.reason_button.isEnabled()
    pane.reason_button.click()
    until(qasync_loop, lambda: pane.dialog is not None, "the reason dialog")
    d = pane.dialog
    assert [d.reason_box.itemData(i) for i in range(d.reason_box.count())] == ["mechanical", "changeover",
                                                                               "planned_maintenance"]  # fmt: skip
    d.reason_box.setCurrentIndex(1)
    d.note_edit.setText("die change")
    loads = pane.loads
    d.ok_button.click()
    until(qasync_loop, lambda: pane.loads > loads and pane.stops.text(pane.stops.row_of(4), "reason")
          == "Setup / changeover", "the table with the reason")  # fmt: skip
    assert ("set_downtime_reason", (4, "changeover", "die change")) in fake.calls
    assert pane.message.text().startswith("✔ stop 4 on sf1: Setup / changeover")
    assert "1 without a reason" in pane.total.text()


def test_an_operator_may_not_enter_a_reason_and_a_refusal_is_said(qtbot, qasync_loop):
    fake = plant()
    pane = shown(qtbot, qasync_loop, fake, OLAF)
    pane.select(4)
    assert not pane.reason_button.isEnabled()
    assert "shift supervisors" in pane.reason_button.toolTip()
    pane.ctx.session.login(SAM)
    pane.ctx.session_changed.emit()
    pane.select(4)
    assert pane.reason_button.isEnabled()
    fake.refuse = "no downtime record 4"
    pane.reason_button.click()
    until(qasync_loop, lambda: pane.dialog is not None, "the reason dialog")
    pane.dialog.ok_button.click()
    until(qasync_loop, lambda: "Not done" in pane.message.text(), "the refusal")
    assert "no downtime record 4" in pane.message.text()


def test_a_cancelled_dialog_gives_no_command(qtbot, qasync_loop):
    fake = plant()
    pane = shown(qtbot, qasync_loop, fake)
    pane.select(4)
    pane.reason_button.click()
    until(qasync_loop, lambda: pane.dialog is not None, "the reason dialog")
    pane.dialog.reject()
    until(qasync_loop, lambda: pane.dialog is None, "the dialog closed")
    assert not any(c[0] == "set_downtime_reason" for c in fake.calls)


def test_without_a_source_the_pane_says_so(qtbot):
    pane = DowntimePane(context(SAM))
    qtbot.addWidget(pane)
    pane.show()
    assert not pane.showing_content
    assert "no database" in pane.refusal.text()


def test_a_custom_range_that_ends_before_it_starts_is_said_not_read(qtbot, qasync_loop):
    fake = plant()
    pane = shown(qtbot, qasync_loop, fake)
    reads = len([c for c in fake.calls if c[0] == "downtime"])
    end = NOW.timestamp()
    pane.picker.set_custom(end, end - 3600)
    pane.picker.changed.emit()
    until(qasync_loop, lambda: "must end after it starts" in pane.message.text(), "the refusal in words")
    assert len([c for c in fake.calls if c[0] == "downtime"]) == reads
    pane.picker.set_custom(end - 2 * 3600, end)
    pane.picker.changed.emit()
    until(qasync_loop, lambda: ("downtime", (NOW_US - 120 * MIN, NOW_US, None)) in fake.calls, "the custom range")
    until(qasync_loop, lambda: pane.stops.rowCount() == 3, "the stops of the last two hours")  # 3, 4 and 5
    assert pane.message.text() == ""
