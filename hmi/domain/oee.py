"""OEE after ISO 22400-2 and the shift calendar: the types every layer shares (issue 14).

Per line (a shopfloor, or a twin) and period (a shift, a day, a week):

- planned busy time PBT = the shifts' time - breaks - planned stops (calendar and planned downtime)
- actual production time APT = PBT - unplanned downtime (micro-stops are not downtime: they are a
  performance loss)
- availability = APT / PBT; performance = ideal cycle time x produced / APT; quality = good / produced;
  OEE = availability x performance x quality

A factor that cannot be computed is None with a reason in `missing` ("no planned time", "no production
data", "no data yet"), never a division error and never 100 %. A line's planned time starts when the HMI first
observed it (its first production record, stop or status sample): before that it is not known to have been
planned production. Times in seconds, instants in UTC microseconds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo
from enum import Enum
from operator import attrgetter
from typing import NamedTuple

from hmi.domain.andon import Loss

NO_PLANNED_TIME = "no planned time"
NO_PRODUCTION = "no production data"
NOT_OBSERVED = "no data yet"  # no line of the row had been observed (no record of it) by the period's end


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
    missing: str = ""  # why a factor is None: NO_PLANNED_TIME, NO_PRODUCTION, NOT_OBSERVED
    losses: dict[BigLoss, float] = field(default_factory=dict)  # seconds lost per big loss


@dataclass(frozen=True, slots=True)
class OeeTargets:
    """The plant's targets, shown beside the figures (from the config)."""

    oee: float = 0.85
    availability: float = 0.90
    performance: float = 0.95
    quality: float = 0.99


ALL_LINES = "all"  # OeeFigures.line of a plant-wide (combined) row
US = 1_000_000
ALWAYS = -(2**62)  # LineInput.observed_from_us of a line observed since before any range


@dataclass(frozen=True, slots=True)
class OrderOutput:
    """What one order produced on one line in a range (from the reports' running totals)."""

    order_id: str
    job_number: str
    product: str
    line: str  # the shopfloor id
    produced: int  # good + defective, as OEE counts it
    good: int
    defective: int


class OeeStop(NamedTuple):
    """A line's stop as OEE weighs it: a lasting one ends now; PLANNED comes out of planned time (a tuple: a
    year holds tens of thousands)."""

    start_us: int
    end_us: int
    loss: Loss
    micro: bool = False


class Output(NamedTuple):
    """Units a line reported from at_us on (a span of the increases of its reports' running totals)."""

    at_us: int
    good: int
    defective: int


@dataclass(frozen=True, slots=True)
class LineInput:
    """One line's data for a range: its ideal cycle time, its stops (any order), its outputs (any order) and the
    instant it was first observed from (planned time starts there; None: never observed, it has no planned time)."""

    line: str
    ideal_cycle_s: float | None
    stops: tuple[OeeStop, ...] = ()
    outputs: tuple[Output, ...] = ()
    observed_from_us: int | None = ALWAYS  # the default: observed since before any range


