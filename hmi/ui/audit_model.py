"""The audit table: a QAbstractTableModel over a list of AuditRecords (newest first), and its sort proxy.

The result column reads without colour: an abnormal result is a word with a shape ("▲ denied");
its background colour (the theme's abnormal colours) is only a second cue, as ISA-101 asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import tzinfo

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from hmi.domain.audit import AuditRecord, Outcome
from hmi.reports.audit_export import local_datetime
from hmi.ui import theme
from hmi.ui.table_sorting import SORT_ROLE

Index = QModelIndex | QPersistentModelIndex

COLUMNS: tuple[tuple[str, Callable[[AuditRecord], object]], ...] = (
    ("#", lambda r: r.seq),
    ("time", lambda r: r.ts_us),
    ("user", lambda r: r.entry.user),
    ("role", lambda r: r.entry.role),
    ("workstation", lambda r: r.entry.workstation),
    ("action", lambda r: r.entry.action),
    ("target", lambda r: r.entry.target),
    ("old", lambda r: r.entry.old_value),
    ("new", lambda r: r.entry.new_value),
    ("result", lambda r: r.entry.result),
    ("detail", lambda r: r.entry.detail),
)
COL = {name: i for i, (name, _) in enumerate(COLUMNS)}

# The words and shapes of results that are not plain "ok"; colour (foreground, background) is secondary.
RESULT_TEXT = {
    Outcome.DENIED.value: f"{theme.SHAPE_WARNING} denied",
    Outcome.REFUSED.value: f"{theme.SHAPE_WARNING} refused",
    Outcome.FAILED.value: f"{theme.SHAPE_BAD} failed",
}
RESULT_COLOURS = {
    Outcome.DENIED.value: (theme.WARNING, "#000000"),
    Outcome.REFUSED.value: (theme.WARNING, "#000000"),
    Outcome.FAILED.value: (theme.ALARM_LOW, "#000000"),
}
MAX_CELL = 200  # characters shown in a cell; the tooltip has the whole text


def result_text(result: str) -> str:
    """The result as shown: 'ok', 'requested', or a shape and a word for an abnormal result."""
    return RESULT_TEXT.get(result, result)


def _flat(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= MAX_CELL else flat[: MAX_CELL - 1] + "…"


class AuditTableModel(QAbstractTableModel):
    """Rows are AuditRecords, newest first; `set_records` replaces them, `add_newer` puts new ones on top."""

    def __init__(self, tz: tzinfo | None = None, parent=None) -> None:  # noqa: ANN001 - a QObject
        super().__init__(parent)
        self._records: list[AuditRecord] = []
        self._seqs: set[int] = set()
        self._tz = tz  # None: the workstation's local time zone

    # --- the collection --------------------------------------------------------------------------

    def records(self) -> list[AuditRecord]:
        """The records shown, newest first."""
        return list(self._records)

    def set_records(self, records: Sequence[AuditRecord]) -> None:
        """Show ``records`` (newest first) instead of what was shown."""
        self.beginResetModel()
        self._records = list(records)
        self._seqs = {r.seq for r in self._records}
        self.endResetModel()

    def clear(self) -> None:
        """Show nothing."""
        self.set_records([])

    def add_newer(self, records: Iterable[AuditRecord], keep: int | None = None) -> int:
        """Put records newer than those shown on top (newest first; ones already shown are skipped).

        With ``keep`` the oldest rows beyond that many are dropped. Returns how many were added.
        """
        new = [r for r in records if r.seq not in self._seqs]
        if new:
            self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
            self._records[:0] = new
            self._seqs.update(r.seq for r in new)
            self.endInsertRows()
        if keep is not None and len(self._records) > keep:
            self.beginRemoveRows(QModelIndex(), keep, len(self._records) - 1)
            for r in self._records[keep:]:
                self._seqs.discard(r.seq)
            del self._records[keep:]
            self.endRemoveRows()
        return len(new)

    def last_seq(self) -> int:
        """The newest seq shown (0 when empty)."""
        return max(self._seqs, default=0)

    def column_values(self, column: str) -> set[str]:
        """The distinct values of one column among the records shown (for the filter combos)."""
        get = COLUMNS[COL[column]][1]
        return {str(get(r)) for r in self._records if get(r)}

    # --- Qt ----------------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802, ANN201
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][0]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201 - Qt's variant
        if not index.isValid() or not 0 <= index.row() < len(self._records):
            return None
        rec = self._records[index.row()]
        col = index.column()
        name, get = COLUMNS[col]
        if role == Qt.ItemDataRole.DisplayRole:
            if name == "time":
                return local_datetime(rec.ts_us, self._tz).strftime("%Y-%m-%d %H:%M:%S")
            if name == "#":
                return str(rec.seq)
            if name == "result":
                return result_text(rec.entry.result)
            return _flat(get(rec))  # type: ignore[arg-type]
        if role == SORT_ROLE:
            value = get(rec)
            return value if isinstance(value, int) else str(value or "")
        if role == Qt.ItemDataRole.ToolTipRole:
            if name == "time":
                return local_datetime(rec.ts_us, self._tz).isoformat(timespec="milliseconds")
            value = get(rec)
            return None if value is None else str(value)
        if name == "result" and rec.entry.result in RESULT_COLOURS:
            background, foreground = RESULT_COLOURS[rec.entry.result]
            if role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(QColor(background))
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor(foreground))
        if role == Qt.ItemDataRole.TextAlignmentRole and name == "#":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


