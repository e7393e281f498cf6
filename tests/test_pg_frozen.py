"""A PostgreSQL that accepts the connection and never answers: no writer, journal sync or command waits forever.

Two shapes of the fault: a socket on loopback that accepts and never sends a byte, and a real server
frozen with SIGSTOP in the middle of a session (the kernel still accepts and acknowledges; nothing answers).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from hmi.config import ConfigError, DatabaseConfig, parse_config
from hmi.resources import resource_text
from hmi.services.alarm_center import AlarmCenter
from hmi.store.db import make_engine, one_line
from hmi.store.migrate import upgrade
from tests.collector_proc import CollectorProcess
from tests.fixtures_pg import PostgresServer
from tests.test_alarm_center import DEFS
from tests.test_alarm_center import tv as temp
from tests.test_store import T0, make_writer, tv, wait_until

SHORT = DatabaseConfig(connect_timeout_s=2, statement_timeout_s=2)
# A bound reached: the timeout, the client's 1 s grace, and room for a loaded shared machine.
GIVES_UP_S = 2 + 1 + 10


class SilentServer:
    """A TCP port on loopback that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._open = True
        self._thread = threading.Thread(target=self._accept, name="silent-server", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while self._open:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)  # held open, never read, never answered

    def url(self) -> str:
        """A PostgreSQL URL pointing at the silent port."""
        return f"postgresql+psycopg://hmi@127.0.0.1:{self.port}/hmi"

    def close(self) -> None:
        """Stop accepting and drop every held connection."""
        self._open = False
        self._thread.join(5)
        self._listener.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture(scope="module")
def silent() -> Iterator[SilentServer]:
    """The module's silent server."""
    server = SilentServer()
    yield server
    server.close()


def cluster_pids(server: PostgresServer) -> list[int]:
    """The postmaster and every process it started (backends, checkpointer, walwriter, ...)."""
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
            children.append(int(entry))
    return [postmaster, *children]


@contextmanager
def frozen(server: PostgresServer) -> Iterator[None]:
    """The whole cluster stopped with SIGSTOP for the block, resumed with SIGCONT whatever happens."""
    pids = cluster_pids(server)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def hmi(*args: str, timeout: float = 60) -> tuple[int, str, float]:
    """Run `hmi ARGS` as a user would; (exit code, stderr, seconds it took)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hmi.cli", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    return done.returncode, done.stderr, time.monotonic() - started


def short_config(tmp_path: Path) -> Path:
    """The packaged plant's config with [database] connect_timeout_s = 2, as a file."""
    plant = resource_text("plant.toml")
    assert "[database]\n" in plant
    path = tmp_path / "plant.toml"
    path.write_text(plant.replace("[database]\n", "[database]\nconnect_timeout_s = 2\nstatement_timeout_s = 2\n", 1))
    return path


# ---- the settings --------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["connect_timeout_s", "statement_timeout_s"])
@pytest.mark.parametrize("value, says", [("nan", "finite"), ("inf", "finite"), ("-1", "greater than 0"),
                                         ("0", "greater than 0"), ("1e300", "less than or equal")])
def test_a_timeout_that_is_not_a_positive_finite_number_is_refused(key, value, says):
    with pytest.raises(ConfigError) as refused:
        parse_config(resource_text("plant.toml").replace("[database]\n", f"[database]\n{key} = {value}\n", 1), "p.toml")
    message = str(refused.value)
    assert message.startswith("p.toml: ") and f"database.{key}" in message and says in message
    assert "\n" not in message


def test_the_timeouts_default_to_5_and_10_seconds():
    config = parse_config(resource_text("plant.toml"))
    assert (config.database.connect_timeout_s, config.database.statement_timeout_s) == (5.0, 10.0)


# ---- a socket that accepts and never answers -----------------------------------------------


