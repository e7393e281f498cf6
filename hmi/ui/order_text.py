"""The words and marks the order panes show: statuses, lateness, percentages, times in local time, health.

Colour is never the only cue: each abnormal state has a shape and a word here, the panes add the
theme's colour to them.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from hmi.domain.orders import OrderStatus, ShareStatus, ShopfloorHealth
from hmi.ui import theme

NONE_TEXT = "—"
SHAPE_LATE = "◷"

STATUS_WORDS = {
    OrderStatus.PLANNED: "planned", OrderStatus.RELEASED: "released", OrderStatus.IN_PROGRESS: "in progress",
    OrderStatus.COMPLETED: "completed", OrderStatus.SHORT: "short", OrderStatus.CANCELLED: "cancelled",
}  # fmt: skip
SHARE_WORDS = {
    ShareStatus.QUEUED: "queued", ShareStatus.SENT: "sent", ShareStatus.ACCEPTED: "accepted",
    ShareStatus.RUNNING: "running", ShareStatus.DONE: "done", ShareStatus.WITHDRAWING: "withdrawing",
    ShareStatus.WITHDRAWN: "withdrawn",
}  # fmt: skip
# Abnormal: a shape goes before the word, and the theme's colour behind it.
ABNORMAL_STATUS = {OrderStatus.SHORT: theme.SHAPE_WARNING}
ABNORMAL_SHARE = {ShareStatus.WITHDRAWING: theme.SHAPE_WARNING, ShareStatus.WITHDRAWN: theme.SHAPE_WARNING}

HEALTH_SHAPES = {
    ShopfloorHealth.ONLINE: theme.SHAPE_UP, ShopfloorHealth.LATE: theme.SHAPE_STALE,
    ShopfloorHealth.OFFLINE: theme.SHAPE_DOWN, ShopfloorHealth.UNKNOWN: "?",
}  # fmt: skip
HEALTH_COLOURS = {ShopfloorHealth.LATE: theme.WARNING, ShopfloorHealth.OFFLINE: theme.ALARM_HIGH,
                  ShopfloorHealth.UNKNOWN: theme.STALE}  # fmt: skip


def status_text(status: OrderStatus) -> str:
    """'in progress', '▲ short'."""
    word = STATUS_WORDS.get(status, status.value)
    shape = ABNORMAL_STATUS.get(status)
    return f"{shape} {word}" if shape else word


def share_text(status: ShareStatus) -> str:
    """'running', '▲ withdrawn'."""
    word = SHARE_WORDS.get(status, status.value)
    shape = ABNORMAL_SHARE.get(status)
    return f"{shape} {word}" if shape else word


def health_text(health: ShopfloorHealth) -> str:
    """'● online', '▲ OFFLINE': the shape, then the word (in capitals when it is bad)."""
    word = health.value.upper() if health is ShopfloorHealth.OFFLINE else health.value
    return f"{HEALTH_SHAPES[health]} {word}"


def span_text(seconds: float) -> str:
    """'2 h 10 min', '45 min', '1 d 3 h', '30 s'."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    m = s // 60
    d, rest = divmod(m, 24 * 60)
    h, m = divmod(rest, 60)
    if d:
        return f"{d} d {h} h" if h else f"{d} d"
    if h:
        return f"{h} h {m} min" if m else f"{h} h"
    return f"{m} min"


def late_text(late_by_s: float | None) -> str:
    """'◷ +2 h 10 min' for an order expected after its due date; '' when it is on time or not planned."""
    if late_by_s is None or late_by_s <= 0:
        return ""
    return f"{SHAPE_LATE} +{span_text(late_by_s)}"


def percent(fraction: float, digits: int = 1) -> str:
    """0.9734 -> '97.3 %'."""
    return f"{fraction * 100:.{digits}f} %"


def local(ts: datetime, tz: tzinfo | None = None) -> datetime:
    """An aware (or naive UTC) datetime in ``tz`` (None: the workstation's time zone)."""
    aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)
    return aware.astimezone(tz)


def when_text(ts: datetime | None, now: datetime, tz: tzinfo | None = None) -> str:
    """'14:03' today, 'Tue 09:00' within a week, '2024-05-01 14:03' otherwise, '—' for none."""
    if ts is None:
        return NONE_TEXT
    t, today = local(ts, tz), local(now, tz)
    if t.date() == today.date():
        return t.strftime("%H:%M")
    if abs((t.date() - today.date()).days) < 7:
        return t.strftime("%a %H:%M")
    return t.strftime("%Y-%m-%d %H:%M")


def age_text(ts: datetime | None, now: datetime) -> str:
    """'3 s ago', '2 min ago', 'never'."""
    if ts is None:
        return "never"
    return f"{span_text((now - ts).total_seconds())} ago"


def units(n: float) -> str:
    """3000 -> '3,000'; 12.5 -> '12.5'."""
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.1f}"
