"""The database at the collector's start: down, without the schema, locked by three other collectors; and kill -9.

Each test runs real processes: plc_sim, `hmi collect`, PostgreSQL started after the collector.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from hmi.store.migrate import head_revision, upgrade
from tests.collector_proc import CollectorProcess
from tests.fixtures_pg import PostgresServer, _bindir
from tests.test_collector_outage import deliverable, produced

NO_SCHEMA = "no schema: run hmi db upgrade"
GAP_REASON = "no data: collector stopped"


def hmi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hmi.cli", *args], capture_output=True, text=True, timeout=120)


def rows(url: str, sql: str, **params) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout} s")


@pytest.fixture
def collectors() -> Iterator:
    """Start collectors; any still running at the end are killed."""
    started: list[CollectorProcess] = []

    def start(*args, **kwargs) -> CollectorProcess:
        c = CollectorProcess(*args, **kwargs).start()
        started.append(c)
        return c

    yield start
    for c in started:
        if c.proc and c.proc.poll() is None:
            c.kill()


@pytest.fixture(scope="module")
def pg_later() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own, which the tests stop and start (the session's stays up for others)."""
    bindir = _bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries not found; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip("PostgreSQL server binaries not found (apt-get install -y postgresql)")
    server = PostgresServer(bindir)
    server.init()
    server.start()
    server.watch(os.getpid())
    yield server
    server.destroy()


def stop_simulator_then_collector(sim, collector) -> float:
    """Stop plc_sim, then (once its last values are in) the collector; when the simulator stopped, in µs."""
    time.sleep(1.5)
    stopped_us = time.time() * 1e6
    assert sim.stop() == 0
    time.sleep(1.5)
    assert collector.stop() == 0
    return stopped_us


def assert_history_complete(url: str, record, sim_stopped_us: float) -> int:
    """Every value plc_sim produced from each tag's first stored one on is stored once, Good: no gap, no duplicate."""
    stored = rows(url, "SELECT t.name, s.ts_us, s.value, s.quality FROM samples s JOIN tags t ON t.id = s.tag_id")
    horizon = sim_stopped_us - 2e6  # the last writes before the simulator stopped may not have been published
    got: dict[str, dict[int, float]] = defaultdict(dict)
    for name, ts_us, value, quality in stored:
        if ts_us <= horizon:
            assert quality == 0, (name, ts_us, quality)  # the PLC was there all along
            got[name][ts_us] = value
    checked = 0
    for tag, series in produced(record).items():
        assert got[tag], f"{tag}: nothing stored"
        expected = deliverable(series, min(got[tag]), horizon)
        actual = {ts: v for ts, v in got[tag].items() if ts <= horizon}
        assert actual == expected, f"{tag}: missing {sorted(set(expected) - set(actual))[:5]}, extra {sorted(set(actual) - set(expected))[:5]}"
        checked += len(expected)
    return checked


@pytest.mark.slow
@pytest.mark.postgres
def test_collector_started_with_postgresql_down_spools_then_forwards_everything_when_it_starts(
    tmp_path, plc_sim_factory, pg_later, collectors
):
    if not pg_later.is_running():
        pg_later.start()
    pg_later.admin('CREATE DATABASE "down_at_start"')
    url = pg_later.url("down_at_start")
    upgrade(url)
    pg_later.stop()

    record = tmp_path / "produced.csv"
    sim = plc_sim_factory(rate=5, record=record, seed=3)
    config = tmp_path / "plant.toml"
    config.write_text(sim.config_text)
    collector = collectors(config, url, status_interval=0.5, migrate=False)
    first = collector.wait_for(lambda s: True, 30, "a status line")
    assert not first.db_ok and first.db_reason in ("connecting", "connection refused"), first.text
    down = collector.wait_for(lambda s: s.good == 36 and s.backlog > 100 and s.db_reason == "connection refused", 30,
                              "all tags good, samples spooled, the reason said")  # fmt: skip
    assert not down.db_ok
    assert down.stored == 0
    time.sleep(4)
    assert collector.proc.poll() is None
    assert "is unavailable: connection refused" in collector.stderr and "spooling to" in collector.stderr

    pg_later.start()
    drained = collector.wait_for(lambda s: s.db_ok and s.backlog == 0 and s.stored > down.backlog, 60,
                                 "the spool forwarded")  # fmt: skip
    assert drained.dropped == 0
    sim_stopped_us = stop_simulator_then_collector(sim, collector)
    assert "is back after" in collector.stderr
    assert "alembic" not in collector.stderr  # no migration, and none of alembic's INFO lines
    assert assert_history_complete(url, record, sim_stopped_us) > 36 * 10


