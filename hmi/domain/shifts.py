"""The shift calendar (issue 14): shifts, breaks and planned stops in the plant's local wall-clock time.

A shift is given by local times ("06:00" to "14:00") and the weekdays it starts on; a shift whose end is
not after its start ends the next day (a night shift). Its occurrences are found in the calendar's time
zone, so a shift across a change of daylight saving time is as long as the clocks say (a night shift is
7 or 9 hours that night). Breaks are local times inside their shift; a planned stop (weekly maintenance)
is a weekday and local times. Plain data and rules only: the config builds a ShiftCalendar, the OEE
service expands it into ShiftWindows over a UTC range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from hmi.domain.oee import ShiftWindow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MIN = 24 * 60
WEEK_MIN = 7 * DAY_MIN
US = 1_000_000
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> int:
    """Minutes after midnight of a local time 'HH:MM' (00:00 to 23:59); ValueError otherwise."""
    match = _HHMM.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{str(text)[:20]!r} is not a time of day: write HH:MM from 00:00 to 23:59 (e.g. 06:00)")
    return int(match.group(1)) * 60 + int(match.group(2))


def hhmm(minutes: int) -> str:
    """'HH:MM' of minutes after midnight."""
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def weekday(text: str) -> int:
    """0 (Monday) to 6 (Sunday) of 'mon' .. 'sun'; ValueError naming the seven otherwise."""
    name = text.strip().lower() if isinstance(text, str) else ""
    if name not in WEEKDAYS:
        raise ValueError(f"unknown weekday {str(text)[:20]!r}: use {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(name)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone; ValueError with a suggestion for a name that is not one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        import difflib

        close = difflib.get_close_matches(str(name), sorted(available_timezones()), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown time zone {str(name)[:60]!r}; {hint}give an IANA name such as Europe/Berlin or "
                         "UTC") from None  # fmt: skip


def _span(start_min: int, end_min: int) -> int:
    """Minutes from start to end; an end not after the start is the next day."""
    return (end_min - start_min) % DAY_MIN or DAY_MIN


@dataclass(frozen=True, slots=True)
class ShiftDef:
    """A shift of the calendar: name, local start and end (minutes after midnight), the weekdays it starts on,
    its breaks (local minutes, inside the shift)."""

    name: str
    start_min: int
    end_min: int
    days: frozenset[int] = frozenset(range(7))
    breaks: tuple[tuple[int, int], ...] = ()

    @property
    def length_min(self) -> int:
        """The shift's length on the wall clock, in minutes."""
        return _span(self.start_min, self.end_min)

    def text(self) -> str:
        """'early 06:00-14:00' for messages."""
        return f"{self.name!r} ({hhmm(self.start_min)}-{hhmm(self.end_min)})"

    def break_offsets(self) -> list[tuple[int, int]]:
        """Each break as (minutes after the shift's start, its length in minutes)."""
        return [((b0 - self.start_min) % DAY_MIN, _span(b0, b1)) for b0, b1 in self.breaks]


@dataclass(frozen=True, slots=True)
class PlannedStopDef:
    """A planned stop every week (maintenance): weekday, local start and end; outside planned time."""

    name: str
    day: int
    start_min: int
    end_min: int


@dataclass(frozen=True, slots=True)
class ShiftCalendar:
    """The plant's shifts and planned stops in one time zone."""

    timezone: str
    shifts: tuple[ShiftDef, ...]
    planned_stops: tuple[PlannedStopDef, ...] = ()

    def windows(self, from_us: int, to_us: int) -> list[ShiftWindow]:
        """Every occurrence of a shift that overlaps [from, to), by start; breaks and planned stops inside it."""
        tz = zone(self.timezone)
        first = _local_date(from_us, tz) - timedelta(days=2)
        last = _local_date(to_us, tz) + timedelta(days=1)
        stops = self._stop_spans(first, last, tz)
        found: list[ShiftWindow] = []
        day = first
        while day <= last:
            wd = day.weekday()
            for shift in self.shifts:
                if wd not in shift.days:
                    continue
                start = _at(day, shift.start_min, tz)
                end = _at(day, shift.start_min + shift.length_min, tz)
                if end <= from_us or start >= to_us:
                    continue
                breaks = tuple((_at(day, shift.start_min + off, tz), _at(day, shift.start_min + off + n, tz))
                               for off, n in shift.break_offsets())  # fmt: skip
                inside = tuple((max(s, start), min(e, end)) for s, e in stops if s < end and e > start)
                found.append(ShiftWindow(shift.name, start, end, breaks, inside))
            day += timedelta(days=1)
        found.sort(key=lambda w: (w.start_us, w.name))
        return found

    def _stop_spans(self, first: date, last: date, tz: ZoneInfo) -> list[tuple[int, int]]:
        spans = []
        day = first - timedelta(days=1)
        while day <= last:
            for stop in self.planned_stops:
                if stop.day == day.weekday():
                    spans.append((_at(day, stop.start_min, tz), _at(day, stop.start_min + _span(stop.start_min,
                                                                                               stop.end_min), tz)))
            day += timedelta(days=1)
        return spans

    def local_date(self, at_us: int) -> date:
        """The calendar's local date of an instant."""
        return _local_date(at_us, zone(self.timezone))


