"""The dispatcher's rules that need no broker and no database: judging heartbeats, and its counters.

A shopfloor is online while its last heartbeat is at most ``late_after_s`` old, late until
``offline_after_s``, then offline. Ages are counted from when the HMI could last hear it: while the
HMI's own broker link is down nobody is judged (UNKNOWN), and once it is up again a heartbeat from
before counts as if it came at the moment the link came back, so a reconnect does not make every
shopfloor offline at once. A shopfloor never heard from is UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from hmi.domain.orders import ShopfloorHealth, heartbeat_health


def judge_health(
    last_heard: Mapping[str, datetime | None],
    now: datetime,
    link_up_since: datetime | None,
    late_after_s: float,
    offline_after_s: float,
) -> dict[str, ShopfloorHealth]:
    """Each shopfloor's health by the age of its last heartbeat (``link_up_since`` None: the link is down),
    by hmi.domain.orders.heartbeat_health with the heartbeats from before the link came back counted as of then."""
    up = link_up_since is not None
    return {
        shopfloor_id: heartbeat_health(_heard(last, link_up_since), now, late_after_s, offline_after_s, up)
        for shopfloor_id, last in last_heard.items()
    }


def _heard(last: datetime | None, link_up_since: datetime | None) -> datetime | None:
    if last is None or link_up_since is None:
        return last
    return max(last, link_up_since)


def silence_s(last: datetime | None, now: datetime, link_up_since: datetime | None) -> float:
    """How long the HMI has heard nothing from a shopfloor while it could have (for the reason text)."""
    heard = _heard(last, link_up_since)
    if heard is None or link_up_since is None:
        return 0.0
    return max(0.0, (now - heard).total_seconds())


@dataclass(frozen=True, slots=True)
class DispatchStats:
    """The dispatcher's counters for the status line: messages received, reports applied, duplicates,
    invalid messages, messages waiting in the outbox, and whether this process is the dispatcher."""

    received: int = 0
    applied: int = 0
    duplicates: int = 0
    invalid: int = 0
    outbox_pending: int = 0
    holder: bool = False
    db_ok: bool = True
    last_error: str = ""

    def brief(self) -> str:
        """``orders received 120 applied 98 dup 2 invalid 1 outbox 3 (dispatcher)``."""
        role = "dispatcher" if self.holder else "follower"
        text = (f"orders received {self.received} applied {self.applied} dup {self.duplicates} "
                f"invalid {self.invalid} outbox {self.outbox_pending} ({role})")  # fmt: skip
        if not self.db_ok:
            text += f" db DOWN ({self.last_error})"
        return text
