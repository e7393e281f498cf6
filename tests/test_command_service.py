"""The command service: each role may do exactly what the matrix says, denials are audited, and
a command whose audit record cannot be written does not happen."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hmi.domain.permissions import Action, PermissionDenied, Role, allowed
from hmi.domain.session import Session, SessionLocked, SessionUser
from hmi.services.commands import Change, CommandService
from hmi.store import audit
from hmi.store.audit import AuditUnavailable
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'hmi.db'}"
    upgrade(url)
    eng = make_engine(url)
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE marks (action TEXT, by_user TEXT)"))
    yield eng
    eng.dispose()


def marks(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT action, by_user FROM marks"))]


def test_every_role_may_do_exactly_what_the_matrix_says(engine):
    for role in Role:
        commands = CommandService(engine, lambda role=role: SessionUser(f"u-{role.value}", role.value), "ws-1")
        for action in Action:

            def do(conn, change: Change, action=action, role=role) -> str:
                conn.execute(text("INSERT INTO marks VALUES (:a, :u)"), {"a": action.value, "u": role.value})
                change.new = "done"
                return "ok"

            if allowed(role, action):
                assert commands.run(action, "thing", do) == "ok"
            else:
                with pytest.raises(PermissionDenied):
                    commands.run(action, "thing", do)
    expected = {(a.value, r.value) for r in Role for a in Action if allowed(r, a)}
    assert set(marks(engine)) == expected
    records = audit.query(engine, audit.AuditQuery(limit=1000))
    got = {(r.entry.action, r.entry.role, r.entry.result) for r in records}
    assert got == {(a.value, r.value, "ok" if allowed(r, a) else "denied") for r in Role for a in Action}
    denied = next(r for r in records if r.entry.result == "denied")
    assert "may not" in denied.entry.detail and denied.entry.workstation == "ws-1"
    assert audit.verify(engine).intact


def test_a_locked_session_gives_no_command(engine):
    session = Session("ws-1", idle_lock_s=60)
    commands = CommandService(engine, session.actor, "ws-1")
    with pytest.raises(SessionLocked):
        commands.run(Action.ACK_ALARM, "x", lambda conn, ch: None)
    assert audit.last_seq(engine) == 0


def test_a_failing_command_is_rolled_back_and_recorded_as_failed(engine):
    commands = CommandService(engine, lambda: SessionUser("eve", "admin"), "ws-1")

    def do(conn, change):
        conn.execute(text("INSERT INTO marks VALUES ('x', 'eve')"))
        change.old, change.new = "1", "2"
        raise ValueError("the PLC said no")

    with pytest.raises(ValueError):
        commands.run(Action.WRITE_SETPOINT, "t", do)
    assert marks(engine) == []
    (rec,) = audit.query(engine)
    assert (rec.entry.result, rec.entry.old_value, rec.entry.new_value, rec.entry.detail) == ("failed", "1", "2", "the PLC said no")


def break_the_trail(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE audit_head"))


def test_no_audit_record_no_command(engine):
    commands = CommandService(engine, lambda: SessionUser("eve", "admin"), "ws-1")
    break_the_trail(engine)
    with pytest.raises(AuditUnavailable, match="the command was not carried out"):
        commands.run(Action.CREATE_ORDER, "o-1", lambda conn, ch: conn.execute(text("INSERT INTO marks VALUES ('o', 'eve')")))
    assert marks(engine) == []
    sent: list[str] = []
    with pytest.raises(AuditUnavailable, match="not carried out"):
        commands.run_external(Action.WRITE_SETPOINT, "drillrig1.setpoint", Change("1", "2"), lambda: sent.append("w"))
    assert sent == []


def test_an_external_command_is_recorded_before_and_after(engine):
    commands = CommandService(engine, lambda: SessionUser("erik", "engineer"), "ws-1")
    assert commands.run_external(Action.WRITE_SETPOINT, "pump1.setpoint", Change("40", "45"), lambda: "sent") == "sent"
    with pytest.raises(TimeoutError):
        commands.run_external(Action.WRITE_SETPOINT, "pump1.setpoint", Change("45", "50"), _timeout)
    rows = [(r.entry.result, r.entry.new_value) for r in audit.query(engine, audit.AuditQuery(newest_first=False))]
    assert rows == [("requested", "45"), ("ok", "45"), ("requested", "50"), ("failed", "50")]


def _timeout():
    raise TimeoutError("no answer from the PLC in 5 s")


def test_a_refused_request_is_recorded_with_its_reason(engine):
    commands = CommandService(engine, lambda: SessionUser("erik", "engineer"), "ws-1")
    commands.refuse(Action.WRITE_SETPOINT, "pump1.setpoint", Change("40", "900"), ValueError("900 is above the range 0-100 bar"))
    (rec,) = audit.query(engine)
    assert (rec.entry.result, rec.entry.new_value, rec.entry.detail) == ("refused", "900", "900 is above the range 0-100 bar")
    operator = CommandService(engine, lambda: SessionUser("olga", "operator"), "ws-1")
    with pytest.raises(PermissionDenied):
        operator.refuse(Action.WRITE_SETPOINT, "pump1.setpoint", Change(), ValueError("x"))
    assert [r.entry.result for r in audit.query(engine)] == ["denied", "refused"]
