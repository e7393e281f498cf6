"""Sessions in the window: the idle lock, Lock now, switch user, log out, the Session menu per role,
Users…, the status bar's user slot, and run_gui / `hmi demo` starting with users."""

from __future__ import annotations

import argparse
import asyncio
import stat

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from sqlalchemy import text

from hmi.commands import demo as demo_command
from hmi.commands.errors import CommandError
from hmi.commands.gui import check_gui_options, idle_lock_s
from hmi.config import load_config
from hmi.domain.passwords import check_password
from hmi.domain.permissions import Action, PermissionDenied, Role, allowed
from hmi.domain.session import DEFAULT_IDLE_LOCK_S, SessionLocked
from hmi.services import login as login_service
from hmi.services import user_admin
from hmi.store import audit, users
from hmi.ui.login_dialog import LoginDialog
from hmi.ui.pane_registry import PaneSpec
from hmi.ui.users_dialog import PasswordDialog, UsersDialog
from tests.test_login_gui import (  # noqa: F401 (fixtures)
    PW, WS, Station, add_user, attempt, collect_on_the_gui_thread, engine, fast_bcrypt, prompt, records, run, station,
    until,
)


def mark_table(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE marks (what TEXT, by_user TEXT)"))


def marks(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT what, by_user FROM marks"))]


def ack(commands):
    """A service call that writes something and its audit record (as the acting user)."""

    def do(conn, change):
        conn.execute(text("INSERT INTO marks VALUES ('ack', :u)"), {"u": commands._actor().name})

    return commands.run(Action.ACK_ALARM, "alarm 1", do)


def login(station: Station, qasync_loop, name: str, password: str = PW) -> None:
    run(qasync_loop, station.sessions.log_in_as(name, password))


# --- the idle lock ------------------------------------------------------------------------------------


def test_the_idle_lock_blocks_commands_but_not_the_views(station, qtbot, qasync_loop):
    add_user(station.engine, "olga", "operator")
    mark_table(station.engine)
    login(station, qasync_loop, "olga")
    assert station.sessions._timer.isActive() and station.sessions._timer.interval() == 1000
    seq = audit.last_seq(station.engine)
    changes = station.changes
    station.clock.t += 61  # idle longer than the 60 s lock
    for _ in range(3):
        station.sessions.check_lock()  # what the 1 s timer does
    assert station.changes == changes + 1  # told once
    assert audit.last_seq(station.engine) == seq  # a lock is not a command: nothing audited
    assert station.user_slot() == "Locked — last user olga (operator)"
    assert station.window.status.user_label.locked  # with a padlock drawn before the words
    assert station.window.status.user_label.property("health") == "warn"
    station.publish(77.0)
    station.ctx.refresh()
    assert station.shown() == "77.0"  # the views keep updating

    async def scenario():
        task, dialog = await prompt(station, station.ctx.command(ack))
        seen = (dialog.windowTitle(), dialog.name_edit.text())
        station.publish(78.0)
        station.ctx.refresh()
        seen += (station.shown(),)
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        with pytest.raises(SessionLocked):
            await task
        return seen

    assert run(qasync_loop, scenario()) == ("Unlock", "olga", "78.0")
    assert marks(station.engine) == [] and audit.last_seq(station.engine) == seq  # nothing in the database

    async def unlock_and_command():
        task, dialog = await prompt(station, station.ctx.command(ack))
        await attempt(qtbot, dialog, None, PW)  # the name offered is the last user's
        return await task

    run(qasync_loop, unlock_and_command())
    assert marks(station.engine) == [("ack", "olga")]
    assert not station.session.locked and station.user_slot() == "olga · operator"
    assert [(r.entry.action, r.entry.result) for r in records(station.engine)][-2:] == [
        ("login", "ok"), ("ack_alarm", "ok")]


def test_a_key_or_a_click_anywhere_keeps_the_station_unlocked(station, qtbot, qasync_loop):
    add_user(station.engine, "olga", "operator")
    login(station, qasync_loop, "olga")
    station.clock.t += 50
    qtbot.keyClick(station.pane, Qt.Key.Key_Shift)  # the application-wide filter sees it
    station.clock.t += 50
    assert not station.session.locked
    qtbot.mouseClick(station.window.status, Qt.MouseButton.LeftButton)
    station.clock.t += 50
    assert not station.session.locked
    station.clock.t += 11
    station.sessions.check_lock()
    assert station.session.locked and station.sessions.activity.seen >= 2


def test_a_key_the_program_sends_itself_is_not_activity(station, qtbot, qasync_loop):
    """Only input from the window system (spontaneous) restarts the idle timer; the filter sees every event
    of the application, so it asks that first."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    add_user(station.engine, "olga", "operator")
    login(station, qasync_loop, "olga")
    seen = station.sessions.activity.seen
    station.clock.t += 50
    QApplication.sendEvent(station.pane, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Shift, Qt.KeyboardModifier.NoModifier))
    station.clock.t += 11
    station.sessions.check_lock()
    assert station.session.locked and station.sessions.activity.seen == seen


def test_lock_now_is_ctrl_l_and_is_not_audited(station, qtbot, qasync_loop):
    add_user(station.engine, "olga", "operator")
    login(station, qasync_loop, "olga")
    seq = audit.last_seq(station.engine)
    assert station.sessions.act_lock.shortcut().toString() == "Ctrl+L"
    station.sessions.act_lock.trigger()
    assert station.session.locked and station.session.user.name == "olga"
    assert station.user_slot() == "Locked — last user olga (operator)"
    assert audit.last_seq(station.engine) == seq
    s = station.sessions
    assert s.act_login.isEnabled() and not (s.act_lock.isEnabled() or s.act_logout.isEnabled()
                                            or s.act_switch.isEnabled())


# --- switch user and log out --------------------------------------------------------------------------


def test_switch_user_keeps_the_window_and_audits_the_logout_and_the_login(station, qtbot, qasync_loop):
    add_user(station.engine, "olga", "operator")
    add_user(station.engine, "sam", "shift_supervisor")
    login(station, qasync_loop, "olga")
    window, pane, dock = station.window, station.pane, station.window.docks["overview"]

    async def switch(name: str | None, cancel: bool = False):
        task, dialog = await prompt(station, station.sessions.switch_user())
        seen = (dialog.windowTitle(), dialog.name_edit.text())
        if cancel:
            qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        else:
            await attempt(qtbot, dialog, name, PW)
        return seen, await task

    assert run(qasync_loop, switch(None, cancel=True)) == (("Switch user", ""), False)
    assert station.session.user.name == "olga"  # a cancelled switch keeps the user
    assert run(qasync_loop, switch("sam"))[1] is True
    assert station.session.user.name == "sam" and station.user_slot() == "sam · shift_supervisor"
    assert station.window is window and window.docks["overview"] is dock and dock.widget() is pane
    station.publish(55.0)
    station.ctx.refresh()
    assert station.shown() == "55.0"
    trail = [(r.entry.action, r.entry.user, r.entry.result, r.entry.detail) for r in records(station.engine)]
    assert trail == [
        ("login", "olga", "ok", ""),
        ("login", "sam", "ok", ""),
        ("logout", "olga", "ok", "switch user"),
    ]


def test_log_out_is_audited_and_leaves_the_station_view_only(station, qtbot, qasync_loop):
    add_user(station.engine, "olga", "operator")
    login(station, qasync_loop, "olga")

    async def scenario():
        station.sessions.act_logout.trigger()
        await until(lambda: len(records(station.engine)) == 2, what="the logout record")

    run(qasync_loop, scenario())
    assert station.session.user is None and station.session.locked
    assert station.user_slot() == "View only — log in to give commands"
    last = records(station.engine)[-1].entry
    assert (last.action, last.user, last.role, last.detail) == ("logout", "olga", "operator", "log out")


def test_clicking_the_user_slot_opens_the_login_dialog(station, qtbot, qasync_loop):
    add_user(station.engine, "olga", "operator")

    async def scenario():
        qtbot.mouseClick(station.window.status.user_label, Qt.MouseButton.LeftButton)
        dialog = await until(lambda: station.sessions.dialog, what="the login dialog")
        await attempt(qtbot, dialog, "olga", PW)
        await until(lambda: station.session.user is not None)
        qtbot.mouseClick(station.window.status.user_label, Qt.MouseButton.LeftButton)
        switch = await until(lambda: station.sessions.dialog, what="the switch dialog")
        title = switch.windowTitle()
        qtbot.mouseClick(switch.cancel_button, Qt.MouseButton.LeftButton)
        await until(lambda: station.sessions.dialog is None)
        return title

    assert run(qasync_loop, scenario()) == "Switch user"


# --- what each role sees, and a denied command --------------------------------------------------------


def test_each_role_sees_the_session_actions_the_matrix_allows_and_denials_are_audited(station, qasync_loop):
    s = station.sessions
    menu = [a.objectName() for a in station.window.session_menu.actions() if a.objectName()]
    assert menu == ["act_login", "act_switch_user", "act_lock", "act_logout", "act_users"]
    assert [a.isEnabled() for a in s.actions] == [True, False, False, False, False]  # nobody logged in
    for role in Role:
        add_user(station.engine, f"u_{role.value}", role.value)
    for role in Role:
        login(station, qasync_loop, f"u_{role.value}")
        may_manage = allowed(role, Action.MANAGE_USERS)
        assert s.act_users.isEnabled() is may_manage, role
        assert [s.act_login.isEnabled(), s.act_switch.isEnabled(), s.act_lock.isEnabled(),
                s.act_logout.isEnabled()] == [False, True, True, True], role
        if not may_manage:
            with pytest.raises(PermissionDenied, match=f"u_{role.value} \\({role.value}\\) may not manage users"):
                run(qasync_loop, station.ctx.command(user_admin.list_users))
            last = records(station.engine)[-1].entry
            assert (last.action, last.user, last.role, last.result) == ("manage_users", f"u_{role.value}",
                                                                        role.value, "denied")
        else:
            assert len(run(qasync_loop, station.ctx.command(user_admin.list_users))) == len(Role)
    assert [r for r in Role if allowed(r, Action.MANAGE_USERS)] == [Role.ADMIN]


# --- Users… -------------------------------------------------------------------------------------------


def test_users_dialog_lists_adds_changes_and_says_refusals_in_words(station, qtbot, qasync_loop):
    add_user(station.engine, "ada", "admin")
    add_user(station.engine, "olga", "operator")
    with station.engine.begin() as conn:
        conn.execute(users.users.update().where(users.users.c.name == "olga")
                     .values(failed_logins=5, locked_until=4_000_000_000.0))
    login(station, qasync_loop, "ada")

    async def sub(dialog: UsersDialog, name: str | None, password: str, repeat: str | None = None):
        sub_dialog: PasswordDialog = await until(lambda: dialog.sub_dialog, what="the password form")
        if name is not None:
            sub_dialog.name_edit.setText(name)
            sub_dialog.role_box.setCurrentText("engineer")
        sub_dialog.password_edit.setText(password)
        sub_dialog.repeat_edit.setText(password if repeat is None else repeat)
        qtbot.mouseClick(sub_dialog.ok_button, Qt.MouseButton.LeftButton)
        return sub_dialog

    async def scenario():
        station.sessions.act_users.trigger()
        dialog: UsersDialog = station.sessions.users_dialog
        await until(lambda: dialog.names() == ["ada", "olga"], what="the users listed")
        rows = {n: dialog.row_of(n) for n in dialog.names()}
        # Add: a 73-byte password is refused in the form, then a good one adds the user.
        adding = asyncio.ensure_future(dialog.add_user())
        form = await sub(dialog, "erik", "Ä" * 36 + "a")
        policy = form.message.message
        form.password_edit.setText(PW)
        form.repeat_edit.setText(PW)
        qtbot.mouseClick(form.ok_button, Qt.MouseButton.LeftButton)
        assert await adding
        added = (dialog.row_of("erik"), dialog.message.text())
        # Set role, disable, enable on the selected row.
        dialog.select("erik")
        dialog.role_box.setCurrentText("operator")
        qtbot.mouseClick(dialog.role_button, Qt.MouseButton.LeftButton)
        await until(lambda: dialog.row_of("erik")["role"] == "operator", what="the new role")
        qtbot.mouseClick(dialog.disable_button, Qt.MouseButton.LeftButton)
        await until(lambda: dialog.row_of("erik")["state"] == "DISABLED", what="disabled")
        assert dialog.enable_button.isEnabled() and not dialog.disable_button.isEnabled()
        qtbot.mouseClick(dialog.enable_button, Qt.MouseButton.LeftButton)
        await until(lambda: dialog.row_of("erik")["state"] == "enabled", what="enabled")
        # Reset olga's password: clears her lockout.
        dialog.select("olga")
        resetting = asyncio.ensure_future(dialog.reset_password("olga"))
        await sub(dialog, None, "New-password-9")
        assert await resetting
        after_reset = dialog.row_of("olga")
        # The last admin cannot be disabled: said in words.
        dialog.select("ada")
        qtbot.mouseClick(dialog.disable_button, Qt.MouseButton.LeftButton)
        await until(lambda: "last enabled admin" in dialog.message.text(), what="the refusal")
        return rows, policy, added, after_reset, dialog.message.message

    rows, policy, added, after_reset, refusal = run(qasync_loop, scenario())
    assert rows["olga"]["failed logins"] == "5" and rows["olga"]["locked"].startswith("locked, ")
    assert rows["ada"] == {"user": "ada", "role": "admin", "state": "enabled", "failed logins": "0", "locked": ""}
    assert policy.startswith("password is too long: 73 bytes")
    assert added[0]["role"] == "engineer" and "user erik added as engineer" in added[1]
    assert after_reset["failed logins"] == "0" and after_reset["locked"] == ""
    assert refusal == "ada is the last enabled admin; add or enable another admin first"
    trail = [(r.entry.action, r.entry.target, r.entry.result) for r in records(station.engine)
             if r.entry.action == "manage_users"]
    assert trail == [("manage_users", "user erik", "ok")] * 4 + [
        ("manage_users", "user olga", "ok"), ("manage_users", "user ada", "refused")]
    assert users.get_user(station.engine, "erik").role == "operator"
    assert login_service.authenticate(station.engine, "olga", "New-password-9").name == "olga"


def test_users_dialog_for_someone_who_may_not_says_so(station, qtbot, qasync_loop):
    add_user(station.engine, "olga", "operator")
    login(station, qasync_loop, "olga")
    assert not station.sessions.act_users.isEnabled()
    station.sessions.on_users()  # as if the action were reached anyway: the service refuses
    dialog = station.sessions.users_dialog

    run(qasync_loop, until(lambda: dialog.message.isVisible(), what="the refusal"))
    assert dialog.message.message == "olga (operator) may not manage users; this is recorded in the audit trail"
    assert not dialog.add_button.isEnabled() and dialog.names() == []
    assert records(station.engine)[-1].entry.result == "denied"


# --- run_gui and `hmi demo` ---------------------------------------------------------------------------


def test_run_gui_logs_in_as_asked_and_records_the_logout_when_the_window_closes(tmp_path, fast_bcrypt):
    from hmi.app import run_gui

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    logins = tmp_path / "demo-logins.txt"
    seen: list[str] = []

    def watch(window) -> None:
        window.ctx.session_changed.connect(lambda: seen.append(window.status.user_label.text()))

    panes = [PaneSpec("overview", "Overview", lambda ctx: QLabel("overview"), Qt.DockWidgetArea.LeftDockWidgetArea)]
    code = run_gui(load_config(), url, run_for=2.5, panes=panes, on_window=watch, idle_lock_s=600,
                   prepare_users=lambda engine: demo_command.demo_users(engine, logins),
                   login_as=lambda: ("shift_supervisor", demo_command.read_demo_password(logins)), migrate=True)
    assert code == 0
    assert seen[0] == "shift_supervisor · shift_supervisor"
    from hmi.store.db import make_engine

    engine = make_engine(url)
    trail = [(r.entry.action, r.entry.user, r.entry.result, r.entry.detail) for r in records(engine)]
    engine.dispose()
    assert trail[0] == ("create_first_admin", "admin", "ok", "")
    assert [t[0] for t in trail[1:8]] == ["manage_users"] * 7
    assert trail[-2:] == [("login", "shift_supervisor", "ok", ""),
                          ("logout", "shift_supervisor", "ok", "window closed")]


def test_demo_users_one_per_role_one_password_in_a_private_file(tmp_path, engine, capsys):
    logins = tmp_path / "demo-logins.txt"
    demo_command.demo_users(engine, logins)
    err = capsys.readouterr().err
    names = [u.name for u in users.list_users(engine)]
    assert sorted(names) == sorted(r.value for r in Role)
    assert {u.role for u in users.list_users(engine)} == {r.value for r in Role}
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600
    password = demo_command.read_demo_password(logins)
    assert password not in err and "password in " + str(logins) in err
    assert "demo logins: viewer, operator, shift_supervisor" in err and err.rstrip().endswith(str(logins))
    for name in names:
        check_password(password, name)
        assert login_service.authenticate(engine, name, password).name == name
    demo_command.demo_users(engine, logins)  # users exist: nothing new, the password stays
    assert demo_command.read_demo_password(logins) == password
    assert demo_command.logins_path(f"sqlite:///{tmp_path / 'x' / 'demo.sqlite'}") == tmp_path / "x" / logins.name
    with pytest.raises(CommandError, match="no demo password"):
        demo_command.read_demo_password(tmp_path / "missing.txt")


def test_idle_lock_option():
    ns = argparse.Namespace(screenshot=None, run_for=None, idle_lock=None)
    check_gui_options(ns)
    from hmi.config import load_config, parse_config
    from hmi.resources import resource_text

    assert idle_lock_s(ns, load_config()) == DEFAULT_IDLE_LOCK_S
    configured = parse_config(resource_text("plant.toml").replace("idle_lock_s = 900", "idle_lock_s = 120"))
    assert idle_lock_s(ns, configured) == 120
    ns.idle_lock = 2.5
    assert idle_lock_s(ns, configured) == 2.5
    ns.idle_lock = 0
    with pytest.raises(CommandError, match="--idle-lock must be a positive number of seconds"):
        check_gui_options(ns)
