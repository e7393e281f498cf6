"""The historian against a PostgreSQL server that goes away while samples keep coming."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from tests.test_store import T0, make_writer, tv, wait_until

pytestmark = pytest.mark.postgres


def _outage(pg_server, pg_url, tmp_path, down_s: float, caplog) -> None:
    upgrade(pg_url)
    writer = make_writer(pg_url, tmp_path, flush_interval_s=0.1, retry_interval_s=0.5)
    writer.start()
    fed = 0
    feeding = threading.Event()
    feeding.set()

    def feeder() -> None:
        nonlocal fed
        while feeding.is_set():
            writer.consume([tv(f"line{i}.speed", T0 + fed * 0.001 + i * 1e-6, float(fed + i)) for i in range(20)])
            fed += 20
            time.sleep(0.01)

    thread = threading.Thread(target=feeder, daemon=True)
    thread.start()
    try:
        wait_until(lambda: writer.stats().stored > 500, what="first rows stored")
        pg_server.stop("immediate")  # connections drop, possibly in the middle of a write
        time.sleep(down_s)
        during = writer.stats()
        assert not during.db_ok and during.last_error
        assert during.spooled_backlog > 0
        pg_server.start()
        time.sleep(1.0)
    finally:
        feeding.clear()
        thread.join()
        if not pg_server.is_running():
            pg_server.start()
    wait_until(lambda: (s := writer.stats()).spooled_backlog == 0 and s.queued == 0 and s.stored == fed,
               timeout=60, what="the spool to drain")
    assert writer.stop()
    stats = writer.stats()
    assert stats.db_ok and stats.dropped == 0 and stats.forwarded > 0
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        count, distinct = conn.execute(text("SELECT count(*), count(DISTINCT (tag_id, ts_us)) FROM samples")).one()
        values = conn.execute(text("SELECT count(DISTINCT value) FROM samples")).scalar_one()
    engine.dispose()
    assert (count, distinct, values) == (fed, fed, fed)
    messages = [r.getMessage() for r in caplog.records if r.name == "hmi.store.writer"]
    assert sum("unavailable" in m for m in messages) == 1, messages
    assert sum("is back" in m for m in messages) == 1, messages


def test_short_outage_spools_and_drains_without_loss(pg_server, pg_url, tmp_path, caplog):
    _outage(pg_server, pg_url, tmp_path, down_s=3, caplog=caplog)


@pytest.mark.slow
def test_one_minute_outage_spools_and_drains_without_loss(pg_server, pg_url, tmp_path, caplog):
    _outage(pg_server, pg_url, tmp_path, down_s=60, caplog=caplog)
