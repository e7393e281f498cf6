"""A user as the screens and the CLI see it (no password hash), and why a user request or a login is refused.

The rules (the password policy, the roles) live in hmi.domain.passwords and hmi.domain.permissions;
storing users is hmi.store.users, and who may change them is hmi.services.user_admin.
"""

from __future__ import annotations

from dataclasses import dataclass


class UserError(Exception):
    """A user-management request that cannot be done; the message says why in one line."""


class UserExists(UserError):
    """A user of that name exists already."""


class UnknownUser(UserError):
    """No user has that name."""


class LastAdmin(UserError):
    """The change would leave no enabled admin."""


class LoginRefused(UserError):
    """Base of the reasons a login is refused."""


class LoginFailed(LoginRefused):
    """Unknown user or wrong password: deliberately the same message for both."""


class AccountLocked(LoginRefused):
    """Too many failed logins in a row: no password is checked until ``remaining`` seconds have passed."""

    def __init__(self, name: str, remaining: float) -> None:
        super().__init__(f"account {name} is locked after repeated failed logins; try again in {remaining:.0f} s")
        self.remaining = remaining


class AccountDisabled(LoginRefused):
    """An admin disabled the account."""


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
