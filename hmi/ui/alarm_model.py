"""The alarm table: a QAbstractTableModel over the alarm center's list of AlarmStatus, its filter proxy and
the priority delegate.

Nothing here reads colour alone: the priority is a diamond *with its number*, the state is words
("Shelved until 14:30 by sam"), the persistent mark is a clock and "5 min+". Colour (the theme's
abnormal colours) is the second cue: unacknowledged rows flash between their priority's colour and
the calm panel grey, driven by one ``set_flash`` call for the whole table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, tzinfo

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRectF,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from hmi.domain.alarm_defs import AlarmDefinition, AlarmKind
from hmi.domain.alarm_engine import AlarmState, AlarmStatus
from hmi.domain.alarm_journal import twin_of
from hmi.domain.plant import Plant
from hmi.ui import theme
from hmi.ui.tag_display import WAITING_TEXT, format_value

Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("priority", "time", "twin", "message", "value", "state", "persistent")
HEADERS = {"priority": "Prio", "time": "Activated", "twin": "Twin", "message": "Alarm", "value": "Value",
           "state": "State", "persistent": "Standing"}  # fmt: skip
COL = {name: i for i, name in enumerate(COLUMNS)}

UNACKED = frozenset({AlarmState.UNACK, AlarmState.RTN_UNACK})
ANNUNCIATED = frozenset({AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTN_UNACK})
HIDDEN = frozenset({AlarmState.SHELVED, AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE})

# The theme has three abnormal colours for four priorities: P3 and P4 share amber and are told
# apart by the number in the diamond, which is always there.
PRIORITY_COLOURS: Mapping[int, str] = {1: theme.ALARM_HIGH, 2: theme.ALARM_LOW, 3: theme.WARNING, 4: theme.WARNING}
PRIORITY_TEXT: Mapping[int, str] = {1: "#FFFFFF", 2: "#000000", 3: "#000000", 4: "#000000"}
PERSISTENT_TEXT = "◷ 5 min+"
COMM_LOSS_TWIN = "PLC link"


def priority_colour(priority: int) -> str:
    """The abnormal colour of a priority (1 red, 2 orange, 3 and 4 amber)."""
    return PRIORITY_COLOURS.get(priority, theme.WARNING)


def local_time(ts: float, tz: tzinfo | None = None) -> datetime:
    """UTC epoch seconds as an aware datetime in ``tz`` (None: the workstation's time zone)."""
    return datetime.fromtimestamp(ts).astimezone(tz)


def time_text(ts: float | None, now: float, tz: tzinfo | None = None) -> str:
    """'14:03:21' for today, '2024-05-01 14:03' for another day, '—' for no time."""
    if ts is None:
        return WAITING_TEXT
    t, today = local_time(ts, tz), local_time(now, tz)
    return t.strftime("%H:%M:%S") if t.date() == today.date() else t.strftime("%Y-%m-%d %H:%M")


def state_text(status: AlarmStatus, tz: tzinfo | None = None) -> str:
    """The state in words: 'Unacknowledged', 'Shelved until 14:30 by sam', 'Out of service by erik', ..."""
    s = status.state
    by = f" by {status.user}" if status.user else ""
    if s is AlarmState.UNACK:
        return "Unacknowledged"
    if s is AlarmState.ACKED:
        return "Acknowledged"
    if s is AlarmState.RTN_UNACK:
        return "Returned – unacknowledged"
    if s is AlarmState.SHELVED:
        until = f" until {local_time(status.shelved_until, tz).strftime('%H:%M')}" if status.shelved_until else ""
        return f"Shelved{until}{by}"
    if s is AlarmState.SUPPRESSED:
        return f"Suppressed{by}"
    if s is AlarmState.OUT_OF_SERVICE:
        return f"Out of service{by}"
    return "Normal"


class AlarmLabels:
    """What the table shows of an alarm besides its status: the twin's name and the value with its unit."""

    def __init__(self, plant: Plant, definitions: Mapping[str, AlarmDefinition]) -> None:
        self._twin_names = {t.twin_id: t.name for t in plant.twins}
        self._specs = {t.tag_id: t for t in plant.tags}
        self._definitions = definitions

    def twin(self, status: AlarmStatus) -> str:
        """The twin's display name; 'PLC link <endpoint>' for a communication-loss alarm."""
        defn = self._definitions.get(status.alarm_id)
        if status.kind is AlarmKind.COMM_LOSS or defn is None or not defn.tag:
            endpoint = defn.endpoint if defn is not None else ""
            return f"{COMM_LOSS_TWIN} {endpoint}".strip()
        twin_id = twin_of(defn)
        return self._twin_names.get(twin_id, twin_id)

    def twins(self) -> list[str]:
        """Every twin name an alarm can have, in plant order, PLC links last (for the twin filter)."""
        names = {self.twin(_status_of(d)) for d in self._definitions.values()}
        ordered = [n for n in self._twin_names.values() if n in names]
        return ordered + sorted(names - set(ordered))

    def value(self, status: AlarmStatus) -> str:
        """'85.2 °C', 'link down' for a communication loss, '—' when there is no value."""
        if status.kind is AlarmKind.COMM_LOSS:
            return "link down" if status.active else "link up"
        spec = self._specs.get(status.tag)
        if spec is None:
            return WAITING_TEXT if status.value is None else f"{status.value:g}"
        text = format_value(spec, status.value)
        return f"{text} {spec.unit}" if spec.unit and text != WAITING_TEXT else text


def _status_of(defn: AlarmDefinition) -> AlarmStatus:
    return AlarmStatus(defn.alarm_id, defn.tag, defn.kind, defn.priority, defn.message, AlarmState.NORMAL, False,
                       False, None, 0.0, None, "", "", None)  # fmt: skip


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Ascending row numbers as (first, last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and runs[-1][1] == r - 1:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    return runs


class AlarmTableModel(QAbstractTableModel):
    """Rows are AlarmStatus snapshots in the alarm center's order (priority, then newest)."""

    # The flash phase changed while some row flashes: the view repaints what it shows. Not dataChanged:
    # that would make the sort/filter proxy re-examine every row twice a second (1,000 rows in a flood).
    flash_changed = Signal()

    def __init__(
        self,
        labels: AlarmLabels,
        tz: tzinfo | None = None,
        clock: Callable[[], float] = time.time,
        parent=None,  # noqa: ANN001 - a QObject
    ) -> None:
        super().__init__(parent)
        self.labels = labels
        self._rows: list[AlarmStatus] = []
        self._ids: set[str] = set()
        self._tz = tz
        self._clock = clock
        self._flash_on = False
        self._bold = QFont()
        self._bold.setBold(True)
        self._italic = QFont()
        self._italic.setItalic(True)

    # --- the collection --------------------------------------------------------------------------

    def set_alarms(self, rows: Sequence[AlarmStatus]) -> None:
        """Show ``rows`` (already in display order) instead of what was shown.

        Alarms gone are removed, new ones inserted and changed ones repainted, each as a run of rows: a
        reset would make the filter proxy and the view read every row again and drop the selection, many
        times a second in a flood. Only when alarms that stay swap places is the model reset.
        """
        new = list(rows)
        new_ids = {s.alarm_id for s in new}
        if len(new_ids) != len(new) or not self._rows:
            self._reset(new)
            return
        kept_new = [s.alarm_id for s in new if s.alarm_id in self._ids]
        if kept_new != [s.alarm_id for s in self._rows if s.alarm_id in new_ids]:
            self._reset(new)
            return
        for first, last in reversed(_runs([i for i, s in enumerate(self._rows) if s.alarm_id not in new_ids])):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first : last + 1]
            self.endRemoveRows()
        for first, last in _runs([i for i, s in enumerate(new) if s.alarm_id not in self._ids]):
            self.beginInsertRows(QModelIndex(), first, last)
            self._rows[first:first] = new[first : last + 1]
            self.endInsertRows()
        changed = [i for i, (was, now) in enumerate(zip(self._rows, new)) if was != now]
        self._rows = new
        self._ids = new_ids
        right = len(COLUMNS) - 1
        for first, last in _runs(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(last, right))

    def _reset(self, rows: list[AlarmStatus]) -> None:
        self.beginResetModel()
        self._rows = rows
        self._ids = {s.alarm_id for s in rows}
        self.endResetModel()

    def alarms(self) -> list[AlarmStatus]:
        """The alarms shown, in order."""
        return list(self._rows)

    def alarm(self, row: int) -> AlarmStatus:
        """The alarm of a row."""
        return self._rows[row]

    def row_of(self, alarm_id: str) -> int | None:
        """The row of an alarm, or None when it is not in the table."""
        for i, s in enumerate(self._rows):
            if s.alarm_id == alarm_id:
                return i
        return None

    @property
    def flash_on(self) -> bool:
        """The phase of the flashing: True while unacknowledged rows show their priority colour."""
        return self._flash_on

    def set_flash(self, on: bool) -> None:
        """Set the flash phase; repaints only the colours, and only when some row is unacknowledged."""
        if on == self._flash_on:
            return
        self._flash_on = on
        if any(s.state in UNACKED for s in self._rows):
            self.flash_changed.emit()

    def is_flashing(self, row: int) -> bool:
        """Whether a row flashes (its alarm is unacknowledged)."""
        return self._rows[row].state in UNACKED

    def row_colours(self, row: int) -> tuple[str, str] | None:
        """(background, text) of a row at the current flash phase for its coloured cells; None: the calm default."""
        s = self._rows[row]
        if s.state not in UNACKED or not self._flash_on:
            return None
        return priority_colour(s.priority), PRIORITY_TEXT.get(s.priority, "#000000")

    # --- Qt ----------------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802, ANN201
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[COLUMNS[section]]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201 - Qt's variant
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        s = self._rows[index.row()]
        name = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(s, name)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(s, name)
        if role in (Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole):
            colours = self.row_colours(index.row())
            # A returned alarm flashes only in its priority and state cells: the row stays calm, so it
            # reads differently from an alarm that is still active.
            if colours is None or (s.state is AlarmState.RTN_UNACK and name not in ("priority", "state")):
                if role == Qt.ItemDataRole.ForegroundRole and s.state is not AlarmState.UNACK and \
                        s.state is not AlarmState.ACKED:
                    return QBrush(QColor(theme.current().muted))
                return None
            return QBrush(QColor(colours[0] if role == Qt.ItemDataRole.BackgroundRole else colours[1]))
        if role == Qt.ItemDataRole.FontRole:
            if s.state is AlarmState.UNACK:
                return self._bold
            if s.state is AlarmState.RTN_UNACK:
                return self._italic
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and name in ("priority", "value"):
            align = Qt.AlignmentFlag.AlignHCenter if name == "priority" else Qt.AlignmentFlag.AlignRight
            return int(align | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, s: AlarmStatus, name: str) -> str:
        if name == "priority":
            return str(s.priority)
        if name == "time":
            return time_text(s.activated_at if s.activated_at is not None else s.since, self._clock(), self._tz)
        if name == "twin":
            return self.labels.twin(s)
        if name == "message":
            return s.message or s.alarm_id
        if name == "value":
            return self.labels.value(s)
        if name == "state":
            return state_text(s, self._tz)
        if name == "persistent":
            return PERSISTENT_TEXT if s.persistent and s.active else ""
        return ""

    def _tooltip(self, s: AlarmStatus, name: str) -> str | None:
        if name == "priority":
            return f"Priority {s.priority} (1 is the most urgent)"
        if name == "time":
            t = s.activated_at if s.activated_at is not None else s.since
            return local_time(t, self._tz).isoformat(timespec="seconds") if t else None
        if name == "state":
            lines = [state_text(s, self._tz)]
            if s.reason:
                lines.append(f"Reason: {s.reason}")
            if s.state in ANNUNCIATED:
                lines.append("The condition is active" if s.active else "The condition has returned to normal")
            return "\n".join(lines)
        if name == "persistent" and s.persistent:
            return "Active without a break for 5 minutes or more"
        if name == "message":
            return f"{s.message}\n{s.alarm_id}" if s.message else s.alarm_id
        return None


class AlarmFilterProxy(QSortFilterProxyModel):
    """Shows the rows of the chosen twin, priorities and states; keeps the source's order."""

    def __init__(self, model: AlarmTableModel, parent=None) -> None:  # noqa: ANN001 - a QObject
        super().__init__(parent)
        self.setSourceModel(model)
        self._model = model
        self.twin: str | None = None
        self.priorities: frozenset[int] | None = None
        self.states: frozenset[AlarmState] = ANNUNCIATED

    def set_filter(
        self,
        twin: str | None = None,
        priorities: Iterable[int] | None = None,
        states: Iterable[AlarmState] = ANNUNCIATED,
    ) -> None:
        """Show only this twin (None: all), these priorities (None: all) and these states."""
        self.beginFilterChange()
        self.twin = twin
        self.priorities = None if priorities is None else frozenset(priorities)
        self.states = frozenset(states)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802 - Qt's name
        s = self._model.alarm(source_row)
        if s.state not in self.states:
            return False
        if self.priorities is not None and s.priority not in self.priorities:
            return False
        return self.twin is None or self._model.labels.twin(s) == self.twin

    def alarm(self, row: int) -> AlarmStatus:
        """The alarm of a proxy row."""
        return self._model.alarm(self.mapToSource(self.index(row, 0)).row())


def paint_priority(painter: QPainter, rect: QRectF, priority: int, hollow: bool, font: QFont) -> None:
    """A diamond with the priority's number, centred in ``rect``: filled in the priority's colour, or an
    outline (``hollow``) for an alarm taken off the list (shelved, suppressed, out of service)."""
    size = min(rect.height() - 4, rect.width() - 4, 30.0)
    cx, cy, h = rect.center().x(), rect.center().y(), size / 2
    diamond = QPolygonF([QPointF(cx, cy - h), QPointF(cx + h, cy), QPointF(cx, cy + h), QPointF(cx - h, cy)])
    palette = theme.current()
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    if hollow:
        painter.setPen(QPen(QColor(palette.muted), 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        text = palette.muted
    else:
        painter.setPen(QPen(QColor("#000000"), 1.0))
        painter.setBrush(QColor(priority_colour(priority)))
        text = PRIORITY_TEXT.get(priority, "#000000")
    painter.drawPolygon(diamond)
    painter.setFont(font)
    painter.setPen(QColor(text))
    painter.drawText(QRectF(cx - h, cy - h, 2 * h, 2 * h), Qt.AlignmentFlag.AlignCenter, str(priority))
    painter.restore()


class PriorityDelegate(QStyledItemDelegate):
    """Paints the priority as a diamond with its number: filled in the priority's colour while the alarm is
    annunciated, an outline for a shelved, suppressed or out-of-service one."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:  # noqa: D102
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        proxy = index.model()
        source = proxy.mapToSource(index) if isinstance(proxy, QSortFilterProxyModel) else index
        model = source.model()
        if not isinstance(model, AlarmTableModel):
            return
        s = model.alarm(source.row())
        font = QFont(opt.font)
        font.setBold(True)
        paint_priority(painter, QRectF(option.rect), s.priority, s.state in HIDDEN, font)
