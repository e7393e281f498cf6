"""Several collectors on one PostgreSQL writing the same tags: throughput, and rollups equal to their raw samples.

Four writer processes (each a HistorianWriter, as in `hmi collect`) write the same 500 tags at 10 Hz each,
5,000 samples/s per process, 20,000 in all, each at its own instants (distinct samples in the same
buckets: what one bucket's rebuild could lose). Baseline: the writers without the per-tag transaction
lock (hmi.store.ingest.lock_tags a no-op), as before. Ours: with it. Both runs optionally stop the server
with `pg_ctl -m immediate` in the middle and start it again (--restart). The figures: samples stored per
second, the writers' flush time, the time to drain what was spooled, and how many rollup buckets
differ from what their raw samples give (must be 0).

    .venv/bin/python bench/bench_rollups_shared.py [--seconds 20] [--writers 4] [--rate 5000] [--restart]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fixtures_pg: a throwaway server

from tests.fixtures_pg import PostgresServer, _bindir  # noqa: E402

from hmi.domain.tags import Quality, TagValue  # noqa: E402
from hmi.store.db import make_engine  # noqa: E402
from hmi.store.migrate import upgrade  # noqa: E402

TAGS = 500
HZ = 10

CHECK = """
WITH raw AS (
    SELECT tag_id, ts_us - ((ts_us % {w}) + {w}) % {w} AS bucket_us, min(value) AS vmin, max(value) AS vmax,
           sum(value) AS vsum, count(value) AS n, count(*) - count(value) AS n_bad
    FROM samples GROUP BY 1, 2
)
SELECT count(*) FROM raw FULL JOIN {table} r USING (tag_id, bucket_us)
WHERE r.n IS NULL OR raw.n IS NULL OR r.n <> raw.n OR r.n_bad <> raw.n_bad OR r.vmin IS DISTINCT FROM raw.vmin
   OR r.vmax IS DISTINCT FROM raw.vmax OR r.vsum IS DISTINCT FROM raw.vsum
"""
ROLLUP_1H = """
WITH m AS (
    SELECT tag_id, bucket_us - ((bucket_us % 3600000000) + 3600000000) % 3600000000 AS bucket_us, min(vmin) AS vmin,
           max(vmax) AS vmax, sum(vsum) AS vsum, sum(n) AS n, sum(n_bad) AS n_bad
    FROM rollup_1m GROUP BY 1, 2
)
SELECT count(*) FROM m FULL JOIN rollup_1h r USING (tag_id, bucket_us)
WHERE r.n IS NULL OR m.n IS NULL OR r.n <> m.n OR r.n_bad <> m.n_bad OR r.vmin IS DISTINCT FROM m.vmin
   OR r.vmax IS DISTINCT FROM m.vmax OR r.vsum IS DISTINCT FROM m.vsum
