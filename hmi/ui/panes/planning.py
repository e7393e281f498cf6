"""Planning pane: the shares queued and running on each shopfloor against time, late ones marked.

It reads the timeline, the open orders (job numbers, due dates, lateness) and the shopfloors
(health beside each row) from the OrdersSource every POLL_MS while on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from hmi.domain.orders import OrderStatus
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.order_polling import PollingPane, message_style, utc_now
from hmi.ui.orders_source import OrdersSource
from hmi.ui.pane_registry import PaneSpec, register_pane
from hmi.ui.planning_chart import TimelineChart
from hmi.ui.report_widgets import refusal_or_content, refusal_style

OPEN = (OrderStatus.PLANNED, OrderStatus.RELEASED, OrderStatus.IN_PROGRESS)
LEGEND = ("dark bar: running (its made part darker) · light dashed bar: queued · "
          "hatched with a red edge and 'late': finishes after its order is due")  # fmt: skip


def stylesheet(p: theme.Palette) -> str:
    """Calm greys; the late count on red with its shape."""
    return f"""
    {refusal_style(p, "planningRefusal")}
    {message_style(p, "planningMessage")}
    QLabel#planningLegend {{ color: {p.muted}; }}
    QLabel#planningLate[late="true"] {{ background: {theme.ALARM_HIGH}; color: #FFFFFF; font-weight: bold;
        padding: 2px 8px; }}
    QLabel#planningLate[late="false"] {{ color: {p.text}; padding: 2px 8px; }}
    """


class PlanningPane(PollingPane):
    """The timeline per shopfloor."""

    def __init__(self, ctx: AppContext, source: OrdersSource | None = None,
                 clock: Callable[[], datetime] = utc_now, parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(ctx, source, "planning", stylesheet, clock, parent)
        self.chart = TimelineChart(clock)
        self.late = QLabel("")
        self.late.setObjectName("planningLate")
        self.summary = QLabel("")
        self.summary.setObjectName("planningLegend")
        legend = QLabel(LEGEND)
        legend.setObjectName("planningLegend")
        legend.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.late)
        top.addWidget(self.summary)
        top.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.chart)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.content = QWidget()
        v = QVBoxLayout(self.content)
        v.setContentsMargins(4, 4, 4, 4)
        v.addLayout(top)
        v.addWidget(scroll, 1)
        v.addWidget(legend)
        v.addWidget(self.message)
        self.stack = refusal_or_content(self, self.refusal, self.content)
        self.stack.setCurrentWidget(self.content if self.has_data else self.refusal)
        self.follow()

    async def load(self) -> None:
        """Read the timeline, the open orders and the shopfloors; redraw."""
        timeline = await self.source.timeline()
        orders = {o.order_id: o for o in await self.source.list_orders(OPEN)}
        shopfloors = await self.source.list_shopfloors()
        self.chart.set_data(timeline, orders, shopfloors)
        late_jobs = sorted({b.job for b in self.chart.bars if b.late})
        n = len(self.chart.bars)
        if late_jobs:
            self.late.setText(f"◷ {len(late_jobs)} late: {', '.join(late_jobs)}")
        else:
            self.late.setText("no order late")
        self.late.setProperty("late", "true" if late_jobs else "false")
        self.late.style().unpolish(self.late)
        self.late.style().polish(self.late)
        extra = f" · {self.chart.unplanned} not planned yet" if self.chart.unplanned else ""
        self.summary.setText(f"{n} share{'s' if n != 1 else ''} on {len(self.chart.rows)} shopfloors{extra}")


register_pane(
    PaneSpec(
        object_name="planning",
        title="Planning",
        create=PlanningPane,
        area=Qt.DockWidgetArea.BottomDockWidgetArea,
        tab_with="alarms",  # beside the orders, across the whole width: time needs it
        order=42,
    )
)
