"""Password policy and the lockout back-off rule, as pure functions (no bcrypt, no clock, no database)."""

from __future__ import annotations

MIN_LENGTH = 10
MAX_BYTES = 72  # bcrypt reads at most 72 bytes; bcrypt 5 raises beyond that, so we refuse first

LOCKOUT_AFTER = 5  # failed logins in a row before the account locks
LOCKOUT_FIRST_S = 30.0  # the first lock; each further failure doubles it
LOCKOUT_MAX_S = 15 * 60.0


class PasswordRejected(ValueError):
    """The password does not meet the policy; the message says why (and never contains the password)."""


def _classes(password: str) -> int:
    kinds = set()
    for ch in password:
        if ch.islower():
            kinds.add("lower")
        elif ch.isupper():
            kinds.add("upper")
        elif ch.isdigit():
            kinds.add("digit")
        else:
            kinds.add("other")
    return len(kinds)


def check_password(password: str, user_name: str = "") -> None:
    """Raise PasswordRejected unless ``password`` meets the policy for ``user_name``.

    At least MIN_LENGTH characters, at most MAX_BYTES bytes in UTF-8, at least two kinds of
    character (lower case, upper case, digits, others), and not containing the user's name.
    """
    size = len(password.encode("utf-8"))
    if size > MAX_BYTES:
        raise PasswordRejected(
            f"password is too long: {size} bytes in UTF-8, at most {MAX_BYTES} "
            "(letters outside ASCII take 2-4 bytes each)"
        )
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"password is too short: {len(password)} characters, at least {MIN_LENGTH}")
    if _classes(password) < 2:
        raise PasswordRejected(
            "password uses only one kind of character; mix at least two of lower case, upper case, digits, symbols"
        )
    name = user_name.strip().lower()
    if name and name in password.lower():
        raise PasswordRejected("password must not contain the user name")


def lockout_seconds(failures: int) -> float:
    """How long an account stays locked after ``failures`` failed logins in a row (0: not locked)."""
    if failures < LOCKOUT_AFTER:
        return 0.0
    return min(LOCKOUT_FIRST_S * 2.0 ** (failures - LOCKOUT_AFTER), LOCKOUT_MAX_S)


def locked_until(failures: int, last_failure: float | None) -> float | None:
    """When the lock ends (same clock as ``last_failure``), or None when there is no lock."""
    duration = lockout_seconds(failures)
    if duration <= 0 or last_failure is None:
        return None
    return last_failure + duration


def lockout_remaining(failures: int, last_failure: float | None, now: float) -> float:
    """Seconds the account is still locked at ``now`` (0 when a login may be tried)."""
    until = locked_until(failures, last_failure)
    return 0.0 if until is None else max(0.0, until - now)
