"""What the report panes (alarm journal, audit trail, alarm health) are built of: their frame (ReportPane),
a period picker, a paged table with its filters and count, the refusal page, the audited export and the
background work.

Each pane keeps its own words and filters; the widgets, the file dialog and the way work runs off the
GUI thread are the same in all of them, so they are here once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QDateTime, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent
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

from hmi.domain.errors import one_line
from hmi.domain.permissions import Action, PermissionDenied, Role, allowed
from hmi.domain.session import SessionLocked
from hmi.services.commands import CommandService
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.pane_registry import PaneSpec, register_pane

log = logging.getLogger(__name__)

EXPORT = Action.EXPORT_REPORT
FILE_FILTERS = {"Excel workbook (*.xlsx)": ".xlsx", "CSV, UTF-8 (*.csv)": ".csv"}
MORE_THAN_SHOWN = " (the newest {limit}; narrow the filters or export for all)"


# --- background work -----------------------------------------------------------------------------


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


async def settle(tasks: set[asyncio.Task]) -> None:
    """Wait until the tasks started so far, and those they start, are done (for tests and shutdown)."""
    while tasks:
        await asyncio.gather(*list(tasks), return_exceptions=True)


# --- words ---------------------------------------------------------------------------------------


def failure_text(what: str, error: BaseException) -> str:
    """'▲ could not read the alarm journal: <the reason in one line>'."""
    return f"{theme.SHAPE_WARNING} {what}: {one_line(error)}"


def shown_text(n: int, noun: str, limit: int, order: str = "") -> str:
    """How many rows the table shows: '12 events, newest first', and that there are more at the limit."""
    more = MORE_THAN_SHOWN.format(limit=limit) if n >= limit else ""
    return f"{n} {noun}{'s' if n != 1 else ''}{order}{more}"


def refusal_style(p: theme.Palette, name: str) -> str:
    """The QSS of a pane's refusal line (object name ``name``): calm, large, in words."""
    return f"QLabel#{name} {{ color: {p.text}; font-size: {theme.TITLE_PT}pt; padding: 24px; }}"


# --- widgets -------------------------------------------------------------------------------------


def button(text: str, name: str, on_click: Callable[[], Any], tip: str = "") -> QPushButton:
    """A push button with an object name (tests and style sheets find it by that) and an optional tooltip."""
    b = QPushButton(text)
    b.setObjectName(name)
    if tip:
        b.setToolTip(tip)
    b.clicked.connect(on_click)
    return b


def search_box(name: str, placeholder: str, on_edit: Callable[[], Any]) -> QLineEdit:
    """A free-text filter with a clear button; ``on_edit`` runs on every change (the pane debounces it)."""
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setClearButtonEnabled(True)
    edit.textChanged.connect(lambda _t: on_edit())
    return edit


def filter_row(widgets: Iterable[QWidget], stretch: QWidget | None = None) -> QHBoxLayout:
    """The widgets side by side; ``stretch`` (the search box) takes the room left."""
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget, 1 if widget is stretch else 0)
    return row


def refusal_label(text: str, name: str) -> QLabel:
    """The one calm line a pane shows instead of its content (no database, not allowed)."""
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    return label


def note_label(name: str) -> QLabel:
    """A line that says what became of the last read or export, in words the user can select and copy."""
    label = QLabel("")
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def filter_combo(name: str, everything: str, items: Iterable[tuple[str, object]]) -> QComboBox:
    """A filter: 'all …' (no filter, data None) and then each (label, data)."""
    box = QComboBox()
    box.setObjectName(name)
    box.addItem(everything, None)
    for label, data in items:
        box.addItem(label, data)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return box


def add_choices(box: QComboBox, names: Iterable[str]) -> None:
    """Add the names not in a filter yet (after its 'all …' item), in order; the filter grows with what was read."""
    known = {box.itemText(i) for i in range(1, box.count())}
    for name in sorted(set(names) - known):
        box.addItem(name, name)


def report_table(name: str, model: QAbstractItemModel, sort_column: int, widths: Mapping[int, int]) -> QTableView:
    """A read-only table of whole rows on ``model``, sorted by ``sort_column`` (descending), with column widths."""
    table = QTableView()
    table.setObjectName(name)
    table.setModel(model)
    table.setSortingEnabled(True)
    table.sortByColumn(sort_column, Qt.SortOrder.DescendingOrder)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setWordWrap(False)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    for column, width in widths.items():
        table.setColumnWidth(column, width)
    return table