def test_writer_on_a_silent_server_spools_with_the_reason(silent, tmp_path):
    writer = make_writer(silent.url(), tmp_path, database=SHORT)
    writer.start()
    try:
        writer.consume([tv("line1.speed", T0 + i, float(i)) for i in range(50)])
        wait_until(lambda: writer.stats().spooled_backlog == 50, timeout=GIVES_UP_S, what="the batch in the spool")
        stats = writer.stats()
        assert not stats.db_ok
        assert "no answer from the database within 2 s of connecting (connect_timeout_s)" in stats.last_error
    finally:
        assert writer.stop(timeout=GIVES_UP_S)


def test_alarm_journal_sync_on_a_silent_server_gives_up_and_says_why(silent):
    async def main() -> None:
        center = AlarmCenter(DEFS, make_engine(silent.url(), check=False, settings=SHORT), "ws-a", sync_every_s=0.1)
        started = time.monotonic()
        await asyncio.wait_for(center.start(), GIVES_UP_S)
        assert time.monotonic() - started < GIVES_UP_S
        center.consume([temp(85.0)])
        deadline = time.monotonic() + GIVES_UP_S
        while center.stats().last_error == "" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stats = center.stats()
        assert not stats.db_ok and "no answer from the database within 2 s" in stats.last_error
        assert center.active()  # the alarm itself is raised while the journal waits
        await asyncio.wait_for(center.stop(), 2 * GIVES_UP_S)

    asyncio.run(main())


@pytest.mark.parametrize("command", [["history", "tags"], ["alarm", "list"]])
def test_read_command_on_a_silent_server_exits_with_one_line(silent, tmp_path, command):
    code, err, took = hmi(*command, "--config", str(short_config(tmp_path)), "--db", silent.url())
    assert code != 0
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert silent.url() in err and "no answer from the database within 2 s" in err, err
    assert took < GIVES_UP_S, took


def test_read_command_without_a_config_waits_the_default_5_s(silent):
    code, err, took = hmi("history", "tags", "--db", silent.url())
    assert code != 0 and err.count("\n") == 1, err
    assert "no answer from the database within 5 s of connecting" in err, err
    assert 4.5 < took < 5 + 10, took


# ---- a real PostgreSQL frozen in the middle of a session -----------------------------------


