"""Alarm definitions (ISA-18.2): what is alarmed, at which limit, how urgently, and with which anti-chatter.

Defaults are generated from the plant: each analog parameter gets a high and a low alarm at the edges
of its normal band (high-high and low-low when a hook supplies them), and each PLC endpoint gets a
communication-loss alarm. Statistical anomaly alarms (|z| > 3) are a kind of their own, kept apart
from limit alarms; the engine only holds their state, a detector decides their condition.

Default priorities (1 = highest, as in the alarm banner):

- 1: HIHI / LOLO, the trip-near limits: the operator must act now.
- 2: COMM_LOSS: a whole endpoint is blind, every alarm on it is unreliable until it is back.
- 3: HI / LO, the edge of the normal band: act soon.
- 4: ANOMALY, statistical: look when there is time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from hmi.domain.plant import Plant, TagKind, TagSpec


class AlarmKind(str, Enum):
    """What an alarm watches: a limit of a tag, an endpoint's link, or a statistical anomaly."""

    HIHI = "hihi"
    HI = "hi"
    LO = "lo"
    LOLO = "lolo"
    COMM_LOSS = "comm_loss"
    ANOMALY = "anomaly"

    @property
    def is_limit(self) -> bool:
        """True for the four limit kinds, which the engine evaluates on tag values."""
        return self in _LIMIT_KINDS

    @property
    def is_high(self) -> bool:
        """True for HI and HIHI (the condition is value above the limit)."""
        return self is AlarmKind.HI or self is AlarmKind.HIHI


_LIMIT_KINDS = frozenset({AlarmKind.HIHI, AlarmKind.HI, AlarmKind.LO, AlarmKind.LOLO})

DEFAULT_PRIORITY: Mapping[AlarmKind, int] = {
    AlarmKind.HIHI: 1,
    AlarmKind.LOLO: 1,
    AlarmKind.COMM_LOSS: 2,
    AlarmKind.HI: 3,
    AlarmKind.LO: 3,
    AlarmKind.ANOMALY: 4,
}
# (on_delay_s, off_delay_s) per kind: a limit must hold a few seconds before it annunciates, a link may
# blink (a reconnect inside 5 s is not an alarm), the trip-near limits wait the least.
DEFAULT_DELAYS: Mapping[AlarmKind, tuple[float, float]] = {
    AlarmKind.HIHI: (1.0, 3.0),
    AlarmKind.LOLO: (1.0, 3.0),
    AlarmKind.HI: (3.0, 3.0),
    AlarmKind.LO: (3.0, 3.0),
    AlarmKind.COMM_LOSS: (5.0, 0.0),
    AlarmKind.ANOMALY: (0.0, 0.0),
}
DEFAULT_DEADBAND_FRACTION = 0.01  # of the engineering span, when the tag's own deadband is 0

_WORDS = {
    AlarmKind.HIHI: "high-high",
    AlarmKind.HI: "high",
    AlarmKind.LO: "low",
    AlarmKind.LOLO: "low-low",
}


@dataclass(frozen=True, slots=True)
class AlarmDefinition:
    """One configured alarm: id, what it watches, limit, priority 1-4 and anti-chatter settings.

    ``tag`` is the tag id for limit and anomaly alarms and empty for COMM_LOSS, which names its
    ``endpoint`` instead. ``deadband`` is absolute, in the tag's unit: a HI alarm returns only below
    ``limit - deadband``, a LO alarm only above ``limit + deadband``.
    """

    alarm_id: str
    tag: str
    kind: AlarmKind
    limit: float
    priority: int
    deadband: float = 0.0
    on_delay_s: float = 0.0
    off_delay_s: float = 0.0
    message: str = ""
    endpoint: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.priority <= 4:
            raise ValueError(f"alarm {self.alarm_id}: priority must be 1-4, got {self.priority}")
        if self.deadband < 0 or self.on_delay_s < 0 or self.off_delay_s < 0:
            raise ValueError(f"alarm {self.alarm_id}: deadband and delays must not be negative")
        if self.kind is AlarmKind.COMM_LOSS and not self.endpoint:
            raise ValueError(f"alarm {self.alarm_id}: a communication-loss alarm needs an endpoint")
        if self.kind is not AlarmKind.COMM_LOSS and not self.tag:
            raise ValueError(f"alarm {self.alarm_id}: a {self.kind.value} alarm needs a tag")


LimitsHook = Callable[[TagSpec], Mapping[AlarmKind, float]]


def band_limits(spec: TagSpec) -> dict[AlarmKind, float]:
    """The default limits of a tag: HI at the top and LO at the bottom of its normal band."""
    return {AlarmKind.HI: spec.band_high, AlarmKind.LO: spec.band_low}


def default_definitions(plant: Plant, limits: LimitsHook = band_limits) -> list[AlarmDefinition]:
    """Limit alarms for every analog parameter plus one COMM_LOSS alarm per endpoint, with default settings.

    ``limits`` maps a tag to its limits by kind; the default gives HI/LO from the band. A plant that
    knows its trip-near limits passes a hook that adds HIHI/LOLO (e.g. ``{**band_limits(s), HIHI: ...}``).
    """
    defs: list[AlarmDefinition] = []
    endpoints: dict[str, None] = {}
    for spec in plant.tags:
        endpoints.setdefault(spec.endpoint, None)
        if spec.kind is not TagKind.ANALOG:
            continue
        deadband = spec.deadband if spec.deadband > 0 else DEFAULT_DEADBAND_FRACTION * (spec.eng_high - spec.eng_low)
        for kind, limit in limits(spec).items():
            if not kind.is_limit:
                raise ValueError(f"tag {spec.tag_id}: the limits hook gave a {kind.value} alarm, not a limit")
            on_delay, off_delay = DEFAULT_DELAYS[kind]
            unit = f" {spec.unit}" if spec.unit else ""
            defs.append(
                AlarmDefinition(
                    alarm_id=f"{spec.tag_id}.{kind.value}",
                    tag=spec.tag_id,
                    kind=kind,
                    limit=float(limit),
                    priority=DEFAULT_PRIORITY[kind],
                    deadband=max(0.0, deadband),
                    on_delay_s=on_delay,
                    off_delay_s=off_delay,
                    message=f"{spec.twin} {spec.parameter} {_WORDS[kind]} (limit {limit:g}{unit})",
                )
            )
    on_delay, off_delay = DEFAULT_DELAYS[AlarmKind.COMM_LOSS]
    for endpoint in endpoints:
        defs.append(
            AlarmDefinition(
                alarm_id=f"{endpoint}.comm_loss",
                tag="",
                kind=AlarmKind.COMM_LOSS,
                limit=0.0,
                priority=DEFAULT_PRIORITY[AlarmKind.COMM_LOSS],
                on_delay_s=on_delay,
                off_delay_s=off_delay,
                message=f"communication lost with {endpoint}",
                endpoint=endpoint,
            )
        )
    return defs
