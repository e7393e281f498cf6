"""OeeService on a real database: the worked example through the real store, the plant-wide row, the
drill-down to orders, the current shift and the refusals."""

from __future__ import annotations

import pytest

from hmi.domain.andon import InvalidAndonValue, LineKind, UnknownLine
from hmi.domain.oee import NO_PRODUCTION, NOT_OBSERVED, US, BigLoss, OrderOutput, Period
from hmi.services.oee import ALL_LINES, OeeLine, OeeService
from hmi.store.db import make_engine
from hmi.store.errors import DatabaseUnavailable
from hmi.store.ingest import write_rows
from hmi.store.migrate import upgrade
from hmi.store.oee import add_output
from tests.andon_support import Clock, andon_config
from tests.oee_support import SHIFT, store_worked_example, tx, us


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def stored(request, tmp_path):
    """An engine on a migrated database holding the worked example, and the order's id."""
    url = f"sqlite:///{tmp_path / 'oee.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    upgrade(url)
    engine = make_engine(url)
    order_id = store_worked_example(engine)
    yield engine, order_id
    engine.dispose()


def oee(engine, now: int = us("15:00")) -> OeeService:
    return OeeService(engine, andon_config(), clock=Clock(now))


def test_the_worked_example_through_the_store(stored):
    """The shift of tests/test_oee_domain.py::test_the_worked_example, stored as reports and downtime records.

    Early shift 06:00-14:00 UTC, break 10:00-10:30; sf1 at 1200 units/h (ideal cycle 3 s).
    Stops: 07:00-07:40 mechanical (40 min), 09:50-10:10 without a reason (10 min before the break count),
    11:00-11:20 changeover (20 min), 12:00:00-12:00:20 a micro-stop, 13:00-13:30 planned maintenance.
    Reports (running totals good/defective): 05:50 100/0, 06:05 400/40, 09:00 3100/100, 13:59 6100/150,
    14:00 7099/159 (the late shift's): in the shift 6000 good and 150 defective (40 of them before 06:10).

    planned = 480 - 30 - 30 = 420 min = 25200 s; run = 25200 - 70 x 60 = 21000 s
    availability = 21000 / 25200 = 0.8333; performance = 3 x 6150 / 21000 = 0.8786
    quality = 6000 / 6150 = 0.9756; OEE = 0.8333 x 0.8786 x 0.9756 = 0.7143
    """
    engine, _ = stored
    [row] = oee(engine).figures(*SHIFT, line="sf1")
    assert (row.line, row.label, row.planned_s, row.run_s, row.unplanned_down_s) == (
        "sf1", "2026-12-07 early", 25200, 21000, 4200)
    assert (row.micro_stops, row.produced, row.good, row.ideal_cycle_s) == (1, 6150, 6000, 3.0)
    assert (round(row.availability, 4), round(row.performance, 4), round(row.quality, 4), round(row.oee, 4)) == (
        0.8333, 0.8786, 0.9756, 0.7143)
    assert row.losses == pytest.approx({
        BigLoss.BREAKDOWNS: 3000, BigLoss.SETUP: 1200, BigLoss.MINOR_STOPS: 20, BigLoss.REDUCED_SPEED: 2530,
        BigLoss.STARTUP_REJECTS: 120, BigLoss.PRODUCTION_REJECTS: 330})


def twins(service: OeeService) -> list[str]:
    """The twins with a status tag (lines too), in the config's order."""
    return [t for t, twin in service.config.twins.items() if "status" in twin.parameters]


