"""Widgets of the alarm-health pane: a table model over any tuple of health rows, the rate chart, and
the read of the journal that the health is computed from.

The chart is bars of alarms per 10 minutes on a wall-clock axis with the flood threshold as a dashed
line at 10 and each flood as a shaded band; a bar over the threshold is dark red, but the line, the
band and the figures say the same without the colour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from hmi.domain.alarm_health import BUCKET_S, FLOOD_ABOVE, AlarmHealth
from hmi.reports.audit_export import local_datetime
from hmi.ui import theme
from hmi.ui.trend_plot import colours, style_axes
from hmi.ui.table_sorting import SORT_ROLE, sort_proxy

Index = QModelIndex | QPersistentModelIndex
US = 1_000_000


def local_text(ts: float, tz: tzinfo | None = None, seconds: bool = False) -> str:
    """A time as a table shows it, in the workstation's zone: '2026-03-02 14:20'."""
    return local_datetime(round(ts * US), tz).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Column:
    """One column of a health table: its header, the text of a row, and the value it sorts by."""

    header: str
    text: Callable[[Any], str]
    key: Callable[[Any], object] | None = None
    right: bool = False


class RowsModel(QAbstractTableModel):
    """A read-only table over a sequence of frozen rows (floods, chattering alarms, ...)."""

    def __init__(self, columns: Sequence[Column], parent=None) -> None:  # noqa: ANN001 - a QObject
        super().__init__(parent)
        self.columns = tuple(columns)
        self._rows: list[Any] = []

    def rows(self) -> list[Any]:
        """The rows shown, in their own order."""
        return list(self._rows)

    def set_rows(self, rows: Iterable[Any]) -> None:
        """Show ``rows`` instead of what was shown."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802, ANN201
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201 - Qt's variant
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, col = self._rows[index.row()], self.columns[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return col.text(row)
        if role == SORT_ROLE:
            # The rows come in their meaningful order (worst first): that order is the default key.
            return col.key(row) if col.key is not None else index.row()
        if role == Qt.ItemDataRole.TextAlignmentRole and col.right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def rows_table(
    name: str, columns: Sequence[Column], stretch: int = -1, parent=None  # noqa: ANN001 - a QWidget
) -> tuple[QTableView, RowsModel]:
    """A sortable, read-only table view over a new RowsModel (through a sort proxy); column ``stretch``
    (default the last) takes the room left, the others fit their contents."""
    model = RowsModel(columns, parent)
    proxy = sort_proxy(model, parent)
    view = QTableView(parent)
    view.setObjectName(name)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the rows' own order until a header is clicked
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch % len(columns), QHeaderView.ResizeMode.Stretch)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    model.modelReset.connect(lambda: fit_height(view))
    return view, model


def fit_height(view: QTableView) -> None:
    """Make a table exactly as tall as its rows (the pane scrolls, not each table): no empty space."""
    rows = view.model().rowCount()
    height = view.horizontalHeader().sizeHint().height() + 2 * view.frameWidth()
    height += sum(view.rowHeight(r) or view.verticalHeader().defaultSectionSize() for r in range(rows))
    if view.horizontalScrollBar().isVisible():
        height += view.horizontalScrollBar().sizeHint().height()
    view.setFixedHeight(height)


class RateChart(pg.PlotWidget):
    """Alarms per 10 minutes as bars on a wall-clock axis, the flood threshold, and the floods shaded."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent=parent, axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.setObjectName("healthChart")
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.showGrid(x=False, y=True, alpha=0.25)
        item.setLabel("left", "alarms per 10 min")
        item.getViewBox().setMouseEnabled(x=True, y=False)
        self._items: list[pg.GraphicsObject] = []
        self.threshold = pg.InfiniteLine(pos=FLOOD_ABOVE, angle=0, movable=False)
        self.threshold.label = pg.InfLineLabel(
            self.threshold, text=f"flood: more than {FLOOD_ABOVE}", position=0.02, anchors=[(0, 1), (0, 1)]
        )
        self.addItem(self.threshold, ignoreBounds=True)
        self.apply_colours()

    def apply_colours(self) -> None:
        """Take the background, axis and line colours from the theme."""
        c = colours()
        style_axes(self, c)
        self.threshold.setPen(pg.mkPen(c["text"], width=1, style=Qt.PenStyle.DashLine))
        self.threshold.label.setColor(c["text"])

    def show_health(self, h: AlarmHealth) -> None:
        """Draw the buckets of ``h`` (grey, dark red over the threshold) and its floods as shaded bands."""
        for it in self._items:
            self.removeItem(it)
        self._items = []
        if not h.buckets:
            return
        x = np.array([b.start for b in h.buckets], dtype=float)
        y = np.array([b.count for b in h.buckets], dtype=float)
        over = y > FLOOD_ABOVE
        c = colours()
        width = BUCKET_S * 0.85
        normal = pg.BarGraphItem(x0=x[~over], height=y[~over], width=width, brush=QColor(str(c["muted"])), pen=None)
        self._add(normal)
        if over.any():
            self._add(pg.BarGraphItem(x0=x[over], height=y[over], width=width, brush=QColor(theme.ALARM_HIGH), pen=None))
        band = QColor(theme.ALARM_HIGH)
        band.setAlpha(40)
        for f in h.floods:
            region = pg.LinearRegionItem(values=(f.start, f.end), movable=False, brush=band, pen=pg.mkPen(None))
            region.setZValue(-10)
            self._add(region)
        top = max(float(y.max()), FLOOD_ABOVE + 2.0)
        self.setXRange(h.start, h.until, padding=0.01)
        self.setYRange(0, top * 1.1, padding=0)

    def _add(self, item: pg.GraphicsObject) -> None:
        self.addItem(item)
        self._items.append(item)
