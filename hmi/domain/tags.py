"""Tag values as they travel from a source to the historian, the alarms and the screen."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum


class Quality(IntEnum):
    """OPC UA quality, reduced to the three classes an operator acts on."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


@dataclass(frozen=True, slots=True)
class TagValue:
    """One sample of one tag.

    Times are UTC epoch seconds: ``source_ts`` from the PLC, ``received_ts`` when we got it.
    ``value`` is None when the quality is Bad and there is no usable number; ``reason``
    says why a value is not Good (for the tooltip, the log and the historian).
    """

    tag: str
    value: float | None
    quality: Quality
    source_ts: float
    received_ts: float
    reason: str = ""

    @property
    def is_good(self) -> bool:
        """True when the value can be shown and alarmed on as it is."""
        return self.quality is Quality.GOOD


def coerce_value(
    tag: str,
    raw: object,
    source_ts: float,
    received_ts: float,
    quality: Quality = Quality.GOOD,
    reason: str = "",
) -> TagValue:
    """Build a TagValue from whatever a source delivered, marking non-numbers Bad with a reason.

    Booleans become 0/1 (discrete tags); NaN, infinities and non-numeric types are Bad,
    so a broken PLC value never reaches a trend or an alarm as if it were a reading.
    """
    if quality is Quality.BAD:
        return TagValue(tag, None, Quality.BAD, source_ts, received_ts, reason or "bad status")
    if isinstance(raw, bool):
        return TagValue(tag, float(raw), quality, source_ts, received_ts, reason)
    if isinstance(raw, (int, float)):
        value = float(raw)
        if math.isfinite(value):
            return TagValue(tag, value, quality, source_ts, received_ts, reason)
        return TagValue(tag, None, Quality.BAD, source_ts, received_ts, f"not a finite number ({raw!r})")
    return TagValue(
        tag,
        None,
        Quality.BAD,
        source_ts,
        received_ts,
        f"expected a number, got {type(raw).__name__} {str(raw)[:40]!r}",
    )
