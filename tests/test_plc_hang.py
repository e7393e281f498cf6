"""A PLC that hangs (SIGSTOP) and resumes (SIGCONT), and a PLC that is not there: what `hmi collect` shows.

After a resume the session is reactivated, not recreated, so the server sends no initial values:
the tags whose value does not change (the setpoints, status tags) must be read again, and what is
read again is the value at the time of the read: a setpoint's own source timestamp is older than the
Bad sample of the hang, so the historian and the trend would put the Good value behind it.
"""

from __future__ import annotations

import os
import re
import signal
import time

import asyncio

import pytest
from sqlalchemy import create_engine, text

from hmi.config import parse_config
from hmi.domain.plant import TagKind
from hmi.domain.tags import Quality, TagValue
from hmi.io.opcua import OpcUaSource
from hmi.sim_process import free_port
from tests.collector_proc import CollectorProcess
from tests.fixtures_plc import run_plc_sim

ALL_TAGS = 36  # the packaged plant: 8 twins, their parameters and setpoints
# The issue says 20 s. The fault is the same for any stop from the watchdog's detection (1-2 s) to the
# server's session timeout (600 s): the session is reactivated, not recreated. Before the fix it showed
# at 3, 5, 8 and 20 s, every time. 8 s is longer than the connect timeout (4 s), so a whole reconnect
# attempt fails and another waits in the stopped server's listen backlog, as in a longer hang; set
# HMI_TEST_PLC_HANG_S=20 for the figure.
HANG_S = float(os.environ.get("HMI_TEST_PLC_HANG_S", "8"))
GOOD_AFTER_RESUME_S = 10.0


def stopped_line(collector: CollectorProcess) -> str:
    """The line `hmi collect` prints when it has stopped."""
    lines = [line for line in collector.lines if " stopped; " in line]
    assert lines, collector.lines[-5:]
    return lines[-1]


def log_lines(collector: CollectorProcess, pattern: str) -> list[str]:
    """The collector's log lines (stderr) that match a pattern."""
    return [line for line in collector.stderr.splitlines() if re.search(pattern, line)]


