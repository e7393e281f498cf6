"""The historian on real databases: schema, writer, idempotence, gaps, rollups, spool, queries, crash safety."""

from __future__ import annotations

import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from hmi.domain.tags import Quality, TagValue
from hmi.store.db import make_engine
from hmi.store.errors import DatabaseUnavailable, UnknownTag
from hmi.store.ingest import write_rows
from hmi.store.migrate import current_revision, head_revision, upgrade
from hmi.store.queries import downsampled_range, export_csv, raw_range, sample_count, tag_names
from hmi.store.schema import HOUR_US, MINUTE_US
from hmi.store.spool import Spool
from hmi.store.writer import HistorianWriter

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll until predicate() is true; fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def tv(tag: str, ts: float, value: float | None, quality: Quality = Quality.GOOD) -> TagValue:
    """A TagValue whose source and receive times are ts."""
    return TagValue(tag, value, quality, ts, ts)


def db_count(url: str) -> int:
    """Rows in samples, read through a fresh engine."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM samples")).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A migrated, empty historian database: an SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db' / 'historian.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    upgrade(url)
    return url


@pytest.fixture
def engine(db_url):
    """An engine on db_url, disposed after the test."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def make_writer(url: str, tmp_path: Path, **kwargs) -> HistorianWriter:
    """A writer with fast test timings and its spool in tmp_path."""
    kwargs.setdefault("flush_interval_s", 0.1)
    kwargs.setdefault("retry_interval_s", 0.3)
    return HistorianWriter(url, tmp_path / "spool.sqlite", **kwargs)


# ---- engine and schema -------------------------------------------------------------------


def test_sqlite_engine_pragmas_and_parent_dir(tmp_path):
    path = tmp_path / "deep" / "er" / "h.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert path.parent.is_dir()
    engine.dispose()


def test_upgrade_creates_schema_and_rerun_is_noop(db_url, engine):
    names = set(inspect(engine).get_table_names())
    assert {"tags", "samples", "rollup_1m", "rollup_1h", "alembic_version"} <= names
    pk = inspect(engine).get_pk_constraint("samples")["constrained_columns"]
    assert pk == ["tag_id", "ts_us"]
    assert current_revision(db_url) == head_revision()
    upgrade(db_url)  # again: nothing to do, nothing breaks
    assert current_revision(db_url) == head_revision()