@pytest.mark.postgres
def test_a_slow_statement_on_a_live_server_is_cancelled_by_the_server(pg_url):
    engine = make_engine(pg_url, settings=SHORT)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "2s"
            started = time.monotonic()
            with pytest.raises(exc.OperationalError) as cancelled:
                conn.execute(text("SELECT pg_sleep(30)"))
            assert time.monotonic() - started < GIVES_UP_S
            assert one_line(cancelled.value) == "no answer from the database within 2 s (statement_timeout_s)"
        with engine.connect() as conn:  # the server answered: the connection is as good as before
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_long_batch_on_a_server_that_answers_all_along_is_not_cut(pg_url):
    # One executemany is one wait in psycopg (a spool chunk of 50,000 rows is one): 2,000 statements
    # of 2 ms take longer than the 2 s statement timeout and its 1 s grace in all, but the server
    # sends their results all along (a buffer full at a time).
    engine = make_engine(pg_url, settings=SHORT)
    try:
        with engine.connect() as conn:
            started = time.monotonic()
            conn.exec_driver_sql("SELECT pg_sleep(%(s)s)", [{"s": 0.002}] * 2000)
            assert time.monotonic() - started > 3.0
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_frozen_server_writer_spools_journal_and_commands_give_up_then_all_is_forwarded(pg_server, pg_url, tmp_path):
    upgrade(pg_url)
    writer = make_writer(pg_url, tmp_path, database=SHORT)
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

    journal = make_engine(pg_url, check=False, settings=SHORT)
    loop = asyncio.new_event_loop()
    center = AlarmCenter(DEFS, journal, "ws-a", sync_every_s=0.1)
    loop.run_until_complete(center.start())
    runner = threading.Thread(target=loop.run_forever, name="alarm-loop", daemon=True)
    runner.start()
    thread = threading.Thread(target=feeder, daemon=True)
    thread.start()
    try:
        wait_until(lambda: writer.stats().stored > 500 and center.stats().db_ok, what="first rows stored")
        with frozen(pg_server):
            frozen_at = time.monotonic()
            loop.call_soon_threadsafe(center.consume, [temp(85.0)])
            wait_until(lambda: writer.stats().spooled_backlog > 0, timeout=GIVES_UP_S, what="the writer to spool")
            stats = writer.stats()
            assert not stats.db_ok
            assert stats.last_error.startswith("no answer from the database within 2 s"), stats.last_error
            wait_until(lambda: not center.stats().db_ok, timeout=GIVES_UP_S, what="the journal sync to give up")
            assert "no answer from the database within 2 s" in center.stats().last_error
            code, err, took = hmi("history", "tags", "--config", str(short_config(tmp_path)), "--db", pg_url)
            assert code != 0 and err.count("\n") == 1 and "no answer from the database within 2 s" in err, err
            assert took < GIVES_UP_S, took
            # Still frozen: the writer goes on taking samples into the spool, never stuck.
            backlog = writer.stats().spooled_backlog
            wait_until(lambda: writer.stats().spooled_backlog > backlog, timeout=GIVES_UP_S, what="the spool to grow")
            assert time.monotonic() - frozen_at < 4 * GIVES_UP_S
    finally:
        feeding.clear()
        thread.join()
    # Not stored == fed: a commit the client gave up on may still be carried out by the server when it
    # resumes; those rows come again from the spool and are not counted twice (nor stored twice).
    wait_until(lambda: (s := writer.stats()).spooled_backlog == 0 and s.queued == 0 and s.received == fed,
               timeout=90, what="the spool to drain")
    wait_until(lambda: center.stats().db_ok and center.stats().written >= 1, timeout=60, what="the journal to catch up")
    assert writer.stop()
    asyncio.run_coroutine_threadsafe(center.stop(), loop).result(60)
    loop.call_soon_threadsafe(loop.stop)
    runner.join(10)
    journal.dispose()
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            count, distinct = conn.execute(text("SELECT count(*), count(DISTINCT (tag_id, ts_us)) FROM samples")).one()
            activations = conn.execute(text("SELECT count(*) FROM alarm_journal WHERE what = 'activate'")).scalar_one()
    finally:
        engine.dispose()
    assert (count, distinct) == (fed, fed)
    assert activations == 1


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_collector_on_a_frozen_server_says_why_spools_and_forwards_after_the_resume(tmp_path, plc_sim_factory, pg_server, pg_url):
    sim = plc_sim_factory(rate=2, seed=7)
    config = tmp_path / "plant.toml"
    defaults = "connect_timeout_s = 5.0\nstatement_timeout_s = 10.0\n"
    assert defaults in sim.config_text
    config.write_text(sim.config_text.replace(defaults, "connect_timeout_s = 2\nstatement_timeout_s = 2\n", 1))
    collector = CollectorProcess(config, pg_url, status_interval=0.5).start()
    try:
        collector.wait_for(lambda s: s.good > 0 and s.waiting == 0 and s.stored > 50, 60, "all tags good and data stored")
        with frozen(pg_server):
            down = collector.wait_for(lambda s: not s.db_ok, GIVES_UP_S, "the database reported down")
            assert "DOWN (no answer from the database within 2 s" in down.text, down.text
            collector.wait_for(lambda s: s.backlog > down.backlog, GIVES_UP_S, "the spool growing while frozen")
        collector.wait_for(lambda s: s.db_ok and s.backlog == 0, 60, "the spool forwarded after the resume")
    finally:
        code = collector.stop()
    assert code == 0, collector.stderr[-2000:]
    assert "no answer from the database within 2 s" in collector.stderr