def paged_content(filters: QHBoxLayout, table: QTableView, count: QLabel, status: QLabel,
                  above: Iterable[QWidget] = ()) -> QWidget:  # fmt: skip
    """The filters, anything ``above`` the table, the table, then the count and the status line under it."""
    content = QWidget()
    v = QVBoxLayout(content)
    v.setContentsMargins(4, 4, 4, 4)
    v.addLayout(filters)
    for widget in above:
        v.addWidget(widget)
    v.addWidget(table, 1)
    bottom = QHBoxLayout()
    bottom.addWidget(count)
    bottom.addWidget(status, 1)
    v.addLayout(bottom)
    return content


def set_note(label: QLabel, text: str, kind: str = "ok") -> None:
    """Put ``text`` in a pane's message line (kind 'problem': amber, with the shape the text starts with)."""
    label.setProperty("kind", kind)
    label.setText(text)
    label.style().unpolish(label)
    label.style().polish(label)


def refusal_or_content(owner: QWidget, refusal: QLabel, content: QWidget) -> QStackedWidget:
    """Fill ``owner`` with a stack of its two faces, the refusal line and the content (shown by the pane)."""
    stack = QStackedWidget()
    stack.addWidget(refusal)
    stack.addWidget(content)
    outer = QVBoxLayout(owner)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(stack)
    return stack


def register_report_pane(object_name: str, title: str, create: Callable[[AppContext], QWidget], order: int) -> None:
    """Offer a report pane in the View menu; by default it docks on the right, tabbed with the trends."""
    register_pane(PaneSpec(object_name, title, create, Qt.DockWidgetArea.RightDockWidgetArea, "trends", order))


class ReportPane(QWidget):
    """The frame of a report pane: its context and clock, its background tasks, the theme and the session followed.

    A pane builds its widgets, then calls ``follow``; it shows ``refusal`` or ``content`` in ``stack``.
    A timer made with ``while_visible`` stops when the pane is hidden.
    """

    refusal: QLabel
    content: QWidget
    stack: QStackedWidget

    def __init__(self, ctx: AppContext, clock: Callable[[], float], name: str,
                 stylesheet: Callable[[theme.Palette], str], parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName(name)
        self.ctx = ctx
        self._clock = clock
        self._stylesheet = stylesheet
        self._generation = 0  # bumped by every read; older answers are dropped
        self._tasks: set[asyncio.Task] = set()
        self._visible_timers: list[QTimer] = []

    def follow(self) -> None:
        """Follow the session (login, logout, lock: ``recheck``) and the theme from now on; apply the theme now."""
        self.ctx.session_changed.connect(self.recheck)
        theme.signals().changed.connect(self._on_theme)
        self._on_theme(theme.current())

    def recheck(self) -> None:
        """Show what the session may see now (each pane says what)."""
        raise NotImplementedError

    def _on_theme(self, palette: theme.Palette) -> None:
        self.setStyleSheet(self._stylesheet(palette))

    def timer(self, ms: int, slot: Callable[[], Any], *, single_shot: bool = False) -> QTimer:
        """A timer of this pane calling ``slot`` every ``ms`` (once, for a debounce)."""
        t = QTimer(self)
        t.setSingleShot(single_shot)
        t.setInterval(ms)
        t.timeout.connect(slot)
        return t

    def while_visible(self, ms: int, slot: Callable[[], Any]) -> QTimer:
        """A repeating timer (started by the pane) that stops when the pane is hidden."""
        t = self.timer(ms, slot)
        self._visible_timers.append(t)
        return t

    @property
    def showing_content(self) -> bool:
        """True when the content (not the refusal line) is on screen."""
        return self.stack.currentWidget() is self.content

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task | None:
        """Run ``coro`` on the application's event loop (qasync); kept until done."""
        return spawn(self._tasks, coro)

    async def settle(self) -> None:
        """Wait until the background reads and writes started so far are done (for tests and shutdown)."""
        await settle(self._tasks)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        super().hideEvent(event)
        for t in self._visible_timers:
            t.stop()


# --- exporting -----------------------------------------------------------------------------------


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


def ask_export_path(parent: QWidget, title: str, stem: str, now: float,
                    filters: Mapping[str, str] = FILE_FILTERS) -> str | None:  # fmt: skip
    """Ask where to write an export ('<stem>-YYYYMMDD-HHMM.xlsx' offered); None when cancelled.

    A name without one of the filters' suffixes gets the chosen filter's (the first's if none was chosen).
    """
    stamp = time.strftime("%Y%m%d-%H%M", time.localtime(now))
    path, chosen = QFileDialog.getSaveFileName(parent, title, f"{stem}-{stamp}.xlsx", ";;".join(filters))
    if not path:
        return None
    if Path(path).suffix.lower() not in filters.values():
        path += filters.get(chosen, next(iter(filters.values())))
    return path


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


# --- the period ----------------------------------------------------------------------------------


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
