"""The OEE pane over a fake OeeSource: the current shift's figures on screen, below target marked by colour and
by a sign and words, the missing values in words, the trend of the last shifts, the losses, and the drill-down
from a shift to its stops and orders."""

from __future__ import annotations

from PySide6.QtCore import Qt

from hmi.domain.oee import NOT_OBSERVED, BigLoss, OeeTargets
from hmi.ui import theme
from hmi.ui.panes.oee import OeePane
from tests.oee_fake import ALL, NOW, NOW_US, figures, plant
from tests.orders_panes_support import OLAF, context, until


def shown(qtbot, qasync_loop, fake) -> OeePane:
    pane = OeePane(context(OLAF), fake, clock=lambda: NOW)
    qtbot.addWidget(pane)
    pane.resize(1500, 900)
    pane.show()
    until(qasync_loop, lambda: pane.loads >= 1, "the first read")
    return pane


def test_the_current_shift_for_all_lines_in_large_figures_with_targets(qtbot, qasync_loop):
    fake = plant()
    pane = shown(qtbot, qasync_loop, fake)
    figures = [c for c in fake.calls if c[0] == "figures"]
    assert figures[0][1][1:] == (NOW_US, "shift", None, True)  # all lines: the combined row
    t = pane.tiles
    assert t["availability"].value.text() == "▼ 86.1 %"  # target 90 %
    assert t["performance"].value.text() == "▼ 87.5 %"
    assert t["quality"].value.text() == "▼ 96.1 %"
    assert t["oee"].value.text() == "▼ 72.4 %"  # 0.8612 x 0.8750 x 0.9607
    assert t["oee"].target.text() == "target 85 %"
    assert t["oee"].property("state") == "below"
    assert t["oee"].state.text() == "below target by 12.6 points"
    assert pane.shift_label.text().startswith("Current shift: early")
    assert "All lines" in pane.shift_label.text()


