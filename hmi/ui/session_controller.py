"""Who is at the workstation, in the window: log in, switch user, lock, log out, the idle lock, Users….

The station is never closed by the session: a locked or logged-out station shows everything live
and only asks for a login when a command is given (``ctx.command`` calls ``prompt_login``). Logins
are checked and audited by hmi.services.login in an executor (bcrypt, the database); a logout is
recorded there too. A lock is not a command: it is shown, not audited.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from functools import partial

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDialog, QMainWindow

from hmi.domain.permissions import Action, Principal
from hmi.domain.session import SessionUser
from hmi.services import login as login_service
from hmi.domain.errors import one_line
from hmi.domain.users import UserInfo
from hmi.ui.context import AppContext
from hmi.ui.dialog_tasks import Tasks, in_executor, run_dialog
from hmi.ui.first_admin_dialog import FirstAdminDialog
from hmi.ui.login_dialog import BusyDialog, LoginDialog, refusal_text
from hmi.ui.users_dialog import UsersDialog

log = logging.getLogger(__name__)

LOCK_CHECK_MS = 1000
ACTIVITY = frozenset({
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick, QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
})  # fmt: skip
SHUTDOWN_AUDIT_S = 5.0


class ActivityFilter(QObject):
    """Application-wide: a key, a click or the wheel anywhere restarts the idle timer. Never eats an event."""

    def __init__(self, touch: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._touch = touch
        self.seen = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        # Every event of the application passes here (some 10,000 a second in an alarm flood: timers, paints,
        # queued calls). Input is spontaneous (from the window system, or QTest); asking that first is a
        # plain bool, while event.type() builds a Python enum each time.
        if event.spontaneous() and event.type() in ACTIVITY:
            self.seen += 1
            self._touch()
        return False


def who(user: Principal | None) -> str:
    """'olga (operator)'."""
    return "" if user is None else f"{user.name} ({getattr(user.role, 'value', user.role)})"


class SessionController(QObject):
    """The Session menu's actions, the login and first-run dialogs, the idle lock and the logout records."""

    message = Signal(str)  # something the operator should read (a logout that could not be audited ...)

    def __init__(self, ctx: AppContext, window: QMainWindow) -> None:
        super().__init__(window)
        self.ctx = ctx
        self.tasks = Tasks()
        self.dialog: BusyDialog | None = None  # the login or first-run dialog on screen
        self.users_dialog: UsersDialog | None = None
        self._prompt: asyncio.Future[bool] | None = None
        self._state = self._snapshot()
        self._build_actions()
        ctx.login_prompt = _weak_prompt(self)
        ctx.session_changed.connect(self.refresh_actions)
        self._timer = QTimer(self)
        self._timer.setInterval(LOCK_CHECK_MS)
        self._timer.timeout.connect(self.check_lock)
        self._timer.start()
        self.activity = ActivityFilter(ctx.session.touch, self)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self.activity)
        self.refresh_actions()

    @property
    def window(self) -> QMainWindow:
        """The window this controller belongs to (its Qt parent; not kept in an attribute, so no reference cycle).

        A cycle of Python references through Qt objects is freed by the garbage collector on whichever
        thread happens to run it; a QObject destroyed off the GUI thread leaves dangling timers behind.
        """
        return self.parent()  # type: ignore[return-value]

    # --- actions -----------------------------------------------------------------------------------

    def _build_actions(self) -> None:
        w = self.window
        self.act_login = QAction("Log &in…", w, triggered=self.on_login)
        self.act_login.setObjectName("act_login")
        self.act_switch = QAction("&Switch user…", w, triggered=self.on_switch)
        self.act_switch.setObjectName("act_switch_user")
        self.act_lock = QAction("&Lock now", w, shortcut=QKeySequence("Ctrl+L"), triggered=self.lock)
        self.act_lock.setObjectName("act_lock")
        self.act_logout = QAction("Log &out", w, triggered=self.on_logout)
        self.act_logout.setObjectName("act_logout")
        self.act_users = QAction("&Users…", w, triggered=self.on_users)
        self.act_users.setObjectName("act_users")
        self.actions = [self.act_login, self.act_switch, self.act_lock, self.act_logout, self.act_users]

    def refresh_actions(self) -> None:
        """Enable what the session allows now (a convenience: the services check)."""
        s = self.ctx.session
        usable = self.ctx.commands is not None
        active = usable and not s.locked
        self.act_login.setEnabled(usable and s.locked)
        self.act_login.setText("Log &in…" if s.user is None else "Log &in again… (unlock)")
        self.act_switch.setEnabled(active)
        self.act_lock.setEnabled(active)
        self.act_logout.setEnabled(active)
        self.act_users.setEnabled(usable and self.ctx.may(Action.MANAGE_USERS))

    def on_login(self) -> None:
        self.tasks.spawn(self.prompt_login())

    def on_switch(self) -> None:
        self.tasks.spawn(self.switch_user())

    def on_logout(self) -> None:
        self.tasks.spawn(self.logout())

    def on_user_slot(self) -> None:
        """The user slot in the status bar was clicked: log in (or switch user when someone is)."""
        if self.ctx.commands is None:
            return
        if self.ctx.session.locked:
            self.on_login()
        else:
            self.on_switch()

    def on_users(self) -> None:
        """Session > Users…: one dialog, raised if already open."""
        if self.users_dialog is not None:
            self.users_dialog.raise_()
            self.users_dialog.activateWindow()
            return
        dialog = UsersDialog(self.ctx, self.window)
        self.users_dialog = dialog
        dialog.finished.connect(lambda code: self._users_closed(dialog))
        dialog.show()
        dialog.reload()

    def _users_closed(self, dialog: UsersDialog) -> None:
        if self.users_dialog is dialog:
            self.users_dialog = None
        dialog.deleteLater()

    # --- the lock ----------------------------------------------------------------------------------

    def _snapshot(self) -> tuple[str | None, bool]:
        s = self.ctx.session
        return (None if s.user is None else s.user.name, s.locked)

    def check_lock(self) -> None:
        """Every second: tell the window once when the session changed by itself (the idle lock)."""
        self._changed()

    def _changed(self) -> None:
        state = self._snapshot()
        if state != self._state:
            self._state = state
            if state[1] and state[0] is not None:
                log.info("workstation locked (last user %s)", state[0])
            self.ctx.session_changed.emit()

    def lock(self) -> None:
        """Session > Lock now (Ctrl+L): commands need a login again; the user stays named; not audited."""
        self.ctx.session.lock()
        self._changed()

    # --- logging in --------------------------------------------------------------------------------

    async def prompt_login(
        self, *, title: str | None = None, cancel_text: str = "Cancel", note: str | None = None, name: str | None = None
    ) -> bool:
        """Show the login dialog (the first-run dialog on an empty database); True once someone logged in.

        Only one is on screen at a time: a second caller waits for the same answer. ``ctx.login_prompt``.
        """
        if self.ctx.commands is None:
            return False
        if self._prompt is not None and not self._prompt.done():
            return await asyncio.shield(self._prompt)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._prompt = future
        try:
            ok = await self._show_login(title, cancel_text, note, name)
        except BaseException:
            future.cancel()
            raise
        future.set_result(ok)
        return ok

    async def _show_login(self, title: str | None, cancel_text: str, note: str | None, name: str | None) -> bool:
        commands = self.ctx.commands
        assert commands is not None
        engine, workstation = commands.engine, commands.workstation
        try:
            first_run = await in_executor(login_service.needs_first_admin, engine)
        except Exception as error:  # the dialog will say what is wrong when a login is tried
            log.warning("could not ask the database whether it has users: %s", one_line(error))
            first_run = False
        s = self.ctx.session
        dialog: BusyDialog
        if first_run:
            dialog = FirstAdminDialog(partial(_create_and_log_in, engine, workstation), self.window,
                                      cancel_text=cancel_text)
        else:
            if note is None and s.user is not None and s.locked:
                note = f"The station is locked. Last user: {who(s.user)}. Log in to give commands."
            dialog = LoginDialog(
                partial(_authenticate, engine, workstation), self.window,
                name=s.user.name if name is None and s.user is not None else (name or ""),
                title=title or ("Unlock" if s.user is not None and s.locked else "Log in"),
                note=note or "", cancel_text=cancel_text,
            )  # fmt: skip
        code = await run_dialog(self, dialog)
        if code != QDialog.DialogCode.Accepted or dialog.user is None:
            return False
        await self.logged_in(dialog.user)
        return True

    async def logged_in(self, user: UserInfo) -> None:
        """``user`` proved who they are (their login is on the record): the station is theirs.

        Whoever was logged in before and is not the same user is logged out, on the record, as a
        switch of user (a shift handover, or another user at the lock).
        """
        s = self.ctx.session
        previous = s.user
        s.login(user)
        self._changed()
        if previous is not None and previous.name != user.name:
            await self._record_logout(previous, "switch user")

    async def switch_user(self) -> bool:
        """Session > Switch user…: the new user logs in over the live window; the old one stays until then."""
        s = self.ctx.session
        note = f"Shift handover: {who(s.user)} stays logged in until the next user has logged in." if s.user else ""
        return await self.prompt_login(title="Switch user", note=note, name="")

    async def log_in_as(self, name: str, password: str) -> UserInfo:
        """Log in without the dialog (``hmi demo --login NAME``); raises what authenticate raises."""
        commands = self.ctx.commands
        assert commands is not None
        user = await in_executor(_authenticate, commands.engine, commands.workstation, name, password)
        await self.logged_in(user)
        return user

    async def greet(self, *, show_dialog: bool = True) -> bool:
        """At start, over the live window: the first-run dialog, or the login dialog (Cancel: view only)."""
        if not show_dialog or self.ctx.commands is None:
            return False
        return await self.prompt_login(
            cancel_text="View only",
            note="Log in to give commands. View only: everything stays live; a command asks for a login.",
        )

    # --- logging out -------------------------------------------------------------------------------

    async def logout(self, reason: str = "log out") -> None:
        """Session > Log out: nobody is logged in (views stay); the logout is recorded."""
        s = self.ctx.session
        user = s.user
        if user is None:
            return
        s.logout()
        self._changed()
        await self._record_logout(user, reason)

    async def _record_logout(self, user: SessionUser, reason: str) -> None:
        commands = self.ctx.commands
        if commands is None:
            return
        try:
            await in_executor(partial(login_service.record_logout, commands.engine, user,
                                      workstation=commands.workstation, reason=reason))
        except Exception as error:
            text = refusal_text(error, "recording the logout")
            log.error("the logout of %s (%s) could not be audited: %s", user.name, reason, text)
            self.message.emit(f"the logout of {user.name} could not be recorded: {text}")

    async def shutdown(self) -> None:
        """The window closes: dialogs go, and a logged-in user is logged out on the record (bounded wait)."""
        self._timer.stop()
        self.tasks.cancel()
        if self._prompt is not None and not self._prompt.done():
            self._prompt.cancel()
        for dialog in (self.dialog, self.users_dialog):
            if dialog is not None:
                dialog.close()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.activity)
        if self.ctx.session.user is not None:
            try:
                await asyncio.wait_for(self.logout("window closed"), SHUTDOWN_AUDIT_S)
            except asyncio.TimeoutError:
                log.error("the logout at shutdown could not be recorded within %.0f s", SHUTDOWN_AUDIT_S)


def _weak_prompt(controller: SessionController) -> Callable[[], Awaitable[bool]]:
    """``ctx.login_prompt`` without a strong reference from the context back to the controller."""
    method = weakref.WeakMethod(controller.prompt_login)

    async def login_prompt() -> bool:
        prompt = method()
        return False if prompt is None else await prompt()

    return login_prompt


def _authenticate(engine, workstation: str, name: str, password: str) -> UserInfo:  # noqa: ANN001 (Engine)
    return login_service.authenticate(engine, name, password, workstation=workstation)


def _create_and_log_in(engine, workstation: str, name: str, password: str) -> UserInfo:  # noqa: ANN001
    """First run: create the admin, then log them in (both on the record)."""
    login_service.create_first_admin(engine, name, password, workstation=workstation)
    return login_service.authenticate(engine, name, password, workstation=workstation)
