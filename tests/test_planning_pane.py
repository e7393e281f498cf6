"""The Planning pane over a fake OrdersSource: a row per shopfloor, a bar per planned share, late ones marked."""

from __future__ import annotations

from PySide6.QtCore import QPointF

from hmi.ui.panes.planning import PlanningPane
from tests.orders_fake import NOW, plant
from tests.orders_panes_support import OLAF, context, until


def test_rows_bars_and_the_late_share_marked(qtbot, qasync_loop):
    fake = plant()
    pane = PlanningPane(context(OLAF), fake, clock=lambda: NOW)
    qtbot.addWidget(pane)
    pane.resize(1600, 420)
    pane.show()
    until(qasync_loop, lambda: pane.loads >= 1, "the first read")
    chart = pane.chart
    assert chart.rows == ["sf1", "sf2", "sf3", "sf4"]
    late = [b for b in chart.bars if b.late]
    assert [(b.job, b.share.shopfloor_id) for b in late] == [("JO-20240506-0002", "sf1"), ("JO-20240506-0002", "sf2")]
    assert late[0].label() == "◷ late · JO-20240506-0002 · 700"
    on_time = next(b for b in chart.bars if b.job == "JO-20240506-0001" and b.share.shopfloor_id == "sf1")
    assert on_time.label() == "JO-20240506-0001 · 1,500"
    assert pane.late.text() == "◷ 1 late: JO-20240506-0002"
    assert "1 not planned yet" not in pane.summary.text()  # the queued share without times is not drawn
    tip = chart.tooltip(chart.bar_at(chart.bar_rect(late[0]).center()))
    assert "LATE: the order is expected 2 h 10 min after its due time" in tip
    assert chart.bar_at(QPointF(5, 5)) is None


def test_nothing_late_says_so(qtbot, qasync_loop):
    fake = plant()
    fake.orders = [o for o in fake.orders if not o.late_by_s]
    pane = PlanningPane(context(None), fake, clock=lambda: NOW)
    qtbot.addWidget(pane)
    pane.show()
    until(qasync_loop, lambda: pane.loads >= 1, "the first read")
    assert pane.late.text() == "no order late"
    assert not any(b.late for b in pane.chart.bars)
