"""The state of one connection (a PLC, the broker, the database), as the status bar and the log show it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum


class LinkState(str, Enum):
    """Whether a link carries data."""

    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"
    STOPPED = "stopped"  # the HMI ended it (at exit): not a fault


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """A snapshot of a link: its name, its state, since when, and why when it is down.

    ``detail`` is the whole story (for a tooltip or the log); ``reason`` the cause of the fault in a
    few words ("connection refused", "no answer from the PLC for 2 s"), empty while the link is up.
    """

    name: str
    state: LinkState
    since: float
    detail: str = ""
    reason: str = ""

    @classmethod
    def now(cls, name: str, state: LinkState, detail: str = "", reason: str = "") -> LinkStatus:
        """A status that starts at this moment."""
        return cls(name, state, time.time(), detail, reason)

    def brief(self) -> str:
        """``plc1=up``, ``plc1=down (connection refused)``: the link in a status line."""
        if self.reason and self.state is not LinkState.UP:
            return f"{self.name}={self.state.value} ({self.reason})"
        return f"{self.name}={self.state.value}"
