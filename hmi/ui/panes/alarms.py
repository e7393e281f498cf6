"""Alarm pane: the active alarms by priority, then newest; acknowledge, shelve, suppress, and the trend of an alarm.

The table is rebuilt only when the alarm center's ``version`` changed, checked once per refresh tick
(never per alarm event), so a flood costs one rebuild a tick; the selection survives by alarm id.
Unacknowledged rows flash from one timer for the whole table. A command is one service call,
``AlarmCenter.command``, as the session's user (a locked station asks for a login first); a refusal is
shown in the pane.
Shelved, suppressed and out-of-service alarms are hidden by default and counted under the table.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hmi.domain.alarm_engine import AlarmError, AlarmState, AlarmStatus
from hmi.domain.permissions import Action, PermissionDenied, Role, allowed
from hmi.domain.session import SessionLocked
from hmi.services.alarm_center import AlarmCenter
from hmi.services.alarm_commands import AlarmCommand, format_duration
from hmi.ui import theme
from hmi.ui.alarm_dialogs import CommentDialog, ShelveDialog
from hmi.ui.alarm_model import (
    ANNUNCIATED,
    COL,
    UNACKED,
    AlarmFilterProxy,
    AlarmLabels,
    AlarmTableModel,
    PriorityDelegate,
)
from hmi.ui.context import AppContext
from hmi.ui.dialog_tasks import Tasks, run_dialog
from hmi.ui.pane_registry import PaneSpec, register_pane

log = logging.getLogger(__name__)

FLASH_MS = 500  # 1 Hz: half a second in the priority's colour, half calm
TREND_BEFORE_S = 600.0  # Show trend: from this long before the activation to now
NO_ALARMS = "This window has no alarm system, so there are no alarms to show."
ALL_TWINS = "all twins"
PRIORITY_FILTERS: tuple[tuple[str, frozenset[int] | None], ...] = (
    ("all priorities", None), ("P1", frozenset({1})), ("P1 + P2", frozenset({1, 2})), ("P2", frozenset({2})),
    ("P3", frozenset({3})), ("P4", frozenset({4})),
)  # fmt: skip
EVERY_STATE = frozenset(s for s in AlarmState if s is not AlarmState.NORMAL)
STATE_FILTERS: tuple[tuple[str, frozenset[AlarmState]], ...] = (
    ("active and returned", ANNUNCIATED),
    ("unacknowledged", UNACKED),
    ("acknowledged", frozenset({AlarmState.ACKED})),
    ("shelved", frozenset({AlarmState.SHELVED})),
    ("suppressed / out of service", frozenset({AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE})),
    ("everything", EVERY_STATE),
)
HIDDEN_WORDS = {AlarmState.SHELVED: "shelved", AlarmState.SUPPRESSED: "suppressed",
                AlarmState.OUT_OF_SERVICE: "out of service"}  # fmt: skip


@dataclass(frozen=True)
class Command:
    """One command of the pane: its button text, who may, which states it applies to, and its words."""

    key: str  # the button's and action's name; the AlarmCommand's ``what`` except ack_all
    label: str
    action: Action | None  # None: no permission needed (Show trend)
    applies: frozenset[AlarmState]
    verb: str  # "acknowledge alarms": for the permission tooltip
    hint: str  # what to select when nothing suitable is
    done: str  # "Acknowledged": the outcome line

    @property
    def what(self) -> str:
        """The AlarmCommand's ``what``."""
        return "ack" if self.key == "ack_all" else self.key


