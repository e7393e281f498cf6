"""The reads OEE needs (issue 14): what the lines produced in a range, the stops, the rated capacities.

A report carries its instruction's running totals (good units as produced, and defective); what was made
between two reports is the increase from one seq to the next, counted at the later report's reported_us
(as the production report counts it). For the figures, what a line made in a span is read from
line_totals, the line's own running totals by instant (apply_report adds each report's increase): its
totals before the span's end less those before its start, two index seeks per line and shift boundary,
so a year costs little more than a week. The drill-down to orders sums the increases per order (LAG over
the instruction's seqs) over the reports of its (short) range. Times are UTC epoch microseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Subquery, and_, func, insert, select, text, update
from sqlalchemy.engine import Connection

from hmi.domain.oee import OrderOutput
from hmi.store.schema import line_totals, orders, report_receipts, shopfloors


@dataclass(frozen=True, slots=True)
class Made:
    """Units one line made in one span of time (reported from bucket_us on, before the next bound)."""

    line: str
    bucket_us: int
    good: int
    defective: int


def add_output(conn: Connection, shopfloor_id: str, at_us: int, good: int, defective: int) -> None:
    """Count what a report added (its increase over the instruction's totals before it) into the shopfloor's
    running totals at the report's instant, and into every later instant's (a late report). In the report's
    transaction, after apply_report updated the shopfloor's row (which serialises the reports of one shopfloor)."""
    if not good and not defective:
        return
    t = line_totals.c
    here = conn.execute(select(t.at_us).where(t.shopfloor_id == shopfloor_id, t.at_us == at_us)).first()
    if here is None:
        before = conn.execute(select(t.good, t.defective).where(t.shopfloor_id == shopfloor_id, t.at_us < at_us)
                              .order_by(t.at_us.desc()).limit(1)).first()  # fmt: skip
        conn.execute(insert(line_totals).values(shopfloor_id=shopfloor_id, at_us=at_us,
                                                good=before.good if before else 0,
                                                defective=before.defective if before else 0))  # fmt: skip
    conn.execute(update(line_totals).where(t.shopfloor_id == shopfloor_id, t.at_us >= at_us)
                 .values(good=t.good + good, defective=t.defective + defective))  # fmt: skip


CHUNK = 20_000  # bounds per statement


def made_between(conn: Connection, bounds: Sequence[int], lines: Sequence[str]) -> list[Made]:
    """What each line made between consecutive ``bounds`` (sorted UTC instants: the range's start, the shift
    boundaries inside it, its end): per line and span with production, its running totals before the span's
    end less those before its start. An index seek or two per line and bound, one statement per CHUNK bounds.
    The table's name and columns are line_totals' (schema.py)."""
    if len(bounds) < 2 or not lines:
        return []
    totals: dict[str, dict[int, tuple[int, int]]] = {x: {} for x in lines}
    floors = ", ".join(f"(:sf{n})" for n in range(len(lines)))
    params = {f"sf{n}": x for n, x in enumerate(lines)}
    latest = ("(SELECT {0} FROM line_totals WHERE shopfloor_id = floors.sf AND at_us < at.t "
              "ORDER BY at_us DESC LIMIT 1)")  # fmt: skip
    for first in range(0, len(bounds), CHUNK):
        # the bounds are written into the statement (integers only): thousands of bind parameters cost more to
        # bind than the seeks
        at = ", ".join(f"({first + k}, {int(b)})" for k, b in enumerate(bounds[first:first + CHUNK]))
        if conn.dialect.name == "postgresql":  # one seek for both columns
            pick = ("lt.good, lt.defective FROM floors CROSS JOIN at LEFT JOIN LATERAL (SELECT good, defective "
                    "FROM line_totals WHERE shopfloor_id = floors.sf AND at_us < at.t ORDER BY at_us DESC LIMIT 1) "
                    "AS lt ON true")  # fmt: skip
        else:
            pick = f"{latest.format('good')}, {latest.format('defective')} FROM floors CROSS JOIN at"
        stmt = text(f"WITH floors(sf) AS (VALUES {floors}), at(k, t) AS (VALUES {at}) SELECT floors.sf, at.k, {pick}")
        for line, k, good, defective in conn.execute(stmt, params).all():
            totals[line][int(k)] = (int(good or 0), int(defective or 0))
    made = []
    for line, series in totals.items():
        for k in range(len(bounds) - 1):
            (g0, d0), (g1, d1) = series[k], series[k + 1]
            if g1 != g0 or d1 != d0:
                made.append(Made(line, bounds[k], g1 - g0, d1 - d0))
    return made


def observed_from(conn: Connection, lines: Sequence[tuple[str, str | None]]) -> dict[str, int]:
    """When each line was first observed, for (line, its status tag's name or None) pairs: the earliest of its
    first running total (line_totals), its first stop (downtime) and its status tag's first sample (samples); a
    line with none of them is left out. One statement, a seek per line and table (the primary keys and
    ix_downtime_line_start); the tables' names and columns are schema.py's."""
    if not lines:
        return {}
    rows = ", ".join(f"(:line{n}, :tag{n})" for n in range(len(lines)))
    params: dict[str, str | None] = {}
    for n, (line, tag) in enumerate(lines):
        params[f"line{n}"], params[f"tag{n}"] = line, tag
    stmt = text(
        f"WITH l(line, tag) AS (VALUES {rows}) SELECT l.line, "
        "(SELECT at_us FROM line_totals WHERE shopfloor_id = l.line ORDER BY at_us LIMIT 1), "
        "(SELECT start_us FROM downtime WHERE line = l.line ORDER BY start_us LIMIT 1), "
        "(SELECT ts_us FROM samples WHERE tag_id = (SELECT id FROM tags WHERE name = l.tag) ORDER BY ts_us LIMIT 1) "
        "FROM l")  # fmt: skip
    out = {}
    for line, *firsts in conn.execute(stmt, params).all():
        known = [int(t) for t in firsts if t is not None]
        if known:
            out[line] = min(known)
    return out


def _increases(from_us: int, to_us: int, line: str | None) -> Subquery:
    """Every report in [from, to) of an instruction active in the range, with its increase over the report before."""
    r = report_receipts.c
    active = select(r.instruction_id).where(r.reported_us >= from_us, r.reported_us < to_us)
    if line is not None:
        active = active.where(r.shopfloor_id == line)
    before = {"partition_by": r.instruction_id, "order_by": r.seq}
    rows = select(
        r.shopfloor_id, r.order_id, r.reported_us,
        (r.produced - func.lag(r.produced, 1, 0).over(**before)).label("good"),
        (r.defective - func.lag(r.defective, 1, 0).over(**before)).label("defective"),
    ).where(r.instruction_id.in_(active.distinct()), r.reported_us < to_us)  # fmt: skip
    return rows.subquery("increases")


def _no_jit(conn: Connection) -> None:
    """PostgreSQL's JIT spends seconds compiling these long expressions for a year (3 s with it off, 10 s on):
    off for the rest of this read's transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL jit = off"))


def order_outputs(conn: Connection, from_us: int, to_us: int, line: str | None = None) -> list[OrderOutput]:
    """Which orders ran on the line(s) in [from, to) and what they made there, by line and order."""
    _no_jit(conn)
    d = _increases(from_us, to_us, line)
    good, defective = func.sum(d.c.good).label("good"), func.sum(d.c.defective).label("defective")
    stmt = (select(d.c.shopfloor_id, d.c.order_id, orders.c.job_number, orders.c.product, good, defective)
            .select_from(d.outerjoin(orders, and_(orders.c.order_id == d.c.order_id)))
            .where(d.c.reported_us >= from_us)
            .group_by(d.c.shopfloor_id, d.c.order_id, orders.c.job_number, orders.c.product)
            .order_by(d.c.shopfloor_id, d.c.order_id))  # fmt: skip
    out = []
    for sf, oid, job, product, g, x in conn.execute(stmt):
        g, x = int(g or 0), int(x or 0)
        out.append(OrderOutput(oid, job or "", product or "", sf, g + x, g, x))
    return out


def stops_between(conn: Connection, from_us: int, to_us: int,
                  line: str | None = None) -> list[tuple[str, int, int | None, str | None, bool, bool]]:  # fmt: skip
    """The stops overlapping [from, to) as OEE weighs them: (line, start_us, end_us or None while it lasts,
    reason_code, planned, micro); the columns OEE needs only, as plain rows without SQLAlchemy's per-row type
    processing (a year holds tens of thousands). The table's columns are downtime's (schema.py)."""
    where = "start_us < :to AND (end_us IS NULL OR end_us > :from)" + (" AND line = :line" if line is not None else "")
    stmt = text(f"SELECT line, start_us, end_us, reason_code, planned, micro FROM downtime WHERE {where}")
    return [(a, b, c, d, bool(e), bool(f)) for a, b, c, d, e, f in
            conn.execute(stmt, {"from": from_us, "to": to_us, "line": line}).all()]  # fmt: skip


def capacities(conn: Connection) -> dict[str, float]:
    """Each shopfloor's rated capacity (units per hour) as the database has it."""
    return {sid: float(cap) for sid, cap in conn.execute(select(shopfloors.c.shopfloor_id, shopfloors.c.capacity))}
