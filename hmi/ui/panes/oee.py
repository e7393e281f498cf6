"""OEE pane: the current shift's OEE and its three factors as large figures beside their targets, for all
lines together (the plant-wide row, times and counts summed as ISO 22400 aggregates) or one line; the trend
of OEE over the last shifts with the target line and a table of them; the six big losses of the chosen
shift; and a drill-down from a shift (picked in the trend or the table) to its stops and its orders.

Reads go through the OeeSource every READ_MS while on screen. A figure below its target is amber with a
▼ and the words; one that cannot be computed says why ("no planned time", "no production data").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSplitter, QTabWidget, QVBoxLayout, QWidget,
)

from hmi.domain.andon import Downtime, Reason
from hmi.domain.oee import BigLoss, OeeFigures, OeeTargets, Period, ShiftWindow
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.downtime_table import STOP_WIDTHS, SourcePane, stop_columns, to_us
from hmi.ui.oee_source import OeeSource
from hmi.ui.oee_widgets import (
    FACTORS, LOSS_WORDS, NO_SHIFT, FigureTile, below, missing_text, output_columns, shift_columns, shift_span,
    tile_style,
)  # fmt: skip
from hmi.ui.order_model import RecordTableModel
from hmi.ui.order_polling import message_style, utc_now
from hmi.ui.order_text import percent, span_text
from hmi.ui.pane_registry import PaneSpec, register_pane
from hmi.ui.report_widgets import refusal_or_content, refusal_style, report_table
from hmi.ui.table_sorting import sort_proxy
from hmi.ui.trend_plot import colours, style_axes

US = 1_000_000
DAY_US = 86_400 * US
TRENDS = (("last 6 shifts", 6), ("last 12 shifts", 12), ("last 21 shifts", 21))
DEFAULT_TREND = 1
ALL_LINES_TEXT = "All lines"
MAX_TICKS = 8
COMPACT_BELOW_PX = 1250  # narrower than this, the four large figures would not fit in one row


def stylesheet(p: theme.Palette) -> str:
    """Calm greys; the large tiles; the shift and drill-down titles bold."""
    return f"""
    {refusal_style(p, "oeeRefusal")}
    {message_style(p, "oeeMessage")}
    {tile_style(p)}
    QLabel#oeeShift {{ font-size: {theme.TITLE_PT}pt; font-weight: bold; }}
    QLabel#oeeDrillTitle {{ font-size: {theme.TITLE_PT}pt; font-weight: bold; }}
    QLabel#oeeLegend {{ color: {p.muted}; }}
    QTableView {{ font-size: {theme.BASE_PT}pt; }}
    """


class OeePane(SourcePane):
    """The current shift's OEE as large figures, the trend by shift, the losses and the drill-down."""

    def __init__(self, ctx: AppContext, source: OeeSource | None = None,
                 clock: Callable[[], datetime] = utc_now, parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(ctx, source, "oee", stylesheet, clock, parent)
        self.targets = OeeTargets()
        self.reasons: dict[str, Reason] = {}
        self.current: ShiftWindow | None = None
        self.current_row: OeeFigures | None = None
        self.chosen: int | None = None  # start_us of the shift picked for the drill-down (None: the current one)
        self.drilled: OeeFigures | None = None
        self.loss_minutes: dict[BigLoss, float] = {}  # the bars of the losses chart (tests read them)
        self._lines_read = False
        self._build()
        self.follow()

    # --- building ----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.line_box = QComboBox()
        self.line_box.setObjectName("oeeLine")
        self.line_box.addItem(ALL_LINES_TEXT, None)
        self.trend_box = QComboBox()
        self.trend_box.setObjectName("oeeTrendLength")
        for label, n in TRENDS:
            self.trend_box.addItem(label, n)
        self.trend_box.setCurrentIndex(DEFAULT_TREND)
        for box in (self.line_box, self.trend_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            box.currentIndexChanged.connect(lambda _i: self.refresh_now())
        self.shift_label = QLabel("")
        self.shift_label.setObjectName("oeeShift")
        self.shift_label.setWordWrap(True)  # a narrow dock wraps it instead of widening every pane tabbed with it
        self.shift_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top = QHBoxLayout()
        top.addWidget(QLabel("Line"))
        top.addWidget(self.line_box)
        top.addSpacing(16)
        top.addWidget(self.shift_label, 1)
        top.addWidget(QLabel("Trend"))
        top.addWidget(self.trend_box)

        self.tiles = {f: FigureTile(f) for f in FACTORS}
        tiles = QHBoxLayout()
        for f in FACTORS:
            tiles.addWidget(self.tiles[f], 1)

        self.trend = pg.PlotWidget()
        self.trend.setObjectName("oeeTrend")
        self.trend.setMenuEnabled(False)
        self.trend.setMouseEnabled(False, False)
        self.trend.hideButtons()
        self.trend.showGrid(x=False, y=True, alpha=0.15)
        self.trend.setLabel("left", "OEE %")
        self.trend_legend = QLabel("")
        self.trend_legend.setObjectName("oeeLegend")
        self.trend_legend.setWordWrap(True)
        self.shifts: RecordTableModel[OeeFigures] = RecordTableModel(shift_columns(lambda: self.targets),
                                                                     lambda f: (f.line, f.start_us), self)  # fmt: skip
        self.shifts_proxy = sort_proxy(self.shifts, self)
        self.shift_table = report_table("oeeShifts", self.shifts_proxy, 0, {0: 165, 1: 110, 2: 110, 3: 125, 4: 110,
                                                                                    5: 110, 6: 90})
        self.shift_table.setSelectionMode(self.shift_table.SelectionMode.SingleSelection)
        self.shift_table.verticalHeader().setDefaultSectionSize(28)
        self.shift_table.selectionModel().selectionChanged.connect(lambda *_: self._on_table_pick())
        trend_box = QWidget()
        tv = QVBoxLayout(trend_box)
        tv.setContentsMargins(0, 0, 0, 0)
        tv.addWidget(self.trend, 1)
        tv.addWidget(self.trend_legend)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(trend_box)
        left.addWidget(self.shift_table)
        left.setChildrenCollapsible(False)
        left.setSizes([300, 220])

        self.drill_title = QLabel("")
        self.drill_title.setObjectName("oeeDrillTitle")
        self.drill_title.setWordWrap(True)
        self.losses = pg.PlotWidget()
        self.losses.setObjectName("oeeLosses")
        self.losses.setMenuEnabled(False)
        self.losses.setMouseEnabled(False, False)
        self.losses.hideButtons()
        self.losses.setLabel("bottom", "minutes lost")
        self.stops: RecordTableModel[Downtime] = RecordTableModel(stop_columns(self.now, lambda: self.reasons),
                                                                  lambda d: d.downtime_id, self)  # fmt: skip
        self.stops_table = report_table("oeeStops", sort_proxy(self.stops, self), self.stops.col["start"],
                                        {self.stops.col[k]: w for k, w in STOP_WIDTHS.items()})  # fmt: skip
        self.orders: RecordTableModel = RecordTableModel(output_columns(), lambda o: (o.order_id, o.line), self)
        self.orders_table = report_table("oeeOrders", sort_proxy(self.orders, self), 3, {0: 170, 1: 110, 2: 70})
        self.drill = QTabWidget()
        self.drill.setObjectName("oeeDrill")
        self.drill.addTab(self.losses, "Losses")
        self.drill.addTab(self.stops_table, "Stops")
        self.drill.addTab(self.orders_table, "Orders")
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.drill_title)
        rv.addWidget(self.drill, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setChildrenCollapsible(False)
        # It takes what is left and claims no height of its own: the pane's minimum would otherwise set the
        # window's, for every pane tabbed with it
        split.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        split.setSizes([930, 570])

        self.content = QWidget()
        v = QVBoxLayout(self.content)
        v.setContentsMargins(4, 4, 4, 4)
        v.addLayout(top)
        v.addLayout(tiles)
        v.addWidget(split, 1)
        v.addWidget(self.message)
        self.stack = refusal_or_content(self, self.refusal, self.content)
        self.stack.setCurrentWidget(self.content if self.has_data else self.refusal)

    def _fit_tiles(self, width: int) -> None:
        """Large figures when the pane is wide; smaller ones in a narrow dock, still in one row."""
        for tile in self.tiles.values():
            tile.set_compact(width < COMPACT_BELOW_PX)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._fit_tiles(event.size().width())
        super().resizeEvent(event)

    def _on_theme(self, palette: theme.Palette) -> None:
        super()._on_theme(palette)
        style_axes(self.trend, colours())
        style_axes(self.losses, colours())
        if self.shifts.rowCount():
            self._trend(self.shifts.rows())
        self._losses(self.drilled)

    # --- reading -----------------------------------------------------------------------------------

    def line(self) -> str | None:
        """The line picked, None for all lines together."""
        data = self.line_box.currentData()
        return None if data is None else str(data)

    async def load(self) -> None:
        """Read the current shift, the last shifts' figures for the line picked, and the chosen shift's stops
        and orders; show them."""
        src = self.src
        if not self._lines_read:
            self.targets = await src.targets()
            self.reasons = {r.code: r for r in await src.reasons()}
            for ln in await src.lines():
                self.line_box.addItem(ln.name if ln.name == ln.line else f"{ln.name} ({ln.line})", ln.line)
            self._lines_read = True
        line, n = self.line(), int(self.trend_box.currentData())
        now = to_us(self.now())
        self.current = await src.current_shift()
        windows = [w for w in await src.shifts(now - (n * 7 // 5 + 2) * DAY_US, now) if w.start_us <= now][-n:]
        start = windows[0].start_us if windows else (self.current.start_us if self.current else now - DAY_US)
        rows = await src.figures(start, now, by=Period.SHIFT, line=line, combined=line is None)
        rows = rows[-n:]
        if line != self.line() or n != self.trend_box.currentData():
            return  # the choice changed while reading: the read that follows shows it
        self.current_row = next((r for r in rows if self.current is not None and r.start_us == self.current.start_us),
                                None)  # fmt: skip
        self._show_current()
        chosen = self.chosen if self.chosen is not None else (self.current.start_us if self.current else None)
        self.drilled = next((r for r in rows if r.start_us == chosen), rows[-1] if rows else None)
        self.shifts.set_rows(rows)
        self._trend(rows)
        self._select_row(self.drilled)
        await self._drill(self.drilled, line, now)

    def _show_current(self) -> None:
        c, row = self.current, self.current_row
        for tile in self.tiles.values():
            tile.show_figures(row, self.targets, NO_SHIFT if c is None else "no data yet")
        if c is None:
            self.shift_label.setText(f"{NO_SHIFT}: between shifts")
            return
        start = datetime.fromtimestamp(c.start_us / US, tz=timezone.utc).astimezone()
        end = datetime.fromtimestamp(c.end_us / US, tz=timezone.utc).astimezone()
        into = span_text((to_us(self.now()) - c.start_us) / US)
        self.shift_label.setText(f"Current shift: {c.name} {start:%a %Y-%m-%d %H:%M}–{end:%H:%M} ({into} in)"
                                 f" · {self.line_box.currentText()}")  # fmt: skip

    async def _drill(self, row: OeeFigures | None, line: str | None, now: int) -> None:
        self._losses(row)
        if row is None:
            self.drill_title.setText("no shift to show")
            self.stops.set_rows([])
            self.orders.set_rows([])
            return
        end = min(row.end_us, now)
        stops = await self.src.downtime(row.start_us, end, line)
        outputs = await self.src.orders(row.start_us, end, line)
        if self.drilled is not row:
            return
        self.stops.set_rows(stops)
        self.orders.set_rows(outputs)
        self.drill.setTabText(1, f"Stops ({len(stops)})")
        self.drill.setTabText(2, f"Orders ({len(outputs)})")
        oee = percent(row.oee) if row.oee is not None else missing_text(row)
        where = self.line_box.currentText()
        self.drill_title.setText(f"Shift {row.label} ({shift_span(row)}) · {where} · OEE: {oee}")

    # --- charts --------------------------------------------------------------------------------------

    def _trend(self, rows: list[OeeFigures]) -> None:
        c = colours()
        self.trend.clear()
        target = self.targets.oee * 100
        self.trend.addItem(pg.InfiniteLine(pos=target, angle=0, pen=pg.mkPen(c["text"], width=1,
                                           style=Qt.PenStyle.DashLine),
                                           label=f"target {target:.0f} %", labelOpts={"position": 0.03,
                                           "color": c["text"], "anchors": [(0, 1), (0, 1)]}))  # fmt: skip
        have = [(i, r.oee * 100) for i, r in enumerate(rows) if r.oee is not None]
        if have:
            xs, ys = zip(*have)
            self.trend.addItem(pg.PlotDataItem(np.array(xs, float), np.array(ys), pen=pg.mkPen(c["text"], width=1)))
            low = [(i, y) for i, y in have if below(rows[i].oee, self.targets.oee)]
            ok = [(i, y) for i, y in have if not below(rows[i].oee, self.targets.oee)]
            for points, symbol, brush in ((ok, "o", c["muted"]), (low, "t", theme.WARNING)):
                if points:
                    px, py = zip(*points)
                    scatter = pg.ScatterPlotItem(x=list(px), y=list(py), symbol=symbol, size=14,
                                                 brush=pg.mkBrush(brush), pen=pg.mkPen(c["text"], width=1))  # fmt: skip
                    scatter.sigClicked.connect(lambda _item, pts, _ev=None: self._on_point(pts))
                    self.trend.addItem(scatter)
        gaps = [i for i, r in enumerate(rows) if r.oee is None]
        if gaps:  # a shift without an OEE: a cross on the baseline, the words in the legend and the table
            self.trend.addItem(pg.ScatterPlotItem(x=gaps, y=[2.0] * len(gaps), symbol="x", size=11,
                                                  brush=pg.mkBrush(c["muted"]), pen=pg.mkPen(c["muted"])))  # fmt: skip
        if self.drilled is not None and self.drilled in rows:
            dotted = pg.mkPen(c["muted"], width=1, style=Qt.PenStyle.DotLine)
            self.trend.addItem(pg.InfiniteLine(pos=rows.index(self.drilled), angle=90, pen=dotted))
        every = max(1, -(-len(rows) // MAX_TICKS))
        self.trend.getPlotItem().getAxis("bottom").setTicks(
            [[(float(i), _short(r.label)) for i, r in enumerate(rows) if (len(rows) - 1 - i) % every == 0]])
        self.trend.setXRange(-0.5, max(0.5, len(rows) - 0.5), padding=0)
        self.trend.setYRange(0, 105, padding=0)
        below_n = sum(1 for r in rows if below(r.oee, self.targets.oee))
        why = sorted({missing_text(r) for r in rows if r.oee is None})  # "no data yet": before a line was seen
        gap = f" · × no OEE ({len(gaps)}: {', '.join(why)})" if gaps else ""
        self.trend_legend.setText(f"OEE by shift · dashed: target {target:.0f} % · ▼ amber: below target "
                                  f"({below_n} of {len(rows)}){gap} · click a shift for its stops and orders")

    def _losses(self, row: OeeFigures | None) -> None:
        c = colours()
        self.losses.clear()
        left = self.losses.getPlotItem().getAxis("left")
        kinds = list(BigLoss)
        self.loss_minutes = {k: row.losses.get(k, 0.0) / 60 for k in kinds} if row is not None else {}
        left.setTicks([[(float(len(kinds) - 1 - i), LOSS_WORDS[k]) for i, k in enumerate(kinds)]])
        if row is None or not row.losses:
            text = pg.TextItem("no loss data", color=c["text"], anchor=(0.5, 0.5))
            text.setPos(5, 2.5)
            self.losses.addItem(text)
            self.losses.setXRange(0, 10, padding=0)
            self.losses.setYRange(-0.6, len(kinds) - 0.4, padding=0)
            return
        minutes = [self.loss_minutes[k] for k in kinds]
        ys = [float(len(kinds) - 1 - i) for i in range(len(kinds))]
        self.losses.addItem(pg.BarGraphItem(x0=0, y=ys, height=0.6, width=minutes, brush=pg.mkBrush(c["muted"]),
                                            pen=pg.mkPen(c["text"], width=1)))  # fmt: skip
        top = max(minutes + [1.0])
        for y, m in zip(ys, minutes):
            label = pg.TextItem(span_text(m * 60), color=c["text"], anchor=(0, 0.5))
            label.setPos(m + top * 0.01, y)
            self.losses.addItem(label)
        self.losses.setXRange(0, top * 1.4, padding=0)
        self.losses.setYRange(-0.6, len(kinds) - 0.4, padding=0)

    # --- picking a shift -----------------------------------------------------------------------------

    def pick_shift(self, start_us: int) -> None:
        """Drill down into the shift starting at ``start_us`` (its losses, stops and orders)."""
        if start_us != self.chosen:
            self.chosen = start_us
            self.refresh_now()

    def _on_point(self, points: object) -> None:
        rows = self.shifts.rows()
        for p in points:  # type: ignore[attr-defined]
            i = int(round(p.pos().x()))
            if 0 <= i < len(rows):
                self.pick_shift(rows[i].start_us)
                return

    def _on_table_pick(self) -> None:
        picked = self.shift_table.selectionModel().selectedRows()
        if picked:
            self.pick_shift(self.shifts.record(self.shifts_proxy.mapToSource(picked[0]).row()).start_us)

    def _select_row(self, row: OeeFigures | None) -> None:
        if row is None:
            return
        i = self.shifts.row_of((row.line, row.start_us))
        if i is None:
            return
        at = self.shifts_proxy.mapFromSource(self.shifts.index(i, 0)).row()
        picked = self.shift_table.selectionModel().selectedRows()
        if not picked or picked[0].row() != at:
            self.shift_table.selectionModel().blockSignals(True)
            self.shift_table.selectRow(at)
            self.shift_table.selectionModel().blockSignals(False)
            self.shift_table.viewport().update()


def _short(label: str) -> str:
    """'2026-12-07 early' -> '12-07 early' under the trend."""
    return label[5:] if len(label) > 10 and label[4] == "-" else label


register_pane(
    PaneSpec(
        object_name="oee",
        title="OEE",
        create=OeePane,
        area=Qt.DockWidgetArea.RightDockWidgetArea,
        tab_with="trends",
        order=52,
    )
)