"""


def writer_process(k: int, url: str, spool: str, seconds: float, rate: int, locked: bool, out: mp.Queue) -> None:
    """One collector's historian: ``rate`` samples/s of the shared tags for ``seconds``, then drain and report."""
    from hmi.store import ingest
    from hmi.store.writer import HistorianWriter

    if not locked:
        ingest.lock_tags = lambda conn, tag_ids: None  # the code before the lock
    writer = HistorianWriter(url, spool)
    writer.start()
    tags = [f"shared.t{t}" for t in range(TAGS)]
    ticks_per_s = max(1, rate // TAGS)
    period = 1.0 / ticks_per_s
    start = time.monotonic()
    tick = 0
    flush_ms: list[float] = []
    while time.monotonic() - start < seconds:
        ts = time.time() + (k + 1) * 1e-6  # each writer its own instants, in the same buckets
        writer.consume([TagValue(tag, float((tick * 7 + i + k) % 997), Quality.GOOD, ts, ts) for i, tag in enumerate(tags)])
        tick += 1
        flush_ms.append(writer.stats().flush_ms)
        time.sleep(max(0.0, start + tick * period - time.monotonic()))
    fed_at = time.monotonic()
    while (s := writer.stats()).queued or s.spooled_backlog:
        time.sleep(0.05)
    drained_s = time.monotonic() - fed_at
    writer.stop()
    stats = writer.stats()
    out.put({"k": k, "received": stats.received, "stored": stats.stored, "forwarded": stats.forwarded,
             "dropped": stats.dropped, "drain_s": drained_s, "flush_ms": flush_ms, "sent_s": fed_at - start})


def run(server: PostgresServer, name: str, args: argparse.Namespace, locked: bool) -> dict:
    """One mode on a fresh database: the writers' figures and the rollup check."""
    server.admin(f'CREATE DATABASE "{name}"')
    url = server.url(name)
    upgrade(url)
    out: mp.Queue = mp.Queue()
    with tempfile.TemporaryDirectory(prefix="bench-rollups-") as tmp:
        procs = [mp.Process(target=writer_process, args=(k, url, f"{tmp}/spool{k}.sqlite", args.seconds, args.rate, locked, out))
                 for k in range(args.writers)]  # fmt: skip
        started = time.monotonic()
        for p in procs:
            p.start()
        if args.restart:
            time.sleep(args.seconds * 0.4)
            server.stop("immediate")
            time.sleep(3.0)
            server.start()
        results = [out.get(timeout=args.seconds + 600) for _ in procs]
        for p in procs:
            p.join(30)
        wall = time.monotonic() - started
    engine = make_engine(url)
    with engine.connect() as conn:
        from sqlalchemy import text

        rows = conn.execute(text("SELECT count(*) FROM samples")).scalar_one()
        buckets = conn.execute(text("SELECT count(*) FROM rollup_1m")).scalar_one()
        wrong_1m = conn.execute(text(CHECK.format(w=60_000_000, table="rollup_1m"))).scalar_one()
        wrong_1h = conn.execute(text(ROLLUP_1H)).scalar_one()
    engine.dispose()
    flush = sorted(f for r in results for f in r["flush_ms"] if f > 0)
    received = sum(r["received"] for r in results)
    sent_s = max(r["sent_s"] for r in results)
    return {
        "rows": rows, "received": received, "dropped": sum(r["dropped"] for r in results),
        "rate": received / sent_s, "stored_rate": rows / wall, "wall": wall,
        "drain_s": max(r["drain_s"] for r in results), "forwarded": sum(r["forwarded"] for r in results),
        "flush_p50": statistics.median(flush) if flush else 0.0,
        "flush_max": flush[-1] if flush else 0.0,
        "buckets": buckets, "wrong_1m": wrong_1m, "wrong_1h": wrong_1h,
    }  # fmt: skip


def show(label: str, r: dict) -> None:
    """One line of figures."""
    print(f"{label:>9}: offered {r['rate']:,.0f} samples/s, {r['rows']:,} rows stored of {r['received']:,} "
          f"({r['dropped']} dropped, {r['forwarded']:,} via the spool), drained {r['drain_s']:.1f} s after the feed, "
          f"flush p50 {r['flush_p50']:.0f} ms max {r['flush_max']:.0f} ms; rollup buckets wrong: "
          f"{r['wrong_1m']} of {r['buckets']:,} (1 min), {r['wrong_1h']} (1 h)")  # fmt: skip


def main() -> None:
    """Run baseline and ours, print both and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--rate", type=int, default=5_000, help="samples/s per writer")
    parser.add_argument("--restart", action="store_true", help="stop the server (immediate) mid-run, start it again")
    args = parser.parse_args()
    bindir = _bindir()
    if bindir is None:
        sys.exit("PostgreSQL server binaries not found (apt-get install -y postgresql)")
    server = PostgresServer(bindir)
    server.init()
    server.start()
    try:
        print(f"{args.writers} writers x {args.rate:,} samples/s on {TAGS} shared tags for {args.seconds:g} s"
              f"{', server restarted mid-run' if args.restart else ''}")  # fmt: skip
        base = run(server, "baseline", args, locked=False)
        show("baseline", base)
        ours = run(server, "ours", args, locked=True)
        show("ours", ours)
        print(f"    ratio: drain {ours['drain_s'] / max(base['drain_s'], 1e-9):.2f}x, "
              f"flush p50 {ours['flush_p50'] / max(base['flush_p50'], 1e-9):.2f}x; "
              f"wrong buckets {base['wrong_1m'] + base['wrong_1h']} -> {ours['wrong_1m'] + ours['wrong_1h']}")  # fmt: skip
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
