"""The alarm journal table: a QAbstractTableModel over a list of JournalEntries (newest first), its sort
proxy, and the words a row is read in (the paged search is hmi.services.alarm_reports.read_journal).

A row reads without colour: the priority is a shape and a number ("◆ 1"), what happened is a word
("Shelved for 2 h"), states are words ("active unack → active ack"). The journal is history, not an
abnormal state now, so it stays grey (ISA-101); the live alarm pane is where priorities take colour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import tzinfo

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from hmi.domain.alarm_engine import PERSISTENT_AFTER_S, AlarmState
from hmi.domain.alarm_health import span_text
from hmi.domain.alarm_journal import JournalEntry
from hmi.domain.plant import Plant, TagSpec
from hmi.reports.audit_export import local_datetime
from hmi.ui import theme
from hmi.ui.tag_display import format_value
from hmi.ui.table_sorting import SORT_ROLE

Index = QModelIndex | QPersistentModelIndex
US = 1_000_000

WHAT_TEXT = {
    "activate": "Activated",
    "return": "Returned",
    "ack": "Acknowledged",
    "shelve": "Shelved",
    "unshelve": "Unshelved",
    "shelve_ended": "Shelving ended",
    "suppress": "Suppressed",
    "out_of_service": "Out of service",
    "return_to_service": "Returned to service",
    "persistent": f"Persistent ({span_text(PERSISTENT_AFTER_S)})",
}
STATE_TEXT = {
    AlarmState.NORMAL: "normal",
    AlarmState.UNACK: "active unack",
    AlarmState.ACKED: "active ack",
    AlarmState.RTN_UNACK: "returned unack",
    AlarmState.SHELVED: "shelved",
    AlarmState.SUPPRESSED: "suppressed",
    AlarmState.OUT_OF_SERVICE: "out of service",
}
# Priority 1 (act now) to 4: a shape each, so the priority reads without its colour.
PRIORITY_SHAPE = {1: theme.SHAPE_ALARM, 2: theme.SHAPE_WARNING, 3: "▼", 4: "●"}
MAX_CELL = 200


def what_text(e: JournalEntry) -> str:
    """What happened, in words: 'Activated', 'Shelved for 2 h', 'Persistent (5 min)', ..."""
    if e.what == "shelve" and e.until is not None:
        return f"Shelved for {span_text(max(0.0, e.until - e.ts))}"
    return WHAT_TEXT.get(e.what, e.what.replace("_", " ").capitalize())


def state_text(state: AlarmState) -> str:
    """An alarm state in words ('active unack')."""
    return STATE_TEXT.get(state, state.value)


def transition_text(e: JournalEntry) -> str:
    """'normal → active unack'; one state when it did not change (a persistent mark)."""
    if e.from_state is e.to_state:
        return state_text(e.to_state)
    return f"{state_text(e.from_state)} → {state_text(e.to_state)}"


def priority_text(priority: int) -> str:
    """The priority as a shape and its number: '◆ 1'."""
    shape = PRIORITY_SHAPE.get(priority)
    return f"{shape} {priority}" if shape else str(priority)


def _flat(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= MAX_CELL else flat[: MAX_CELL - 1] + "…"


def _added_on_top(old: list[JournalEntry], new: list[JournalEntry]) -> int | None:
    """How many rows ``new`` has on top of ``old`` when the rest of ``new`` is ``old``'s first rows; None otherwise."""
    if not old or not new:
        return None
    try:
        added = new.index(old[0])
    except ValueError:
        return None
    kept = len(new) - added
    return added if kept <= len(old) and new[added:] == old[:kept] else None