TAKE_OUT = ANNUNCIATED | {AlarmState.SHELVED}
COMMANDS: tuple[Command, ...] = (
    Command("ack", "✔ Acknowledge", Action.ACK_ALARM, UNACKED, "acknowledge alarms",
            "select an unacknowledged alarm", "Acknowledged"),
    Command("ack_all", "Acknowledge all visible", Action.ACK_ALARM, UNACKED, "acknowledge alarms",
            "no unacknowledged alarm is shown", "Acknowledged"),
    Command("shelve", "Shelve…", Action.SHELVE_ALARM, ANNUNCIATED, "shelve alarms",
            "select an alarm on the list", "Shelved"),
    Command("unshelve", "Unshelve", Action.SHELVE_ALARM, frozenset({AlarmState.SHELVED}), "unshelve alarms",
            "select a shelved alarm (state filter: shelved)", "Unshelved"),
    Command("suppress", "Suppress…", Action.SUPPRESS_ALARM, TAKE_OUT, "suppress alarms",
            "select an alarm", "Suppressed"),
    Command("out_of_service", "Out of service…", Action.SUPPRESS_ALARM, TAKE_OUT,
            "take alarms out of service", "select an alarm", "Taken out of service"),
    Command("return_to_service", "Return to service", Action.SUPPRESS_ALARM,
            frozenset({AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE}), "return alarms to service",
            "select a suppressed or out-of-service alarm (state filter)", "Returned to service"),
    Command("trend", "↗ Show trend", None, EVERY_STATE, "", "select an alarm of a tag", ""),
)  # fmt: skip
BY_KEY = {c.key: c for c in COMMANDS}
DESCRIPTIONS = {
    "ack": "Acknowledge the selected alarms (with an optional comment)",
    "ack_all": "Acknowledge every unacknowledged alarm the filters show (with an optional comment)",
    "shelve": "Take the selected alarms off the list for a while, with a reason; they come back by themselves",
    "unshelve": "End the shelving of the selected alarms now",
    "suppress": "Suppress the selected alarms by design (plant state), with a reason",
    "out_of_service": "Take the selected alarms out of service (maintenance, broken instrument), with a reason",
    "return_to_service": "Put the selected alarms back in service",
    "trend": f"Open the trend of the alarm's tag from {TREND_BEFORE_S / 60:g} min before it activated to now",
}


