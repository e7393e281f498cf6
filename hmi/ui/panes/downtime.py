"""Downtime pane: the stops of a chosen range (start, end, duration, line, origin, reason, planned, micro-stop,
andon call), a supervisor's reason for a stop that has none, and the Pareto of downtime by reason or by line
as a bar chart with its cumulative line and as a table whose total is the range's downtime.

Reads go through the OeeSource every READ_MS while on screen and at once after a command. A stop without a
reason says "— enter reason"; Enter reason… (resolve_andon: shift supervisors, admins) opens the reason codes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QComboBox, QDialog, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from hmi.domain.andon import Downtime, Reason
from hmi.domain.permissions import Action
from hmi.services.andon import ParetoRow
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.dialog_tasks import run_dialog
from hmi.ui.downtime_table import STOP_WIDTHS, US, ReasonDialog, SourcePane, from_us, stop_columns, to_us
from hmi.ui.oee_source import OeeSource
from hmi.ui.order_model import Column, RecordTableModel
from hmi.ui.order_polling import message_style, utc_now
from hmi.ui.order_text import percent, span_text, when_text
from hmi.ui.pane_registry import PaneSpec, register_pane
from hmi.ui.panes.alarms import who_may
from hmi.ui.report_widgets import PeriodPicker, refusal_or_content, refusal_style, report_table
from hmi.ui.table_sorting import sort_proxy
from hmi.ui.trend_plot import colours, style_axes

H = 3600.0
RANGES: tuple[tuple[str, float | None], ...] = (
    ("last 8 h", 8 * H), ("last 24 h", 24 * H), ("last 7 days", 168 * H), ("last 30 days", 720 * H),
    ("custom…", None),
)  # fmt: skip
DEFAULT_RANGE = 1
PARETO_BY = (("by reason", "reason"), ("by line", "line"))
CHAR_PX = 9.5  # about the width of a character of the axis font: a bar's label is cut to its bar's width
REASON = Action.RESOLVE_ANDON


def pareto_columns(by: str = "reason") -> tuple[Column[ParetoRow], ...]:
    """Reason (or line), downtime, minutes, stops, share, cumulative share."""
    return (
        Column("key", "Reason" if by == "reason" else "Line", lambda r: r.label, lambda r: r.label,
               tip=lambda r: r.key),
        Column("downtime", "Downtime", lambda r: span_text(r.seconds), lambda r: r.seconds, right=True),
        Column("minutes", "Minutes", lambda r: f"{r.seconds / 60:,.1f}", lambda r: r.seconds, right=True),
        Column("count", "Stops", lambda r: str(r.count), lambda r: r.count, right=True),
        Column("share", "Share", lambda r: percent(r.share), lambda r: r.share, right=True),
        Column("cumulative", "Cumulative", lambda r: percent(r.cumulative), lambda r: r.cumulative, right=True),
    )  # fmt: skip


def stylesheet(p: theme.Palette) -> str:
    """Calm greys, the tables in the larger font, the total bold."""
    return f"""
    {refusal_style(p, "downtimeRefusal")}
    {message_style(p, "downtimeMessage")}
    QTableView#downtimeStops, QTableView#downtimePareto {{ font-size: {theme.BASE_PT}pt; }}
    QLabel#downtimeTotal {{ font-size: {theme.TITLE_PT}pt; font-weight: bold; }}
    QLabel#downtimeLegend, QLabel#downtimeCount {{ color: {p.muted}; }}
    QPushButton {{ padding: 5px 12px; }}
    """


class DowntimePane(SourcePane):
    """The stops of a range with reason entry, and their Pareto as a chart and a table."""

    def __init__(self, ctx: AppContext, source: OeeSource | None = None,
                 clock: Callable[[], datetime] = utc_now, parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(ctx, source, "downtime", stylesheet, clock, parent)
        self.dialog: QDialog | None = None  # the dialog open now (tests fill it in)
        self.reasons: dict[str, Reason] = {}
        self.total_s = 0.0  # the Pareto's total: the range's downtime
        self._range: tuple[int, int] = (0, 0)
        self._build()
        self.follow()
        self.update_actions()

    # --- building ----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.picker = PeriodPicker(RANGES, DEFAULT_RANGE, "downtime", lambda: self.now().timestamp())
        self.picker.changed.connect(self.refresh_now)
        self.by_box = QComboBox()
        self.by_box.setObjectName("downtimeBy")
        for label, by in PARETO_BY:
            self.by_box.addItem(f"Pareto {label}", by)
        self.by_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.by_box.currentIndexChanged.connect(lambda _i: self._on_by())
        self.reason_button = QPushButton("Enter reason…")
        self.reason_button.setObjectName("downtimeEnterReason")
        self.reason_button.setAutoDefault(False)
        self.reason_button.clicked.connect(lambda: self._spawn(self.enter_reason()))
        top = QHBoxLayout()
        top.addWidget(QLabel("Stops in"))
        top.addWidget(self.picker)
        top.addSpacing(16)
        top.addWidget(self.by_box)
        top.addStretch(1)
        top.addWidget(self.reason_button)

        self.total = QLabel("")
        self.total.setObjectName("downtimeTotal")
        self.total.setWordWrap(True)

        self.stops: RecordTableModel[Downtime] = RecordTableModel(stop_columns(self.now, lambda: self.reasons),
                                                                  lambda d: d.downtime_id, self)  # fmt: skip
        self.stops_proxy = sort_proxy(self.stops, self)
        self.stops_table = report_table("downtimeStops", self.stops_proxy, self.stops.col["start"],
                                        {self.stops.col[k]: w for k, w in STOP_WIDTHS.items()})  # fmt: skip
        self.stops_table.setSelectionMode(self.stops_table.SelectionMode.SingleSelection)
        self.stops_table.verticalHeader().setDefaultSectionSize(30)
        self.stops_table.selectionModel().selectionChanged.connect(lambda *_: self.update_actions())
        self.stops_table.doubleClicked.connect(self._on_double_click)
        self.count = QLabel("")
        self.count.setObjectName("downtimeCount")
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.stops_table, 1)
        lv.addWidget(self.count)

        self.plot = pg.PlotWidget()
        self.plot.setObjectName("downtimeChart")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.showGrid(x=False, y=True, alpha=0.15)
        self.plot.setLabel("left", "minutes")
        self.plot.showAxis("right")
        self.plot.getPlotItem().getViewBox().sigResized.connect(lambda *_: self._ticks())
        self.legend = QLabel("bars: downtime, most first · line: cumulative share (right axis)")
        self.legend.setObjectName("downtimeLegend")
        self.legend.setWordWrap(True)
        self.pareto: RecordTableModel[ParetoRow] = RecordTableModel(pareto_columns(), lambda r: r.key, self)
        self.pareto_proxy = sort_proxy(self.pareto, self)
        self.pareto_table = report_table("downtimePareto", self.pareto_proxy, self.pareto.col["downtime"],
                                         {0: 190, 1: 95, 2: 80, 3: 60, 4: 75})  # fmt: skip
        self.pareto_table.verticalHeader().setDefaultSectionSize(30)
        chart = QWidget()
        cv = QVBoxLayout(chart)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(self.plot, 1)
        cv.addWidget(self.legend)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(chart)
        right.addWidget(self.pareto_table)
        right.setChildrenCollapsible(False)
        right.setSizes([330, 200])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setChildrenCollapsible(False)
        split.setSizes([950, 650])

        self.content = QWidget()
        v = QVBoxLayout(self.content)
        v.setContentsMargins(4, 4, 4, 4)
        v.addLayout(top)
        v.addWidget(self.total)
        v.addWidget(split, 1)
        v.addWidget(self.message)
        self.stack = refusal_or_content(self, self.refusal, self.content)
        self.stack.setCurrentWidget(self.content if self.has_data else self.refusal)

    def _on_theme(self, palette: theme.Palette) -> None:
        super()._on_theme(palette)
        style_axes(self.plot, colours())
        axis = self.plot.getPlotItem().getAxis("right")
        axis.setPen(pg.mkPen(colours()["muted"]))
        axis.setTextPen(pg.mkPen(colours()["text"]))
        if self.pareto.rowCount():
            self._chart(self.pareto.rows())

    def _on_by(self) -> None:
        self.pareto.set_columns(pareto_columns(str(self.by_box.currentData())))
        self.refresh_now()

    # --- reading -----------------------------------------------------------------------------------

    def period_us(self) -> tuple[int, int]:
        """The range on screen in UTC microseconds; ValueError in words for a custom range backwards."""
        start, end = self.picker.period()
        return int(start * US), int(end * US)

    async def load(self) -> None:
        """Read the reasons (once), the stops and the Pareto of the range on screen, and show them."""
        start, end = self.period_us()  # a custom range backwards: ValueError in words, said under the content
        if not self.reasons:
            self.reasons = {r.code: r for r in await self.src.reasons()}
        by = str(self.by_box.currentData())
        stops = await self.src.downtime(start, end)
        rows = await self.src.pareto(start, end, by)
        if by != self.by_box.currentData():
            return  # the choice changed while reading: the read that follows shows it
        self._range = (start, end)
        keep = self.selected()
        self.stops.set_rows(stops)
        if keep is not None and self.selected() != keep:
            self.select(keep.downtime_id)
        self.pareto.set_rows(rows)
        self.total_s = sum(r.seconds for r in rows)
        self._chart(rows)
        missing = sum(1 for s in stops if not s.reason_code)
        micro = sum(1 for s in stops if s.micro)
        self.total.setText(
            f"{self.picker.describe()}: {span_text(self.total_s)} of downtime ({self.total_s / 60:,.1f} min) "
            f"in {sum(r.count for r in rows)} stops"
            + (f" · {theme.SHAPE_WARNING} {missing} without a reason" if missing else "")
        )  # fmt: skip
        self.count.setText(f"{len(stops)} stops, {micro} of them micro-stops (counted, not called)"
                           if stops else "no stops in this range")  # fmt: skip
        self.update_actions()

    def _chart(self, rows: list[ParetoRow]) -> None:
        c = colours()
        self.plot.clear()
        total_min = sum(r.seconds for r in rows) / 60
        bottom = self.plot.getPlotItem().getAxis("bottom")
        right = self.plot.getPlotItem().getAxis("right")
        if not rows:
            bottom.setTicks([[]])
            right.setTicks([[]])
            text = pg.TextItem("no downtime in this range", color=c["text"], anchor=(0.5, 0.5))
            text.setPos(0, 0.5)
            self.plot.addItem(text)
            self.plot.setXRange(-1, 1, padding=0)
            self.plot.setYRange(0, 1, padding=0)
            return
        x = np.arange(len(rows), dtype=float)
        bars = pg.BarGraphItem(x=x, height=[r.seconds / 60 for r in rows], width=0.6, brush=pg.mkBrush(c["muted"]),
                               pen=pg.mkPen(c["text"], width=1))  # fmt: skip
        self.plot.addItem(bars)
        line = pg.PlotDataItem(x, [r.cumulative * total_min for r in rows], pen=pg.mkPen(c["text"], width=2),
                               symbol="o", symbolSize=8, symbolBrush=pg.mkBrush(c["background"]),
                               symbolPen=pg.mkPen(c["text"], width=2))  # fmt: skip
        self.plot.addItem(line)
        self._ticks()
        right.setTicks([[(total_min * k / 4, f"{k * 25} %") for k in range(5)]])
        self.plot.setXRange(-0.6, max(0.6, len(rows) - 0.4), padding=0)
        self.plot.setYRange(0, total_min * 1.06, padding=0)

    def _ticks(self) -> None:
        """The bars' labels, each cut to its bar's width (again when the chart is resized)."""
        rows = self.pareto.rows()
        if not rows:
            return
        chars = max(4, int(self.plot.width() * 0.8 / len(rows) / CHAR_PX))
        self.plot.getPlotItem().getAxis("bottom").setTicks([[(float(i), _cut(r.label, chars))
                                                             for i, r in enumerate(rows)]])  # fmt: skip

    # --- the selected stop -------------------------------------------------------------------------

    def selected(self) -> Downtime | None:
        """The stop selected in the table, or None."""
        rows = self.stops_table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.stops.record(self.stops_proxy.mapToSource(rows[0]).row())

    def select(self, downtime_id: int) -> None:
        """Select a stop by its id (if it is in the table)."""
        row = self.stops.row_of(downtime_id)
        if row is not None:
            self.stops_table.selectRow(self.stops_proxy.mapFromSource(self.stops.index(row, 0)).row())

    def update_actions(self) -> None:
        """Enter reason… for a selected stop, when the session may (the service checks again)."""
        may = self.ctx.may(REASON)
        stop = self.selected()
        self.reason_button.setEnabled(may and stop is not None)
        if not may:
            self.reason_button.setToolTip(f"{who_may(REASON)} may enter a stop's reason: log in as one")
        elif stop is None:
            self.reason_button.setToolTip("Select a stop first")
        else:
            self.reason_button.setToolTip("Give the selected stop its reason (recorded in the audit trail)")

    def _on_double_click(self, index: QModelIndex) -> None:
        if self.reason_button.isEnabled():
            self._spawn(self.enter_reason())

    async def enter_reason(self) -> Downtime | None:
        """Ask for the selected stop's reason and give it; the stop as it is now, or None."""
        stop = self.selected()
        if stop is None:
            return None
        if not self.reasons:
            self.reasons = {r.code: r for r in await self.src.reasons()}
        dialog = ReasonDialog(stop, list(self.reasons.values()), when_text(from_us(stop.start_us), self.now()), self)
        code = await run_dialog(self, dialog)
        if code != QDialog.DialogCode.Accepted:
            return None
        reason, note = dialog.code(), dialog.note()
        text = self.reasons[reason].text if reason in self.reasons else reason
        return await self.run(f"stop {stop.downtime_id} on {stop.line}: {text}",
                              lambda: self.src.set_downtime_reason(stop.downtime_id, reason, note))  # fmt: skip

    def now_us(self) -> int:
        """Now by the pane's clock, in UTC microseconds."""
        return to_us(self.now())


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


register_pane(
    PaneSpec(
        object_name="downtime",
        title="Downtime",
        create=DowntimePane,
        area=Qt.DockWidgetArea.RightDockWidgetArea,
        tab_with="trends",
        order=50,
    )
)
