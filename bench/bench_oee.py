"""OEE for a year of shifts on 8 lines from stored records (issue 14): target < 1 s.

The database (SQLite) holds a year (2026) of the default calendar (3 shifts a day, 1,095 shifts) on 8
shopfloors: a report every 5 minutes per shopfloor (running totals of one instruction a day, about 841k
report_receipts) and 3 stops per shift and line (about 26k downtime records: breakdowns, changeovers,
planned maintenance, micro-stops); line_totals filled from the reports as migration 0008 fills it (and
apply_report keeps it). Ours: OeeService.figures over the year, by shift (every line: the 8 shopfloors
and the twins with a status tag), also by week and plant-wide. Baseline: what a pane would
do without it, OeeService.figures for one shift at a time (its queries once per shift). Both give the
same totals; the bench checks that and prints both times and the ratio.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from hmi.config import parse_config
from hmi.domain.oee import Period
from hmi.resources import resource_text
from hmi.services.oee import OeeService
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade

BACKFILL = importlib.import_module("hmi.store.migrations.versions.0008_line_totals").BACKFILL

US = 1_000_000
YEAR = (int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()) * US,
        int(datetime(2027, 1, 1, tzinfo=timezone.utc).timestamp()) * US)  # fmt: skip
FLOORS = {f"sf{i}": cap for i, cap in enumerate((600, 900, 1200, 1500, 600, 900, 1200, 1500), start=1)}
REASONS = [("mechanical", False), ("changeover", False), ("planned_maintenance", True), (None, False)]


def config_text() -> str:
    known = "".join(f'[[shopfloors.known]]\nid = "{sid}"\ncapacity = {cap}\n\n' for sid, cap in FLOORS.items())
    return resource_text("plant.toml") + "\n" + known


def records(report_every_s: int, seed: int = 1) -> tuple[list[tuple], list[tuple]]:
    """The year's report_receipts and downtime rows, in the order they would arrive (the lines interleaved)."""
    rng = random.Random(seed)
    reports, stops = [], []
    day_us = 86_400 * US
    step = report_every_s * US
    for sid, cap in FLOORS.items():
        per_report = cap * report_every_s / 3600
        for day in range((YEAR[1] - YEAR[0]) // day_us):
            start = YEAR[0] + day * day_us
            instruction = f"JO-{day:03d}/{sid}/1"
            good = bad = 0
            for seq, t in enumerate(range(start, start + day_us, step), start=1):
                made = int(per_report * rng.uniform(0.6, 0.95))
                rejects = int(made * rng.uniform(0.0, 0.04))
                good, bad = good + made - rejects, bad + rejects
                reports.append((f"{instruction}/{seq}", instruction, f"ORD-{day:03d}", sid, seq, good, bad,
                                t + rng.randrange(0, 30 * US), t))  # fmt: skip
            for shift in range(3):
                shift_start = start + (6 + 8 * shift) % 24 * 3600 * US
                for _ in range(3):
                    s = shift_start + rng.randrange(0, 8 * 3600) * US
                    micro = rng.random() < 0.3
                    length = rng.randrange(5, 50) * US if micro else rng.randrange(2, 40) * 60 * US
                    reason, planned = ("micro-stop", False) if micro else rng.choice(REASONS)
                    stops.append((sid, "shopfloor", "machine", s, s + length, reason, planned, micro, ""))
    reports.sort(key=lambda r: r[8])
    stops.sort(key=lambda s: s[3])
    return reports, stops


REPORT_COLUMNS = "msg_id, instruction_id, order_id, shopfloor_id, seq, produced, defective, reported_us, received_us"
STOP_COLUMNS = "line, line_kind, origin, start_us, end_us, reason_code, planned, micro, note"


def build_sqlite(path: Path, reports: list[tuple], stops: list[tuple]) -> str:
    """A migrated SQLite file with the rows (sqlite3 executemany: the bench's data, not the code measured)."""
    url = f"sqlite:///{path}"
    upgrade(url)
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(f"INSERT INTO report_receipts ({REPORT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", reports)
        conn.executemany(f"INSERT INTO downtime ({STOP_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", stops)
        conn.execute(BACKFILL)  # line_totals as apply_report keeps them (migration 0008's SQL)
    conn.execute("ANALYZE")
    conn.close()
    return url


def build_postgres(url: str, reports: list[tuple], stops: list[tuple]) -> str:
    """The same rows in a migrated PostgreSQL database (COPY)."""
    import psycopg

    upgrade(url)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY report_receipts ({REPORT_COLUMNS}) FROM STDIN") as copy:
                for r in reports:
                    copy.write_row(r)
            with cur.copy(f"COPY downtime ({STOP_COLUMNS}) FROM STDIN") as copy:
                for r in stops:
                    copy.write_row(r)
            cur.execute(BACKFILL)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return url


def timed(fn, runs: int):  # noqa: ANN001, ANN201
    best, out = float("inf"), None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def measure(url: str, runs: int, baseline: bool) -> None:
    """Ours (the year at once) and the baseline (a figures() call per shift) on one database; both printed."""
    engine = make_engine(url)
    service = OeeService(engine, parse_config(config_text()), clock=lambda: YEAR[1])
    shifts = service.shifts(*YEAR)
    ours_s, rows = timed(lambda: service.figures(*YEAR), runs)
    weeks_s, weeks = timed(lambda: service.figures(*YEAR, by=Period.WEEK), runs)
    plant_s, plant = timed(lambda: service.figures(*YEAR, combined=True), runs)
    shift_s, _ = timed(lambda: service.figures(shifts[500].start_us, shifts[500].end_us), runs)
    total = (sum(r.produced for r in rows), round(sum(r.planned_s for r in rows)), round(sum(r.run_s for r in rows)))
    assert total[0] == sum(r.produced for r in plant) == sum(r.produced for r in weeks)
    mean = sum(r.oee for r in plant if r.oee is not None) / max(1, sum(r.oee is not None for r in plant))
    print(f"  {len(shifts):,} shifts x {len(service.lines())} lines = {len(rows):,} rows; {total[0]:,} units; "
          f"plant OEE per shift averages {100 * mean:.1f} %")  # fmt: skip
    if baseline:
        t = time.perf_counter()
        naive = [r for w in shifts for r in service.figures(max(w.start_us, YEAR[0]), min(w.end_us, YEAR[1]))]
        naive_s = time.perf_counter() - t
        check = (sum(r.produced for r in naive), round(sum(r.planned_s for r in naive)),
                 round(sum(r.run_s for r in naive)))  # fmt: skip
        assert total == check, (total, check)
        print(f"  baseline, a figures() call per shift: {naive_s * 1000:,.0f} ms")
        print(f"  ours, the year by shift:              {ours_s * 1000:,.0f} ms  ({naive_s / ours_s:.1f}x faster)")
    else:
        print(f"  ours, the year by shift:              {ours_s * 1000:,.0f} ms")
    print(f"  ours, the year by week:               {weeks_s * 1000:,.0f} ms ({len(weeks)} rows)")
    print(f"  ours, the year plant-wide by shift:   {plant_s * 1000:,.0f} ms ({len(plant)} rows)")
    print(f"  ours, one shift (the pane's call):    {shift_s * 1000:,.1f} ms")
    print(f"  target < 1 s for the year: {'met' if ours_s < 1 else 'NOT met'}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report-every", type=int, default=300, metavar="S", help="seconds between reports (300)")
    parser.add_argument("--runs", type=int, default=3, help="runs of ours; the best is printed (3)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the (slow) query-per-shift baseline")
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL server")
    args = parser.parse_args()
    t = time.perf_counter()
    reports, stops = records(args.report_every)
    path = Path(tempfile.mkdtemp()) / "oee.db"
    url = build_sqlite(path, reports, stops)
    print(f"a year on {len(FLOORS)} shopfloors: {len(reports):,} reports (one every {args.report_every} s), "
          f"{len(stops):,} stops ({time.perf_counter() - t:.1f} s to build)")  # fmt: skip
    print(f"SQLite ({path.stat().st_size / 1e6:.0f} MB):")
    measure(url, args.runs, not args.no_baseline)
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.fixtures_pg import PostgresServer, _bindir

        bindir = _bindir()
        if bindir is None:
            sys.exit("PostgreSQL server binaries not found (apt-get install -y postgresql)")
        server = PostgresServer(bindir)
        server.init()
        server.start()
        try:
            server.admin("CREATE DATABASE oee")
            print("PostgreSQL:")
            measure(build_postgres(server.url("oee"), reports, stops), args.runs, not args.no_baseline)
        finally:
            server.destroy()


if __name__ == "__main__":
    main()