@dataclass(slots=True)
class Tally:
    """The sums OEE is computed from; they add up over shifts and over lines (ISO 22400 aggregation)."""

    planned_us: int = 0
    run_us: int = 0
    down_us: int = 0
    micro_n: int = 0
    micro_us: int = 0
    good: int = 0
    defective: int = 0
    ideal_us: float = 0.0  # ideal cycle time x produced, of the lines that have one
    rated_run_us: int = 0  # the run time of the lines that have an ideal cycle time
    losses: dict[BigLoss, float] = field(default_factory=dict)  # seconds

    def add(self, other: Tally) -> None:
        """Add another tally's sums to this one."""
        for name in ("planned_us", "run_us", "down_us", "micro_n", "micro_us", "good", "defective", "ideal_us",
                     "rated_run_us"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for loss, seconds in other.losses.items():
            self.losses[loss] = self.losses.get(loss, 0.0) + seconds

    def figures(self, line: str, start_us: int, end_us: int, label: str, ideal_cycle_s: float | None, *,
                observed: bool = True) -> OeeFigures:  # fmt: skip
        """OEE and its factors from the sums: a factor that cannot be computed is None, and `missing` says why
        (NOT_OBSERVED when ``observed`` is false: no line of the sums had been observed in the period)."""
        produced = self.good + self.defective
        quality = self.good / produced if produced else None
        availability = performance = None
        missing = ""
        if not observed:
            missing = NOT_OBSERVED
        elif self.planned_us <= 0:
            missing = NO_PLANNED_TIME
        else:
            availability = self.run_us / self.planned_us
            if produced and self.rated_run_us > 0:
                performance = self.ideal_us / self.rated_run_us
            else:
                missing = NO_PRODUCTION
        factors = (availability, performance, quality)
        oee = None if None in factors else availability * performance * quality  # type: ignore[operator]
        return OeeFigures(
            line=line, start_us=start_us, end_us=end_us, label=label, planned_s=self.planned_us / US,
            run_s=self.run_us / US, unplanned_down_s=self.down_us / US, micro_stops=self.micro_n,
            micro_stop_s=self.micro_us / US, produced=produced, good=self.good, ideal_cycle_s=ideal_cycle_s,
            availability=availability, performance=performance, quality=quality, oee=oee, missing=missing,
            losses=dict(self.losses),
        )  # fmt: skip


Span = tuple[int, int]


def _union(spans: list[Span]) -> list[Span]:
    """The spans merged: sorted, disjoint, none empty."""
    out: list[Span] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _minus(span: Span, cuts: list[Span]) -> list[Span]:
    """What is left of a span once the (merged) cuts are taken out."""
    s, e = span
    left: list[Span] = []
    for c0, c1 in cuts:
        if c1 <= s or c0 >= e:
            continue
        if c0 > s:
            left.append((s, c0))
        s = max(s, c1)
        if s >= e:
            break
    if s < e:
        left.append((s, e))
    return left


def _length(spans: list[Span]) -> int:
    total = 0
    for s, e in spans:
        total += e - s
    return total


class _Stops:
    """A line's stops, found by time: sorted by start, with the running maximum of their ends."""

    def __init__(self, stops: tuple[OeeStop, ...]) -> None:
        self.stops = sorted((s for s in stops if s.end_us > s.start_us), key=attrgetter("start_us", "end_us"))
        self.starts = [s.start_us for s in self.stops]
        self.max_end: list[int] = []
        top = -(2**63)
        for s in self.stops:
            top = max(top, s.end_us)
            self.max_end.append(top)

    def overlapping(self, lo: int, hi: int) -> list[OeeStop]:
        first = bisect_right(self.max_end, lo)
        last = bisect_left(self.starts, hi)
        return [s for s in self.stops[first:last] if s.end_us > lo]


class _Outputs:
    """A line's outputs, found by time."""

    def __init__(self, outputs: tuple[Output, ...]) -> None:
        self.outputs = sorted(outputs, key=lambda o: o.at_us)
        self.at = [o.at_us for o in self.outputs]

    def between(self, lo: int, hi: int) -> list[Output]:
        return self.outputs[bisect_left(self.at, lo):bisect_left(self.at, hi)]


def shift_tally(lo: int, hi: int, excluded: list[Span], stops: list[OeeStop], outputs: list[Output],
                ideal_cycle_s: float | None, startup: Span | None) -> Tally:  # fmt: skip
    """The sums of one line in one shift cut to [lo, hi): planned time is the span less ``excluded`` (its breaks and
    planned stops, merged) and the stops of the PLANNED class; each unplanned stop costs only its part in planned
    time not already lost to an earlier one; micro-stops are counted (a performance loss), not downtime; the
    defective units reported in ``startup`` are start-up rejects."""
    breakdown = setup = micro_n = micro_us = 0
    excluded_us = _length(excluded)
    if stops:
        planned_stops = [(max(s.start_us, lo), min(s.end_us, hi)) for s in stops if s.loss is Loss.PLANNED]
        if planned_stops:
            excluded = _union(excluded + planned_stops)
            excluded_us = _length(excluded)
        covered = excluded
        for stop in stops:
            if stop.micro or stop.loss is Loss.PLANNED:
                continue
            pieces = _minus((max(stop.start_us, lo), min(stop.end_us, hi)), covered)
            if pieces:
                if stop.loss is Loss.SETUP:
                    setup += _length(pieces)
                else:
                    breakdown += _length(pieces)
                covered = _union(covered + pieces)
        for stop in stops:
            if stop.micro and stop.loss is not Loss.PLANNED:
                micro_us += _length(_minus((max(stop.start_us, lo), min(stop.end_us, hi)), covered))
                micro_n += 1 if lo <= stop.start_us < hi else 0
    planned = (hi - lo) - excluded_us
    down = breakdown + setup
    run = planned - down
    good = defective = 0
    for o in outputs:
        good += o.good
        defective += o.defective
    losses = {BigLoss.BREAKDOWNS: breakdown / US, BigLoss.SETUP: setup / US, BigLoss.MINOR_STOPS: micro_us / US}
    tally = Tally(planned, run, down, micro_n, micro_us, good, defective, 0.0, 0, losses)
    if ideal_cycle_s is not None:
        startup_defective = sum(o.defective for o in outputs if startup[0] <= o.at_us < startup[1]) if startup else 0
        tally.ideal_us = ideal_cycle_s * US * (good + defective)
        tally.rated_run_us = run
        losses[BigLoss.REDUCED_SPEED] = max(0.0, (run - tally.ideal_us - micro_us) / US)
        losses[BigLoss.PRODUCTION_REJECTS] = ideal_cycle_s * (defective - startup_defective)
        losses[BigLoss.STARTUP_REJECTS] = ideal_cycle_s * startup_defective
    return tally


def _local_date(at_us: int, tz: tzinfo) -> date:
    return datetime.fromtimestamp(at_us / US, tz=timezone.utc).astimezone(tz).date()


def period_key(window: ShiftWindow, by: Period, tz: tzinfo) -> str:
    """The label of the period a shift belongs to, by the local date of its start: '2026-12-07 early',
    '2026-12-07', '2026-W50'. A night shift belongs to the day (and week) it starts on."""
    day = _local_date(window.start_us, tz)
    if by is Period.SHIFT:
        return f"{day.isoformat()} {window.name}"
    if by is Period.DAY:
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def compute(windows: list[ShiftWindow], lines: list[LineInput], from_us: int, to_us: int, *, tz: tzinfo,
            by: Period = Period.SHIFT, startup_s: float = 0.0, combined: bool = False) -> list[OeeFigures]:  # fmt: skip
    """OEE per line and period over [from, to) (each shift clipped to the range), in time order, then line
    order; with ``combined`` one row per period (line ALL_LINES) whose times and counts are the lines' sums. A
    line's planned time starts at its observed_from_us (a shift before it counts nothing for the line); a row none
    of whose lines had been observed in the period has no factors and `missing` NOT_OBSERVED."""
    startup_us = round(startup_s * US)
    periods: dict[str, tuple[int, int]] = {}
    shifts = []  # (period, lo, hi, breaks and planned stops merged, start-up span)
    for w in windows:
        lo, hi = max(w.start_us, from_us), min(w.end_us, to_us)
        if hi <= lo:
            continue
        key = period_key(w, by, tz)
        start, end = periods.get(key, (lo, hi))
        periods[key] = (min(start, lo), max(end, hi))
        excluded = _union([(max(s, lo), min(e, hi)) for s, e in (*w.breaks, *w.planned_stops)])
        startup = (max(lo, w.start_us), min(hi, w.start_us + startup_us)) if startup_us else None
        shifts.append((key, lo, hi, excluded, startup))
    tallies: dict[tuple[str, int], Tally] = {}
    for n, line in enumerate(lines):
        idle = {BigLoss.BREAKDOWNS: 0.0, BigLoss.SETUP: 0.0, BigLoss.MINOR_STOPS: 0.0}
        if line.ideal_cycle_s is not None:
            idle.update({BigLoss.PRODUCTION_REJECTS: 0.0, BigLoss.STARTUP_REJECTS: 0.0})
        if line.observed_from_us is None:
            continue  # never observed: no planned time anywhere, and not in the combined row
        stops, outputs = _Stops(line.stops), _Outputs(line.outputs)
        slot_n = 0 if combined else n
        for key, shift_lo, hi, excluded, startup in shifts:
            lo = shift_lo
            if line.observed_from_us > lo:  # planned time starts when the line was first observed
                if line.observed_from_us >= hi:
                    continue
                lo = line.observed_from_us
                excluded = [(max(s, lo), e) for s, e in excluded if e > lo]
            stopped = stops.overlapping(lo, hi) if stops.stops else []
            made = outputs.between(shift_lo, hi) if outputs.outputs else []  # counted from the span's start
            if stopped or made:
                tally = shift_tally(lo, hi, excluded, stopped, made, line.ideal_cycle_s, startup)
            else:  # a line that neither stopped nor reported (a twin, mostly): all its planned time ran
                planned = hi - lo - _length(excluded)
                rated = line.ideal_cycle_s is not None
                tally = Tally(planned, planned, rated_run_us=planned if rated else 0, losses=dict(idle))
                if rated:  # all of it ran without producing: a speed loss, as shift_tally has it
                    tally.losses[BigLoss.REDUCED_SPEED] = planned / US
            slot = (key, slot_n)
            if slot in tallies:
                tallies[slot].add(tally)
            else:
                tallies[slot] = tally
    rows: list[OeeFigures] = []
    for key in sorted(periods, key=lambda k: periods[k]):
        start, end = periods[key]
        if combined:
            tally = tallies.get((key, 0))
            if tally is None:
                rows.append(Tally().figures(ALL_LINES, start, end, key, None, observed=False))
                continue
            produced = tally.good + tally.defective
            ideal = tally.ideal_us / produced / US if produced and tally.ideal_us else None
            rows.append(tally.figures(ALL_LINES, start, end, key, ideal))
            continue
        for n, line in enumerate(lines):
            tally = tallies.get((key, n))
            rows.append((tally or Tally()).figures(line.line, start, end, key, line.ideal_cycle_s,
                                                   observed=tally is not None))  # fmt: skip
    return rows
