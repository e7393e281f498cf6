"""OEE per line and shift, day or week, as the OEE pane and `hmi oee` use it (issue 14, ISO 22400-2).

The calendar comes from [shifts], the targets from [oee]; the stops are the downtime records (their
reason's class: a PLANNED one comes out of planned time, one without a reason yet counts as a breakdown,
micro-stops are a performance loss), the counts the increases of the reports' running totals, the ideal
cycle time 3600 / the shopfloor's rated capacity. A range costs a few queries however many shifts it
holds: the lines and capacities, the stops, the counts (each line's running totals at the shift
boundaries, store.oee.made_between), when each line was first observed (store.oee.observed_from: planned
time starts there); the rest is domain.oee.compute. Reads need no login; all methods
are synchronous (the window calls them in an executor). Errors: UnknownLine, InvalidAndonValue (a range
that ends before it starts, an unknown grouping) and the store's DatabaseUnavailable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine

from hmi.config import PlantConfig
from hmi.domain.andon import InvalidAndonValue, LineKind, Loss, UnknownLine, status_tags
from hmi.domain.oee import (
    ALL_LINES, LineInput, OeeFigures, OeeStop, OeeTargets, OrderOutput, Output, Period, ShiftWindow, compute,
)  # fmt: skip
from hmi.domain.shifts import zone
from hmi.services.andon import AndonService
from hmi.store import oee as store
from hmi.store.audit import now_us

__all__ = ["ALL_LINES", "OeeLine", "OeeService"]
US = 1_000_000


@dataclass(frozen=True)
class OeeLine:
    """A line OEE is computed for: a shopfloor (with its ideal cycle time) or a twin with a status tag."""

    line: str  # shopfloor id, or twin name
    kind: LineKind
    name: str
    ideal_cycle_s: float | None  # 3600 / capacity (units per hour) for a shopfloor; None for a twin


class OeeService:
    """OEE of the plant's lines from the calendar, the downtime records and the production reports."""

    def __init__(self, engine: Engine, config: PlantConfig, *, clock: Callable[[], int] = now_us) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.andon = AndonService(engine, config, clock=clock)
        self.calendar = config.shifts.calendar()
        self._tz = zone(self.calendar.timezone)
        self._status_tags = {twin: tag for tag, twin in status_tags(config.plant()).items()}  # twin: its tag

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.andon._read() as conn:  # the same connection and DatabaseUnavailable as the andon reads
            yield conn

    # --- the calendar and the lines ------------------------------------------------------------------

    def lines(self) -> list[OeeLine]:
        """The same lines as AndonService.lines(), with their ideal cycle times."""
        with self._read() as conn:
            return self._lines(conn)

    def _lines(self, conn: Connection) -> list[OeeLine]:
        rated = {k.id: k.capacity for k in self.config.shopfloors.known}
        rated.update(store.capacities(conn))
        lines = []
        for a in self.andon._lines(conn):
            capacity = rated.get(a.line) if a.kind is LineKind.SHOPFLOOR else None
            lines.append(OeeLine(a.line, a.kind, a.name, 3600.0 / capacity if capacity else None))
        return lines

    def targets(self) -> OeeTargets:
        """The targets of [oee]."""
        return self.config.oee.targets()

    def shifts(self, from_us: int, to_us: int) -> list[ShiftWindow]:
        """The calendar's shift occurrences that overlap [from, to), by start."""
        _check_range(from_us, to_us)
        return self.calendar.windows(from_us, to_us)

    def current_shift(self) -> ShiftWindow | None:
        """The shift the clock is in, None between shifts."""
        now = self.clock()
        return next((w for w in self.calendar.windows(now, now + 1) if w.start_us <= now < w.end_us), None)

    # --- figures -------------------------------------------------------------------------------------

    def figures(self, from_us: int, to_us: int, *, by: Period = Period.SHIFT, line: str | None = None,
                combined: bool = False) -> list[OeeFigures]:  # fmt: skip
        """One row per (line, period) in time order, then line order (each shift clipped to the range); ``line``
        narrows to one line (UnknownLine otherwise); ``combined``: one row per period, line ALL_LINES, the sums
        of the lines' times and counts. Periods: each shift, the local day or the ISO week its shifts start in."""
        _check_range(from_us, to_us)
        period = _period(by)
        windows = self.calendar.windows(from_us, to_us)
        startup_s = self.config.oee.startup_min * 60.0
        with self._read() as conn:
            lines = self._chosen(conn, line)
            if not windows:
                return []
            bounds = _bounds(windows, from_us, to_us, round(startup_s * US))
            stops = store.stops_between(conn, from_us, to_us, line)
            made = store.made_between(conn, bounds, [x.line for x in lines if x.kind is LineKind.SHOPFLOOR])
            seen = store.observed_from(conn, [(x.line, self._status_tags.get(x.line) if x.kind is LineKind.TWIN
                                               else None) for x in lines])  # fmt: skip
        now = self.clock()
        by_line: dict[str, list[OeeStop]] = defaultdict(list)
        loss_of = self.andon.loss_of
        for where, start, end, reason, planned, micro in stops:
            end = end if end is not None else max(now, start)
            by_line[where].append(OeeStop(start, end, Loss.PLANNED if planned else loss_of(reason), bool(micro)))
        outputs: dict[str, list[Output]] = defaultdict(list)
        for m in made:
            outputs[m.line].append(Output(m.bucket_us, m.good, m.defective))
        inputs = [LineInput(x.line, x.ideal_cycle_s, tuple(by_line[x.line]),
                            tuple(outputs[x.line]) if x.kind is LineKind.SHOPFLOOR else (),
                            seen.get(x.line)) for x in lines]  # fmt: skip
        return compute(windows, inputs, from_us, to_us, tz=self._tz, by=period, startup_s=startup_s,
                       combined=combined)  # fmt: skip

    def orders(self, from_us: int, to_us: int, line: str | None = None) -> list[OrderOutput]:
        """Which orders ran on the line(s) in [from, to) and what they produced, by line and order."""
        _check_range(from_us, to_us)
        with self._read() as conn:
            self._chosen(conn, line)
            return store.order_outputs(conn, from_us, to_us, line)

    def _chosen(self, conn: Connection, line: str | None) -> list[OeeLine]:
        lines = self._lines(conn)
        if line is None:
            return lines
        chosen = [x for x in lines if x.line == line]
        if not chosen:
            raise UnknownLine(str(line), [x.line for x in lines])
        return chosen


def _check_range(from_us: int, to_us: int) -> None:
    if not to_us > from_us:
        raise InvalidAndonValue("the range must end after it starts")


def _period(by: Period | str) -> Period:
    try:
        return Period(getattr(by, "value", by))
    except ValueError:
        raise InvalidAndonValue(f"cannot group by {str(by)[:40]!r}; give one of: "
                                + ", ".join(p.value for p in Period)) from None  # fmt: skip


def _bounds(windows: list[ShiftWindow], from_us: int, to_us: int, startup_us: int) -> list[int]:
    """The instants the counts are split at: the range's ends, and each shift's start, end and end of its start-up
    window inside it (the counts come back summed per span between them)."""
    inside = {from_us, to_us}
    for w in windows:
        for t in (w.start_us, w.end_us, w.start_us + startup_us):
            if from_us < t < to_us:
                inside.add(t)
    return sorted(inside)