def history(db_url: str, tag: str) -> list[tuple[float, int]]:
    """(time in s, quality) of every stored sample of a tag, oldest first: what a trend or an export shows."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT s.ts_us, s.quality FROM samples s JOIN tags t ON t.id = s.tag_id "
                                     "WHERE t.name = :n ORDER BY s.ts_us"), {"n": tag}).all()
    finally:
        engine.dispose()
    return [(ts_us / 1e6, quality) for ts_us, quality in rows]


def setpoints(config_text: str) -> list[str]:
    """The setpoint tags of a plant: values that do not change unless someone writes them."""
    return [t.tag_id for t in parse_config(config_text).plant().tags if t.kind is TagKind.SETPOINT]


@pytest.mark.slow
def test_a_plc_that_hangs_then_resumes_has_every_tag_good_within_10s_and_says_why(tmp_path, plc_sim_factory):
    sim = plc_sim_factory(seed=1, rate=5)
    config = tmp_path / "plant.toml"
    config.write_text(sim.config_text)
    db_url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    collector = CollectorProcess(config, db_url, status_interval=0.25).start()
    try:
        collector.wait_for(lambda s: s.good == ALL_TAGS and "plc1=up" in s.text, 30, "all tags good")

        hung_wall = time.time()
        hung_at = time.monotonic()
        os.kill(sim.proc.pid, signal.SIGSTOP)
        try:
            down = collector.wait_for(lambda s: s.bad == ALL_TAGS and "plc1=down" in s.text, 10,
                                      "every tag bad while the PLC hangs")
            # The reason of the fault, not only that it is down.
            assert re.search(r"plc1=down \(no answer from the PLC for \d+ s\)", down.text), down.text
            time.sleep(max(0.0, HANG_S - (time.monotonic() - hung_at)))
            assert collector.statuses[-1].bad == ALL_TAGS, collector.statuses[-1].text
        finally:
            os.kill(sim.proc.pid, signal.SIGCONT)
        resumed_wall = time.time()

        good = collector.wait_for(lambda s: s.good == ALL_TAGS and s.bad == 0 and "plc1=up" in s.text,
                                  GOOD_AFTER_RESUME_S + 5, "every tag good again after the resume")
        assert good.wall - resumed_wall <= GOOD_AFTER_RESUME_S, good.text
        assert collector.stop() == 0
    finally:
        if collector.proc and collector.proc.poll() is None:
            collector.kill()

    assert "plc1=stopped" in stopped_line(collector) and "plc1=up" not in stopped_line(collector)
    # One line for each change of the link, with its reason: no flood while it is away.
    lost = log_lines(collector, r"plc1: connection to \S+ lost")
    assert len(lost) == 1 and "no answer from the PLC" in lost[0], lost
    back = log_lines(collector, r"plc1: connection to \S+ is back")
    assert len(back) == 1 and "36 tags read again" in back[0], back
    assert len(log_lines(collector, r"plc1:")) <= 4, collector.stderr[-3000:]

    # The historian: every setpoint (unchanged all along) is Good again after the Bad of the hang.
    names = setpoints(sim.config_text)
    assert "drillrig1.setpoint" in names
    for tag in names:
        rows = history(db_url, tag)
        bad = [ts for ts, quality in rows if quality != 0 and hung_wall <= ts <= resumed_wall]
        assert bad, (tag, rows)
        assert any(quality == 0 and ts > max(bad) for ts, quality in rows), (tag, rows)


def test_a_collector_without_its_plc_says_why_in_the_status_line_and_stopped_at_exit(tmp_path):
    port = free_port()  # nothing listens there
    printed = run_plc_sim("--port", str(port), "--print-config")
    assert printed.returncode == 0, printed.stderr
    config = tmp_path / "plant.toml"
    config.write_text(printed.stdout)
    collector = CollectorProcess(config, f"sqlite:///{tmp_path / 'h.sqlite'}", "--run-for", "4",
                                 status_interval=0.25).start()
    try:
        down = collector.wait_for(lambda s: "plc1=down" in s.text, 20, "plc1 down")
        assert "plc1=down (connection refused)" in down.text, down.text
        assert collector.proc.wait(60) == 0, collector.stderr
    finally:
        if collector.proc and collector.proc.poll() is None:
            collector.kill()
    time.sleep(0.2)  # the reader thread takes the last line
    assert "plc1=stopped" in stopped_line(collector), stopped_line(collector)
    refused = log_lines(collector, r"plc1: cannot connect")
    assert len(refused) == 1 and "connection refused" in refused[0], collector.stderr


def test_the_status_bar_says_why_a_link_is_down_and_that_a_stopped_one_is_not_up(qapp):
    from hmi.io.link import LinkState, LinkStatus
    from hmi.ui.status_bar import link_text

    down = LinkStatus.now("plc1", LinkState.DOWN, "connection to plc1 lost: no answer from the PLC for 2 s",
                          "no answer from the PLC for 2 s")
    assert link_text(down) == ("▲ plc1 DOWN (no answer from the PLC for 2 s)", "down")
    assert link_text(LinkStatus.now("plc1", LinkState.STOPPED, "stopped by the HMI")) == ("▲ plc1 stopped", "down")
    assert link_text(LinkStatus.now("plc1", LinkState.UP, "connected")) == ("● plc1 up", "up")


def test_the_first_value_after_connect_of_an_unchanged_setpoint_is_stamped_at_or_after_the_connect(plc_sim):
    """Its source timestamp is when the PLC started: behind the collector's 'no data' marker of a restart."""
    config = parse_config(plc_sim.config_text)
    names = setpoints(plc_sim.config_text)
    first: dict[str, TagValue] = {}

    def publish(batch) -> None:
        for tv in batch:
            first.setdefault(tv.tag, tv)

    async def connect() -> float:
        source = OpcUaSource(config.endpoints[0], config.plant().tags, publish)
        connect_at = time.time()
        task = asyncio.create_task(source.run())
        try:
            deadline = time.monotonic() + 30
            while len(first) < len(config.plant().tags) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await source.stop()
            await task
        return connect_at

    time.sleep(0.5)  # the setpoints were set when plc-sim started; the collector connects later
    connect_at = asyncio.run(connect())
    assert sorted(first) == sorted(t.tag_id for t in config.plant().tags)
    for tag in names:
        tv = first[tag]
        assert tv.quality is Quality.GOOD and tv.value is not None, tv
        assert tv.source_ts >= connect_at, (tag, tv.source_ts - connect_at)
