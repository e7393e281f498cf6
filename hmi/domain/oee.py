"""OEE after ISO 22400-2 and the shift calendar: the types every layer shares (issue 14).

Per line (a shopfloor, or a twin) and period (a shift, a day, a week):

- planned busy time PBT = the shifts' time - breaks - planned stops (calendar and planned downtime)
- actual production time APT = PBT - unplanned downtime (micro-stops are not downtime: they are a
  performance loss)
- availability = APT / PBT; performance = ideal cycle time x produced / APT; quality = good / produced;
  OEE = availability x performance x quality

A factor that cannot be computed is None with a reason in `missing` ("no planned time", "no production
data"), never a division error and never 100 %. Times in seconds, instants in UTC microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

NO_PLANNED_TIME = "no planned time"
NO_PRODUCTION = "no production data"


class Period(str, Enum):
    """How OEE is grouped."""

    SHIFT = "shift"
    DAY = "day"
    WEEK = "week"


class BigLoss(str, Enum):
    """The six big losses (ISO 22400 / TPM), where the data allows them."""

    BREAKDOWNS = "breakdowns"  # unplanned stops with a breakdown reason (or none yet)
    SETUP = "setup"  # unplanned stops with a setup/adjustment reason
    MINOR_STOPS = "minor_stops"  # micro-stops (shorter than [andon] micro_stop_s)
    REDUCED_SPEED = "reduced_speed"  # APT - ideal time of what was produced - minor stops
    PRODUCTION_REJECTS = "production_rejects"  # ideal time of the defective units
    STARTUP_REJECTS = "startup_rejects"  # ideal time of the defective units reported in a shift's start-up window


@dataclass(frozen=True, slots=True)
class ShiftWindow:
    """One occurrence of a shift in the calendar: its name, start and end, its breaks and planned stops."""

    name: str  # "early"
    start_us: int
    end_us: int
    breaks: tuple[tuple[int, int], ...] = ()  # (start_us, end_us), inside the shift
    planned_stops: tuple[tuple[int, int], ...] = ()

    @property
    def label(self) -> str:
        """The shift's name; the pane adds the local date."""
        return self.name


@dataclass(frozen=True, slots=True)
class OeeFigures:
    """OEE and its parts for one line and one period."""

    line: str
    start_us: int
    end_us: int
    label: str  # "2026-12-07 early", "2026-12-07", "2026-W50"
    planned_s: float  # PBT
    run_s: float  # APT
    unplanned_down_s: float
    micro_stops: int
    micro_stop_s: float
    produced: int
    good: int
    ideal_cycle_s: float | None  # from the shopfloor's rated capacity; None for a line without one
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    missing: str = ""  # why a factor is None: NO_PLANNED_TIME, NO_PRODUCTION
    losses: dict[BigLoss, float] = field(default_factory=dict)  # seconds lost per big loss


@dataclass(frozen=True, slots=True)
class OeeTargets:
    """The plant's targets, shown beside the figures (from the config)."""

    oee: float = 0.85
    availability: float = 0.90
    performance: float = 0.95
    quality: float = 0.99
