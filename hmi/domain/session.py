"""Who is at the workstation: the logged-in user, the idle lock, and what a command needs from them.

The idle lock runs on a monotonic clock (a wall-clock jump neither locks nor unlocks the station).
A locked session still shows everything; it only refuses commands until someone logs in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from hmi.domain.permissions import Action, Principal, allowed, role_name

DEFAULT_IDLE_LOCK_S = 15 * 60.0


class SessionLocked(Exception):
    """A command was asked for while no one is logged in or the station is locked."""


@dataclass(frozen=True)
class SessionUser:
    """A logged-in user: a Principal with a name and a role."""

    name: str
    role: str


class Session:
    """The user at one workstation, with the idle lock. Not thread-safe: one owner (the GUI thread)."""

    def __init__(
        self, workstation: str, idle_lock_s: float = DEFAULT_IDLE_LOCK_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if idle_lock_s <= 0:
            raise ValueError("idle_lock_s must be positive")
        self.workstation = workstation
        self.idle_lock_s = idle_lock_s
        self._clock = clock
        self._user: SessionUser | None = None
        self._locked = True
        self._last_activity = clock()

    @property
    def user(self) -> SessionUser | None:
        """Who logged in last (kept while locked, so the lock screen can offer the same name)."""
        return self._user

    @property
    def locked(self) -> bool:
        """True when a command must first get a login: no user, locked by hand, or idle too long."""
        if self._user is None or self._locked:
            return True
        if self._clock() - self._last_activity >= self.idle_lock_s:
            self._locked = True
        return self._locked

    def idle_for(self) -> float:
        """Seconds since the last activity."""
        return self._clock() - self._last_activity

    def login(self, user: Principal) -> None:
        """``user`` has proven who they are: the station is theirs and unlocked."""
        self._user = SessionUser(user.name, role_name(user))
        self._locked = False
        self._last_activity = self._clock()

    def logout(self) -> None:
        """Nobody is logged in; views stay, commands need a login."""
        self._user = None
        self._locked = True

    def lock(self) -> None:
        """Lock now (the user stays named)."""
        self._locked = True

    def touch(self) -> None:
        """The user did something (a key, a click): restart the idle timer unless already locked."""
        if not self.locked:
            self._last_activity = self._clock()

    def actor(self) -> SessionUser:
        """The user a command runs as; SessionLocked when the station needs a login first."""
        if self.locked or self._user is None:
            who = f" (last user: {self._user.name})" if self._user is not None else ""
            raise SessionLocked(f"the workstation is locked{who}: log in to give commands")
        self._last_activity = self._clock()
        return self._user

    def may(self, action: Action) -> bool:
        """Whether a command of ``action`` would be allowed now (for enabling buttons; not the check)."""
        return not self.locked and self._user is not None and allowed(self._user.role, action)
