"""Query: 30 days of one 1 Hz tag (2.6M rows) to 2,000 trend points, downsampled_range against a plain GROUP BY.

Run: .venv/bin/python bench/bench_history_query.py [--days N] [--points N]
Target: downsampled_range < 100 ms on SQLite.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from hmi.store.db import make_engine
from hmi.store.ingest import refresh_rollups, resolve_tag_ids
from hmi.store.migrate import upgrade
from hmi.store.queries import downsampled_range

T0 = 1_700_006_400  # a whole hour, UTC
TAG = "reactor1.temperature"


def build(url: str, days: int) -> tuple[int, float]:
    """Write days of 1 Hz samples with executemany and build the rollups as the writer does; rows and seconds."""
    engine = make_engine(url)
    n = days * 86_400
    started = time.perf_counter()
    with engine.begin() as conn:
        tag_id = resolve_tag_ids(conn, [TAG], {})[TAG]
        step = 200_000
        for lo in range(0, n, step):
            rows = [
                (tag_id, (T0 + s) * 1_000_000, 50.0 + 10.0 * math.sin(s / 3600.0) + (s % 7) * 0.1, 0)
                for s in range(lo, min(lo + step, n))
            ]
            conn.exec_driver_sql("INSERT INTO samples (tag_id, ts_us, value, quality) VALUES (?, ?, ?, ?)", rows)
        conn.exec_driver_sql("UPDATE samples SET value = 500.0 WHERE tag_id = ? AND ts_us = ?", (tag_id, (T0 + n // 3) * 1_000_000))
        refresh_rollups(conn, ((tag_id, (T0 + s) * 1_000_000) for s in range(0, n, 60)))
    engine.dispose()
    return n, time.perf_counter() - started


def baseline(engine, t0: float, t1: float, points: int) -> list:
    """A plain SQL GROUP BY over the raw samples: min, max, avg per trend bucket."""
    t0_us, t1_us = int(t0 * 1e6), int(t1 * 1e6)
    width = math.ceil((t1_us - t0_us) / points)
    sql = text(
        "SELECT (s.ts_us - :t0) / :w AS k, min(s.value), max(s.value), avg(s.value), count(*) "
        "FROM samples s JOIN tags t ON t.id = s.tag_id "
        "WHERE t.name = :tag AND s.ts_us >= :t0 AND s.ts_us < :t1 GROUP BY k ORDER BY k"
    )
    with engine.connect() as conn:
        return conn.execute(sql, {"t0": t0_us, "t1": t1_us, "w": width, "tag": TAG}).all()


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """First (cold) and median (warm) milliseconds of repeats calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return times[0], statistics.median(times[1:] or times), result


def main() -> None:
    """Build the data once, run both queries and print the times and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hmi-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'history.sqlite'}"
        upgrade(url)
        rows, seconds = build(url, args.days)
        print(f"built {rows:,} samples and their rollups in {seconds:.1f} s")
        engine = make_engine(url)
        t0, t1 = float(T0), float(T0 + args.days * 86_400)
        b_cold, b_warm, b_res = timed(lambda: baseline(engine, t0, t1, args.points), args.repeats)
        o_cold, o_warm, o_res = timed(lambda: downsampled_range(engine, TAG, t0, t1, args.points), args.repeats)
        # Unaligned ends exercise the raw edges next to the rollups.
        u_cold, u_warm, _ = timed(lambda: downsampled_range(engine, TAG, t0 + 17.3, t1 - 41.9, args.points), args.repeats)
        engine.dispose()
    assert max(r[2] for r in b_res) == max(b.vmax for b in o_res) == 500.0, "the spike must survive both"
    print(f"baseline GROUP BY over raw samples: {b_warm:8.1f} ms (first {b_cold:.1f} ms), {len(b_res)} buckets")
    print(f"ours downsampled_range (rollups):   {o_warm:8.1f} ms (first {o_cold:.1f} ms), {len(o_res)} buckets")
    print(f"ours, unaligned range:              {u_warm:8.1f} ms (first {u_cold:.1f} ms)")
    print(f"ratio baseline/ours: {b_warm / o_warm:,.0f}x   (target: ours < 100 ms)")


if __name__ == "__main__":
    main()
