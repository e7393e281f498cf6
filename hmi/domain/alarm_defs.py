"""Alarm definitions (ISA-18.2): what is alarmed, at which limit, how urgently, and with which anti-chatter.

Defaults are generated from the plant: each analog parameter gets a high and a low alarm at the edges
of its normal band (high-high and low-low when a hook supplies them), and each PLC endpoint gets a
communication-loss alarm. Statistical anomaly alarms (|z| > 3) are a kind of their own, kept apart
from limit alarms; the engine only holds their state, a detector decides their condition.

Site settings are applied by pure functions on plain dataclasses (the config layer translates its TOML
into them): ``settings_limits`` moves HI/LO and adds HIHI/LOLO per tag, ``configure`` applies per-tag
anti-chatter, per-alarm overrides and ``enabled = false``.

Default priorities (1 = highest, as in the alarm banner):

- 1: HIHI / LOLO, the trip-near limits: the operator must act now.
- 2: COMM_LOSS: a whole endpoint is blind, every alarm on it is unreliable until it is back.
- 3: HI / LO, the edge of the normal band: act soon.
- 4: ANOMALY, statistical: look when there is time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
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
    # One sample beyond 3 sigma is noise (0.27% of samples: hundreds an hour on a plant); an anomaly
    # must last 2 s (two samples at 1 Hz) to annunciate, and stay gone 5 s to return.
    AlarmKind.ANOMALY: (2.0, 5.0),
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


def _names(plant: Plant) -> dict[str, str]:
    """Each tag as an alarm message names it: its twin's name and its parameter in words ("Drill Rig 1 pressure")."""
    return {
        spec.tag_id: f"{twin.name} {spec.parameter.replace('_', ' ')}" for twin in plant.twins for spec in twin.tags
    }


def default_definitions(plant: Plant, limits: LimitsHook = band_limits) -> list[AlarmDefinition]:
    """Limit alarms for every analog parameter plus one COMM_LOSS alarm per endpoint, with default settings.

    ``limits`` maps a tag to its limits by kind; the default gives HI/LO from the band. A plant that
    knows its trip-near limits passes a hook that adds HIHI/LOLO (e.g. ``{**band_limits(s), HIHI: ...}``).
    """
    defs: list[AlarmDefinition] = []
    endpoints: dict[str, None] = {}
    names = _names(plant)
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
                    message=f"{names[spec.tag_id]} {_WORDS[kind]} (limit {limit:g}{unit})",
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


def anomaly_definitions(
    plant: Plant, priority: int = DEFAULT_PRIORITY[AlarmKind.ANOMALY], z: float = 3.0
) -> list[AlarmDefinition]:
    """One ANOMALY alarm per analog parameter, id ``<tag>.anomaly``; ``limit`` is the |z| threshold."""
    on_delay, off_delay = DEFAULT_DELAYS[AlarmKind.ANOMALY]
    names = _names(plant)
    return [
        AlarmDefinition(
            alarm_id=f"{spec.tag_id}.{AlarmKind.ANOMALY.value}",
            tag=spec.tag_id,
            kind=AlarmKind.ANOMALY,
            limit=float(z),
            priority=priority,
            on_delay_s=on_delay,
            off_delay_s=off_delay,
            message=f"{names[spec.tag_id]} unusual (|z| > {z:g})",
        )
        for spec in plant.tags
        if spec.kind is TagKind.ANALOG
    ]


@dataclass(frozen=True, slots=True)
class TagAlarmSettings:
    """A site's settings for one tag's alarms; None keeps the default (band for HI/LO, no HIHI/LOLO)."""

    hihi: float | None = None
    hi: float | None = None
    lo: float | None = None
    lolo: float | None = None
    deadband: float | None = None
    on_delay_s: float | None = None
    off_delay_s: float | None = None
    enabled: bool = True

    def limits(self, spec: TagSpec) -> dict[AlarmKind, float]:
        """The tag's limits: HIHI/LOLO where given, HI/LO from these settings or the band, high to low."""
        band = band_limits(spec)
        given = {
            AlarmKind.HIHI: self.hihi,
            AlarmKind.HI: self.hi if self.hi is not None else band[AlarmKind.HI],
            AlarmKind.LO: self.lo if self.lo is not None else band[AlarmKind.LO],
            AlarmKind.LOLO: self.lolo,
        }
        return {kind: float(limit) for kind, limit in given.items() if limit is not None}


