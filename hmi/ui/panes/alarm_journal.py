"""Alarm journal pane: every alarm event, newest first, filtered by time range, twin, priority, user and text.

Anyone at the workstation may read the journal, as they may see the alarms themselves; exporting it
needs export_report and is on the audit trail (requested, then ok or failed), as the audit pane's
export is. Reads go to the database in an executor. While the range ends "now" the pane follows the
alarm center's version and reads again at most once a second when it changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDateTime, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hmi.domain.alarm_journal import JournalEntry, JournalQuery
from hmi.domain.errors import one_line
from hmi.domain.permissions import Action, PermissionDenied, Role, allowed
from hmi.domain.session import SessionLocked
from hmi.reports.audit_export import export_format
from hmi.services.alarm_reports import export_journal, read_journal
from hmi.services.commands import CommandService
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.journal_model import JournalTableModel, priority_text
from hmi.ui.pane_registry import PaneSpec, register_pane
from hmi.ui.table_sorting import sort_proxy

log = logging.getLogger(__name__)

NO_DATABASE = "This window has no database, so there is no alarm journal to show."
CUSTOM = "custom…"
RANGES: tuple[tuple[str, float | None], ...] = (
    ("last hour", 3600.0), ("this shift (8 h)", 8 * 3600.0), ("last 24 h", 86400.0), ("last 7 days", 7 * 86400.0),
    (CUSTOM, None),
)  # fmt: skip
DEFAULT_RANGE = 2  # 24 h
ALL_TWINS, ALL_PRIORITIES, ALL_USERS = "all twins", "all priorities", "all users"
LIVE_MS = 1000  # at most one read a second while the alarms change
SEARCH_DEBOUNCE_MS = 400
SHOW_LIMIT = 5000  # rows kept on screen; the export takes every matching entry
EXPORT_LIMIT = 1_000_000  # an Excel sheet holds 1,048,576 rows
FILE_FILTERS = {"Excel workbook (*.xlsx)": ".xlsx", "CSV, UTF-8 (*.csv)": ".csv"}
EXPORT = Action.EXPORT_REPORT


def stylesheet(p: theme.Palette) -> str:
    """The pane's QSS: calm greys; a failure is a shape and words."""
    return f"""
    QLabel#journalRefusal {{ color: {p.text}; font-size: {theme.TITLE_PT}pt; padding: 24px; }}
    QLabel#journalCount {{ color: {p.muted}; }}
    """


def export_tooltip(ctx: AppContext, what: str) -> str:
    """Why Export… is enabled or not for the session as it is now (the reason a disabled button gives)."""
    if ctx.may(EXPORT):
        return f"Write {what} to a file (recorded in the audit trail)"
    roles = [r.value.replace("_", " ") + "s" for r in Role if allowed(r, EXPORT)]
    rule = f"exporting is for {', '.join(roles[:-1])} and {roles[-1]}"
    user, session = ctx.session.user, ctx.session
    if user is None or session.locked:
        return f"{rule}: log in as one first"
    return f"{rule} (you are {user.name}, {user.role})"


def spawn(tasks: set[asyncio.Task], coro: Coroutine[Any, Any, Any]) -> asyncio.Task | None:
    """Run ``coro`` on the application's event loop (qasync), kept in ``tasks`` until done."""
    try:
        task = asyncio.get_event_loop_policy().get_event_loop().create_task(coro)
    except RuntimeError:  # no loop on this thread, or it is closed: nothing runs in the background
        coro.close()
        return None
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


