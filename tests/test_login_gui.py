"""The login and first-run dialogs in the window: Enter logs in, refusals in words, the lockout, and a
live overview behind the dialog the whole time (the check runs in an executor, no nested event loop)."""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import Callable, Coroutine
from typing import Any

import bcrypt
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLineEdit

from hmi.config import load_config
from hmi.domain.session import Session
from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import Quality, TagValue
from hmi.services import login as login_service
from hmi.services.commands import CommandService
from hmi.store import audit, users
from hmi.store.audit import AuditUnavailable
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from hmi.ui.context import AppContext
from hmi.ui.first_admin_dialog import FirstAdminDialog
from hmi.ui.login_dialog import LoginDialog
from hmi.ui.main_window import MainWindow
from hmi.ui.pane_registry import PaneSpec
from hmi.ui.panes.overview import OverviewPane

PW = "Correct-horse-7"
WS = "ws-test"
TAG = "drillrig1.torque"


class Clock:
    """A monotonic clock the test moves by hand (for the idle lock)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(autouse=True)
def collect_on_the_gui_thread():
    """After the test (and its loop) is done: free its cycles of Qt objects now, on this thread.

    A qasync loop keeps a Qt timer for each call_later until it fires, cancelled or not; freed later by
    the collector on a worker thread, such an object leaves a dangling timer that crashes the process.
    """
    yield
    gc.collect()


@pytest.fixture
def fast_bcrypt(monkeypatch):
    """New hashes at cost 4 (a test may still store a cost-12 hash by hand)."""
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)


@pytest.fixture
def engine(tmp_path, fast_bcrypt):
    url = f"sqlite:///{tmp_path / 'hmi.sqlite'}"
    upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def add_user(engine, name: str, role: str, password: str = PW, *, cost: int | None = None, enabled: bool = True):
    """A user straight into the store (not audited: set-up, not the thing under test)."""
    pw_hash = (bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode() if cost
               else users.new_password_hash(password, name))
    with engine.begin() as conn:
        users.insert_user(conn, name, role, pw_hash)
        if not enabled:
            users.change_user(conn, name, {"enabled": False}, guard_last_admin=False)


def records(engine, **query) -> list[audit.AuditRecord]:
    """Audit records, oldest first."""
    return audit.query(engine, audit.AuditQuery(newest_first=False, **query))


class Station:
    """A window with the real overview on a bare TagBus, a session with a hand clock, and commands on SQLite."""

    def __init__(self, engine, qtbot, tmp_path, idle_lock_s: float = 60.0) -> None:
        self.engine = engine
        self.clock = Clock()
        self.session = Session(WS, idle_lock_s=idle_lock_s, clock=self.clock)
        self.ctx = AppContext(load_config().plant(), TagBus(), "sqlite://", session=self.session,
                              commands=CommandService(engine, self.session.actor, WS))
        panes = [PaneSpec("overview", "Overview", OverviewPane, Qt.DockWidgetArea.LeftDockWidgetArea)]
        settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
        self.window = MainWindow(self.ctx, panes, settings=settings)
        qtbot.addWidget(self.window)
        self.window.show()
        qtbot.waitExposed(self.window)
        self.sessions = self.window.sessions
        self.pane: OverviewPane = self.window.docks["overview"].widget()
        self.changes = 0
        self.ctx.session_changed.connect(self._count)
        self.value = 100.0

    def _count(self) -> None:
        self.changes += 1

    def shown(self) -> str:
        return self.pane.value_text(TAG)

    def publish(self, value: float | None = None) -> float:
        """Put a new torque on the bus (the refresh timer or ``refresh`` shows it)."""
        self.value = self.value + 0.5 if value is None else value
        self.ctx.bus.publish([TagValue(TAG, self.value, Quality.GOOD, 1.7e9, 1.7e9)])
        return self.value

    def user_slot(self) -> str:
        return self.window.status.user_label.text()


@pytest.fixture
def station(engine, qtbot, tmp_path, qasync_loop) -> Station:
    s = Station(engine, qtbot, tmp_path)
    yield s
    s.ctx.stop()


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
    """Run ``coro`` on the qasync loop, failing after ``timeout`` (polled: no long-lived loop timer)."""
    task = loop.create_task(coro)

    async def guard() -> Any:
        deadline = loop.time() + timeout
        while not task.done():
            if loop.time() > deadline:
                task.cancel()
                raise AssertionError(f"timed out after {timeout} s")
            await asyncio.sleep(0.02)
        return task.result()

    return loop.run_until_complete(guard())


async def wait(future: asyncio.Future[Any], timeout: float = 30.0) -> Any:
    """Await ``future``, failing after ``timeout`` (polled, like ``run``)."""
    await until(future.done, timeout, "an answer")
    return future.result()


async def until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``condition`` on the running loop until it is truthy; its value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.02)


async def prompt(station: Station, coro: Coroutine[Any, Any, bool] | None = None):
    """Start a login prompt (or ``coro``) and return (its task, the dialog on screen)."""
    task = asyncio.ensure_future(coro or station.sessions.prompt_login())
    dialog = await until(lambda: station.sessions.dialog, what="the login dialog")
    return task, dialog


async def attempt(qtbot, dialog: LoginDialog, name: str | None, password: str) -> str:
    """Type the password (and the name) and press Enter in the password field; the message shown."""
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_attempted(text: str) -> None:
        if not done.done():
            done.set_result(text)

    dialog.attempted.connect(on_attempted)
    if name is not None:
        dialog.name_edit.clear()
        qtbot.keyClicks(dialog.name_edit, name)
    dialog.password_edit.clear()
    qtbot.keyClicks(dialog.password_edit, password)
    qtbot.keyClick(dialog.password_edit, Qt.Key.Key_Return)
    try:
        return await wait(done)
    finally:
        try:
            dialog.attempted.disconnect(on_attempted)
        except RuntimeError:  # accepted: the dialog is gone already
            pass


# --- logging in ---------------------------------------------------------------------------------------


def test_enter_in_the_password_field_logs_in_and_the_status_bar_shows_the_user(station, qtbot, qasync_loop):
    add_user(station.engine, "olga", "operator")
    assert station.user_slot() == "View only — log in to give commands"

    async def scenario():
        task, dialog = await prompt(station)
        assert isinstance(dialog, LoginDialog) and dialog.isVisible() and dialog.isModal()
        assert dialog.password_edit.echoMode() == QLineEdit.EchoMode.Password
        assert await attempt(qtbot, dialog, "olga", PW) == ""
        return await task

    assert run(qasync_loop, scenario()) is True
    assert station.session.user.name == "olga" and not station.session.locked
    assert station.user_slot() == "olga · operator"
    assert station.sessions.dialog is None
    (rec,) = records(station.engine)
    assert (rec.entry.action, rec.entry.user, rec.entry.role, rec.entry.result, rec.entry.workstation) == (
        "login", "olga", "operator", "ok", WS)


def test_a_wrong_password_is_said_in_the_dialog_audited_and_the_name_kept(station, qtbot, qasync_loop):
    add_user(station.engine, "olga", "operator")

    async def scenario():
        task, dialog = await prompt(station)
        message = await attempt(qtbot, dialog, "olga", "not-the-password-1")
        seen = (message, dialog.message.isVisible(), dialog.message.message, dialog.name_edit.text(),
                dialog.password_edit.text(), dialog.password_edit.hasFocus() or dialog.isActiveWindow())
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        return seen, await task

    (message, visible, shown, name, password, _), ok = run(qasync_loop, scenario())
    assert message == "wrong user name or password" and visible and shown == message
    assert name == "olga" and password == ""  # the name kept, the password cleared
    assert ok is False and station.session.user is None
    (rec,) = records(station.engine)
    assert (rec.entry.action, rec.entry.user, rec.entry.result) == ("login", "olga", "refused")
    assert rec.entry.detail == "wrong user name or password"


def test_five_wrong_passwords_lock_the_account_while_the_overview_keeps_updating(station, qtbot, qasync_loop):
    # A real cost-12 hash: each check takes ~0.25 s, long enough to see the overview move meanwhile.
    add_user(station.engine, "otto", "operator", cost=12)
    station.ctx.start()  # the refresh timer, as in the application

    async def scenario():
        stop = asyncio.Event()

        async def plant() -> None:  # values keep arriving, as from the PLC
            while not stop.is_set():
                station.publish()
                await asyncio.sleep(0.03)

        feeder = asyncio.ensure_future(plant())
        task, dialog = await prompt(station)
        results = []
        try:
            for i in range(6):
                before = station.shown()
                during: set[str] = set()
                busy_seen = []

                def sample() -> None:
                    if dialog.busy:
                        during.add(station.shown())
                        busy_seen.append(dialog.progress.isVisible() and not dialog.password_edit.isEnabled())

                station.ctx.tick.connect(sample)
                message = await attempt(qtbot, dialog, "otto" if i == 0 else None, f"wrong-password-{i}")
                station.ctx.tick.disconnect(sample)
                await until(lambda: station.shown() != before, what="a new value after the attempt")
                results.append((message, during, all(busy_seen) and bool(busy_seen), dialog.name_edit.text(),
                                station.shown() != before))
        finally:
            stop.set()
            await feeder
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        await task
        return results

    results = run(qasync_loop, scenario(), timeout=120)
    for message, during, busy_cue, name, changed in results[:5]:
        assert message == "wrong user name or password"
        assert len(during) >= 2, f"the overview stood still during the bcrypt check: {during}"
        assert busy_cue and name == "otto" and changed
    message, _, _, name, changed = results[5]
    assert re.fullmatch(r"account otto is locked after repeated failed logins; try again in \d+ s", message), message
    assert int(re.search(r"in (\d+) s", message).group(1)) in range(25, 31)
    assert changed and name == "otto"
    refused = records(station.engine, user="otto", action="login")
    assert [r.entry.result for r in refused] == ["refused"] * 6
    assert "locked" in refused[-1].entry.detail
    assert users.get_user(station.engine, "otto").failed_logins == 5
    assert station.session.user is None


def test_a_disabled_account_and_an_unwritable_audit_trail_are_said_in_words(station, qtbot, qasync_loop, monkeypatch):
    add_user(station.engine, "dora", "operator", enabled=False)
    add_user(station.engine, "olga", "operator")

    def no_audit(engine, entry, **kw):
        raise AuditUnavailable("the audit trail in sqlite:///hmi.sqlite cannot be written: disk I/O error")

    async def scenario():
        task, dialog = await prompt(station)
        disabled = await attempt(qtbot, dialog, "dora", PW)
        monkeypatch.setattr(login_service, "record", no_audit)
        unaudited = await attempt(qtbot, dialog, "olga", PW)
        empty_name = await attempt(qtbot, dialog, "", PW)
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
        return disabled, unaudited, empty_name, await task

    disabled, unaudited, empty_name, ok = run(qasync_loop, scenario())
    assert disabled == "account dora is disabled; ask an admin"
    assert unaudited == ("the audit trail in sqlite:///hmi.sqlite cannot be written: disk I/O error; log-in refused")
    assert empty_name == "enter your user name"
    assert ok is False and station.session.user is None


def test_the_view_only_answer_at_start_leaves_the_station_live_and_view_only(station, qtbot, qasync_loop):
    add_user(station.engine, "olga", "operator")

    async def scenario():
        task, dialog = await prompt(station, station.sessions.greet())
        assert dialog.cancel_button.text() == "View only"
        station.publish(42.0)
        station.ctx.refresh()
        shown = station.shown()
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        return shown, await task

    shown, ok = run(qasync_loop, scenario())
    assert shown == "42.0" and ok is False
    assert station.user_slot() == "View only — log in to give commands"
    assert station.sessions.act_login.isEnabled() and not station.sessions.act_lock.isEnabled()
    assert records(station.engine) == []


def test_one_login_dialog_at_a_time(station, qtbot, qasync_loop):
    add_user(station.engine, "olga", "operator")

    async def scenario():
        first, dialog = await prompt(station)
        second = asyncio.ensure_future(station.sessions.prompt_login())
        await asyncio.sleep(0.1)
        dialogs = [d for d in station.window.findChildren(LoginDialog) if d.isVisible()]
        await attempt(qtbot, dialog, "olga", PW)
        return len(dialogs), await first, await second

    assert run(qasync_loop, scenario()) == (1, True, True)


# --- first run ----------------------------------------------------------------------------------------


def test_first_run_creates_the_admin_and_a_73_byte_password_gets_the_policy_message(station, qtbot, qasync_loop):
    assert login_service.needs_first_admin(station.engine)
    too_long = "Ä" * 36 + "a"  # 73 bytes in UTF-8
    assert len(too_long.encode()) == 73

    async def fill(dialog: FirstAdminDialog, name: str, password: str, repeat: str) -> str:
        done = asyncio.get_running_loop().create_future()
        dialog.attempted.connect(lambda text: done.done() or done.set_result(text))
        for edit, text in ((dialog.name_edit, name), (dialog.password_edit, password), (dialog.repeat_edit, repeat)):
            edit.clear()
            qtbot.keyClicks(edit, text)
        qtbot.keyClick(dialog.repeat_edit, Qt.Key.Key_Return)
        return await wait(done)

    async def scenario():
        task, dialog = await prompt(station, station.sessions.greet())
        assert isinstance(dialog, FirstAdminDialog)
        messages = [
            await fill(dialog, "admin", too_long, too_long),
            await fill(dialog, "admin", "Short-1", "Short-1"),
            await fill(dialog, "admin", "Admin-password-1", "Admin-password-1"),
            await fill(dialog, "root", PW, PW + "x"),
        ]
        shown = dialog.message.message
        messages.append(await fill(dialog, "root", PW, PW))
        return messages, shown, await task

    messages, shown, ok = run(qasync_loop, scenario())
    assert messages[0] == ("password is too long: 73 bytes in UTF-8, at most 72 "
                           "(letters outside ASCII take 2-4 bytes each)")
    assert messages[1].startswith("password is too short")
    assert messages[2] == "password must not contain the user name"
    assert messages[3] == "the two passwords differ; type the same password twice" == shown
    assert messages[4] == "" and ok is True
    assert station.session.user.name == "root" and station.session.user.role == "admin"
    assert station.user_slot() == "root · admin"
    assert [(r.entry.action, r.entry.user, r.entry.result) for r in records(station.engine)] == [
        ("create_first_admin", "root", "ok"), ("login", "root", "ok")]
    assert station.sessions.act_users.isEnabled()
