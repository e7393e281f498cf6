"""Degradation episodes: when a twin starts to degrade, when it trips, when it is repaired."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np

from hmi.domain.plant import TagKind


class _Param(Protocol):
    parameter: str
    kind: TagKind
    band_high: float
    eng_high: float


# The parameter a twin's setpoint drives, by the twin's type (its id without the trailing number).
PRIMARY = {
    "drillrig": "torque",
    "wellhead": "pressure",
    "pipeline": "pressure",
    "compressor": "energy_consumption",
    "refinery": "temperature",
    "retail": "sales",
    "turbine": "temperature",
    "transformer": "voltage",
}

# The parameter that climbs while a twin of this type degrades toward a trip.
FAILURE_MODE = {
    "drillrig": "vibration",
    "turbine": "vibration",
    "refinery": "temperature",
    "transformer": "current",
    "compressor": "energy_consumption",
    "wellhead": "temperature",
    "pipeline": "pressure",
    "retail": "fuel_inventory",
}


def twin_type(twin: str) -> str:
    """The type of a twin: its id without a trailing number (``drillrig1`` -> ``drillrig``)."""
    return re.sub(r"\d+$", "", twin)


def primary_parameter(twin: str, params: Sequence[_Param]) -> str | None:
    """The parameter the twin's setpoint drives: the known one for its type, else its first analog one."""
    names = {p.parameter for p in params}
    known = PRIMARY.get(twin_type(twin))
    if known in names:
        return known
    return next((p.parameter for p in params if p.kind == TagKind.ANALOG), None)


def failure_parameter(twin: str, params: Sequence[_Param]) -> str | None:
    """The parameter that climbs before this twin trips, or None when it cannot degrade."""
    by_name = {p.parameter: p for p in params}
    known = FAILURE_MODE.get(twin_type(twin))
    if known in by_name and by_name[known].kind == TagKind.ANALOG:
        return known
    return next((p.parameter for p in params if p.kind == TagKind.ANALOG and p.band_high < p.eng_high), None)


class TwinState(str, Enum):
    """Where a twin is in its episode life cycle."""

    NORMAL = "normal"
    DEGRADING = "degrading"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Event:
    """A ground-truth event: an episode started, the twin tripped, or it came back after repair."""

    kind: str  # "episode_start", "failure" or "recovered"
    twin: str
    parameter: str
    sim_time: float
    episode_start: float


@dataclass(slots=True)
class _Episode:
    parameter: str
    start: float
    failure: float
    recovered: float


class EpisodeScheduler:
    """Starts episodes at random (a Poisson process over the plant) and walks each through its phases."""

    def __init__(
        self, failing: dict[str, str], *, every_s: float | None, rng: np.random.Generator, start_time: float
    ) -> None:
        self._failing = failing
        self._every = every_s if every_s and every_s > 0 and failing else None
        self._rng = rng
        self._episodes: dict[str, _Episode] = {}
        self._now = start_time
        self._next = start_time + self._interval() if self._every else math.inf

    def _interval(self) -> float:
        assert self._every is not None
        return float(self._rng.exponential(self._every))

    def state(self, twin: str) -> TwinState:
        """The twin's state after the last advance."""
        ep = self._episodes.get(twin)
        if ep is None:
            return TwinState.NORMAL
        return TwinState.DOWN if ep.failure <= self._now else TwinState.DEGRADING

    def progress(self, twin: str, t: float) -> float:
        """How far the twin's degradation has gone, 0.0 at episode start to 1.0 at the trip."""
        ep = self._episodes[twin]
        return min(1.0, max(0.0, (t - ep.start) / max(ep.failure - ep.start, 1e-9)))

    def advance(self, t: float) -> list[Event]:
        """Move to time t; returns the events that happened since the last call, in time order."""
        events: list[Event] = []
        while True:
            due = [(ep.failure, "failure", twin) for twin, ep in self._episodes.items() if ep.failure > self._now]
            due += [(ep.recovered, "recovered", twin) for twin, ep in self._episodes.items()]
            due.append((self._next, "episode_start", ""))
            when, kind, twin = min(due)
            if when > t:
                break
            if kind == "episode_start":
                self._now = when
                self._next = when + self._interval()
                self._start_episode(when, events)
            elif kind == "failure":
                ep = self._episodes[twin]
                self._now = when
                events.append(Event("failure", twin, ep.parameter, when, ep.start))
            else:
                ep = self._episodes.pop(twin)
                self._now = when
                events.append(Event("recovered", twin, ep.parameter, when, ep.start))
        self._now = t
        return events

    def _start_episode(self, t: float, events: list[Event]) -> None:
        idle = sorted(twin for twin in self._failing if twin not in self._episodes)
        if not idle:
            return
        twin = idle[int(self._rng.integers(len(idle)))]
        assert self._every is not None
        degrade = min(3 * 3600.0, self._every) * float(self._rng.uniform(0.5, 1.5))
        repair = min(3600.0, self._every / 2) * float(self._rng.uniform(0.5, 1.5))
        ep = _Episode(self._failing[twin], t, t + degrade, t + degrade + repair)
        self._episodes[twin] = ep
        events.append(Event("episode_start", twin, ep.parameter, t, t))
