"""The session: login, idle lock on a monotonic clock, and what a locked station still allows."""

from __future__ import annotations

import pytest

from hmi.domain.permissions import Action
from hmi.domain.session import Session, SessionLocked, SessionUser


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_no_user_means_locked():
    s = Session("ws", idle_lock_s=60, clock=Clock())
    assert s.locked and not s.may(Action.VIEW)
    with pytest.raises(SessionLocked, match="log in to give commands"):
        s.actor()


def test_idle_lock_after_the_configured_time_and_activity_resets_it():
    clock = Clock()
    s = Session("ws", idle_lock_s=60, clock=clock)
    s.login(SessionUser("olga", "operator"))
    clock.t += 59
    s.touch()
    clock.t += 59
    assert s.actor().name == "olga" and s.may(Action.ACK_ALARM) and not s.may(Action.WRITE_SETPOINT)
    clock.t += 60
    assert s.locked
    with pytest.raises(SessionLocked, match=r"locked \(last user: olga\)"):
        s.actor()
    s.touch()  # a click on a locked station does not unlock it
    assert s.locked and s.user.name == "olga"
    s.login(SessionUser("sam", "shift_supervisor"))  # switch user at the lock
    assert s.actor().role == "shift_supervisor"


def test_lock_and_logout_by_hand():
    s = Session("ws", idle_lock_s=60, clock=Clock())
    s.login(SessionUser("olga", "operator"))
    s.lock()
    assert s.locked and s.user is not None
    s.logout()
    assert s.locked and s.user is None
