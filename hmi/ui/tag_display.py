"""What an operator sees of one tag: value text, band cue, quality cue and age, from a spec and a TagValue."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from hmi.domain.plant import TagKind, TagSpec
from hmi.domain.tags import Quality, TagValue

WAITING_TEXT = "—"
DISCRETE_WORDS = ("STOPPED", "RUNNING")  # 0 and 1
MIN_STALE_S = 10.0
STALE_FACTOR = 3.0


class RowState(str, Enum):
    """The condition of one displayed tag, worst last."""

    WAITING = "waiting"
    NORMAL = "normal"
    STALE = "stale"
    UNCERTAIN = "uncertain"
    OUT_OF_BAND = "out_of_band"
    BAD = "bad"


SEVERITY = {s: i for i, s in enumerate(RowState)}


@dataclass(frozen=True, slots=True)
class TagDisplay:
    """The parts of a tag's row that change with its value (the age is computed apart, every second)."""

    value_text: str
    state: RowState
    flag_text: str  # the word (with a shape) next to the value: "▲ HIGH", "▼ LOW", "✖ BAD", "? UNCERT"
    struck: bool  # the value shown is not valid (Bad): drawn struck through
    position: float | None  # where the value sits in the engineering range, 0..1
    high: bool  # out of band above (else below), meaningful when state is OUT_OF_BAND


def decimals(spec: TagSpec) -> int:
    """Decimals that suit the tag's engineering range: 0 from a span of 1000, 1 from 10, else 2."""
    span = abs(spec.eng_high - spec.eng_low)
    return 0 if span >= 1000 else 1 if span >= 10 else 2


def format_value(spec: TagSpec, value: float | None) -> str:
    """The value as the tile shows it: a word for a discrete tag, "SP 120.0" for a setpoint, "—" for none."""
    if value is None or not math.isfinite(value):
        return WAITING_TEXT
    if spec.kind is TagKind.DISCRETE:
        return DISCRETE_WORDS[1] if value >= 0.5 else DISCRETE_WORDS[0]
    text = f"{value:.{decimals(spec)}f}"
    return f"SP {text}" if spec.kind is TagKind.SETPOINT else text


def describe(spec: TagSpec, tv: TagValue | None, last_value: float | None = None) -> TagDisplay:
    """The display of a tag's latest value; a Bad one shows the last known value struck through."""
    if tv is None:
        return TagDisplay(WAITING_TEXT, RowState.WAITING, "", False, None, False)
    if tv.quality is Quality.BAD or tv.value is None:
        shown = tv.value if tv.value is not None else last_value
        return TagDisplay(format_value(spec, shown), RowState.BAD, "✖ BAD", shown is not None, None, False)
    value = tv.value
    position = spec.band_position(value)
    if spec.kind is not TagKind.DISCRETE and not spec.in_band(value):
        high = value > spec.band_high
        flag = "▲ HIGH" if high else "▼ LOW"
        return TagDisplay(format_value(spec, value), RowState.OUT_OF_BAND, flag, False, position, high)
    if tv.quality is Quality.UNCERTAIN:
        return TagDisplay(format_value(spec, value), RowState.UNCERTAIN, "? UNCERT", False, position, False)
    return TagDisplay(format_value(spec, value), RowState.NORMAL, "", False, position, False)


def stale_limit_s(spec: TagSpec) -> float | None:
    """How old a measurement may get before it is stale; None for tags that only report changes.

    A setpoint or an on/off state is sent only when it changes, so its age says nothing about
    the link: a lost link shows as Bad instead.
    """
    if spec.kind is not TagKind.ANALOG:
        return None
    return max(STALE_FACTOR * spec.sampling_ms / 1000.0, MIN_STALE_S)


def age_s(tv: TagValue | None, now: float) -> float | None:
    """Seconds since the source stamped the value (never negative: the PLC's clock may run ahead)."""
    return None if tv is None else max(0.0, now - tv.source_ts)


def format_age(seconds: float | None) -> str:
    """ "3 s", "2 min", "5 h", "3 d"; "" when there is no value."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def is_stale(spec: TagSpec, tv: TagValue | None, now: float) -> bool:
    """True when a Good or Uncertain measurement is older than its staleness limit."""
    limit = stale_limit_s(spec)
    if limit is None or tv is None or tv.quality is Quality.BAD:
        return False
    return now - tv.source_ts > limit
