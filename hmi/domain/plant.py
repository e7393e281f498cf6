"""What the plant is: twins grouped by stream, and the tags (parameters) of each twin."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Stream(str, Enum):
    """Where a twin sits in the oil and gas value chain."""

    UPSTREAM = "upstream"
    MIDSTREAM = "midstream"
    DOWNSTREAM = "downstream"
    POWER = "power"


class TagKind(str, Enum):
    """How a tag's value is read: a measurement, an on/off state, or a setpoint the HMI may write."""

    ANALOG = "analog"
    DISCRETE = "discrete"
    SETPOINT = "setpoint"


@dataclass(frozen=True, slots=True)
class TagSpec:
    """One parameter of one twin, and where to read it."""

    tag_id: str
    twin: str
    parameter: str
    unit: str
    eng_low: float
    eng_high: float
    band_low: float
    band_high: float
    kind: TagKind
    endpoint: str
    node_id: str
    sampling_ms: int
    deadband: float

    def in_band(self, value: float) -> bool:
        """True when a value lies within the normal band (limits included)."""
        return self.band_low <= value <= self.band_high

    def band_position(self, value: float) -> float:
        """Where a value sits in the engineering range, from 0.0 (low end) to 1.0 (high end)."""
        span = self.eng_high - self.eng_low
        return min(1.0, max(0.0, (value - self.eng_low) / span)) if span > 0 else 0.5


@dataclass(frozen=True, slots=True)
class TwinSpec:
    """A digital twin: a named asset with its parameters."""

    twin_id: str
    name: str
    stream: Stream
    tags: tuple[TagSpec, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Plant:
    """All twins of the plant, in display order."""

    twins: tuple[TwinSpec, ...]

    @property
    def tags(self) -> tuple[TagSpec, ...]:
        """Every tag of every twin."""
        return tuple(t for twin in self.twins for t in twin.tags)

    def tag(self, tag_id: str) -> TagSpec:
        """The tag with this id; KeyError names it when there is none."""
        for t in self.tags:
            if t.tag_id == tag_id:
                return t
        raise KeyError(f"no tag {tag_id!r} in the plant configuration")

    def by_stream(self) -> dict[Stream, list[TwinSpec]]:
        """The twins grouped by stream, in stream order."""
        groups: dict[Stream, list[TwinSpec]] = {s: [] for s in Stream}
        for twin in self.twins:
            groups[twin.stream].append(twin)
        return groups