def _local_date(at_us: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(at_us / US, tz=timezone.utc).astimezone(tz).date()


def _at(day: date, minutes: int, tz: ZoneInfo) -> int:
    """UTC microseconds of local wall-clock time ``minutes`` after midnight of ``day`` (may pass into the next
    days). A time the clocks skip is read with the offset before the jump (02:30 becomes 03:30); a time they pass
    twice, as the first of the two."""
    extra, minute = divmod(minutes, DAY_MIN)
    local = datetime.combine(day + timedelta(days=extra), time(minute // 60, minute % 60), tzinfo=tz)
    return int(local.timestamp()) * US


def calendar_problems(shifts: tuple[ShiftDef, ...]) -> list[str]:
    """What makes a set of shifts unusable: the same name twice, two shifts overlapping on the week's wall clock,
    breaks outside their shift or overlapping each other. One sentence each, naming what to change."""
    problems: list[str] = []
    names = [s.name for s in shifts]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"shift name {name!r} is given more than once: give each shift its own name")
    for shift in shifts:
        spans = sorted(shift.break_offsets())
        for off, n in spans:
            if off + n > shift.length_min:
                problems.append(f"a break of shift {shift.text()} at {hhmm(shift.start_min + off)}-"
                                f"{hhmm(shift.start_min + off + n)} is outside the shift: move it inside the shift "
                                "or remove it")  # fmt: skip
        for (a, n), (b, _m) in zip(spans, spans[1:]):
            if b < a + n:
                problems.append(f"two breaks of shift {shift.text()} overlap at {hhmm(shift.start_min + b)}: "
                                "make them one break or move one")  # fmt: skip
    occupied: list[tuple[int, int, ShiftDef, int]] = []  # (start, end) on the week's clock, shift, weekday
    for shift in shifts:
        for day in sorted(shift.days):
            start = day * DAY_MIN + shift.start_min
            occupied.append((start, start + shift.length_min, shift, day))
    reported: set[tuple[str, str]] = set()
    for i, (s0, e0, a, d0) in enumerate(occupied):
        for s1, e1, b, d1 in occupied[i + 1:]:
            if a is b or (a.name, b.name) in reported:
                continue
            if _overlap(s0, e0, s1, e1):
                reported.add((a.name, b.name))
                problems.append(f"shift {a.text()} on {WEEKDAYS[d0]} overlaps shift {b.text()} on {WEEKDAYS[d1]}: "
                                "shifts must not overlap; change a start, an end or the days")  # fmt: skip
    return problems


def _overlap(s0: int, e0: int, s1: int, e1: int) -> bool:
    """Whether two spans on the week's clock (minutes, may pass the week's end) overlap."""
    return any(s0 < e1 + k and s1 + k < e0 for k in (-WEEK_MIN, 0, WEEK_MIN))


DEFAULT_CALENDAR = ShiftCalendar("UTC", (
    ShiftDef("early", 6 * 60, 14 * 60, breaks=((10 * 60, 10 * 60 + 30),)),
    ShiftDef("late", 14 * 60, 22 * 60, breaks=((18 * 60, 18 * 60 + 30),)),
    ShiftDef("night", 22 * 60, 6 * 60, breaks=((2 * 60, 2 * 60 + 30),)),
))  # fmt: skip
