"""Production pane: produced against planned, defect rate, first-pass yield and throughput per hour, by
shopfloor, by order (named by its job number) or by hour, over a chosen window (the last 8 h by default),
as a bar chart and a table.

Reads the production report from the OrdersSource every POLL_MS while on screen (a window that ends
now moves on). A defect rate above DEFECT_WARN is marked with a shape and amber, never colour alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from hmi.domain.orders import ProductionRow
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.order_model import Column, RecordTableModel
from hmi.ui.order_polling import PollingPane, message_style, utc_now
from hmi.ui.order_text import percent, units, when_text
from hmi.ui.orders_source import OrdersSource
from hmi.ui.pane_registry import PaneSpec, register_pane
from hmi.ui.report_widgets import refusal_or_content, refusal_style, report_table
from hmi.ui.table_sorting import sort_proxy
from hmi.ui.trend_plot import colours, style_axes

WINDOWS = (("last hour", 1.0), ("last 8 h", 8.0), ("last 24 h", 24.0), ("last 7 days", 168.0))
DEFAULT_WINDOW = 1
BY = (("by shopfloor", "shopfloor"), ("by order", "order"), ("by hour", "hour"))
KEY_HEADERS = {"shopfloor": "Shopfloor", "order": "Job", "hour": "Hour"}
MAX_TICKS = 12  # labels under the chart; more would overlap (every n-th is shown)
DEFECT_WARN = 0.05  # a defect rate above this is marked


def defect_text(r: ProductionRow) -> str:
    """'2.3 %', '▲ 6.8 %' above DEFECT_WARN."""
    text = percent(r.defect_rate)
    return f"{theme.SHAPE_WARNING} {text}" if r.defect_rate > DEFECT_WARN else text


def production_columns(by: str = "shopfloor", label: Callable[[ProductionRow], str] = lambda r: r.key,
                       ) -> tuple[Column[ProductionRow], ...]:  # fmt: skip
    """Key (as ``label`` names it), planned, produced, % of plan, defective, defect rate, first-pass yield,
    throughput per hour."""
    made = lambda r: r.produced + r.defective  # noqa: E731
    return (
        Column("key", KEY_HEADERS.get(by, "Of"), label, lambda r: r.key, tip=lambda r: r.key),
        Column("planned", "Planned", lambda r: units(r.planned), lambda r: r.planned, right=True),
        Column("produced", "Produced", lambda r: units(r.produced), lambda r: r.produced, right=True),
        Column("of_plan", "% of plan", lambda r: percent(r.produced / r.planned, 0) if r.planned else "—",
               lambda r: r.produced / r.planned if r.planned else 0.0, right=True),
        Column("defective", "Defective", lambda r: units(r.defective), lambda r: r.defective, right=True),
        Column("defect_rate", "Defect rate", lambda r: defect_text(r) if made(r) else "—",
               lambda r: r.defect_rate, right=True,
               abnormal=lambda r: theme.WARNING if r.defect_rate > DEFECT_WARN else None),
        Column("fpy", "FPY", lambda r: percent(r.first_pass_yield) if made(r) else "—",
               lambda r: r.first_pass_yield, right=True),
        Column("throughput", "Good/h", lambda r: units(round(r.throughput_per_hour, 1)),
               lambda r: r.throughput_per_hour, right=True),
    )  # fmt: skip


def hour_label(key: str, now: datetime) -> str:
    """An hour's row, '14:00' (local time; with the day when not today)."""
    try:
        start = datetime.fromisoformat(key)
    except ValueError:
        return key
    return when_text(start, now)


def common_prefix(labels: list[str]) -> str:
    """The part job numbers of one day share ('JO-20261207-'), so the chart's ticks say only '0001', '0002'."""
    if len(labels) < 2:
        return ""
    head = os.path.commonprefix(labels)
    return head[: head.rfind("-") + 1]


def totals(rows: list[ProductionRow], hours: float | None = None) -> ProductionRow:
    """All rows together over ``hours`` (None: the rows' own, which is the window's for shopfloor and order rows)."""
    if hours is None:
        hours = max((r.hours for r in rows), default=0.0)
    return ProductionRow("total", sum(r.planned for r in rows), sum(r.produced for r in rows),
                         sum(r.defective for r in rows), hours)  # fmt: skip


def stylesheet(p: theme.Palette) -> str:
    """Calm greys, the table in the larger font."""
    return f"""
    {refusal_style(p, "productionRefusal")}
    {message_style(p, "productionMessage")}
    QTableView#productionTable {{ font-size: {theme.BASE_PT}pt; }}
    QLabel#productionTotal {{ font-size: {theme.TITLE_PT}pt; font-weight: bold; }}
    QLabel#productionLegend {{ color: {p.muted}; }}
    """