@dataclass(frozen=True, slots=True)
class AlarmOverride:
    """A site's settings for one alarm by id; None keeps what the definition has."""

    priority: int | None = None
    deadband: float | None = None
    on_delay_s: float | None = None
    off_delay_s: float | None = None
    message: str | None = None
    enabled: bool = True


_NO_SETTINGS = TagAlarmSettings()
_LIMIT_ORDER = (AlarmKind.LOLO, AlarmKind.LO, AlarmKind.HI, AlarmKind.HIHI)


def settings_limits(tag_settings: Mapping[str, TagAlarmSettings]) -> LimitsHook:
    """A limits hook for ``default_definitions`` that applies per-tag settings (band defaults elsewhere)."""
    return lambda spec: tag_settings.get(spec.tag_id, _NO_SETTINGS).limits(spec)


def limits_problem(spec: TagSpec, limits: Mapping[AlarmKind, float]) -> str | None:
    """Why a tag's limits cannot be used (out of order, or outside the range), or None when they can.

    The order is lolo < lo <= hi < hihi (HI == LO is a band of one value); every limit lies within the
    tag's engineering range, where a value can reach it.
    """
    unit = f" {spec.unit}" if spec.unit else ""
    for kind in _LIMIT_ORDER:
        if kind in limits and not spec.eng_low <= limits[kind] <= spec.eng_high:
            return (
                f"{kind.value} {limits[kind]:g} is outside the range [{spec.eng_low:g}, {spec.eng_high:g}]{unit} "
                f"of {spec.tag_id}, so no reading can reach it: put it inside the range"
            )
    present = [k for k in _LIMIT_ORDER if k in limits]
    for low, high in zip(present, present[1:], strict=False):
        equal_ok = low is AlarmKind.LO and high is AlarmKind.HI
        if limits[low] > limits[high] or (limits[low] == limits[high] and not equal_ok):
            above = "at or above" if equal_ok else "above"
            band = f"[{spec.band_low:g}, {spec.band_high:g}]"
            return (
                f"limits out of order (need lolo < lo <= hi < hihi): {high.value} {limits[high]:g} must be {above} "
                f"{low.value} {limits[low]:g} (hi and lo are the band {band} unless set)"
            )
    return None


def configure(
    definitions: Iterable[AlarmDefinition],
    tag_settings: Mapping[str, TagAlarmSettings] | None = None,
    overrides: Mapping[str, AlarmOverride] | None = None,
) -> list[AlarmDefinition]:
    """The definitions with a site's settings applied, in the same order.

    Per tag: deadband and delays for its limit alarms; ``enabled=False`` drops all its alarms
    (anomaly included). Per alarm id, which wins over the tag: priority, deadband, delays, message;
    ``enabled=False`` drops the alarm. Ids or tags without a definition are ignored (checking them is
    the config's job, which can name the key).
    """
    tag_settings = tag_settings or {}
    overrides = overrides or {}
    out: list[AlarmDefinition] = []
    for defn in definitions:
        tag = tag_settings.get(defn.tag, _NO_SETTINGS) if defn.tag else _NO_SETTINGS
        alarm = overrides.get(defn.alarm_id)
        if not tag.enabled or (alarm is not None and not alarm.enabled):
            continue
        changes: dict[str, object] = {}
        if defn.kind.is_limit:
            changes.update(_given(tag, "deadband", "on_delay_s", "off_delay_s"))
        if alarm is not None:
            changes.update(_given(alarm, "priority", "deadband", "on_delay_s", "off_delay_s", "message"))
        out.append(replace(defn, **changes) if changes else defn)
    return out


def _given(settings: object, *names: str) -> dict[str, object]:
    return {name: value for name in names if (value := getattr(settings, name)) is not None}
