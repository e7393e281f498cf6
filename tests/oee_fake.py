"""An in-memory OeeSource for the unit tests of the downtime and OEE panes (the panes are the piece under test).

It keeps lines, shifts, figures, stops and orders in lists, answers the reads as the services would (the
Pareto from its own stops, clipped to the range), records every call, and can be told to refuse the next
command with an error. Its rows are local dataclasses shaped as the contract's OeeLine and OrderOutput.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone

from hmi.domain.andon import Downtime, LineKind, Loss, Origin, Reason
from hmi.domain.oee import NO_PLANNED_TIME, NO_PRODUCTION, BigLoss, OeeFigures, OeeTargets, Period, ShiftWindow
from hmi.services.andon import NO_REASON, ParetoRow

US = 1_000_000
H = 3600 * US
MIN = 60 * US
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)  # a Monday, inside the early shift (06-14 UTC)
NOW_US = int(NOW.timestamp()) * US
ALL = "all"


class Refused(Exception):
    """What the fake raises when told to refuse (stands for an AndonError of the service)."""


@dataclass(frozen=True)
class Line:
    """Shaped as services.oee.OeeLine."""

    line: str
    kind: LineKind
    name: str
    ideal_cycle_s: float | None = None


@dataclass(frozen=True, slots=True)
class Output:
    """Shaped as domain.oee.OrderOutput."""

    order_id: str
    job_number: str
    product: str
    line: str
    produced: int
    good: int
    defective: int


REASONS = [Reason("mechanical", "Mechanical failure", Loss.BREAKDOWN), Reason("changeover", "Setup / changeover",
           Loss.SETUP), Reason("planned_maintenance", "Planned maintenance", Loss.PLANNED)]  # fmt: skip


def figures(line: str, shift: ShiftWindow, label: str, availability: float | None, performance: float | None,
            quality: float | None, missing: str = "",
            losses: dict[BigLoss, float] | None = None) -> OeeFigures:  # fmt: skip
    """A figures row whose OEE is the product of its factors (None when one is None)."""
    parts = (availability, performance, quality)
    oee = None if None in parts else availability * performance * quality  # type: ignore[operator]
    planned = (shift.end_us - shift.start_us) / US - 1800
    return OeeFigures(line, shift.start_us, shift.end_us, label, planned, planned * (availability or 0),
                      planned * (1 - (availability or 1)), 3, 45.0, 1000, 980, 2.0, availability, performance,
                      quality, oee, missing, losses or {})  # fmt: skip


@dataclass
class FakeOee:
    """OeeSource over lists; ``calls`` records (method, args) of every call."""

    now_us: int = NOW_US
    lines_: list[Line] = field(default_factory=list)
    targets_: OeeTargets = field(default_factory=OeeTargets)
    shift_list: list[ShiftWindow] = field(default_factory=list)
    current: ShiftWindow | None = None
    rows: list[OeeFigures] = field(default_factory=list)  # every (line or ALL, shift) row
    stops: list[Downtime] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    reasons_: list[Reason] = field(default_factory=lambda: list(REASONS))
    calls: list[tuple[str, tuple]] = field(default_factory=list)
    refuse: str | None = None

    async def lines(self) -> list[Line]:
        return list(self.lines_)

    async def targets(self) -> OeeTargets:
        return self.targets_

    async def shifts(self, from_us: int, to_us: int) -> list[ShiftWindow]:
        return [s for s in self.shift_list if s.start_us < to_us and s.end_us > from_us]

    async def current_shift(self) -> ShiftWindow | None:
        return self.current

    async def figures(self, from_us: int, to_us: int, *, by: Period = Period.SHIFT, line: str | None = None,
                      combined: bool = False) -> list[OeeFigures]:  # fmt: skip
        self.calls.append(("figures", (from_us, to_us, by, line, combined)))
        want = ALL if combined else line
        return [r for r in self.rows if r.start_us < to_us and r.end_us > from_us
                and (r.line == want if want is not None else r.line != ALL)]  # fmt: skip

    async def orders(self, from_us: int, to_us: int, line: str | None = None) -> list[Output]:
        self.calls.append(("orders", (from_us, to_us, line)))
        return [o for o in self.outputs if line is None or o.line == line]

    async def downtime(self, from_us: int, to_us: int, line: str | None = None) -> list[Downtime]:
        self.calls.append(("downtime", (from_us, to_us, line)))
        return [s for s in self.stops if s.start_us < to_us and (s.end_us is None or s.end_us > from_us)
                and (line is None or s.line == line)]  # fmt: skip

    async def pareto(self, from_us: int, to_us: int, by: str = "reason") -> list[ParetoRow]:
        self.calls.append(("pareto", (from_us, to_us, by)))
        seconds: dict[str, float] = {}
        counts: dict[str, int] = {}
        for s in await self.downtime(from_us, to_us):
            end = s.end_us if s.end_us is not None else max(self.now_us, s.start_us)
            clipped = (min(end, to_us) - max(s.start_us, from_us)) / US
            if clipped <= 0:
                continue
            key = s.line if by == "line" else (s.reason_code or NO_REASON)
            seconds[key] = seconds.get(key, 0.0) + clipped
            counts[key] = counts.get(key, 0) + 1
        total = sum(seconds.values())
        texts = {r.code: r.text for r in self.reasons_} | {NO_REASON: "no reason given"}
        rows, running = [], 0.0
        for key in sorted(seconds, key=lambda k: (-seconds[k], k)):
            running += seconds[key]
            rows.append(ParetoRow(key, key if by == "line" else texts.get(key, key), seconds[key], counts[key],
                                  seconds[key] / total, running / total))  # fmt: skip
        return rows

    async def reasons(self) -> list[Reason]:
        return list(self.reasons_)

    async def set_downtime_reason(self, downtime_id: int, reason_code: str, note: str = "") -> Downtime:
        self.calls.append(("set_downtime_reason", (downtime_id, reason_code, note)))
        if self.refuse is not None:
            message, self.refuse = self.refuse, None
            raise Refused(message)
        i = next(i for i, s in enumerate(self.stops) if s.downtime_id == downtime_id)
        reason = next(r for r in self.reasons_ if r.code == reason_code)
        self.stops[i] = dataclasses.replace(self.stops[i], reason_code=reason_code, note=note,
                                            planned=reason.loss is Loss.PLANNED, entered_by="sam")  # fmt: skip
        return self.stops[i]


def stop(n: int, line: str, start_min: float, end_min: float | None, reason: str | None = None,
         origin: Origin = Origin.MACHINE, micro: bool = False, call: int | None = None) -> Downtime:  # fmt: skip
    """A stop starting ``start_min`` minutes from NOW (negative: before)."""
    return Downtime(n, line, LineKind.SHOPFLOOR, origin, NOW_US + int(start_min * MIN),
                    None if end_min is None else NOW_US + int(end_min * MIN), reason, reason == "planned_maintenance",
                    micro, call if call is not None else (None if micro else 100 + n))  # fmt: skip


def shift_at(day: int, name: str, start_h: int) -> ShiftWindow:
    """A shift of 8 h on 2026-12-<day> from ``start_h`` UTC, with a 30 min break after 3 h."""
    start = int(datetime(2026, 12, day, tzinfo=timezone.utc).timestamp()) * US + start_h * H
    return ShiftWindow(name, start, start + 8 * H, ((start + 3 * H, start + 3 * H + 30 * MIN),))


def plant() -> FakeOee:
    """Two shopfloors, six shifts back to the current early one, stops in them, orders, figures."""
    f = FakeOee()
    f.lines_ = [Line("sf1", LineKind.SHOPFLOOR, "sf1", 3.0), Line("sf2", LineKind.SHOPFLOOR, "sf2", 4.0)]
    names = (("early", 6), ("late", 14), ("night", 22))
    shifts = [shift_at(5 + i // 3, names[i % 3][0], names[i % 3][1]) for i in range(7)]
    f.shift_list = shifts  # 2026-12-05 early ... 2026-12-07 early
    f.current = shifts[-1]
    combined = [0.78, 0.81, 0.66, 0.88, 0.74, 0.70, 0.724]
    for s, value in zip(shifts, combined):
        label = f"{datetime.fromtimestamp(s.start_us / US, tz=timezone.utc):%Y-%m-%d} {s.name}"
        losses = {BigLoss.BREAKDOWNS: 1500.0, BigLoss.SETUP: 900.0, BigLoss.MINOR_STOPS: 240.0,
                  BigLoss.REDUCED_SPEED: 1100.0, BigLoss.PRODUCTION_REJECTS: 180.0, BigLoss.STARTUP_REJECTS: 60.0}
        f.rows.append(figures(ALL, s, label, 0.90, value / (0.90 * 0.98), 0.98, losses=losses))
        f.rows.append(figures("sf1", s, label, 0.92, value / (0.92 * 0.99), 0.99, losses=losses))
        f.rows.append(figures("sf2", s, label, None, None, None, NO_PLANNED_TIME))
    current = f.rows[-3]
    f.rows[-3] = figures(ALL, f.current, current.label, 0.8612, 0.8750, 0.9607, losses={
        BigLoss.BREAKDOWNS: 1800.0, BigLoss.SETUP: 600.0, BigLoss.MINOR_STOPS: 300.0, BigLoss.REDUCED_SPEED: 1200.0,
        BigLoss.PRODUCTION_REJECTS: 240.0, BigLoss.STARTUP_REJECTS: 90.0})  # fmt: skip
    f.rows[-1] = figures("sf2", f.current, current.label, 0.90, None, None, NO_PRODUCTION)
    f.stops = [
        stop(1, "sf1", -200, -170, "mechanical"),  # in the current shift (since 06:00, 240 min back)
        stop(2, "sf2", -150, -130, "changeover"),
        stop(3, "sf1", -100, -99.7, "micro-stop", micro=True),
        stop(4, "sf1", -60, -45),  # no reason yet
        stop(5, "sf2", -30, None, origin=Origin.OFFLINE),  # still lasting
        stop(6, "sf1", -500, -470, "planned_maintenance"),  # the night shift before
        stop(7, "sf2", -900, -840, "mechanical"),  # the late shift before
    ]
    f.outputs = [Output("ORD-1", "JO-20261207-0001", "bracket-A", "sf1", 620, 610, 10),
                 Output("ORD-2", "JO-20261207-0002", "housing-B", "sf2", 380, 370, 10),
                 Output("ORD-3", "JO-20261206-0007", "cover-C", "sf1", 140, 139, 1)]  # fmt: skip
    return f
