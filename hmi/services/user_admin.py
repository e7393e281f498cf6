"""Managing users as a command: add, change role, disable, enable, reset a password; each audited.

The GUI's user dialogs and `hmi user` call these. Each needs the manage_users permission, checked
by the CommandService, and each change commits with its audit record. Passwords never reach the
audit trail: a reset records only that it happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.engine import Connection

from hmi.domain.permissions import Action, Role, parse_role
from hmi.services.commands import Change, CommandService
from hmi.store import users
from hmi.store.users import UserInfo

Clock = Callable[[], float]
MANAGE = Action.MANAGE_USERS


def _state(u: UserInfo) -> str:
    return "enabled" if u.enabled else "disabled"


def list_users(commands: CommandService) -> list[UserInfo]:
    """Every user (for someone who may manage users; reading is not audited)."""
    commands.authorize(MANAGE, "users")
    return users.list_users(commands.engine)


def add_user(commands: CommandService, name: str, role: str | Role, password: str, *, now: Clock = time.time) -> UserInfo:
    """Create a user with ``role``; the policy, the name and the role are checked before bcrypt runs."""
    commands.authorize(MANAGE, f"user {name}")
    r = role if isinstance(role, Role) else parse_role(role)
    pw_hash = users.new_password_hash(password, name)

    def do(conn: Connection, change: Change) -> UserInfo:
        user = users.insert_user(conn, name, r, pw_hash, now=now)
        change.new = f"role={user.role}"
        return user

    return commands.run(MANAGE, f"user {name}", do)


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

    return commands.run(MANAGE, f"user {name}", do)


def set_role(commands: CommandService, name: str, role: str | Role, *, now: Clock = time.time) -> UserInfo:
    """Give ``name`` another role; the last enabled admin keeps the admin role."""
    values, guard = users.role_change(role)
    return _change(commands, name, values, guard=guard, what="role", now=now)


def disable(commands: CommandService, name: str, *, now: Clock = time.time) -> UserInfo:
    """Stop ``name`` from logging in (the user and their history stay); never the last enabled admin."""
    return _change(commands, name, {"enabled": False}, guard=True, what="state", now=now)


def enable(commands: CommandService, name: str, *, now: Clock = time.time) -> UserInfo:
    """Let ``name`` log in again."""
    return _change(commands, name, {"enabled": True}, guard=False, what="state", now=now)


def reset_password(commands: CommandService, name: str, password: str, *, now: Clock = time.time) -> UserInfo:
    """Set a new password (policy checked) and clear the failed-login count and any lock."""
    commands.authorize(MANAGE, f"user {name}")
    values = users.password_change(users.new_password_hash(password, name))
    return _change(commands, name, values, guard=False, what="password", now=now)