def test_on_target_is_calm_and_below_target_is_amber_with_a_sign(qtbot, qasync_loop):
    fake = plant()
    fake.targets_ = OeeTargets(oee=0.70, availability=0.86, performance=0.95, quality=0.96)
    pane = shown(qtbot, qasync_loop, fake)
    t = pane.tiles
    assert (t["oee"].value.text(), t["oee"].property("state"), t["oee"].state.text()) == ("72.4 %", "ok", "on target")
    assert t["performance"].property("state") == "below" and t["performance"].value.text().startswith("▼")
    tile = t["performance"]
    assert tile.grab().toImage().pixelColor(3, tile.height() // 2).name().upper() == theme.WARNING
    assert t["oee"].grab().toImage().pixelColor(3, t["oee"].height() // 2).name().upper() != theme.WARNING
    m = pane.shifts
    row = m.row_of((ALL, fake.current.start_us))
    assert m.text(row, "performance") == "▼ 87.5 %" and m.text(row, "oee") == "72.4 %"


def test_missing_values_are_words_never_100_or_blank(qtbot, qasync_loop):
    fake = plant()
    pane = shown(qtbot, qasync_loop, fake)
    pane.line_box.setCurrentIndex(pane.line_box.findData("sf2"))
    until(qasync_loop, lambda: pane.tiles["oee"].value.text() == "no production data", "sf2's figures")
    t = pane.tiles
    assert t["availability"].value.text() == "90.0 %"
    assert t["performance"].value.text() == "no production data"
    assert t["quality"].value.text() == "no production data"
    assert t["oee"].property("state") == "missing"
    m = pane.shifts
    earlier = [r for r in m.rows() if r.start_us != fake.current.start_us]
    assert earlier and all(m.text(m.row_of((r.line, r.start_us)), "oee") == "not planned" for r in earlier)
    tip = m.data(m.index(m.row_of((earlier[0].line, earlier[0].start_us)), m.col["oee"]), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("no planned time;")
    assert "× no OEE (7: no planned time, no production data)" in pane.trend_legend.text()
    assert ("figures", (fake.shift_list[0].start_us, NOW_US, "shift", "sf2", False)) in fake.calls

    fake.current = None
    until(qasync_loop, lambda: pane.tiles["oee"].value.text() == "no shift now", "between shifts")
    assert pane.shift_label.text() == "no shift now: between shifts"


def test_a_line_not_yet_observed_says_so_in_words(qtbot, qasync_loop):
    """Before the HMI saw a line (a fresh install) its shifts say "no data yet": in the figures, the table and
    the trend's legend, never 100 % nor blank."""
    fake = plant()
    fake.rows = [r if r.line != "sf2" else figures("sf2", next(s for s in fake.shift_list if s.start_us == r.start_us),
                                                   r.label, None, None, None, NOT_OBSERVED) for r in fake.rows]
    pane = shown(qtbot, qasync_loop, fake)
    pane.line_box.setCurrentIndex(pane.line_box.findData("sf2"))
    until(qasync_loop, lambda: pane.tiles["oee"].value.text() == "no data yet", "sf2's figures")
    assert all(pane.tiles[f].value.text() == "no data yet" for f in ("availability", "performance", "quality"))
    m = pane.shifts
    assert m.rows() and all(m.text(m.row_of((r.line, r.start_us)), "availability") == "no data yet" for r in m.rows())
    assert "× no OEE (7: no data yet)" in pane.trend_legend.text()


def test_the_trend_of_the_last_shifts_and_the_six_big_losses(qtbot, qasync_loop):
    fake = plant()
    pane = shown(qtbot, qasync_loop, fake)
    assert pane.shifts.rowCount() == 7  # 12 asked, 7 in the calendar so far
    pane.trend_box.setCurrentIndex(0)
    until(qasync_loop, lambda: pane.shifts.rowCount() == 6, "the last 6 shifts")
    assert "below target (5 of 6)" in pane.trend_legend.text()  # 81, 66, 74, 70, 72.4 below 85; 88 not
    assert pane.drilled is not None and pane.drilled.start_us == fake.current.start_us
    assert pane.drill_title.text().startswith("Shift 2026-12-07 early")
    assert pane.loss_minutes == {BigLoss.BREAKDOWNS: 30.0, BigLoss.SETUP: 10.0, BigLoss.MINOR_STOPS: 5.0,
                                 BigLoss.REDUCED_SPEED: 20.0, BigLoss.PRODUCTION_REJECTS: 4.0,
                                 BigLoss.STARTUP_REJECTS: 1.5}  # fmt: skip


def test_picking_a_shift_shows_its_stops_and_orders(qtbot, qasync_loop):
    fake = plant()
    pane = shown(qtbot, qasync_loop, fake)
    current = fake.current
    assert {d.downtime_id for d in pane.stops.rows()} == {1, 2, 3, 4, 5}
    assert ("downtime", (current.start_us, NOW_US, None)) in fake.calls
    assert ("orders", (current.start_us, NOW_US, None)) in fake.calls
    assert pane.orders.rowCount() == 3
    assert pane.drill.tabText(1) == "Stops (5)" and pane.drill.tabText(2) == "Orders (3)"

    night = fake.shift_list[-2]  # the night shift before, 22:00-06:00
    row = pane.shifts_proxy.mapFromSource(pane.shifts.index(pane.shifts.row_of((ALL, night.start_us)), 0)).row()
    pane.shift_table.selectRow(row)
    until(qasync_loop, lambda: pane.drill_title.text().startswith("Shift 2026-12-06 night"), "the night's drill-down")
    assert ("downtime", (night.start_us, night.end_us, None)) in fake.calls
    assert {d.downtime_id for d in pane.stops.rows()} == {6}
    assert pane.stops.text(0, "reason") == "Planned maintenance"

    pane.line_box.setCurrentIndex(pane.line_box.findData("sf1"))
    until(qasync_loop, lambda: ("orders", (night.start_us, night.end_us, "sf1")) in fake.calls, "sf1's night")
    until(qasync_loop, lambda: pane.orders.rowCount() == 2, "sf1's orders")
    assert {pane.orders.text(i, "job") for i in range(2)} == {"JO-20261207-0001", "JO-20261206-0007"}


def test_without_a_source_the_pane_says_so(qtbot):
    pane = OeePane(context(OLAF))
    qtbot.addWidget(pane)
    pane.show()
    assert not pane.showing_content


def test_a_point_clicked_in_the_trend_drills_down_to_its_shift(qtbot, qasync_loop):
    from PySide6.QtCore import QPointF

    class Point:  # what pyqtgraph's sigClicked hands over: the spots, each with its position
        def __init__(self, x: float) -> None:
            self.x = x

        def pos(self) -> QPointF:
            return QPointF(self.x, 70.0)

    fake = plant()
    pane = shown(qtbot, qasync_loop, fake)
    pane._on_point([Point(5.0)])  # the sixth of seven shifts: 2026-12-06 night
    until(qasync_loop, lambda: pane.drill_title.text().startswith("Shift 2026-12-06 night"), "the night's drill-down")
    assert {d.downtime_id for d in pane.stops.rows()} == {6}
    picked = pane.shift_table.selectionModel().selectedRows()
    assert pane.shifts_proxy.data(picked[0]) == "2026-12-06 night"  # the table follows the trend
