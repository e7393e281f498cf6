"""Managing users as a command: add, change role, disable, enable, reset a password; each audited.

The GUI's user dialogs and `hmi user` call these. Each needs the manage_users permission, checked
by the CommandService, and each change commits with its audit record. Passwords never reach the
audit trail: a reset records only that it happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Connection

from hmi.domain.passwords import PasswordRejected
from hmi.domain.permissions import Action, Role, UnknownRole, parse_role
from hmi.services.commands import Change, CommandService
from hmi.store import users
from hmi.store.users import UserInfo

T = TypeVar("T")

Clock = Callable[[], float]
MANAGE = Action.MANAGE_USERS
# What a request can be refused for (the README: every refusal is on the audit trail).
REFUSALS = (users.UserError, UnknownRole, PasswordRejected)
MAX_TARGET_NAME = 64  # a name longer than any valid one is cut in the audit record's target


def _target(name: str) -> str:
    return f"user {name}" if len(name) <= MAX_TARGET_NAME else f"user {name[:MAX_TARGET_NAME]}…"


def _checked(commands: CommandService, target: str, change: Change, check: Callable[[], T]) -> T:
    """``check()``'s result; a refusal of the request is audited as refused and re-raised."""
    try:
        return check()
    except REFUSALS as refused:
        commands.refuse(MANAGE, target, change, refused)
        raise


def _state(u: UserInfo) -> str:
    return "enabled" if u.enabled else "disabled"


def list_users(commands: CommandService) -> list[UserInfo]:
    """Every user (for someone who may manage users; reading is not audited)."""
    commands.authorize(MANAGE, "users")
    return users.list_users(commands.engine)


def add_user(commands: CommandService, name: str, role: str | Role, password: str, *, now: Clock = time.time) -> UserInfo:
    """Create a user with ``role``; the policy, the name and the role are checked before bcrypt runs.

    A refused request (unknown role, weak password, a name taken or invalid) is audited as refused.
    """
    target = _target(name)
    commands.authorize(MANAGE, target)
    asked = Change(new=f"role={role.value if isinstance(role, Role) else role}"[:80])
    r = _checked(commands, target, asked, lambda: role if isinstance(role, Role) else parse_role(role))
    pw_hash = _checked(commands, target, asked, lambda: users.new_password_hash(password, name))

    def do(conn: Connection, change: Change) -> UserInfo:
        user = users.insert_user(conn, name, r, pw_hash, now=now)
        change.new = f"role={user.role}"
        return user

    return commands.run(MANAGE, target, do, refusals=REFUSALS)


def _change(commands: CommandService, name: str, values: dict, *, guard: bool, what: str, now: Clock) -> UserInfo:
    def do(conn: Connection, change: Change) -> UserInfo:
        before, after = users.change_user(conn, name, values, guard_last_admin=guard, now=now)
        if what == "role":
            change.old, change.new = f"role={before.role}", f"role={after.role}"
        elif what == "state":
            change.old, change.new = _state(before), _state(after)
        else:
            change.detail = "password reset; failed logins and lock cleared"
        return after

    return commands.run(MANAGE, _target(name), do, refusals=REFUSALS)


def set_role(commands: CommandService, name: str, role: str | Role, *, now: Clock = time.time) -> UserInfo:
    """Give ``name`` another role; the last enabled admin keeps the admin role."""
    commands.authorize(MANAGE, _target(name))
    asked = Change(new=f"role={role.value if isinstance(role, Role) else role}"[:80])
    values, guard = _checked(commands, _target(name), asked, lambda: users.role_change(role))
    return _change(commands, name, values, guard=guard, what="role", now=now)


def disable(commands: CommandService, name: str, *, now: Clock = time.time) -> UserInfo:
    """Stop ``name`` from logging in (the user and their history stay); never the last enabled admin."""
    return _change(commands, name, {"enabled": False}, guard=True, what="state", now=now)


def enable(commands: CommandService, name: str, *, now: Clock = time.time) -> UserInfo:
    """Let ``name`` log in again."""
    return _change(commands, name, {"enabled": True}, guard=False, what="state", now=now)


def reset_password(commands: CommandService, name: str, password: str, *, now: Clock = time.time) -> UserInfo:
    """Set a new password (policy checked) and clear the failed-login count and any lock."""
    commands.authorize(MANAGE, _target(name))
    pw_hash = _checked(commands, _target(name), Change(detail="password reset"),
                       lambda: users.new_password_hash(password, name))
    values = users.password_change(pw_hash)
    return _change(commands, name, values, guard=False, what="password", now=now)