class JournalTableModel(QAbstractTableModel):
    """Rows are JournalEntries, newest first; ``set_entries`` replaces them. Values with the tag's unit."""

    def __init__(self, plant: Plant | None = None, tz: tzinfo | None = None, parent=None) -> None:  # noqa: ANN001 - a QObject
        super().__init__(parent)
        self._entries: list[JournalEntry] = []
        self._tz = tz  # None: the workstation's local time zone
        self._tags: Mapping[str, TagSpec] = {t.tag_id: t for t in plant.tags} if plant else {}
        self._twins: Mapping[str, str] = {t.twin_id: t.name for t in plant.twins} if plant else {}
        self.columns: tuple[tuple[str, Callable[[JournalEntry], str], Callable[[JournalEntry], object]], ...] = (
            ("time", self._time, lambda e: e.ts),  # sorted by row order; see data()
            ("priority", lambda e: priority_text(e.priority), lambda e: e.priority),
            ("twin", self.twin_name, self.twin_name),
            ("alarm", self._alarm, self._alarm),
            ("what happened", what_text, what_text),
            ("state", transition_text, transition_text),
            ("value", self.value_text, lambda e: -float("inf") if e.value is None else e.value),
            ("user", lambda e: e.user, lambda e: e.user),
            ("comment", lambda e: _flat(e.comment), lambda e: e.comment),
            ("workstation", lambda e: e.workstation, lambda e: e.workstation),
        )
        self.col = {name: i for i, (name, _, _) in enumerate(self.columns)}

    # --- words -------------------------------------------------------------------------------------

    def _time(self, e: JournalEntry) -> str:
        return local_datetime(round(e.ts * US), self._tz).strftime("%Y-%m-%d %H:%M:%S")

    def twin_name(self, e: JournalEntry) -> str:
        """The twin's name ('Drill Rig 1'); a communication-loss alarm belongs to none."""
        return self._twins.get(e.twin, e.twin)

    @staticmethod
    def _alarm(e: JournalEntry) -> str:
        return _flat(e.message or e.alarm_id)

    def value_text(self, e: JournalEntry) -> str:
        """The value with its unit as the tiles show it ('87.2 °C'); empty when the event has none."""
        if e.value is None:
            return ""
        spec = self._tags.get(e.tag)
        if spec is None:
            return f"{e.value:g}"
        return f"{format_value(spec, e.value)} {spec.unit}".rstrip()

    # --- the collection ----------------------------------------------------------------------------

    def entries(self) -> list[JournalEntry]:
        """The entries shown, newest first."""
        return list(self._entries)

    def set_entries(self, entries: Sequence[JournalEntry]) -> None:
        """Show ``entries`` (newest first) instead of what was shown.

        When they are the rows shown with newer ones on top (and the oldest past the limit dropped), only
        those rows are inserted and removed: a reset would make the sort proxy and the view read every row
        again, once a second while the alarms change.
        """
        new = list(entries)
        old = self._entries
        added = _added_on_top(old, new)
        if added is None:
            self.beginResetModel()
            self._entries = new
            self.endResetModel()
            return
        kept = len(new) - added
        if kept < len(old):
            self.beginRemoveRows(QModelIndex(), kept, len(old) - 1)
            del self._entries[kept:]
            self.endRemoveRows()
        if added:
            self.beginInsertRows(QModelIndex(), 0, added - 1)
            self._entries[:0] = new[:added]
            self.endInsertRows()

    def clear(self) -> None:
        """Show nothing."""
        self.set_entries([])

    # --- Qt ----------------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802, ANN201
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section][0]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201 - Qt's variant
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        e = self._entries[index.row()]
        name, show, key = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return show(e)
        if role == SORT_ROLE:
            # The rows come newest first by (time, id): the row order breaks ties of equal times.
            return len(self._entries) - index.row() if name == "time" else key(e)
        if role == Qt.ItemDataRole.ToolTipRole:
            if name == "time":
                return local_datetime(round(e.ts * US), self._tz).isoformat(timespec="milliseconds")
            if name == "alarm":
                return f"{e.alarm_id}\n{e.message}" if e.message else e.alarm_id
            if name == "what happened" and e.what == "shelve" and e.until is not None:
                until = local_datetime(round(e.until * US), self._tz).strftime("%Y-%m-%d %H:%M:%S")
                return f"shelved until {until}"
            if name == "comment":
                return e.comment or None
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and name in ("value", "priority"):
            horizontal = Qt.AlignmentFlag.AlignRight if name == "value" else Qt.AlignmentFlag.AlignHCenter
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        return None


