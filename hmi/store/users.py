"""Users in the database: add, list, change role, disable/enable, reset password, verify a login.

Passwords are checked against the policy (hmi.domain.passwords) before bcrypt sees them, and only
their bcrypt hash (cost 12) is stored. A function given an ``actor`` checks that the actor may
manage users; ``actor=None`` is the local owner of the database (the `hmi user` command line, the
first-run admin), who can already write the file directly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import bcrypt
from sqlalchemy import exc, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from hmi.domain.passwords import MAX_BYTES, check_password, locked_until
from hmi.domain.permissions import Action, Principal, Role, parse_role, require
from hmi.store.db import BEGIN_IMMEDIATE
from hmi.store.schema import users

BCRYPT_ROUNDS = 12
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

Clock = Callable[[], float]


class UserError(Exception):
    """A user-management request that cannot be done; the message says why in one line."""


class UserExists(UserError):
    pass


class UnknownUser(UserError):
    pass


class LastAdmin(UserError):
    pass


class LoginRefused(UserError):
    """Base of the reasons a login is refused."""


class LoginFailed(LoginRefused):
    """Unknown user or wrong password: deliberately the same message for both."""


class AccountLocked(LoginRefused):
    def __init__(self, name: str, remaining: float) -> None:
        super().__init__(f"account {name} is locked after repeated failed logins; try again in {remaining:.0f} s")
        self.remaining = remaining


class AccountDisabled(LoginRefused):
    pass


@dataclass(frozen=True)
class UserInfo:
    """One user as stored, without the hash. Satisfies hmi.domain.permissions.Principal."""

    id: int
    name: str
    role: str
    enabled: bool
    failed_logins: int
    locked_until: float | None
    created_at: float
    updated_at: float


_COLUMNS = (
    users.c.id, users.c.name, users.c.role, users.c.enabled, users.c.failed_logins,
    users.c.locked_until, users.c.created_at, users.c.updated_at,
)  # fmt: skip


def hash_password(password: str) -> str:
    """The bcrypt hash of a password that passed the policy (so it is at most 72 bytes)."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")


_dummy_hash: bytes | None = None


