"""The order panes' tables: one QAbstractTableModel adapter over a list of domain records, told its columns.

A column says its header, its text, its sort value (SORT_ROLE) and, for an abnormal state, the
theme colour that goes *behind* a text that already says it (a shape and a word). Polling every
second or two must not drop the selection or the scroll position: when the same records come back
in the same order only their cells are repainted; otherwise the model is reset and the pane
reselects by key.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from hmi.domain.orders import FINISHED, Order, OrderStatus
from hmi.ui import theme
from hmi.ui.order_text import NONE_TEXT, late_text, percent, status_text, units, when_text
from hmi.ui.table_sorting import SORT_ROLE

R = TypeVar("R")
Index = QModelIndex | QPersistentModelIndex
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 1  # a fraction 0..1 for the progress delegate
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


@dataclass(frozen=True)
class Column(Generic[R]):
    """One column of a record table."""

    key: str
    header: str
    text: Callable[[R], str]
    sort: Callable[[R], Any] | None = None  # None: by the text
    right: bool = False  # numbers: right-aligned
    abnormal: Callable[[R], str | None] | None = None  # the colour behind an abnormal cell, or None
    tip: Callable[[R], str | None] | None = None


class RecordTableModel(QAbstractTableModel, Generic[R]):
    """Rows are domain records (frozen dataclasses); columns are ``Column``s."""

    def __init__(self, columns: Sequence[Column[R]], key: Callable[[R], Hashable], parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.columns = tuple(columns)
        self.col = {c.key: i for i, c in enumerate(self.columns)}
        self._key = key
        self._rows: list[R] = []

    def set_rows(self, rows: Sequence[R]) -> None:
        """Show ``rows``: repaint in place when the same records come in the same order, else reset."""
        new = list(rows)
        if [self._key(r) for r in new] == [self._key(r) for r in self._rows]:
            changed = [i for i, (a, b) in enumerate(zip(self._rows, new)) if a != b]
            self._rows = new
            if changed:
                self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(self.columns) - 1))
            return
        self.beginResetModel()
        self._rows = new
        self.endResetModel()

    def set_columns(self, columns: Sequence[Column[R]]) -> None:
        """Show other columns (a regrouped report); the rows stay."""
        self.beginResetModel()
        self.columns = tuple(columns)
        self.col = {c.key: i for i, c in enumerate(self.columns)}
        self.endResetModel()

    def rows(self) -> list[R]:
        """The records shown, in model order."""
        return list(self._rows)

    def record(self, row: int) -> R:
        """The record of a model row."""
        return self._rows[row]

    def row_of(self, key: Hashable) -> int | None:
        """The model row of a key, or None."""
        return next((i for i, r in enumerate(self._rows) if self._key(r) == key), None)

    def text(self, row: int, column: str) -> str:
        """The text a cell shows (tests read the table through this as a user reads the screen)."""
        return self.columns[self.col[column]].text(self._rows[row])

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
        r, c = self._rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return c.text(r)
        if role == SORT_ROLE:
            return c.sort(r) if c.sort is not None else c.text(r)
        if role == Qt.ItemDataRole.TextAlignmentRole and c.right:
            return RIGHT
        if role in (Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole) and c.abnormal is not None:
            colour = c.abnormal(r)
            if colour is None:
                return None
            if role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(QColor(colour))
            return QBrush(QColor("#FFFFFF" if colour == theme.ALARM_HIGH else "#000000"))
        if role == Qt.ItemDataRole.ToolTipRole and c.tip is not None:
            return c.tip(r)
        if role == PROGRESS_ROLE and isinstance(r, Order):
            return r.progress
        return None


def _epoch(ts: datetime | None) -> float:
    if ts is None:
        return float("inf")
    return (ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)).timestamp()


def order_columns(now: Callable[[], datetime]) -> tuple[Column[Order], ...]:
    """The orders table: job, product, quantity, produced, status, due, expected finish, late (the rejected units
    are in the detail, so the table and the detail both fit a 1600 px window)."""

    def late_colour(o: Order) -> str | None:
        return theme.ALARM_HIGH if late_text(o.late_by_s) and o.status not in FINISHED else None

    def late_tip(o: Order) -> str | None:
        if not late_text(o.late_by_s):
            return None
        return f"Expected to finish {late_text(o.late_by_s)[2:]} after its due date"

    return (
        Column("job", "Job", lambda o: o.job_number, tip=lambda o: f"{o.job_number}\norder {o.order_id}"),
        Column("product", "Product", lambda o: o.product),
        Column("quantity", "Qty", lambda o: units(o.quantity), lambda o: o.quantity, right=True),
        Column("produced", "Produced", lambda o: f"{units(o.produced)}  {percent(o.progress, 0)}",
               lambda o: o.progress, right=True),
        Column("status", "Status", lambda o: status_text(o.status), lambda o: STATUS_SORT[o.status],
               abnormal=lambda o: theme.WARNING if o.status is OrderStatus.SHORT else None),
        Column("priority", "Prio", lambda o: str(o.priority), lambda o: o.priority, right=True),
        Column("due", "Due", lambda o: when_text(o.due, now()), lambda o: _epoch(o.due),
               tip=lambda o: o.due.isoformat(timespec="minutes")),
        Column("finish", "Exp. finish", lambda o: when_text(o.expected_finish, now()) if o.status
               not in FINISHED else NONE_TEXT, lambda o: _epoch(o.expected_finish)),
        Column("late", "Late by", lambda o: late_text(o.late_by_s) if o.status not in FINISHED else "",
               lambda o: o.late_by_s or 0.0, abnormal=late_colour, tip=late_tip),
    )  # fmt: skip


STATUS_SORT = {s: i for i, s in enumerate(OrderStatus)}


class OrderFilterProxy(QSortFilterProxyModel):
    """Sorts by SORT_ROLE; shows the orders whose status is in ``statuses`` (None: all)."""

    def __init__(self, model: RecordTableModel[Order], parent=None) -> None:  # noqa: ANN001 - a QObject
        super().__init__(parent)
        self.setSourceModel(model)
        self.setSortRole(SORT_ROLE)
        self._model = model
        self.statuses: frozenset[OrderStatus] | None = None

    def set_statuses(self, statuses: Collection[OrderStatus] | None) -> None:
        """Show only these statuses (None: every order)."""
        self.beginFilterChange()
        self.statuses = None if statuses is None else frozenset(statuses)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802 - Qt's name
        return self.statuses is None or self._model.record(source_row).status in self.statuses

    def order(self, row: int) -> Order:
        """The order of a proxy row."""
        return self._model.record(self.mapToSource(self.index(row, 0)).row())


class ProgressDelegate(QStyledItemDelegate):
    """The produced cell: a thin calm bar under the text '1,234  41 %' (the text says it; the bar is a glance)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:  # noqa: D102
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget = opt.widget
        style = widget.style() if widget is not None else None
        fraction = index.data(PROGRESS_ROLE)
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        if not isinstance(fraction, float):
            return
        p = theme.current()
        r = QRectF(option.rect).adjusted(4, option.rect.height() - 7, -4, -2)
        painter.save()
        painter.setPen(QPen(QColor(p.border), 1))
        painter.setBrush(QColor(p.background))
        painter.drawRect(r)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(p.muted))
        painter.drawRect(QRectF(r.left(), r.top(), r.width() * max(0.0, min(1.0, fraction)), r.height()))
        painter.restore()

