"""The reads OEE needs (issue 14): what the lines produced in a range, and the shopfloors' rated capacities.

A report carries its instruction's running totals (good units as produced, and defective); what was made
between two reports is the increase from one seq to the next, counted at the later report's reported_us
(as the production report counts it). Both reads are one set-based query each, whatever the range: the
increases come from a window function (LAG over the instruction's seqs) and are summed in the database
per line, order and time bucket. The stops come from store.andon.downtime_between. Times are UTC epoch
microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Subquery, and_, func, literal, select
from sqlalchemy.engine import Connection

from hmi.domain.oee import OrderOutput
from hmi.store.schema import orders, report_receipts, shopfloors


@dataclass(frozen=True, slots=True)
class Made:
    """Units one order made on one line in one time bucket (reported from bucket_us on)."""

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


def made_between(conn: Connection, from_us: int, to_us: int, grain_us: int, line: str | None = None) -> list[Made]:
    """What each line and order made in [from, to), summed per bucket of ``grain_us`` (buckets start at multiples
    of it, so a caller whose shift boundaries are all multiples sorts each bucket into one shift)."""
    d = _increases(from_us, to_us, line)
    bucket = (d.c.reported_us // literal(max(1, int(grain_us)))).label("bucket")
    stmt = (select(d.c.shopfloor_id, d.c.order_id, bucket, func.sum(d.c.good), func.sum(d.c.defective))
            .where(d.c.reported_us >= from_us)
            .group_by(d.c.shopfloor_id, d.c.order_id, bucket))  # fmt: skip
    step = max(1, int(grain_us))
    return [Made(sf, oid, int(b) * step, int(g or 0), int(x or 0)) for sf, oid, b, g, x in conn.execute(stmt)]


def order_outputs(conn: Connection, from_us: int, to_us: int, line: str | None = None) -> list[OrderOutput]:
    """Which orders ran on the line(s) in [from, to) and what they made there, by line and order."""
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


def capacities(conn: Connection) -> dict[str, float]:
    """Each shopfloor's rated capacity (units per hour) as the database has it."""
    return {sid: float(cap) for sid, cap in conn.execute(select(shopfloors.c.shopfloor_id, shopfloors.c.capacity))}
