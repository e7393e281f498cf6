"""The frame the order, planning, shopfloor and production panes share: read the source every
POLL_MS while on screen (never while hidden), at once after a command, one read at a time, and say in
a line under the content when a read or a command failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TypeVar

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QWidget

from hmi.domain.errors import one_line
from hmi.domain.session import SessionLocked
from hmi.domain.permissions import PermissionDenied
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.orders_source import OrdersSource, ServiceOrdersSource, source_for
from hmi.ui.report_widgets import ReportPane, note_label, refusal_label, set_note

log = logging.getLogger(__name__)
T = TypeVar("T")

POLL_MS = 1500
NO_DATABASE = "This window has no database, so there are no orders or shopfloors to show."


def utc_now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(timezone.utc)


def message_style(p: theme.Palette, name: str) -> str:
    """The QSS of a pane's message line: calm for an outcome, amber with a shape for a problem."""
    return f"""
    QLabel#{name}[kind="problem"] {{ background: {theme.WARNING}; color: #000000; font-weight: bold; padding: 3px 6px; }}
    QLabel#{name}[kind="ok"] {{ color: {p.text}; padding: 3px 6px; }}
    """


class PollingPane(ReportPane):
    """A pane over an OrdersSource: ``load`` (each pane's) reads and shows; ``run`` gives a command."""

    def __init__(self, ctx: AppContext, source: OrdersSource | None, name: str,
                 stylesheet: Callable[[theme.Palette], str], clock: Callable[[], datetime] = utc_now,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(ctx, lambda: clock().timestamp(), name, stylesheet, parent)
        self.source = source_for(ctx, source)
        self.now = clock
        self._reading = False
        self._again = False
        self.loads = 0  # reads that arrived (tests wait on it)
        self.attempts = 0  # reads finished, arrived or failed
        self.refusal = refusal_label(NO_DATABASE, f"{name}Refusal")
        self.message = note_label(f"{name}Message")
        self._poll = self.while_visible(POLL_MS, self.refresh_now)

    @property
    def has_data(self) -> bool:
        """False in a window without a database (nothing to read)."""
        return not (isinstance(self.source, ServiceOrdersSource) and self.ctx.commands is None)

    def recheck(self) -> None:
        """The session changed: re-enable the commands (each pane's ``update_actions``) and read again."""
        self.update_actions()
        self.refresh_now()

    def update_actions(self) -> None:
        """Enable the pane's commands for the session as it is now (panes with commands override this)."""

    def refresh_now(self) -> None:
        """Read now (in the background); a read asked for while one runs follows it."""
        if not self.has_data:
            self.stack.setCurrentWidget(self.refusal)
            return
        if self._reading:
            self._again = True
            return
        self._spawn(self._read())

    async def _read(self) -> None:
        self._reading = True
        try:
            await self.load()
            self.loads += 1
            if self.message.property("kind") == "readfail":
                self.say("")
        except Exception as error:  # noqa: BLE001 - shown in one line; the next poll tries again
            log.warning("%s: read failed: %s", self.objectName(), error)
            self.say(f"{theme.SHAPE_WARNING} could not read: {one_line(error)}", "problem")
            self.message.setProperty("kind", "readfail")
        finally:
            self._reading = False
            self.attempts += 1
        if self._again:
            self._again = False
            self._spawn(self._read())

    async def read_fresh(self) -> None:
        """Read now and wait until a read that started after this call has finished."""
        target = self.attempts + (2 if self._reading else 1)
        self.refresh_now()
        while self.attempts < target and self.has_data:
            await asyncio.sleep(0.01)

    async def load(self) -> None:
        """Read from the source and show it (each pane)."""
        raise NotImplementedError

    async def run(self, done: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """Give a command (``call`` awaits the source); say ``done`` or why not; read again at once."""
        self.say("…")
        try:
            result = await call()
        except (PermissionDenied, SessionLocked) as error:
            self.update_actions()
            self.say(f"{theme.SHAPE_WARNING} Not done: {one_line(error)}", "problem")
            return None
        except Exception as error:  # noqa: BLE001 - the service's refusal in its own words
            log.info("%s: command refused: %s", self.objectName(), error)
            self.say(f"{theme.SHAPE_WARNING} Not done: {one_line(error)}", "problem")
            self.refresh_now()
            return None
        self.say(f"✔ {done}")
        self.refresh_now()
        return result

    def say(self, text: str, kind: str = "ok") -> None:
        """Put ``text`` in the message line (kind 'problem': amber, with the shape the text starts with)."""
        set_note(self.message, text, kind)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.has_data:
            self._poll.start()
        self.refresh_now()

