"""Shared set-up of the OEE tests: the worked example's shift stored through the real store functions."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.engine import Engine

from hmi.domain.andon import LineKind, Loss, Origin, Reason
from hmi.domain.shopfloor import Activity, Heartbeat, Report, iso
from hmi.store import andon as andon_store
from hmi.store import orders as order_store
from hmi.store.locking import write_connection


def at(text: str) -> datetime:
    """A UTC moment of 2026-12-07 ('07:40', '12:00:20')."""
    return datetime.fromisoformat(f"2026-12-07T{text}").replace(tzinfo=timezone.utc)


def us(text: str) -> int:
    """UTC microseconds of a moment of 2026-12-07."""
    return int(at(text).timestamp()) * 1_000_000


SHIFT = (us("06:00"), us("14:00"))  # the early shift of Monday 2026-12-07 (default calendar, UTC)
MECHANICAL = Reason("mechanical", "Mechanical failure", Loss.BREAKDOWN)
CHANGEOVER = Reason("changeover", "Setup / changeover", Loss.SETUP)
PLANNED = Reason("planned_maintenance", "Planned maintenance", Loss.PLANNED)
# (UTC time of 2026-12-07, good so far, defective so far): the running totals sf1 reports, one instruction
REPORTS = (("05:50", 100, 0), ("06:05", 400, 40), ("09:00", 3100, 100), ("13:59", 6100, 150), ("14:00", 7099, 159))


def tx(engine: Engine, fn, *args, **kwargs):  # noqa: ANN001, ANN201
    with write_connection(engine) as conn, conn.begin():
        return fn(conn, *args, **kwargs)


def stop(engine: Engine, line: str, origin: Origin, start: str, end: str, reason: Reason | None,
         micro_stop_s: float = 30) -> None:  # fmt: skip
    """A stop through the causes (start, end), then its call resolved with a reason (None: left without one)."""
    call_id = tx(engine, andon_store.start_cause, line, LineKind.SHOPFLOOR, origin, "jam", us(start))
    tx(engine, andon_store.end_cause, line, origin, us(end), micro_stop_s)
    if reason is not None:
        tx(engine, andon_store.resolve, call_id, "sam", reason, "", us(end))


def store_worked_example(engine: Engine) -> str:
    """sf1 (1200 units/h) runs an order through the early shift of 2026-12-07 with the stops and reports of
    tests/test_oee_domain.py::test_the_worked_example; the order's id."""
    t0 = at("05:00")
    tx(engine, order_store.receive_material, "PET", 100_000, "kg", t0)
    tx(engine, order_store.record_heartbeat, Heartbeat("sf1", 1200.0, Activity.IDLE, 0, iso(t0), 1), t0)
    order = tx(engine, order_store.insert_order, product="Cola 500ml", quantity=20_000, material="PET",
               due=at("23:00"), priority=3, material_per_unit=0.01, now=t0, user="pia")  # fmt: skip
    tx(engine, order_store.release, order.order_id, t0)
    [instruction] = tx(engine, order_store.dispatch_queued, t0, 2)
    for seq, (when, good, bad) in enumerate(REPORTS, start=1):
        report = Report(f"{instruction}/{seq}", instruction, order.order_id, "sf1", seq, good, bad, iso(at(when)))
        assert tx(engine, order_store.apply_report, report, at(when))
    stop(engine, "sf1", Origin.MACHINE, "07:00", "07:40", MECHANICAL)
    stop(engine, "sf1", Origin.MACHINE, "11:00", "11:20", CHANGEOVER)
    stop(engine, "sf1", Origin.MACHINE, "12:00:00", "12:00:20", None)  # closed by itself as a micro-stop
    stop(engine, "sf1", Origin.MACHINE, "13:00", "13:30", PLANNED)
    stop(engine, "sf1", Origin.OFFLINE, "09:50", "10:10", None)  # no reason yet: a breakdown
    return order.order_id
