"""Users in the database: read them, insert and change them in a caller's transaction, verify a login.

Passwords are checked against the policy (hmi.domain.passwords) before bcrypt sees them, and only
their bcrypt hash (cost 12) is stored. Who may change users, and the audit record of each change,
are the business of hmi.services.user_admin, which every caller (GUI and CLI) goes through.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import bcrypt
from sqlalchemy import exc, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from hmi.domain.passwords import MAX_BYTES, check_password, locked_until
from hmi.domain.permissions import Role, parse_role
from hmi.domain.users import (  # defined in the domain; imported here for the store's callers
    AccountDisabled, AccountLocked, LastAdmin, LoginFailed, LoginRefused, UnknownUser, UserError, UserExists, UserInfo,
)  # fmt: skip
from hmi.store.locking import write_connection
from hmi.store.schema import users

BCRYPT_ROUNDS = 12
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

Clock = Callable[[], float]


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


def _check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise UserError(
            f"invalid user name {name[:80]!r}: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def _get(conn: Connection, name: str) -> UserInfo:
    row = conn.execute(select(*_COLUMNS).where(users.c.name == name)).first()
    if row is None:
        raise UnknownUser(f"no user named {name!r}")
    return UserInfo(*row)


def get_user(target: Engine | Connection, name: str) -> UserInfo:
    """One user by name; UnknownUser if there is none."""
    if isinstance(target, Connection):
        return _get(target, name)
    with target.connect() as conn:
        return _get(conn, name)


def list_users(target: Engine | Connection) -> list[UserInfo]:
    """Every user, by name."""
    if isinstance(target, Connection):
        return [UserInfo(*row) for row in target.execute(select(*_COLUMNS).order_by(users.c.name))]
    with target.connect() as conn:
        return list_users(conn)


def count_users(conn: Connection) -> int:
    """How many users there are, enabled or not."""
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def new_password_hash(password: str, name: str) -> str:
    """The bcrypt hash of a new password for ``name``; PasswordRejected (with the reason) if it fails the policy."""
    check_password(password, name)
    return hash_password(password)


def insert_user(conn: Connection, name: str, role: str | Role, pw_hash: str, *, now: Clock = time.time) -> UserInfo:
    """Create an enabled user in the caller's transaction; UserExists, UnknownRole or UserError otherwise."""
    _check_name(name)
    r = role if isinstance(role, Role) else parse_role(role)
    if conn.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
        raise UserExists(f"user {name!r} already exists")
    t = now()
    try:
        with conn.begin_nested():
            conn.execute(
                insert(users).values(
                    name=name, role=r.value, password_hash=pw_hash, enabled=True, failed_logins=0,
                    locked_until=None, created_at=t, updated_at=t,
                )  # fmt: skip
            )
    except exc.IntegrityError:
        raise UserExists(f"user {name!r} already exists") from None
    return _get(conn, name)


def _enabled_admins(conn: Connection) -> int:
    q = select(func.count()).select_from(users).where(users.c.role == Role.ADMIN.value, users.c.enabled.is_(True))
    return int(conn.execute(q).scalar_one())


def has_enabled_admin(target: Engine | Connection) -> bool:
    """Whether some admin can log in (false on first run)."""
    if isinstance(target, Connection):
        return _enabled_admins(target) > 0
    with target.connect() as conn:
        return _enabled_admins(conn) > 0


def change_user(
    conn: Connection, name: str, values: dict, *, guard_last_admin: bool, now: Clock = time.time
) -> tuple[UserInfo, UserInfo]:
    """Update ``name`` in the caller's transaction; (before, after). The last enabled admin is kept if guarded."""
    before = _get(conn, name)
    if guard_last_admin and before.role == Role.ADMIN.value and before.enabled and _enabled_admins(conn) <= 1:
        raise LastAdmin(f"{name} is the last enabled admin; add or enable another admin first")
    conn.execute(update(users).where(users.c.name == name).values(**values, updated_at=now()))
    return before, _get(conn, name)


def role_change(role: str | Role) -> tuple[dict, bool]:
    """The values and last-admin guard for giving a user ``role`` (UnknownRole if there is no such role)."""
    r = role if isinstance(role, Role) else parse_role(role)
    return {"role": r.value}, r is not Role.ADMIN


def password_change(pw_hash: str) -> dict:
    """The values for a new password: the hash, and the failed-login count and any lock cleared."""
    return {"password_hash": pw_hash, "failed_logins": 0, "locked_until": None}


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
    with write_connection(engine) as conn, conn.begin():
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
