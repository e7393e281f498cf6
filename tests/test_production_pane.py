"""The Production pane over a fake OrdersSource: the window asked for, the rows with FPY and defect rate, the chart."""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import Qt

from hmi.domain.orders import ProductionRow
from hmi.ui.panes.production import ProductionPane
from tests.orders_fake import NOW, plant
from tests.orders_panes_support import OLAF, context, until


def test_rows_formatted_and_the_last_8_h_by_shopfloor_by_default(qtbot, qasync_loop):
    fake = plant()
    fake.rows["shopfloor"].append(ProductionRow("sf4", 100, 82, 18, 8.0))
    pane = ProductionPane(context(OLAF), fake, clock=lambda: NOW)
    qtbot.addWidget(pane)
    pane.resize(700, 760)
    pane.show()
    until(qasync_loop, lambda: pane.loads >= 1, "the first read")
    assert fake.calls[0] == ("production_report", (NOW - timedelta(hours=8), NOW, "shopfloor"))
    m = pane.model
    row = m.row_of("sf1")
    assert m.text(row, "fpy") == "97.7 %"  # 1780 of 1822
    assert m.text(row, "defect_rate") == "2.3 %"
    assert m.text(row, "throughput") == "222.5"
    assert m.text(row, "of_plan") == "89 %"
    assert m.text(m.row_of("sf3"), "fpy") == "—"  # nothing made: no yield to speak of
    assert m.text(m.row_of("sf4"), "defect_rate") == "▲ 18.0 %"
    assert pane.total.text().startswith("last 8 h: 2,882 good of 4,100 planned · defect rate 3.2 %")  # 95 of 2,977

    pane.by_box.setCurrentIndex(pane.by_box.findData("order"))
    until(qasync_loop, lambda: m.row_of("ORD-20240506-0001") is not None, "the rows by order")
    assert fake.calls[-1][1][2] == "order"
    assert m.text(m.row_of("ORD-20240506-0001"), "key") == "JO-20240506-0001"  # the job number the floor knows
    assert m.headerData(0, Qt.Orientation.Horizontal) == "Job"

    pane.by_box.setCurrentIndex(pane.by_box.findData("hour"))
    until(qasync_loop, lambda: m.row_of("2024-05-06T02:00:00+00:00") is not None, "the rows by hour")
    hour = "2024-05-06T02:00:00+00:00"
    assert m.text(m.row_of(hour), "key").endswith(datetime.fromisoformat(hour).astimezone().strftime("%H:%M"))
    assert m.headerData(0, Qt.Orientation.Horizontal) == "Hour"
    assert pane.total.text().startswith("last 8 h: 2,960 good of 3,200 planned")  # 8 hours of 400
