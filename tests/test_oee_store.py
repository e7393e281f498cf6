"""line_totals, the shopfloors' running totals OEE reads: kept by apply_report (late reports included) equal to
what migration 0008 computes from report_receipts, and made_between splits them at any bounds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select, text

from hmi.domain.shopfloor import Activity, Heartbeat, Report, iso
from hmi.store import oee as store
from hmi.store import orders as order_store
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from hmi.store.schema import line_totals, report_receipts
from tests.oee_support import at, tx, us

BACKFILL = __import__("hmi.store.migrations.versions.0008_line_totals", fromlist=["BACKFILL"]).BACKFILL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'oee.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")


def _two_instructions(engine) -> list[Report]:
    """Two orders on sf1 whose reports interleave in time (every 10 minutes, 5 minutes apart)."""
    t0 = at("05:00")
    tx(engine, order_store.receive_material, "PET", 100_000, "kg", t0)
    tx(engine, order_store.record_heartbeat, Heartbeat("sf1", 1200.0, Activity.IDLE, 0, iso(t0), 1), t0)
    reports = []
    for n in range(2):
        order = tx(engine, order_store.insert_order, product="Cola", quantity=5000, material="PET", due=at("23:00"),
                   priority=3, material_per_unit=0.01, now=t0, user="pia")  # fmt: skip
        tx(engine, order_store.release, order.order_id, t0)
        [instruction] = tx(engine, order_store.dispatch_queued, t0, 2 + n)[-1:]
        for seq in range(1, 13):
            when = at("06:00") + timedelta(minutes=10 * seq + 5 * n)
            reports.append(Report(f"{instruction}/{seq}", instruction, order.order_id, "sf1", seq, 100 * seq + n,
                                  3 * seq, iso(when)))  # fmt: skip
    return reports


def _rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(line_totals).order_by(line_totals.c.at_us))]


def test_late_reports_and_duplicates_keep_the_totals_the_migration_computes(url):
    upgrade(url)
    engine = make_engine(url)
    reports = _two_instructions(engine)
    first, second = reports[:12], reports[12:]
    for r in first + second + first[3:6]:  # the second order's reports arrive after all of the first's
        tx(engine, order_store.apply_report, r, at("12:00"))
    kept = _rows(engine)
    assert kept[-1][2:] == (1200 + 1201, 36 + 36)
    with engine.begin() as conn:
        conn.execute(delete(line_totals))
        conn.execute(text(BACKFILL))
    assert _rows(engine) == kept
    bounds = [us("06:00"), us("06:30"), us("07:00"), us("08:00")]
    with engine.connect() as conn:
        made = store.made_between(conn, bounds, ["sf1", "sf2"])
    # before 06:30: 06:10, 06:20 (first order) and 06:15, 06:25 (second); then three reports of each an half hour,
    # six of each an hour; sf2 made nothing
    assert [(m.line, m.bucket_us, m.good, m.defective) for m in made] == [
        ("sf1", us("06:00"), 100 * 2 + 101 + 100, 12), ("sf1", us("06:30"), 600, 18), ("sf1", us("07:00"), 1200, 36)]
    engine.dispose()


def test_the_migration_fills_the_totals_from_the_reports_received_before_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0007")
    engine = make_engine(url)
    rows = [dict(msg_id=f"I{i}/{s}", instruction_id=f"I{i}", order_id=f"O{i}", shopfloor_id="sf1", seq=s,
                 produced=10 * s, defective=s, reported_us=us("06:00") + (s * 2 + i) * 60_000_000, received_us=0)
            for i in range(2) for s in range(1, 4)]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(report_receipts), rows)
    upgrade(url)
    assert [r[2:] for r in _rows(engine)] == [(10, 1), (20, 2), (30, 3), (40, 4), (50, 5), (60, 6)]
    engine.dispose()