class ProductionPane(PollingPane):
    """The production report as a chart and a table."""

    def __init__(self, ctx: AppContext, source: OrdersSource | None = None,
                 clock: Callable[[], datetime] = utc_now, parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(ctx, source, "production", stylesheet, clock, parent)
        self.window_box = QComboBox()
        self.window_box.setObjectName("productionWindow")
        for label, hours in WINDOWS:
            self.window_box.addItem(label, hours)
        self.window_box.setCurrentIndex(DEFAULT_WINDOW)
        self.by_box = QComboBox()
        self.by_box.setObjectName("productionBy")
        for label, by in BY:
            self.by_box.addItem(label, by)
        for box in (self.window_box, self.by_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            box.currentIndexChanged.connect(lambda _i: self.refresh_now())
        self.total = QLabel("")
        self.total.setObjectName("productionTotal")
        self.total.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.window_box)
        top.addWidget(self.by_box)
        top.addStretch(1)

        self.plot = pg.PlotWidget()
        self.plot.setObjectName("productionChart")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.showGrid(x=False, y=True, alpha=0.15)
        self.plot.setLabel("left", "good units")
        self.legend = QLabel("outlined bar: planned · filled bar: produced (good units)")
        self.legend.setObjectName("productionLegend")

        self.jobs: dict[str, str] = {}  # order id -> job number, for the rows by order
        self.model: RecordTableModel[ProductionRow] = RecordTableModel(production_columns("shopfloor", self.label),
                                                                       lambda r: r.key, self)
        self.proxy = sort_proxy(self.model, self)
        self.table = report_table("productionTable", self.proxy, 0, {0: 175, 1: 75, 2: 80, 3: 80, 4: 80, 5: 95,
                                                                      6: 70})  # fmt: skip
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().setDefaultSectionSize(30)
        self.table.horizontalHeader().setToolTip("FPY: first-pass yield, good units of all made · Good/h: throughput")

        chart = QWidget()
        cv = QVBoxLayout(chart)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(self.plot, 1)
        cv.addWidget(self.legend)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(chart)
        splitter.addWidget(self.table)
        splitter.setChildrenCollapsible(False)
        self.content = QWidget()
        v = QVBoxLayout(self.content)
        v.setContentsMargins(4, 4, 4, 4)
        v.addLayout(top)
        v.addWidget(self.total)
        v.addWidget(splitter, 1)
        v.addWidget(self.message)
        self.stack = refusal_or_content(self, self.refusal, self.content)
        self.stack.setCurrentWidget(self.content if self.has_data else self.refusal)
        self.follow()

    def _on_theme(self, palette: theme.Palette) -> None:
        super()._on_theme(palette)
        style_axes(self.plot, colours())
        if self.model.rowCount():
            self._chart(self.model.rows())

    def period(self) -> tuple[datetime, datetime]:
        """The window on screen: from so many hours back to now."""
        end = self.now()
        return end - timedelta(hours=float(self.window_box.currentData())), end

    def label(self, r: ProductionRow) -> str:
        """What a row is about as the user names it: the shopfloor, the order's job number, the local hour."""
        by = self.by_box.currentData()
        if by == "order":
            return self.jobs.get(r.key, r.key)
        if by == "hour":
            return hour_label(r.key, self.now())
        return r.key

    def _set_grouping(self, by: str) -> None:
        if self.model.columns[0].header != KEY_HEADERS[by]:
            self.model.set_columns(production_columns(by, self.label))

    async def load(self) -> None:
        """Read the report for the window and grouping on screen; show the chart, the table and the totals."""
        start, end = self.period()
        by = str(self.by_box.currentData())
        rows = await self.source.production_report(start, end, by)
        if by == "order" and any(r.key not in self.jobs for r in rows):
            self.jobs = {o.order_id: o.job_number for o in await self.source.list_orders(None)}
        if by != self.by_box.currentData():
            return  # the choice changed while reading: the read that follows shows it
        self._set_grouping(by)
        self.model.set_rows(rows)
        self._chart(rows)
        t = totals(rows, (min(end, self.now()) - start).total_seconds() / 3600 if by == "hour" else None)
        made = t.produced + t.defective
        self.total.setText(
            f"{self.window_box.currentText()}: {units(t.produced)} good of {units(t.planned)} planned · "
            f"defect rate {percent(t.defect_rate) if made else '—'} · first-pass yield "
            f"{percent(t.first_pass_yield) if made else '—'} · {units(round(t.throughput_per_hour))} good units/h"
        )  # fmt: skip

    def _chart(self, rows: list[ProductionRow]) -> None:
        c = colours()
        self.plot.clear()
        x = np.arange(len(rows), dtype=float)
        planned = pg.BarGraphItem(x=x, height=[r.planned for r in rows], width=0.7, brush=pg.mkBrush(0, 0, 0, 0),
                                  pen=pg.mkPen(c["text"], width=2, style=Qt.PenStyle.DashLine))  # fmt: skip
        produced = pg.BarGraphItem(x=x, height=[r.produced for r in rows], width=0.5, brush=pg.mkBrush(c["muted"]),
                                   pen=pg.mkPen(c["text"], width=1))  # fmt: skip
        self.plot.addItem(planned)
        self.plot.addItem(produced)
        axis = self.plot.getPlotItem().getAxis("bottom")
        every = max(1, -(-len(rows) // MAX_TICKS))
        labels = [self.label(r) for r in rows]
        shared = common_prefix(labels) if self.by_box.currentData() == "order" else ""
        axis.setTicks([[(float(i), text[len(shared):]) for i, text in enumerate(labels) if i % every == 0]])
        axis.setLabel(f"{shared}…" if shared else "")
        self.plot.setXRange(-0.6, max(0.6, len(rows) - 0.4), padding=0)
        top = max([r.planned for r in rows] + [r.produced for r in rows] + [1])
        self.plot.setYRange(0, top * 1.08, padding=0)


register_pane(
    PaneSpec(
        object_name="production",
        title="Production",
        create=ProductionPane,
        area=Qt.DockWidgetArea.RightDockWidgetArea,
        tab_with="trends",
        order=46,
    )
)
