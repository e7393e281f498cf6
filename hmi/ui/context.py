"""What every pane gets: the plant, the live values, the history, the links, the session and the app-wide signals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from hmi.domain.permissions import Action, Principal
from hmi.domain.plant import Plant
from hmi.domain.session import Session, SessionLocked
from hmi.domain.tag_bus import TagBus
from hmi.domain.historian import WriterStats
from hmi.domain.links import LinkStatus
from hmi.domain.tags import TagValue
from hmi.services.alarm_center import AlarmCenter
from hmi.services.commands import CommandService, workstation_name

REFRESH_MS = 100
T = TypeVar("T")


class NoCommands(Exception):
    """This window was built without a database for commands (a viewer or a test)."""


class AppContext(QObject):
    """The panes' view of the running application; built by hmi.app, or by a test with a bare TagBus.

    ``tick`` is emitted by one refresh timer with the set of tag ids that changed since the last
    tick, so every pane redraws at most once per tick whatever the data rate.
    """

    tick = Signal(object)  # set[str]: tag ids changed since the previous tick
    open_trends = Signal(object)  # list[str]: tag ids the trends pane should show
    status_changed = Signal()  # links or historian state may have changed
    session_changed = Signal()  # login, logout, switch of user, lock

    def __init__(
        self,
        plant: Plant,
        bus: TagBus,
        history_url: str,
        links: Callable[[], tuple[LinkStatus, ...]] = tuple,
        historian: Callable[[], WriterStats | None] = lambda: None,
        parent: QObject | None = None,
        *,
        session: Session | None = None,
        commands: CommandService | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session or Session(workstation_name())
        self.commands = commands
        # Set by the main window: shows the login dialog, True once someone logged in.
        self.login_prompt: Callable[[], Awaitable[bool]] | None = None
        # Set by hmi.app: writes a setpoint tag's value to its PLC (blocking; call it in an executor).
        self.setpoint_writer: Callable[[str, float], None] | None = None
        # Set by hmi.app (or a test): this workstation's alarm system; None in a window without one.
        self.alarms: AlarmCenter | None = None
        self.plant = plant
        self.bus = bus
        self.history_url = history_url
        self._links = links
        self._historian = historian
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._on_timer)

    def start(self) -> None:
        """Start the refresh timer."""
        self._timer.start()

    def stop(self) -> None:
        """Stop the refresh timer."""
        self._timer.stop()

    def latest(self, tag: str) -> TagValue | None:
        """The newest value of a tag, or None before the first one arrived."""
        return self.bus.latest(tag)

    def links(self) -> tuple[LinkStatus, ...]:
        """The state of every PLC link."""
        return self._links()

    def historian(self) -> WriterStats | None:
        """The historian writer's counters, or None where there is no writer (a viewer or a test)."""
        return self._historian()

    def may(self, action: Action) -> bool:
        """Whether the session's user may do ``action`` now (to enable buttons; the service checks again)."""
        return self.session.may(action)

    async def command(self, call: Callable[[CommandService], T]) -> T:
        """Run ``call(commands)`` (a service call) in an executor as the session's user.

        A locked station first asks for a login (login_prompt); SessionLocked if nobody logs in.
        PermissionDenied, AuditUnavailable and the services' own errors reach the caller.
        """
        if self.commands is None:
            raise NoCommands("this window has no database for commands")
        actor = await self.acting_user()
        commands = CommandService(self.commands.engine, lambda: actor, self.commands.workstation)
        return await asyncio.get_running_loop().run_in_executor(None, call, commands)

    async def acting_user(self) -> Principal:
        """The session's user for a command given now; a locked station first asks for a login
        (login_prompt), SessionLocked if nobody logs in."""
        if self.session.locked:
            if self.login_prompt is None or not await self.login_prompt():
                raise SessionLocked("the workstation is locked: log in to give commands")
        return self.session.actor()  # on this thread, at the moment of the click

    def refresh(self) -> None:
        """Emit one tick now with what changed (the timer calls this; tests may too)."""
        self._on_timer()

    def _on_timer(self) -> None:
        changed = self.bus.drain_changed()
        if changed:
            self.tick.emit(changed)
        self.status_changed.emit()