def who_may(action: Action) -> str:
    """'shift supervisors, engineers and admins': the roles that may do ``action``, from the permission matrix."""
    names = [f"{r.value.replace('_', ' ')}s" for r in Role if allowed(r, action)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def stylesheet(p: theme.Palette) -> str:
    """The pane's QSS: calm greys, a larger table font; a refusal in amber with a shape and words."""
    return f"""
    QTableView#alarmTable {{ font-size: {theme.TITLE_PT}pt; }}
    QLabel#alarmUnavailable {{ color: {p.text}; font-size: {theme.TITLE_PT}pt; padding: 24px; }}
    QLabel#alarmCounts, QLabel#alarmHidden {{ color: {p.muted}; }}
    QLabel#alarmMessage[kind="problem"] {{ background: {theme.WARNING}; color: #000000; font-weight: bold;
        padding: 3px 6px; }}
    QLabel#alarmMessage[kind="ok"] {{ color: {p.text}; padding: 3px 6px; }}
    QPushButton {{ padding: 5px 12px; }}
    """


class AlarmPane(QWidget):
    """The alarm list with its filters and commands; ``clock`` gives UTC epoch seconds (tests inject their own)."""

    def __init__(self, ctx: AppContext, clock: Callable[[], float] = time.time, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alarmPane")
        self.ctx = ctx
        self._clock = clock
        self._center: AlarmCenter | None = None
        self._version = -1
        self._may_key: tuple[bool, ...] = ()
        self._tasks = Tasks()
        self.dialog: QDialog | None = None  # the dialog open now (tests fill it in)
        self.model = AlarmTableModel(AlarmLabels(ctx.plant, {}), clock=clock, parent=self)
        self.proxy = AlarmFilterProxy(self.model, self)
        self._build()
        self._flash = QTimer(self)
        self._flash.setInterval(FLASH_MS)
        self._flash.timeout.connect(lambda: self.model.set_flash(not self.model.flash_on))
        ctx.tick.connect(lambda _changed: self.refresh())
        ctx.status_changed.connect(self.refresh)  # every refresh tick, also when no tag changed
        ctx.session_changed.connect(self.update_actions)
        theme.signals().changed.connect(self._on_theme)
        self._on_theme(theme.current())
        self._attach(ctx.alarms)
        self.refresh()

    # --- building ----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.unavailable = QLabel(NO_ALARMS)
        self.unavailable.setObjectName("alarmUnavailable")
        self.unavailable.setWordWrap(True)
        self.unavailable.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

        self.twin_box = QComboBox()
        self.twin_box.setObjectName("alarmTwin")
        self.twin_box.addItem(ALL_TWINS, None)
        self.priority_box = QComboBox()
        self.priority_box.setObjectName("alarmPriority")
        for label, prios in PRIORITY_FILTERS:
            self.priority_box.addItem(label, prios)
        self.state_box = QComboBox()
        self.state_box.setObjectName("alarmState")
        for label, states in STATE_FILTERS:
            self.state_box.addItem(label, states)
        for box in (self.twin_box, self.priority_box, self.state_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            box.currentIndexChanged.connect(lambda _i: self.apply_filters())
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.state_box)
        filters.addWidget(self.priority_box)
        filters.addWidget(self.twin_box)
        filters.addStretch(1)
        self.counts = QLabel("")
        self.counts.setObjectName("alarmCounts")
        filters.addWidget(self.counts)

        self.table = QTableView()
        self.table.setObjectName("alarmTable")
        self.table.setModel(self.proxy)
        self.model.flash_changed.connect(self.table.viewport().update)
        self.table.setItemDelegateForColumn(COL["priority"], PriorityDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setSortingEnabled(False)  # the order is the alarm order: priority, then newest
        self.table.verticalHeader().setVisible(False)
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no row measuring in a flood
        rows.setDefaultSectionSize(32)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL["message"], QHeaderView.ResizeMode.Stretch)
        for name, width in (("priority", 50), ("time", 110), ("twin", 150), ("value", 140), ("state", 290),
                            ("persistent", 120)):  # fmt: skip
            self.table.setColumnWidth(COL[name], width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_actions())
        self.table.doubleClicked.connect(lambda _i: self.show_trend())

        self.actions: dict[str, QAction] = {}
        self.buttons: dict[str, QPushButton] = {}
        commands = QHBoxLayout()
        for c in COMMANDS:
            action = QAction(c.label, self)
            action.setObjectName(f"alarm_{c.key}")
            action.triggered.connect(lambda _checked=False, key=c.key: self.start(key))
            self.actions[c.key] = action
            button = QPushButton(c.label)
            button.setObjectName(f"alarm_{c.key}")
            button.setAutoDefault(False)
            button.clicked.connect(action.trigger)
            self.buttons[c.key] = button
            if c.key in ("suppress", "trend"):
                commands.addSpacing(16)
            commands.addWidget(button)
        commands.addStretch(1)

        self.hidden = QLabel("")
        self.hidden.setObjectName("alarmHidden")
        self.message = QLabel("")
        self.message.setObjectName("alarmMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bottom = QHBoxLayout()
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.hidden)

        content = QWidget()
        v = QVBoxLayout(content)
        v.setContentsMargins(4, 4, 4, 4)
        v.addLayout(filters)
        v.addWidget(self.table, 1)
        v.addLayout(commands)
        v.addLayout(bottom)
        self.content = content
        # An explicit minimum overrides the sum of the buttons' widths, which would otherwise keep the dock
        # wide and squeeze the overview beside it; narrow, the rows clip instead.
        content.setMinimumWidth(360)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.unavailable)
        self.stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)

    def _on_theme(self, palette: theme.Palette) -> None:
        self.setStyleSheet(stylesheet(palette))

    # --- the list ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Rebuild the table if the alarm center changed since the last look (the refresh tick calls this)."""
        center = self.ctx.alarms
        if center is not self._center:
            self._attach(center)
        if center is None:
            return
        if center.version != self._version:
            self._version = center.version
            self._rebuild(center.active())
        elif self._may_key != self._permissions():
            self.update_actions()  # the idle lock came on without a session signal

    def _attach(self, center: AlarmCenter | None) -> None:
        self._center = center
        self._version = -1
        if center is None:
            self.stack.setCurrentWidget(self.unavailable)
            self.model.set_alarms([])
            self._flash.stop()
            self.update_actions()
            return
        self.model.labels = AlarmLabels(self.ctx.plant, center.definitions)
        current = self.twin_box.currentData()
        self.twin_box.blockSignals(True)
        self.twin_box.clear()
        self.twin_box.addItem(ALL_TWINS, None)
        for name in self.model.labels.twins():
            self.twin_box.addItem(name, name)
        self.twin_box.setCurrentIndex(max(0, self.twin_box.findData(current)))
        self.twin_box.blockSignals(False)
        self.stack.setCurrentWidget(self.content)

    def _rebuild(self, rows: Sequence[AlarmStatus]) -> None:
        keep, current = self.selected_ids(), self._current_id()
        self.model.set_alarms(rows)
        self._select_ids(keep, current)
        if any(s.state in UNACKED for s in rows):
            if not self._flash.isActive():
                self.model.set_flash(True)
                self._flash.start()
        else:
            self._flash.stop()
            self.model.set_flash(False)
        self._show_counts()
        self.update_actions()

    def apply_filters(self) -> None:
        """Apply the twin, priority and state filters (the combos call this)."""
        self.proxy.set_filter(self.twin_box.currentData(), self.priority_box.currentData(),
                              self.state_box.currentData() or ANNUNCIATED)  # fmt: skip
        self._show_counts()
        self.update_actions()

    def set_state_filter(self, label: str) -> None:
        """Choose a state filter by its label ('active and returned', 'shelved', 'everything', ...)."""
        self.state_box.setCurrentIndex(self.state_box.findText(label))

    def _show_counts(self) -> None:
        rows = self.model.alarms()
        shown = self.proxy.rowCount()
        unacked = sum(1 for s in rows if s.state in UNACKED)
        self.counts.setText(f"{shown} shown · {unacked} unacknowledged")
        hidden = {state: 0 for state in HIDDEN_WORDS}
        for s in rows:
            if s.state in hidden and s.state not in self.proxy.states:
                hidden[s.state] += 1
        parts = [f"{n} {HIDDEN_WORDS[state]}" for state, n in hidden.items() if n]
        self.hidden.setText(f"Not shown: {' · '.join(parts)} (state filter)" if parts else "")

    def visible_alarms(self) -> list[AlarmStatus]:
        """The alarms the filters let through, top to bottom."""
        return [self.proxy.alarm(row) for row in range(self.proxy.rowCount())]

    # --- selection ---------------------------------------------------------------------------------

    def selected(self) -> list[AlarmStatus]:
        """The selected alarms, top to bottom."""
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        return [self.proxy.alarm(r) for r in rows]

    def selected_ids(self) -> list[str]:
        """The ids of the selected alarms."""
        return [s.alarm_id for s in self.selected()]

    def _current_id(self) -> str | None:
        index = self.table.currentIndex()
        return self.proxy.alarm(index.row()).alarm_id if index.isValid() else None

    def _proxy_row(self, alarm_id: str) -> int | None:
        row = self.model.row_of(alarm_id)
        if row is None:
            return None
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        return index.row() if index.isValid() else None

    def _select_ids(self, ids: Iterable[str], current: str | None = None) -> None:
        selection = QItemSelection()
        last = self.proxy.columnCount() - 1
        for alarm_id in ids:
            row = self._proxy_row(alarm_id)
            if row is not None:
                selection.select(self.proxy.index(row, 0), self.proxy.index(row, last))
        model = self.table.selectionModel()
        flags = QItemSelectionModel.SelectionFlag
        if current is not None and (row := self._proxy_row(current)) is not None:
            model.setCurrentIndex(self.proxy.index(row, 0), flags.NoUpdate)
        model.select(selection, flags.ClearAndSelect | flags.Rows)

    def select_alarm(self, alarm_id: str) -> bool:
        """Select one alarm and scroll to it, widening the filters when they hide it; False when it is not listed."""
        self.refresh()
        if self.model.row_of(alarm_id) is None:
            return False
        if self._proxy_row(alarm_id) is None:
            self.twin_box.setCurrentIndex(0)
            self.priority_box.setCurrentIndex(0)
            self.set_state_filter("everything")
        row = self._proxy_row(alarm_id)
        if row is None:
            return False
        self._select_ids([alarm_id], alarm_id)
        self.table.scrollTo(self.proxy.index(row, 0))
        self.table.setFocus()
        return True

    # --- commands: enabling ------------------------------------------------------------------------

    def _permissions(self) -> tuple[bool, ...]:
        return tuple(self.ctx.may(a) for a in (Action.ACK_ALARM, Action.SHELVE_ALARM, Action.SUPPRESS_ALARM))

    def targets(self, key: str) -> list[AlarmStatus]:
        """The alarms a command would act on now: the selected (or, for ack_all, the visible) ones it applies to."""
        c = BY_KEY[key]
        pool = self.visible_alarms() if key == "ack_all" else self.selected()
        if key == "trend":
            return [s for s in pool if s.tag][:1]
        return [s for s in pool if s.state in c.applies]

    def permission_tooltip(self, action: Action) -> str:
        """Why a command is not allowed for the session as it is now, in words."""
        rule = f"{who_may(action)} may {action.value.replace('_alarm', '').replace('_', ' ')} alarms"
        user = self.ctx.session.user
        if user is None or self.ctx.session.locked:
            return f"{rule}: log in first"
        return f"{rule} (you are {user.name}, {user.role})"

    def update_actions(self) -> None:
        """Enable each command for a user who may give it and a selection it applies to; say why not otherwise."""
        self._may_key = self._permissions()
        center = self.ctx.alarms
        for c in COMMANDS:
            if center is None:
                enabled, tip = False, NO_ALARMS
            elif c.action is not None and not self.ctx.may(c.action) and not self.ctx.session.locked:
                enabled, tip = False, self.permission_tooltip(c.action)
            else:
                # A locked station (or nobody logged in) keeps the commands: an alarm must not wait for
                # a login to be found; the command asks for one (ctx.command) and the service checks the role.
                if c.key == "ack_all":  # whether any: stops at the first, not a list of every visible row
                    rows = range(self.proxy.rowCount())
                    enabled = any(self.proxy.alarm(r).state in c.applies for r in rows)
                else:
                    enabled = bool(self.targets(c.key))
                tip = DESCRIPTIONS[c.key] if enabled else f"{DESCRIPTIONS[c.key]}: {c.hint}"
                if c.action is not None and self.ctx.session.locked:
                    tip += f" ({self.permission_tooltip(c.action).split(': ')[0]}: you will be asked to log in)"
            for w in (self.actions[c.key], self.buttons[c.key]):
                w.setEnabled(enabled)
                w.setToolTip(tip)

    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for c in COMMANDS:
            if c.key in ("suppress", "trend"):
                menu.addSeparator()
            menu.addAction(self.actions[c.key])
        menu.popup(self.table.viewport().mapToGlobal(pos))  # popup, not exec: no nested event loop

    # --- commands: running -------------------------------------------------------------------------

    def start(self, key: str) -> asyncio.Task | None:
        """Start a command of the pane (what its button does): a dialog, then the command."""
        if key == "trend":
            self.show_trend()
            return None
        return self._spawn(self.ask_and_run(key))

    async def ask_and_run(self, key: str) -> bool:
        """Ask for the comment / reason / duration of a command in its dialog, then run it; True when done."""
        c = BY_KEY[key]
        center = self.ctx.alarms
        targets = self.targets(key)
        if center is None or not targets:
            return False
        names = [f"P{s.priority}  {s.message or s.alarm_id}" for s in targets]
        if key == "shelve":
            dialog: QDialog = ShelveDialog(names, center.max_shelve_s, self)
        else:
            n = len(targets)
            what = "this alarm" if n == 1 else f"these {n} alarms"
            heading = f"{c.label.lstrip('✔ ').rstrip('…')} {what}?"
            ok = "Acknowledge" if c.what == "ack" else c.label.rstrip("…")
            required = c.what in ("suppress", "out_of_service")
            dialog = CommentDialog(c.label.lstrip("✔ ").rstrip("…"), heading, names, ok, required, self)
        code = await run_dialog(self, dialog)
        if code != QDialog.DialogCode.Accepted:
            return False
        duration = dialog.duration_s() if isinstance(dialog, ShelveDialog) else None
        command = AlarmCommand(c.what, tuple(s.alarm_id for s in targets), dialog.comment(), duration)  # type: ignore[attr-defined]
        return await self.run(command)

    async def run(self, command: AlarmCommand) -> bool:
        """Carry out a command as the session's user, apply it here and say what became of it; True when done."""
        center = self.ctx.alarms
        if center is None:
            self._say(NO_ALARMS, problem=True)
            return False
        self._say("…", problem=False)
        try:
            await center.command(await self.ctx.acting_user(), command)
        except (PermissionDenied, SessionLocked, AlarmError) as error:
            self._say(f"{theme.SHAPE_WARNING} Not done: {error}", problem=True)
            return False
        except Exception as error:  # the database or the audit trail is away, or anything unforeseen
            log.warning("alarm command %s failed: %s", command.what, error)
            self._say(f"{theme.SHAPE_WARNING} Not done: {str(error) or type(error).__name__}", problem=True)
            return False
        self.refresh()
        done = next(c.done for c in COMMANDS if c.what == command.what)
        n = len(command.alarm_ids)
        extra = f" for {format_duration(command.duration_s)}" if command.duration_s else ""
        self._say(f"✔ {done} {n} alarm{'s' if n != 1 else ''}{extra}.", problem=False)
        return True

    def _say(self, text: str, problem: bool) -> None:
        self.message.setProperty("kind", "problem" if problem else "ok")
        self.message.setText(text)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    # --- trends ------------------------------------------------------------------------------------

    def show_trend(self) -> tuple[str, float, float] | None:
        """Open the trends pane on the selected alarm's tag, from 10 min before its activation to now."""
        targets = self.targets("trend")
        if not targets:
            return None
        s = targets[0]
        start = (s.activated_at if s.activated_at is not None else s.since) - TREND_BEFORE_S
        end = max(self._clock(), start + TREND_BEFORE_S)
        trends = self._trends_pane()
        if trends is not None:
            trends.show_window([s.tag], start, end)
        else:
            self.ctx.open_trends.emit([s.tag])
        return s.tag, start, end

    def _trends_pane(self) -> Any:
        window = self.window()
        if not isinstance(window, QMainWindow):
            return None
        dock = window.findChild(QDockWidget, "trends")
        pane = dock.widget() if dock is not None else None
        return pane if callable(getattr(pane, "show_window", None)) else None

    # --- background work ---------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task | None:
        try:
            return self._tasks.spawn(coro)
        except RuntimeError:  # no event loop on this thread: nothing runs in the background
            coro.close()
            return None

    async def settle(self) -> None:
        """Wait for the commands started so far (tests, shutdown)."""
        while len(self._tasks):
            await asyncio.sleep(0.01)


register_pane(
    PaneSpec(
        object_name="alarms",
        title="Alarms",
        create=AlarmPane,
        area=Qt.DockWidgetArea.BottomDockWidgetArea,
        order=15,  # right after the overview: across the whole width under it, in front of the operator
    )
)
