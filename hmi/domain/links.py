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


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """A snapshot of a link: its name, its state, since when, and why when it is down."""

    name: str
    state: LinkState
    since: float
    detail: str = ""

    @classmethod
    def now(cls, name: str, state: LinkState, detail: str = "") -> LinkStatus:
        """A status that starts at this moment."""
        return cls(name, state, time.time(), detail)