def in_executor(call: Callable[..., Any], *args: Any) -> asyncio.Future:
    """Run a blocking ``call(*args)`` in the loop's default executor and await its result.

    The loop is the one the pane's tasks run on; qasync may step a task while Qt processes events
    outside ``run_forever`` (a test's waitExposed), when no loop counts as running.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    return loop.run_in_executor(None, call, *args)


def failure_text(what: str, error: BaseException) -> str:
    """'▲ could not read the alarm journal: <the reason in one line>'."""
    return f"{theme.SHAPE_WARNING} {what}: {one_line(error)}"


async def export_as_user(
    ctx: AppContext, label: QLabel, path: str, what: str, call: Callable[[CommandService], Any],
    on_refused: Callable[[], None],
) -> tuple[bool, Any]:
    """Run an audited export ``call`` as the session's user (ctx.command), saying in ``label`` how it goes.

    (True, its result) when it was written; (False, None) when refused (``on_refused`` then re-reads
    who may) or failed, the reason in ``label``.
    """
    label.setText(f"exporting to {path}…")
    try:
        return True, await ctx.command(call)
    except (PermissionDenied, SessionLocked) as error:
        on_refused()
        label.setText(failure_text("not exported", error))
    except Exception as error:  # noqa: BLE001 - shown in one line
        log.warning("%s export failed: %s", what, error)
        label.setText(failure_text("export failed", error))
    return False, None


class PeriodPicker(QWidget):
    """A time range: presets counted back from now, or a custom from/to in local time."""

    changed = Signal()

    def __init__(self, presets: tuple[tuple[str, float | None], ...], default: int, name: str,
                 clock: Callable[[], float] = time.time, parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self._clock = clock
        self.box = QComboBox()
        self.box.setObjectName(f"{name}Range")
        for label, seconds in presets:
            self.box.addItem(label, seconds)
        self.box.setCurrentIndex(default)
        self.box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.start_edit = self._edit(f"{name}From")
        self.end_edit = self._edit(f"{name}To")
        self.to_label = QLabel("to")
        h = QHBoxLayout(self)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(self.box)
        h.addWidget(self.start_edit)
        h.addWidget(self.to_label)
        h.addWidget(self.end_edit)
        self.box.activated.connect(self._on_preset)
        self._show_custom(False)

    def _edit(self, name: str) -> QDateTimeEdit:
        edit = QDateTimeEdit()
        edit.setObjectName(name)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        edit.editingFinished.connect(self.changed.emit)
        return edit

    def _show_custom(self, on: bool) -> None:
        for w in (self.start_edit, self.to_label, self.end_edit):
            w.setVisible(on)

    def _on_preset(self, _index: int) -> None:
        custom = self.box.currentData() is None
        if custom and not self.start_edit.isVisible():
            now = self._clock()
            self.set_custom(now - 86400.0, now)  # a start the user moves from
        self._show_custom(custom)
        self.changed.emit()

    def set_custom(self, start: float, end: float) -> None:
        """Choose a custom range (UTC epoch s), shown in local time."""
        self.box.setCurrentIndex(self.box.findData(None))
        self.start_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(start)))
        self.end_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(end)))
        self._show_custom(True)

    def choose(self, seconds: float) -> None:
        """Choose the preset of that many seconds back from now."""
        self.box.setCurrentIndex(self.box.findData(seconds))
        self._show_custom(False)

    @property
    def live(self) -> bool:
        """True when the range ends now (a preset), so new events belong in it."""
        return self.box.currentData() is not None

    def period(self) -> tuple[float, float]:
        """(start, end) in UTC epoch s; ValueError in words for a custom range that ends before it starts."""
        seconds = self.box.currentData()
        if seconds is not None:
            now = self._clock()
            return now - float(seconds), now
        start = float(self.start_edit.dateTime().toSecsSinceEpoch())
        end = float(self.end_edit.dateTime().toSecsSinceEpoch())
        if end <= start:
            raise ValueError("the custom range must end after it starts: move 'from' before 'to'")
        return start, end

    def describe(self) -> str:
        """The range in words for a status line or an audit record."""
        if self.live:
            return self.box.currentText()
        fmt = "yyyy-MM-dd HH:mm"
        return f"{self.start_edit.dateTime().toString(fmt)} to {self.end_edit.dateTime().toString(fmt)}"


class AlarmJournalPane(QWidget):
    """The alarm journal as a table; ``clock`` gives UTC epoch seconds (tests inject their own)."""

    def __init__(self, ctx: AppContext, clock: Callable[[], float] = time.time, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alarmJournalPane")
        self.ctx = ctx
        self._clock = clock
        self._generation = 0  # bumped by every read; older answers are dropped
        self._reading = False
        self._again = False  # a change arrived during a read: read once more after it
        self._seen_version = self._alarm_version()
        self._follow_up = False
        self._read_failed = False
        self._tasks: set[asyncio.Task] = set()
        self.model = JournalTableModel(ctx.plant, parent=self)
        self.proxy = sort_proxy(self.model, self)
        self._build()
        self._live = QTimer(self)
        self._live.setInterval(LIVE_MS)
        self._live.timeout.connect(self._on_live)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.reload_later)
        ctx.session_changed.connect(self.recheck)
        theme.signals().changed.connect(self._on_theme)
        self._on_theme(theme.current())
        self.recheck()

    # --- building ----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.refusal = QLabel(NO_DATABASE)
        self.refusal.setObjectName("journalRefusal")
        self.refusal.setWordWrap(True)
        self.refusal.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

        self.range = PeriodPicker(RANGES, DEFAULT_RANGE, "journal", self._clock)
        self.range.changed.connect(self.reload_later)
        self.twin_box = self._combo("journalTwin", ALL_TWINS, [(t.name, t.twin_id) for t in self.ctx.plant.twins])
        self.priority_box = self._combo("journalPriority", ALL_PRIORITIES, [(priority_text(p), p) for p in (1, 2, 3, 4)])
        self.user_box = self._combo("journalUser", ALL_USERS, [])
        for box in (self.twin_box, self.priority_box, self.user_box):
            box.activated.connect(lambda _i: self.reload_later())
        self.search = QLineEdit()
        self.search.setObjectName("journalSearch")
        self.search.setPlaceholderText("search alarm, message, comment")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("journalRefresh")
        self.refresh_button.clicked.connect(self.reload_later)
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("journalExport")
        self.export_button.clicked.connect(self._on_export)

        filters = QHBoxLayout()
        filters.addWidget(self.range)
        filters.addWidget(self.twin_box)
        filters.addWidget(self.priority_box)
        filters.addWidget(self.user_box)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.refresh_button)
        filters.addWidget(self.export_button)

        self.table = QTableView()
        self.table.setObjectName("journalTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(self.model.col["time"], Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        widths = {"time": 185, "priority": 75, "twin": 125, "alarm": 240, "what happened": 165,
                  "state": 255, "value": 100, "user": 80, "comment": 220}  # fmt: skip
        for name, width in widths.items():
            self.table.setColumnWidth(self.model.col[name], width)

        self.count = QLabel("")  # how many entries are shown, or that they are being read
        self.count.setObjectName("journalCount")
        self.status = QLabel("")  # what became of the last read or export, in words
        self.status.setObjectName("journalStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        content = QWidget()
        v = QVBoxLayout(content)
        v.setContentsMargins(4, 4, 4, 4)
        v.addLayout(filters)
        v.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count)
        bottom.addWidget(self.status, 1)
        v.addLayout(bottom)
        self.content = content

        self.stack = QStackedWidget()
        self.stack.addWidget(self.refusal)
        self.stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)

    @staticmethod
    def _combo(name: str, everything: str, items: list[tuple[str, object]]) -> QComboBox:
        box = QComboBox()
        box.setObjectName(name)
        box.addItem(everything, None)
        for label, data in items:
            box.addItem(label, data)
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        return box

    def _on_theme(self, palette: theme.Palette) -> None:
        self.setStyleSheet(stylesheet(palette))

    # --- the session -------------------------------------------------------------------------------

    @property
    def showing_entries(self) -> bool:
        """True when the table (not the no-database line) is on screen."""
        return self.stack.currentWidget() is self.content

    def recheck(self) -> None:
        """Show the table when there is a database; enable Export… for a role that may export."""
        if self.ctx.commands is None:
            self.stack.setCurrentWidget(self.refusal)
            return
        self.stack.setCurrentWidget(self.content)
        self.export_button.setEnabled(self.ctx.may(EXPORT))
        self.export_button.setToolTip(export_tooltip(self.ctx, "the entries that match the filters"))

    # --- reading -----------------------------------------------------------------------------------

    def query(self, limit: int | None = SHOW_LIMIT) -> JournalQuery:
        """The filters on screen as a journal query (newest first); ValueError for a custom range out of order."""
        start, end = self.range.period()
        if self.range.live:
            end = None  # up to now, and what is written while the read runs
        return JournalQuery(
            start=start, end=end, twin=self.twin_box.currentData(), priority=self.priority_box.currentData(),
            user=self.user_box.currentData(), limit=limit, newest_first=True,
        )  # fmt: skip

    def reload_later(self) -> None:
        """Read the entries for the filters on screen (in the background)."""
        self._debounce.stop()
        spawn(self._tasks, self.reload())

    async def reload(self) -> None:
        """Read the entries for the filters on screen and show them, newest first."""
        if self.ctx.commands is None:
            return
        if self._reading:
            self._again = True
            return
        try:
            q = self.query()
        except ValueError as error:
            self.status.setText(f"{theme.SHAPE_WARNING} {error}")
            return
        text = self.search.text()
        engine = self.ctx.commands.engine
        self._generation += 1
        generation = self._generation
        self._reading = True
        if not self.model.rowCount():
            self.count.setText("reading the alarm journal…")
        try:
            entries = await in_executor(read_journal, engine, q, text)
        except Exception as error:  # noqa: BLE001 - shown in one line; the pane goes on
            if generation == self._generation:
                log.warning("could not read the alarm journal: %s", error)
                self.count.setText("")
                self.status.setText(failure_text("could not read the alarm journal", error))
                self._read_failed = True
            return
        finally:
            self._reading = False
            if self._again:
                self._again = False
                spawn(self._tasks, self.reload())
        if generation != self._generation:
            return
        self.model.set_entries(entries)
        if self._read_failed:
            self._read_failed = False
            self.status.setText("")
        self._add_users(e.user for e in entries)
        self._show_count()

    def _add_users(self, names) -> None:  # noqa: ANN001 - an iterable of str
        known = {self.user_box.itemText(i) for i in range(1, self.user_box.count())}
        for name in sorted(set(names) - known - {""}):
            self.user_box.addItem(name, name)

    def _show_count(self) -> None:
        n = self.model.rowCount()
        more = f" (the newest {SHOW_LIMIT}; narrow the filters or export for all)" if n >= SHOW_LIMIT else ""
        self.count.setText(f"{n} event{'s' if n != 1 else ''}, newest first{more}")

    # --- following the alarms ----------------------------------------------------------------------

    def _alarm_version(self) -> int | None:
        return None if self.ctx.alarms is None else self.ctx.alarms.version

    def _on_live(self) -> None:
        """Once a second: read again if the alarms changed, and once more a second later, because
        the journal holder writes its batch shortly after the change is seen here."""
        if not self.isVisible():
            self._live.stop()
            return
        if not self.range.live or self.ctx.commands is None:
            return
        version = self._alarm_version()
        if version != self._seen_version:
            self._seen_version = version
            self._follow_up = True
            self.reload_later()
        elif self._follow_up:
            self._follow_up = False
            self.reload_later()

    # --- exporting ---------------------------------------------------------------------------------

    def _on_export(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M", time.localtime(self._clock()))
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export the alarm journal", f"alarm-journal-{stamp}.xlsx", ";;".join(FILE_FILTERS)
        )
        if not path:
            return
        if Path(path).suffix.lower() not in FILE_FILTERS.values():
            path += FILE_FILTERS.get(chosen, ".xlsx")
        spawn(self._tasks, self.export(path))

    def describe_filters(self) -> str:
        """The filters in words, for the export's audit record: 'last 24 h, twin=drillrig1, priority=1'."""
        parts = [self.range.describe()]
        for name, box in (("twin", self.twin_box), ("priority", self.priority_box), ("user", self.user_box)):
            if box.currentData() is not None:
                parts.append(f"{name}={box.currentData()}")
        if self.search.text().strip():
            parts.append(f"text={self.search.text().strip()}")
        return ", ".join(parts)

    async def export(self, path: str) -> int | None:
        """Write every entry matching the filters to ``path`` (oldest first), audited; show the outcome."""
        if self.ctx.commands is None:
            return None
        try:
            export_format(path)  # an unknown suffix is refused before anything is read
            q = self.query(limit=EXPORT_LIMIT)
        except Exception as error:  # noqa: BLE001 - shown in one line
            self.status.setText(failure_text("export failed", error))
            return None
        text, what = self.search.text(), self.describe_filters()
        target = str(Path(path).resolve())

        def run(commands: CommandService) -> int:
            commands.authorize(EXPORT, target)  # a refusal is on the record before anything is read
            entries: list[JournalEntry] = read_journal(commands.engine, q, text)
            entries.reverse()  # a file reads in the order things happened
            return export_journal(commands, entries, path, what)

        done, n = await export_as_user(self.ctx, self.status, path, "alarm journal", run, self.recheck)
        if not done:
            return None
        self.status.setText(f"exported {n} event{'s' if n != 1 else ''} to {path}")
        return n

    # --- background work ---------------------------------------------------------------------------

    async def settle(self) -> None:
        """Wait until the background reads and writes started so far are done (for tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- visibility --------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.recheck()
        if self.showing_entries:
            self._seen_version = self._alarm_version()
            self.reload_later()
            self._live.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        super().hideEvent(event)
        self._live.stop()


register_pane(
    PaneSpec(
        object_name="alarm_journal",
        title="Alarm journal",
        create=AlarmJournalPane,
        area=Qt.DockWidgetArea.RightDockWidgetArea,
        tab_with="trends",  # the group the audit trail is in
        order=92,
    )
)
