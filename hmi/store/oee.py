"""The reads OEE needs (issue 14): what the lines produced in a range, and the shopfloors' rated capacities, the stops.

A report carries its instruction's running totals (good units as produced, and defective); what was made
between two reports is the increase from one seq to the next, counted at the later report's reported_us
(as the production report counts it). Both reads are one set-based query each, whatever the range: the
increases come from a window function (LAG over the instruction's seqs) and are summed in the database
per line, order and span between the caller's bounds (the shift boundaries). Times are UTC epoch
microseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Subquery, and_, func, literal_column, or_, select, text
from sqlalchemy.engine import Connection

from hmi.domain.oee import OrderOutput
from hmi.store.schema import downtime, orders, report_receipts, shopfloors


@dataclass(frozen=True, slots=True)
class Made:
    """Units one order made on one line in one span of time (reported from bucket_us on)."""

    line: str
    order_id: str
    bucket_us: int
    good: int
    defective: int


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


def made_between(conn: Connection, bounds: Sequence[int], line: str | None = None) -> list[Made]:
    """What each line and order made between consecutive ``bounds`` (sorted UTC instants: the range's start,
    the shift starts and ends inside it, its end): one row per line, order and span with production, whose
    bucket_us is the span's start. The span of each report is found in the database by a binary search
    written out as nested CASEs over the bounds, so the sums come back per span, not per report."""
    if len(bounds) < 2:
        return []
    _no_jit(conn)
    d = _increases(bounds[0], bounds[-1], line)
    span = literal_column(_span_of("increases.reported_us", [int(b) for b in bounds])).label("span")
    stmt = (select(d.c.shopfloor_id, d.c.order_id, span, func.sum(d.c.good), func.sum(d.c.defective))
            .where(d.c.reported_us >= bounds[0])
            .group_by(d.c.shopfloor_id, d.c.order_id, span))  # fmt: skip
    return [Made(sf, oid, bounds[max(0, int(k))], int(g or 0), int(x or 0))
            for sf, oid, k, g, x in conn.execute(stmt).all() if g or x]  # fmt: skip


def _no_jit(conn: Connection) -> None:
    """PostgreSQL's JIT spends seconds compiling these long expressions for a year (3 s with it off, 10 s on):
    off for the rest of this read's transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL jit = off"))


def _span_of(column: str, bounds: list[int]) -> str:
    """SQL for the index k of the span bounds[k] <= column < bounds[k + 1] (-1 before the first): a binary search
    as nested CASEs, log2(len(bounds)) comparisons a row. Only integers from the caller go into the text."""

    def node(i: int, j: int) -> str:
        if i == j:
            return str(i - 1)
        m = (i + j) // 2
        return f"CASE WHEN {column} < {bounds[m]} THEN {node(i, m)} ELSE {node(m + 1, j)} END"

    return node(0, len(bounds))


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
    reason_code, planned, micro); the columns OEE needs only, as plain rows (a year holds tens of thousands)."""
    d = downtime.c
    conds = [d.start_us < to_us, or_(d.end_us.is_(None), d.end_us > from_us)]
    if line is not None:
        conds.append(d.line == line)
    stmt = select(d.line, d.start_us, d.end_us, d.reason_code, d.planned, d.micro).where(and_(*conds))
    return [tuple(r) for r in conn.execute(stmt).all()]  # type: ignore[misc]


def capacities(conn: Connection) -> dict[str, float]:
    """Each shopfloor's rated capacity (units per hour) as the database has it."""
    return {sid: float(cap) for sid, cap in conn.execute(select(shopfloors.c.shopfloor_id, shopfloors.c.capacity))}