def test_unavailable_sqlite_path_gives_one_line_message(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    url = f"sqlite:///{blocker / 'h.sqlite'}"
    with pytest.raises(DatabaseUnavailable) as info:
        make_engine(url)
    message = str(info.value)
    assert "\n" not in message and str(blocker) in message and "writable" in message


def test_unavailable_server_message_masks_password():
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://hmi:s3cret@127.0.0.1:{port}/historian"
    with pytest.raises(DatabaseUnavailable) as info:
        make_engine(url)
    message = str(info.value)
    assert "s3cret" not in message and "***" in message and f":{port}/historian" in message
    assert "\n" not in message and "server is running" in message


# ---- writing -----------------------------------------------------------------------------


def test_writer_stores_batches_and_counts(db_url, engine, tmp_path):
    writer = make_writer(db_url, tmp_path, max_batch=700)
    writer.start()
    fed = 0
    for k in range(10):
        batch = [tv(f"unit{i}.temp", T0 + k, float(k * i)) for i in range(300)]
        writer.consume(batch)
        fed += len(batch)
    wait_until(lambda: writer.stats().stored == fed, what="all samples stored")
    assert writer.stop()
    stats = writer.stats()
    assert (stats.received, stats.stored, stats.dropped, stats.queued, stats.spooled_backlog) == (fed, fed, 0, 0, 0)
    assert stats.db_ok and stats.last_error == "" and stats.flush_ms > 0
    assert sample_count(engine) == fed
    assert sample_count(engine, "unit7.temp") == 10
    assert len(tag_names(engine)) == 300
    assert raw_range(engine, "unit7.temp", T0, T0 + 3) == [(T0, 0.0, 0), (T0 + 1, 7.0, 0), (T0 + 2, 14.0, 0)]


def test_same_samples_twice_are_one_row(db_url, engine, tmp_path):
    batch = [tv("a", T0 + k * 0.001, float(k)) for k in range(500)]
    writer = make_writer(db_url, tmp_path)
    writer.start()
    writer.consume(batch)
    wait_until(lambda: writer.stats().stored == 500)
    writer.consume(batch)
    writer.consume(list(reversed(batch)))
    assert writer.stop()
    assert writer.stats().stored == 500  # rows the database added, not samples sent
    assert sample_count(engine, "a") == 500


def test_bad_samples_are_null_quality_2_and_show_as_gaps(db_url, engine, tmp_path):
    writer = make_writer(db_url, tmp_path)
    writer.start()
    samples = [tv("p", T0 + s, float(s)) for s in range(60)]
    for s in range(20, 30):  # ten seconds of Bad: the gap
        samples[s] = tv("p", T0 + s, None, Quality.BAD)
    samples[40] = tv("p", T0 + 40, float("nan"))  # a broken number is Bad too
    writer.consume(samples)
    assert writer.stop()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT value, quality FROM samples WHERE value IS NULL")).all()
    assert rows == [(None, 2)] * 11
    raw = raw_range(engine, "p", T0, T0 + 60)
    assert raw[25] == (T0 + 25, None, 2) and raw[19] == (T0 + 19, 19.0, 0)
    buckets = downsampled_range(engine, "p", T0, T0 + 60, 6)
    assert [b.n_bad for b in buckets] == [0, 0, 10, 0, 1, 0]
    gap = buckets[2]
    assert gap.vmin is None and gap.vmax is None and gap.vavg is None and gap.n == 0
    assert (buckets[4].vmin, buckets[4].vmax, buckets[4].n) == (41.0, 49.0, 9)


def test_downsampled_keeps_a_single_spike(db_url, engine):
    start = 1_700_006_400.0  # whole hour
    rows = [("flow", round((start + s) * 1e6), 10.0, 0) for s in range(2 * 86_400)]
    rows[100_003] = ("flow", rows[100_003][1], 999.0, 0)
    rows[150_001] = ("flow", rows[150_001][1], -5.0, 0)
    with engine.begin() as conn:
        write_rows(conn, rows, {})
    for t0, t1 in ((start, start + 2 * 86_400), (start + 13.5, start + 2 * 86_400 - 7.25), (start + 99_000, start + 101_000)):
        buckets = downsampled_range(engine, "flow", t0, t1, 300)
        assert 1 <= len(buckets) <= 300
        assert max(b.vmax for b in buckets) == 999.0
        spike = next(b for b in buckets if b.vmax == 999.0)
        assert spike.t <= start + 100_003
    buckets = downsampled_range(engine, "flow", start, start + 2 * 86_400, 300)
    assert min(b.vmin for b in buckets) == -5.0
    assert sum(b.n for b in buckets) == 2 * 86_400


def _expected_rollups(conn, width_us: int) -> dict:
    """Rollups computed in Python from the raw samples: what the tables must hold."""
    out: dict = {}
    for tag_id, ts_us, value in conn.execute(text("SELECT tag_id, ts_us, value FROM samples")):
        key = (tag_id, ts_us - ts_us % width_us)
        vmin, vmax, vsum, n, n_bad = out.get(key, (None, None, 0.0, 0, 0))
        if value is None:
            n_bad += 1
        else:
            vmin = value if vmin is None else min(vmin, value)
            vmax = value if vmax is None else max(vmax, value)
            vsum, n = vsum + value, n + 1
        out[key] = (vmin, vmax, vsum, n, n_bad)
    return out


def _stored_rollups(conn, table: str) -> dict:
    rows = conn.execute(text(f"SELECT tag_id, bucket_us, vmin, vmax, vsum, n, n_bad FROM {table}"))
    return {(r[0], r[1]): (r[2], r[3], r[4] or 0.0, r[5], r[6]) for r in rows}


def _approx(d: dict) -> dict:
    return {k: (v[0], v[1], round(v[2], 6), v[3], v[4]) for k, v in d.items()}


def test_rollups_exact_under_late_duplicate_and_out_of_order_data(db_url, engine, tmp_path):
    rng = random.Random(7)
    base = 1_700_006_400.0
    everything = []
    for tag in ("a", "b"):
        for s in range(0, 3 * 3600, 7):
            good = rng.random() > 0.05
            everything.append(tv(tag, base + s + rng.random(), rng.uniform(-50, 50) if good else None,
                                 Quality.GOOD if good else Quality.BAD))
    rng.shuffle(everything)
    writer = make_writer(db_url, tmp_path, max_batch=300)
    writer.start()
    for start in range(0, len(everything), 250):
        writer.consume(everything[start : start + 250])
        if start % 1000 == 0:  # resend a random earlier slice: duplicates, arriving late
            k = rng.randrange(0, start + 1)
            writer.consume(everything[k : k + 120])
    writer.consume(everything[:500])
    assert writer.stop()
    assert sample_count(engine) == len(everything)
    with engine.connect() as conn:
        assert _approx(_stored_rollups(conn, "rollup_1m")) == _approx(_expected_rollups(conn, MINUTE_US))
        assert _approx(_stored_rollups(conn, "rollup_1h")) == _approx(_expected_rollups(conn, HOUR_US))
    # The query through the rollups agrees with the raw samples on an unaligned range.
    t0, t1 = base + 123.4, base + 3 * 3600 - 77.7
    buckets = downsampled_range(engine, "a", t0, t1, 40)
    raw = raw_range(engine, "a", t0, t1)
    assert sum(b.n for b in buckets) == sum(1 for r in raw if r[1] is not None)
    assert sum(b.n_bad for b in buckets) == sum(1 for r in raw if r[1] is None)
    assert max(b.vmax for b in buckets if b.vmax is not None) == max(r[1] for r in raw if r[1] is not None)
    for b, nxt in zip(buckets, buckets[1:] + [None]):
        end = nxt.t if nxt else t1
        inside = [r[1] for r in raw if b.t <= r[0] < end and r[1] is not None]
        if inside:
            assert (b.vmin, b.vmax) == (min(inside), max(inside))


def test_export_csv(engine):
    with engine.begin() as conn:
        write_rows(conn, [("x", round(T0 * 1e6), 1.5, 0), ("x", round((T0 + 0.25) * 1e6), None, 2),
                          ("x", round((T0 + 1) * 1e6), -2.0, 1)], {})
        # a gap marker carries why the sample is Bad (issue 12: the export has a column for it)
        conn.execute(text("UPDATE samples SET reason = 'no data: collector stopped' WHERE value IS NULL"))
    out = io.StringIO()
    assert export_csv(engine, "x", T0, T0 + 2, out) == 3
    assert out.getvalue().splitlines() == [
        "time_utc,value,quality,reason",
        "2023-11-14T22:13:20Z,1.5,GOOD,",
        "2023-11-14T22:13:20.250000Z,,BAD,no data: collector stopped",
        "2023-11-14T22:13:21Z,-2.0,UNCERTAIN,",
    ]
    with pytest.raises(UnknownTag):
        export_csv(engine, "nope", T0, T0 + 2, io.StringIO())
    assert raw_range(engine, "nope", T0, T0 + 2) == [] and downsampled_range(engine, "nope", T0, T0 + 2, 10) == []


# ---- the queue and the spool -------------------------------------------------------------


def test_consume_never_blocks_and_counts_drops(tmp_path):
    writer = HistorianWriter(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool.sqlite", queue_limit=1000)
    started = time.perf_counter()
    writer.consume([tv("a", T0 + i, 1.0) for i in range(600)])
    writer.consume([tv("a", T0 + 600 + i, 1.0) for i in range(600)])
    writer.consume([tv("a", T0 + 1200, 1.0)])
    assert time.perf_counter() - started < 0.05
    stats = writer.stats()
    assert (stats.received, stats.queued, stats.dropped) == (1201, 1000, 201)


def test_spool_keeps_order_and_survives_reopen(tmp_path):
    spool = Spool(tmp_path / "s.sqlite")
    spool.append([("a", i, float(i), 0) for i in range(10)])
    spool.append([("b", i, None, 2) for i in range(5)])
    spool.close()
    spool = Spool(tmp_path / "s.sqlite")
    assert spool.backlog == 15
    seq, rows = spool.oldest(12)
    assert rows == [("a", i, float(i), 0) for i in range(10)] + [("b", 0, None, 2), ("b", 1, None, 2)]
    assert spool.delete_through(seq) == 12 and spool.backlog == 3
    assert spool.oldest(100)[1] == [("b", i, None, 2) for i in range(2, 5)]
    spool.close()


def test_locked_sqlite_spools_then_drains_without_loss(tmp_path, caplog):
    path = tmp_path / "db" / "h.sqlite"
    url = f"sqlite:///{path}"
    upgrade(url)
    writer = make_writer(url, tmp_path, busy_timeout_ms=100)
    writer.start()
    fed = 0

    def feed(n: int) -> None:
        nonlocal fed
        writer.consume([tv(f"t{i % 5}", T0 + (fed + i) * 0.01, float(fed + i)) for i in range(n)])
        fed += n

    feed(1000)
    wait_until(lambda: writer.stats().stored == 1000)
    # Another program holds the write lock longer than busy_timeout: the database cannot be written.
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    for _ in range(5):
        feed(400)
        time.sleep(0.1)
    wait_until(lambda: writer.stats().spooled_backlog == 2000, what="the outage spooled")
    stats = writer.stats()
    assert not stats.db_ok and "locked" in stats.last_error and stats.stored == 1000
    spool_rows = sqlite3.connect(tmp_path / "spool.sqlite").execute("SELECT count(*) FROM spool").fetchone()[0]
    assert spool_rows == 2000
    locker.execute("ROLLBACK")
    locker.close()
    feed(300)
    wait_until(lambda: writer.stats().spooled_backlog == 0 and writer.stats().queued == 0, what="the spool drained")
    assert writer.stop()
    stats = writer.stats()
    assert stats.db_ok and stats.stored == fed == 3300 and stats.forwarded >= 2000
    assert db_count(url) == fed
    engine = make_engine(url)
    values = [v for tag in ("t0", "t1", "t2", "t3", "t4") for _, v, _ in raw_range(engine, tag, T0, T0 + 1000)]
    assert sorted(values) == [float(i) for i in range(fed)]
    engine.dispose()
    messages = [r.getMessage() for r in caplog.records if r.name == "hmi.store.writer"]
    assert sum("unavailable" in m for m in messages) == 1
    assert sum("is back" in m for m in messages) == 1


def test_restarted_writer_forwards_a_leftover_spool(db_url, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append([("left.over", round((T0 + i) * 1e6), float(i), 0) for i in range(2500)])
    spool.close()
    writer = make_writer(db_url, tmp_path, max_batch=1000)
    assert writer.stats().spooled_backlog == 0
    writer.start()
    wait_until(lambda: writer.stats().spooled_backlog == 0 and writer.stats().stored == 2500)
    assert writer.stop()
    assert writer.stats().forwarded == 2500
    assert db_count(db_url) == 2500


def test_stop_with_database_down_spools_the_rest(tmp_path):
    path = tmp_path / "h.sqlite"
    url = f"sqlite:///{path}"
    upgrade(url)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    writer = make_writer(url, tmp_path, busy_timeout_ms=50, flush_interval_s=5.0)
    writer.start()
    writer.consume([tv("a", T0 + i, 1.0) for i in range(700)])
    assert writer.stop()
    assert writer.stats().spooled_backlog == 700 and writer.stats().stored == 0
    locker.execute("ROLLBACK")
    locker.close()
    # The next run forwards it.
    writer = make_writer(url, tmp_path)
    writer.start()
    wait_until(lambda: writer.stats().spooled_backlog == 0)
    assert writer.stop()
    assert db_count(url) == 700


def test_stored_never_exceeds_rows_in_database(db_url, tmp_path):
    writer = make_writer(db_url, tmp_path, flush_interval_s=0.05, max_batch=500)
    writer.start()
    engine = make_engine(db_url)
    try:
        for k in range(40):
            writer.consume([tv(f"s{i}", T0 + k, float(i)) for i in range(200)])
            stored = writer.stats().stored
            with engine.connect() as conn:
                in_db = conn.execute(text("SELECT count(*) FROM samples")).scalar_one()
            assert stored <= in_db
            time.sleep(0.01)
    finally:
        writer.stop()
        engine.dispose()
    assert writer.stats().stored == 8000


_CRASH_CHILD = textwrap.dedent(
    """
    import sys, time
    from hmi.domain.tags import Quality, TagValue
    from hmi.store.writer import HistorianWriter
    writer = HistorianWriter(sys.argv[1], sys.argv[2], flush_interval_s=0.02, max_batch=3000)
    writer.start()
    k, last = 0, -1
    while True:
        writer.consume([TagValue(f"c{i % 20}", float(i), Quality.GOOD, 1.7e9 + k * 0.001 + (i // 20) * 1e-6, 0.0)
                        for i in range(200)])
        k += 1
        stored = writer.stats().stored
        if stored != last:
            print(stored, flush=True)
            last = stored
        time.sleep(0.005)
    """
)


def test_sigkill_mid_write_loses_no_committed_row(tmp_path):
    path = tmp_path / "crash.sqlite"
    url = f"sqlite:///{path}"
    upgrade(url)
    for attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", _CRASH_CHILD, url, str(tmp_path / f"spool{attempt}.sqlite")],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        last_printed = 0
        lines = 0
        kill_after = random.Random(attempt).randint(5, 25)
        assert proc.stdout is not None
        for line in proc.stdout:
            last_printed = int(line)
            lines += 1
            if lines >= kill_after:
                time.sleep(random.Random(attempt).uniform(0, 0.03))  # somewhere inside a flush
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL, "the child died before it was killed"
        assert last_printed > 0
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] >= last_printed
        finally:
            conn.close()