def test_every_line_and_the_plant(stored):
    engine, _ = stored
    service = oee(engine)
    assert service.lines() == [
        *(OeeLine(t, LineKind.TWIN, service.config.twins[t].name, None) for t in twins(service)),
        OeeLine("sf1", LineKind.SHOPFLOOR, "sf1", 3.0), OeeLine("sf2", LineKind.SHOPFLOOR, "sf2", 4.0)]
    first, *others = twins(service)
    tx(engine, write_rows, [(f"{first}.status", us("05:00"), 1.0, 0)], {})  # seen before the shift, the rest never
    rows = service.figures(*SHIFT)
    assert [r.line for r in rows] == [*twins(service), "sf1", "sf2"]
    machine, *unseen, sf1, sf2 = rows
    assert machine.availability == 1.0 and machine.missing == NO_PRODUCTION and machine.oee is None
    assert all(r.missing == NOT_OBSERVED and r.availability is None and r.planned_s == 0 for r in (*unseen, sf2))
    [plant] = service.figures(*SHIFT, combined=True)  # only the observed lines: sf1 and the first twin
    assert plant.line == ALL_LINES and plant.planned_s == 25200 + 27000
    assert plant.run_s == 21000 + 27000 and plant.produced == 6150
    assert plant.performance == pytest.approx(3 * 6150 / 21000)  # a twin has no ideal cycle time


def test_a_shopfloor_first_seen_mid_shift_is_planned_from_then(stored):
    """sf2's first report comes at 08:00, 2 h into the early shift (break 10:00-10:30): planned = 6 h - 30 min;
    the night shift before it has no data yet (not 100 %)."""
    engine, _ = stored
    tx(engine, add_output, "sf2", us("08:00"), 500, 5)
    night, early = [r for r in oee(engine).figures(us("00:00") - 2 * 3600 * US, SHIFT[1]) if r.line == "sf2"]
    assert night.label == "2026-12-06 night" and night.missing == NOT_OBSERVED and night.availability is None
    assert (early.planned_s, early.run_s, early.produced, early.good) == (19800, 19800, 505, 500)
    assert early.availability == 1.0 and early.performance == pytest.approx(4 * 505 / 19800) and not early.missing


def test_a_day_by_shift_day_and_week(stored):
    engine, _ = stored
    service = oee(engine, us("23:59"))
    day = (us("00:00"), us("00:00") + 86_400_000_000)
    shifts = service.figures(*day, line="sf1")
    assert [r.label for r in shifts] == ["2026-12-06 night", "2026-12-07 early", "2026-12-07 late",
                                         "2026-12-07 night"]  # fmt: skip
    assert [r.produced for r in shifts] == [100, 6150, 1008, 0]
    [daily] = [r for r in service.figures(*day, by=Period.DAY, line="sf1") if r.label == "2026-12-07"]
    assert daily.produced == 6150 + 1008
    weeks = service.figures(*day, by="week", line="sf1")  # Sunday's night shift is in the week before
    assert [(r.label, r.produced) for r in weeks] == [("2026-W49", 100), ("2026-W50", 7158)]


def test_the_orders_of_a_shift(stored):
    engine, order_id = stored
    service = oee(engine)
    assert service.orders(*SHIFT) == [OrderOutput(order_id, order_id.replace("ORD", "JO"), "Cola 500ml", "sf1",
                                                  6150, 6000, 150)]  # fmt: skip
    assert service.orders(*SHIFT, line="sf2") == []


def test_the_current_shift_and_the_targets(stored):
    engine, _ = stored
    now = us("10:15")
    shift = oee(engine, now).current_shift()
    assert (shift.name, shift.start_us, shift.end_us) == ("early", *SHIFT)
    assert [w.name for w in oee(engine).shifts(*SHIFT)] == ["early"]
    assert oee(engine).targets().oee == 0.85


def test_the_refusals(stored):
    engine, _ = stored
    service = oee(engine)
    with pytest.raises(UnknownLine, match=rf"no line 'sf9'; lines are: {', '.join(twins(service))}, sf1, sf2"):
        service.figures(*SHIFT, line="sf9")
    with pytest.raises(InvalidAndonValue, match="the range must end after it starts"):
        service.figures(SHIFT[1], SHIFT[0])
    with pytest.raises(InvalidAndonValue, match=r"cannot group by 'month'; give one of: shift, day, week"):
        service.figures(*SHIFT, by="month")
    with pytest.raises(UnknownLine):
        service.orders(*SHIFT, line="nosuch")


def test_a_database_that_is_not_there(tmp_path):
    service = oee(make_engine(f"sqlite:///{tmp_path}/missing/x.db"))
    with pytest.raises(DatabaseUnavailable, match="is unavailable"):
        service.figures(*SHIFT)
