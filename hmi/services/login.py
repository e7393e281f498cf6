"""Logging in and out, and the first admin, with their audit records (failed logins included)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from sqlalchemy import exc
from sqlalchemy.engine import Engine

from hmi.domain.audit import AuditEntry, Event, Outcome
from hmi.domain.permissions import Principal, Role, role_name
from hmi.services.commands import workstation_name
from hmi.store import users
from hmi.store.audit import AuditUnavailable, append, record
from hmi.store.locking import write_connection
from hmi.store.db import unavailable
from hmi.store.users import LoginRefused, UserError, UserInfo

Clock = Callable[[], float]


class FirstAdminExists(UserError):
    """The database already has users; the first admin can only be made on an empty one."""


def _entry(user: str, role: str, workstation: str, action: str, outcome: Outcome, detail: str = "") -> AuditEntry:
    return AuditEntry(user=user, role=role, workstation=workstation, action=action, target=f"user {user}",
                      result=outcome.value, detail=detail)  # fmt: skip


def authenticate(
    engine: Engine, name: str, password: str, *, workstation: str | None = None, now: Clock = time.time
) -> UserInfo:
    """The user if the password is right; LoginRefused (audited, with the reason) otherwise.

    A login that cannot be audited is refused (AuditUnavailable): whoever logs in is on the record.
    """
    ws = workstation or workstation_name()
    try:
        user = users.verify_login(engine, name, password, now=now)
    except LoginRefused as refused:
        known = _role_of(engine, name)
        try:
            record(engine, _entry(name[:64], known, ws, Event.LOGIN.value, Outcome.REFUSED, str(refused)))
        except AuditUnavailable:
            pass  # the refusal stands either way; the failed-login counter has it
        raise
    record(engine, _entry(user.name, user.role, ws, Event.LOGIN.value, Outcome.OK))
    return user


def _role_of(engine: Engine, name: str) -> str:
    try:
        return users.get_user(engine, name).role
    except UserError:
        return ""  # an unknown name: recorded as typed, with no role


def record_logout(engine: Engine, user: Principal, *, workstation: str | None = None, reason: str = "") -> None:
    """Put a logout (or switch of user) on the record; a failure to record is logged by the caller."""
    record(engine, _entry(user.name, role_name(user), workstation or workstation_name(), Event.LOGOUT.value, Outcome.OK, reason))


def needs_first_admin(engine: Engine) -> bool:
    """True on first run: there is no user at all."""
    with engine.connect() as conn:
        return users.count_users(conn) == 0


def create_first_admin(
    engine: Engine, name: str, password: str, *, workstation: str | None = None, now: Clock = time.time
) -> UserInfo:
    """Make the first user, an admin, on a database with no users; FirstAdminExists otherwise."""
    pw_hash = users.new_password_hash(password, name)
    ws = workstation or workstation_name()
    entry = dataclasses.replace(
        _entry(name, Role.ADMIN.value, ws, Event.FIRST_ADMIN.value, Outcome.OK), new_value="role=admin"
    )
    try:
        with write_connection(engine) as conn, conn.begin():
            if users.count_users(conn) > 0:
                raise FirstAdminExists("there are users already; an admin adds more with `hmi user add` or Users…")
            user = users.insert_user(conn, name, Role.ADMIN, pw_hash, now=now)
            append(conn, entry)
    except exc.DBAPIError as error:
        raise unavailable(engine, error) from None
    return user