def _burn_time(password: str) -> None:
    """Spend as long as a real check would, so an unknown user name does not answer faster."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = bcrypt.hashpw(b"not a password of anyone", bcrypt.gensalt(BCRYPT_ROUNDS))
    bcrypt.checkpw(password.encode("utf-8")[:MAX_BYTES], _dummy_hash)


def _check_actor(actor: Principal | None) -> None:
    if actor is not None:
        require(actor, Action.MANAGE_USERS)


def _check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise UserError(
            f"invalid user name {name[:80]!r}: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def _writer(engine: Engine) -> Connection:
    return engine.connect().execution_options(**{BEGIN_IMMEDIATE: True})


def _get(conn: Connection, name: str) -> UserInfo:
    row = conn.execute(select(*_COLUMNS).where(users.c.name == name)).first()
    if row is None:
        raise UnknownUser(f"no user named {name!r}")
    return UserInfo(*row)


def get_user(engine: Engine, name: str) -> UserInfo:
    """One user by name; UnknownUser if there is none."""
    with engine.connect() as conn:
        return _get(conn, name)


def list_users(engine: Engine, *, actor: Principal | None = None) -> list[UserInfo]:
    """Every user, by name."""
    _check_actor(actor)
    with engine.connect() as conn:
        return [UserInfo(*row) for row in conn.execute(select(*_COLUMNS).order_by(users.c.name))]


def add_user(
    engine: Engine, name: str, role: str | Role, password: str, *, actor: Principal | None = None, now: Clock = time.time
) -> UserInfo:
    """Create an enabled user; UserExists, UnknownRole or PasswordRejected (with the reason) otherwise."""
    _check_actor(actor)
    _check_name(name)
    r = role if isinstance(role, Role) else parse_role(role)
    check_password(password, name)
    pw_hash = hash_password(password)
    t = now()
    try:
        with _writer(engine) as conn, conn.begin():
            conn.execute(
                insert(users).values(
                    name=name, role=r.value, password_hash=pw_hash, enabled=True, failed_logins=0,
                    locked_until=None, created_at=t, updated_at=t,
                )  # fmt: skip
            )
            return _get(conn, name)
    except exc.IntegrityError:
        raise UserExists(f"user {name!r} already exists") from None


def _enabled_admins(conn: Connection) -> int:
    q = select(func.count()).select_from(users).where(users.c.role == Role.ADMIN.value, users.c.enabled.is_(True))
    return int(conn.execute(q).scalar_one())


def _change(engine: Engine, name: str, values: dict, *, guard_last_admin: bool, now: Clock) -> UserInfo:
    with _writer(engine) as conn, conn.begin():
        before = _get(conn, name)
        if guard_last_admin and before.role == Role.ADMIN.value and before.enabled and _enabled_admins(conn) <= 1:
            raise LastAdmin(f"{name} is the last enabled admin; add or enable another admin first")
        conn.execute(update(users).where(users.c.name == name).values(**values, updated_at=now()))
        return _get(conn, name)


def set_role(
    engine: Engine, name: str, role: str | Role, *, actor: Principal | None = None, now: Clock = time.time
) -> UserInfo:
    """Give ``name`` another role; the last enabled admin keeps the admin role."""
    _check_actor(actor)
    r = role if isinstance(role, Role) else parse_role(role)
    return _change(engine, name, {"role": r.value}, guard_last_admin=r is not Role.ADMIN, now=now)


def disable(engine: Engine, name: str, *, actor: Principal | None = None, now: Clock = time.time) -> UserInfo:
    """Stop ``name`` from logging in (the user and their history stay); not the last enabled admin."""
    _check_actor(actor)
    return _change(engine, name, {"enabled": False}, guard_last_admin=True, now=now)


def enable(engine: Engine, name: str, *, actor: Principal | None = None, now: Clock = time.time) -> UserInfo:
    """Let ``name`` log in again."""
    _check_actor(actor)
    return _change(engine, name, {"enabled": True}, guard_last_admin=False, now=now)


def reset_password(
    engine: Engine, name: str, password: str, *, actor: Principal | None = None, now: Clock = time.time
) -> UserInfo:
    """Set a new password (policy checked) and clear the failed-login count and any lock."""
    _check_actor(actor)
    check_password(password, name)
    values = {"password_hash": hash_password(password), "failed_logins": 0, "locked_until": None}
    return _change(engine, name, values, guard_last_admin=False, now=now)


def verify_login(engine: Engine, name: str, password: str, *, now: Clock = time.time) -> UserInfo:
    """The user if ``password`` is right and the account enabled and not locked; LoginRefused otherwise.

    An unknown name costs as much time as a wrong password and gets the same message. Each wrong
    password is counted; from the 5th in a row the account locks with a back-off (see
    hmi.domain.passwords). While locked, no password is checked and nothing is counted.
    """
    with engine.connect() as conn:
        row = conn.execute(select(users.c.password_hash, *_COLUMNS).where(users.c.name == name)).first()
    if row is None:
        _burn_time(password)
        raise LoginFailed("wrong user name or password")
    pw_hash, info = row[0], UserInfo(*row[1:])
    t = now()
    if info.locked_until is not None and t < info.locked_until:
        raise AccountLocked(name, info.locked_until - t)
    raw = password.encode("utf-8")
    ok = len(raw) <= MAX_BYTES and bcrypt.checkpw(raw, pw_hash.encode("ascii"))
    with _writer(engine) as conn, conn.begin():
        if not ok:
            failures = int(
                conn.execute(select(users.c.failed_logins).where(users.c.name == name)).scalar_one()
            ) + 1
            conn.execute(
                update(users)
                .where(users.c.name == name)
                .values(failed_logins=failures, locked_until=locked_until(failures, t), updated_at=t)
            )
        elif info.failed_logins or info.locked_until is not None:
            conn.execute(
                update(users).where(users.c.name == name).values(failed_logins=0, locked_until=None, updated_at=t)
            )
        if ok:
            info = _get(conn, name)
    if not ok:
        raise LoginFailed("wrong user name or password")
    if not info.enabled:
        raise AccountDisabled(f"account {name} is disabled; ask an admin")
    return info
