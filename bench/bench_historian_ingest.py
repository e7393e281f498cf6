"""Ingest: HistorianWriter (consume -> committed) against a naive writer that commits every sample, into SQLite.

Run: .venv/bin/python bench/bench_historian_ingest.py [--samples N] [--tags N]
Targets: ours >= 100,000 samples/s and >= 100x the naive writer.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine

from hmi.domain.tags import Quality, TagValue
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from hmi.store.schema import samples, tags
from hmi.store.writer import HistorianWriter

T0 = 1_700_000_000.0


def make_samples(count: int, n_tags: int) -> list[TagValue]:
    """count samples spread over n_tags at 1 Hz each, as the bus would deliver them."""
    return [
        TagValue(f"plant.tag{i % n_tags:04d}", float(i % 997), Quality.GOOD, T0 + i // n_tags, T0 + i // n_tags)
        for i in range(count)
    ]


def run_ours(folder: Path, values: list[TagValue], bus_batch: int) -> float:
    """Samples/s through HistorianWriter, from the first consume until stats().stored covers all."""
    url = f"sqlite:///{folder / 'ours.sqlite'}"
    upgrade(url)
    writer = HistorianWriter(url, folder / "spool.sqlite", flush_interval_s=0.25)
    writer.start()
    started = time.perf_counter()
    for k in range(0, len(values), bus_batch):
        writer.consume(values[k : k + bus_batch])
    while writer.stats().stored < len(values):
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    writer.stop()
    stats = writer.stats()
    assert stats.stored == len(values) and stats.spooled_backlog == 0, stats
    return len(values) / elapsed


def run_naive(folder: Path, values: list[TagValue], tuned: bool) -> float:
    """Samples/s of a writer that inserts and commits one row per sample.

    tuned: our engine (WAL, synchronous=NORMAL); otherwise SQLite's defaults (rollback journal,
    synchronous=FULL), which is what a naive writer usually runs with.
    """
    name = "naive-tuned.sqlite" if tuned else "naive-default.sqlite"
    url = f"sqlite:///{folder / name}"
    upgrade(url)
    engine = make_engine(url) if tuned else create_engine(url)
    with engine.begin() as conn:
        conn.execute(tags.insert(), [{"name": n} for n in sorted({v.tag for v in values})])
        ids = dict(conn.execute(tags.select().with_only_columns(tags.c.name, tags.c.id)).all())
    stmt = samples.insert()
    started = time.perf_counter()
    for v in values:
        with engine.begin() as conn:
            conn.execute(stmt, {"tag_id": ids[v.tag], "ts_us": round(v.source_ts * 1e6), "value": v.value, "quality": int(v.quality)})
    elapsed = time.perf_counter() - started
    engine.dispose()
    return len(values) / elapsed


def main() -> None:
    """Run both writers and print absolute rates and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500_000)
    parser.add_argument("--tags", type=int, default=200)
    parser.add_argument("--naive-samples", type=int, default=2_000)
    parser.add_argument("--naive-default-samples", type=int, default=300)
    parser.add_argument("--bus-batch", type=int, default=1_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    values = make_samples(args.samples, args.tags)
    with tempfile.TemporaryDirectory(prefix="hmi-bench-") as tmp:
        folder = Path(tmp)
        naive_default = run_naive(folder, values[: args.naive_default_samples], tuned=False)
        naive_tuned = run_naive(folder, values[: args.naive_samples], tuned=True)
        ours = run_ours(folder, values, args.bus_batch)
    print(f"naive, commit per sample, SQLite defaults ({args.naive_default_samples:,} samples): {naive_default:10,.0f} samples/s")
    print(f"naive, commit per sample, WAL+NORMAL      ({args.naive_samples:,} samples): {naive_tuned:10,.0f} samples/s")
    print(f"ours, HistorianWriter consume->stored ({args.samples:,} samples, {args.tags} tags): {ours:10,.0f} samples/s")
    print(f"ratio ours/naive-defaults: {ours / naive_default:,.0f}x   ours/naive-WAL+NORMAL: {ours / naive_tuned:,.0f}x")
    print("targets: ours >= 100,000 samples/s and >= 100x the naive writer")


if __name__ == "__main__":
    main()