@pytest.mark.slow
@pytest.mark.postgres
def test_a_database_without_schema_is_spooled_for_until_hmi_db_upgrade_runs_and_never_migrated_by_the_collector(
    tmp_path, plc_sim_factory, pg_later, collectors
):
    if not pg_later.is_running():
        pg_later.start()
    pg_later.admin('CREATE DATABASE "no_schema"')
    url = pg_later.url("no_schema")

    record = tmp_path / "produced.csv"
    sim = plc_sim_factory(rate=5, record=record, seed=4)
    config = tmp_path / "plant.toml"
    config.write_text(sim.config_text)
    collector = collectors(config, url, status_interval=0.5, migrate=False)
    waiting = collector.wait_for(lambda s: s.db_reason == NO_SCHEMA and s.good == 36 and s.backlog > 100, 30,
                                 "'run hmi db upgrade' with samples spooled")  # fmt: skip
    time.sleep(3)  # a few retries more
    later = collector.statuses[-1]
    assert not later.db_ok and later.db_reason == NO_SCHEMA and later.backlog > waiting.backlog, later.text
    assert "run hmi db upgrade" in collector.stderr
    assert rows(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'") == []

    upgraded = hmi("db", "upgrade", "--db", url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip().endswith(f"database at schema {head_revision()} (upgraded from none)")
    assert upgraded.stderr == ""  # alembic's INFO lines only with -v
    drained = collector.wait_for(lambda s: s.db_ok and s.backlog == 0 and s.stored > later.backlog, 60,
                                 "the spool forwarded after hmi db upgrade")  # fmt: skip
    assert drained.dropped == 0
    sim_stopped_us = stop_simulator_then_collector(sim, collector)
    assert assert_history_complete(url, record, sim_stopped_us) > 36 * 10


@pytest.mark.slow
def test_four_collectors_started_at_once_on_a_fresh_sqlite_file_all_run_and_the_schema_is_created_once(
    tmp_path, plc_sim_factory, collectors
):
    sim = plc_sim_factory(rate=2, seed=5)
    config = tmp_path / "plant.toml"
    config.write_text(sim.config_text)
    path = tmp_path / "fresh.sqlite"
    url = f"sqlite:///{path}"
    four = [collectors(config, url, status_interval=0.25, migrate=False) for _ in range(4)]
    wait_until(lambda: all(len(c.statuses) >= 8 or c.proc.poll() is not None for c in four), 90, "status lines")
    time.sleep(2)
    assert [c.proc.poll() for c in four] == [None] * 4, [c.stderr[-500:] for c in four]  # none gave up
    assert all(c.statuses[-1].db_reason == NO_SCHEMA for c in four), [c.statuses[-1].text for c in four]
    assert rows(url, "SELECT name FROM sqlite_master WHERE type = 'table'") == []  # no collector made the schema
    spooled = [c.statuses[-1].backlog for c in four]
    assert min(spooled) > 20, spooled

    # Four upgrades at once too: one creates the schema, the others wait for its lock and find it there.
    upgrades = [subprocess.Popen([sys.executable, "-m", "hmi.cli", "db", "upgrade", "--db", url],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outcomes = [(p.wait(120), *p.communicate()) for p in upgrades]
    assert [code for code, _, _ in outcomes] == [0] * 4, outcomes
    assert sum("(upgraded from none)" in out for _, out, _ in outcomes) == 1, outcomes
    assert sum("(already there)" in out for _, out, _ in outcomes) == 3, outcomes
    assert rows(url, "SELECT version_num FROM alembic_version") == [(head_revision(),)]

    # Each forwards what it spooled (its backlog drains). Four collectors of one PLC write the same samples:
    # what one stored first is a duplicate for the others, so one of them may count none as its own.
    for c in four:
        c.wait_for(lambda s: s.db_ok and s.backlog < min(spooled) / 2, 60, "the spool forwarded")
    assert sum(c.statuses[-1].stored for c in four) > 0
    assert rows(url, "SELECT count(DISTINCT tag_id) FROM samples") == [(36,)]
    assert [c.proc.poll() for c in four] == [None] * 4
    assert "database is locked" not in "".join(c.stderr for c in four)
    assert [c.stop() for c in four] == [0] * 4


@pytest.mark.slow
def test_kill_9_of_the_collector_leaves_a_bad_marker_after_each_good_tag_and_the_restart_ends_the_gap(
    tmp_path, plc_sim_factory, collectors
):
    sim = plc_sim_factory(rate=5, seed=6)
    config = tmp_path / "plant.toml"
    config.write_text(sim.config_text)
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    first = collectors(config, url, status_interval=0.25)
    first.wait_for(lambda s: s.good == 36 and s.stored > 200, 60, "all tags good, samples stored")
    killed_us = time.time() * 1e6
    first.kill()

    newest = {name: (ts, q) for name, ts, q in rows(url, """
        SELECT t.name, s.ts_us, s.quality FROM samples s JOIN tags t ON t.id = s.tag_id
        WHERE s.ts_us = (SELECT max(ts_us) FROM samples WHERE tag_id = s.tag_id)""")}  # fmt: skip
    was_good = {name for name, (_, q) in newest.items() if q == 0}
    assert len(was_good) == 36
    assert rows(url, "SELECT count(*) FROM samples WHERE quality = 2") == [(0,)]

    time.sleep(1)
    second = collectors(config, url, status_interval=0.25)
    markers_sql = """SELECT t.name, s.ts_us, s.value, s.quality FROM samples s JOIN tags t ON t.id = s.tag_id
                     WHERE s.reason = :reason"""
    wait_until(lambda: len(rows(url, markers_sql, reason=GAP_REASON)) >= len(was_good), 60, "gap markers")
    markers = rows(url, markers_sql, reason=GAP_REASON)
    assert sorted(name for name, *_ in markers) == sorted(was_good)  # one per tag that was Good, no more
    for name, ts_us, value, quality in markers:
        assert (value, quality) == (None, 2), name
        # After the tag's last stored sample, no later than the kill: the samples lost in memory are inside the gap.
        assert newest[name][0] < ts_us <= killed_us, (name, newest[name][0], ts_us, killed_us)

    # The restarted collector ends every gap, also for the setpoints whose value (and PLC time) did not change.
    ended_sql = """SELECT count(DISTINCT t.name) FROM samples s JOIN tags t ON t.id = s.tag_id
                   WHERE s.quality = 0 AND s.ts_us > (SELECT m.ts_us FROM samples m WHERE m.tag_id = s.tag_id
                                                      AND m.reason = :reason)"""
    wait_until(lambda: rows(url, ended_sql, reason=GAP_REASON)[0][0] == len(was_good), 60, "every gap ended")
    assert second.stop() == 0
    assert "no data since the collector stopped" in second.stderr


# ---- the gap marker's rules, on the writer alone --------------------------------------------------------

T0 = 1_700_000_000.0


def _tv(tag: str, ts: float, value: float | None = 1.0, received: float | None = None):
    from hmi.domain.tags import Quality, TagValue

    quality = Quality.GOOD if value is not None else Quality.BAD
    return TagValue(tag, value, quality, ts, ts if received is None else received)


def _run_writer(url: str, spool, tags, batches=(), *, until=lambda w: True) -> None:
    from hmi.store.writer import HistorianWriter

    writer = HistorianWriter(url, spool, flush_interval_s=0.05, retry_interval_s=0.1, tags=tags)
    writer.start()
    for batch in batches:
        writer.consume(batch)
    wait_until(lambda: writer.stats().db_ok and writer.stats().queued == 0 and until(writer), 10, "the writer's flush")
    assert writer.stop()


def test_markers_only_for_own_tags_whose_newest_sample_is_good_and_not_newer_than_the_stop(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    upgrade(url)
    spool = tmp_path / "spool.sqlite"
    # The previous run: four tags of ours and one of another collector's.
    _run_writer(url, spool, ["a", "b", "c", "quiet"], [[
        _tv("a", T0), _tv("b", T0), _tv("b", T0 + 1, None), _tv("c", T0), _tv("quiet", T0 - 3600), _tv("theirs", T0),
    ]])  # fmt: skip
    # Meanwhile another collector writes c again, later than this one's stop.
    later = time.time() + 60
    _run_writer(url, tmp_path / "other-spool.sqlite", [], [[_tv("c", later)]])
    before = time.time()
    _run_writer(url, spool, ["a", "b", "c", "quiet"], until=lambda w: w.stats().gap_marks > 0)
    marks = dict(rows(url, "SELECT t.name, s.ts_us FROM samples s JOIN tags t ON t.id = s.tag_id WHERE s.reason = :r",
                      r=GAP_REASON))  # fmt: skip
    # b's newest is Bad already, c has a newer sample from the other collector, theirs is not ours.
    assert sorted(marks) == ["a", "quiet"]
    # Not at the quiet tag's last change an hour before: it was known, unchanged, until the writer stopped.
    assert T0 * 1e6 < marks["quiet"] <= before * 1e6 and marks["quiet"] == marks["a"]


def test_no_markers_while_another_process_writes_through_the_same_spool(tmp_path):
    from hmi.store.spool import Spool

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    upgrade(url)
    spool_path = tmp_path / "spool.sqlite"
    _run_writer(url, spool_path, ["a"], [[_tv("a", T0)]])
    # A window beside the collector: a live process recorded in the spool (this test's parent, surely alive).
    spool = Spool(spool_path)
    spool._conn.execute("INSERT INTO runs (pid, started_us, alive_us) VALUES (?, 0, 0)", (os.getppid(),))
    spool.close()
    _run_writer(url, spool_path, ["a"])
    assert rows(url, "SELECT count(*) FROM samples WHERE reason IS NOT NULL") == [(0,)]


def test_an_unchanged_value_read_again_after_the_marker_is_stored_at_its_receive_time(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    upgrade(url)
    spool = tmp_path / "spool.sqlite"
    _run_writer(url, spool, ["sp"], [[_tv("sp", T0, 42.0)]])
    received = time.time() + 1
    # The PLC still stamps the setpoint with the time it was set: the same sample, received again.
    _run_writer(url, spool, ["sp"], [[_tv("sp", T0, 42.0, received=received)]],
                until=lambda w: w.stats().gap_marks == 1 and w.stats().stored >= 1)  # fmt: skip
    series = rows(url, "SELECT s.ts_us, s.value, s.quality, s.reason FROM samples s ORDER BY s.ts_us")
    assert series[0] == (round(T0 * 1e6), 42.0, 0, None)
    assert series[1][1:] == (None, 2, GAP_REASON)
    assert series[2] == (round(received * 1e6), 42.0, 0, None)  # the gap ends when the value was seen again
    assert len(series) == 3


def test_with_the_database_locked_at_start_the_markers_wait_for_it_and_precede_this_runs_samples(tmp_path):
    import sqlite3

    from hmi.store.writer import HistorianWriter

    path = tmp_path / "h.sqlite"
    url = f"sqlite:///{path}"
    upgrade(url)
    spool = tmp_path / "spool.sqlite"
    _run_writer(url, spool, ["a"], [[_tv("a", T0, 1.0)]])
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another program holds the write lock as this run starts
    writer = HistorianWriter(url, spool, flush_interval_s=0.05, retry_interval_s=0.1, retry_max_s=0.2,
                             busy_timeout_ms=50, tags=["a"])  # fmt: skip
    writer.start()
    try:
        now = time.time()
        writer.consume([_tv("a", now, 2.0)])
        wait_until(lambda: writer.stats().spooled_backlog == 1 and writer.stats().last_error == "database is locked", 10,
                   "the sample spooled with the reason")  # fmt: skip
        assert rows(url, "SELECT count(*) FROM samples") == [(1,)]  # no marker, nothing of this run yet
        locker.execute("ROLLBACK")
        wait_until(lambda: writer.stats().gap_marks == 1 and writer.stats().spooled_backlog == 0 and writer.stats().db_ok,
                   10, "the marker, then the spool forwarded")  # fmt: skip
    finally:
        locker.close()
        assert writer.stop()
    series = rows(url, "SELECT ts_us, value, quality, reason FROM samples ORDER BY ts_us")
    assert [(v, q, r) for _, v, q, r in series] == [(1.0, 0, None), (None, 2, GAP_REASON), (2.0, 0, None)]
    assert series[1][0] < round(now * 1e6)
