"""Several collectors writing the same tags into one PostgreSQL keep every rollup bucket equal to its raw samples,
also when the server is stopped (immediate) and started again in the middle of the run."""

from __future__ import annotations

import threading
import time

import pytest

from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from hmi.store.schema import HOUR_US, MINUTE_US
from hmi.store.writer import HistorianWriter
from tests.test_store import _approx, _expected_rollups, _stored_rollups, make_writer, tv, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WRITERS = 4
TAGS = 10
RATE = 1_000  # samples per second per writer (bench/bench_rollups_shared.py runs 4 x 5,000)
SHARED_EVERY = 500  # one instant in 500 is the same sample seen by every writer
BASE = 1_700_006_398.0  # 2 s before an hour boundary: the run's buckets straddle two hours


def feed(writer: HistorianWriter, k: int, stop: threading.Event, instants: list[int]) -> None:
    """Writer k's samples: its own instants (ts = n ms + k µs) and, one in SHARED_EVERY, one all writers share.

    Distinct samples in one bucket from several writers at once are what a rollup could lose (a shared
    sample makes the second writer wait for the first one's commit, so it is kept rare here). All writers start at BASE together, so every bucket is written by all four
    at about the same moment. ``instants[k]`` counts the instants sent.
    """
    per_tick = RATE // 100
    n = 0
    while not stop.is_set():
        batch = []
        for _ in range(per_tick):
            ts = BASE + n * 0.001
            shared = n % SHARED_EVERY == 0
            batch.extend(tv(f"shared.t{t}", ts if shared else ts + (k + 1) * 1e-6, float((n * 7 + t + (0 if shared else k)) % 997))
                         for t in range(TAGS))  # fmt: skip
            n += 1
        writer.consume(batch)
        instants[k] = n
        time.sleep(0.01)


def test_four_writers_on_the_same_tags_keep_rollups_exact_across_a_restart(pg_server, pg_url, tmp_path):
    upgrade(pg_url)
    writers = [make_writer(pg_url, tmp_path / f"w{k}", flush_interval_s=0.05, retry_interval_s=0.3) for k in range(WRITERS)]
    for writer in writers:
        writer.start()
    stop = threading.Event()
    instants = [0] * WRITERS
    feeders = [threading.Thread(target=feed, args=(w, k, stop, instants), daemon=True) for k, w in enumerate(writers)]
    for thread in feeders:
        thread.start()
    try:
        wait_until(lambda: all(w.stats().stored > 2_000 for w in writers), timeout=60, what="every writer storing")
        pg_server.stop("immediate")  # mid-transaction for some of them
        wait_until(lambda: all(w.stats().spooled_backlog > 0 for w in writers), timeout=30, what="every writer spooling")
        pg_server.start()
        wait_until(lambda: all(w.stats().db_ok and w.stats().forwarded > 0 for w in writers), timeout=60,
                   what="every writer forwarding")  # fmt: skip
        time.sleep(2.0)  # a while of live, concurrent writes after the restart
    finally:
        stop.set()
        for thread in feeders:
            thread.join()
        if not pg_server.is_running():
            pg_server.start()
    for writer in writers:
        wait_until(lambda w=writer: (s := w.stats()).spooled_backlog == 0 and s.queued == 0, timeout=120,
                   what="every spool drained")  # fmt: skip
        assert writer.stop()
    assert all(w.stats().dropped == 0 for w in writers)
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            minutes, hours = _expected_rollups(conn, MINUTE_US), _expected_rollups(conn, HOUR_US)
            total = sum(v[3] + v[4] for v in minutes.values())
            assert _approx(_stored_rollups(conn, "rollup_1m")) == _approx(minutes)
            assert _approx(_stored_rollups(conn, "rollup_1h")) == _approx(hours)
    finally:
        engine.dispose()
    # Every distinct sample is stored once: each writer's own instants, and the shared ones once for all.
    shared = [-(-n // SHARED_EVERY) for n in instants]
    assert total == TAGS * (sum(n - s for n, s in zip(instants, shared)) + max(shared))
    assert len(hours) == 2 * TAGS
