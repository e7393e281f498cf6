"""`hmi collect` end to end: plc_sim in its own process, the collector in another, rows in the database."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text

from hmi.config import parse_config
from hmi.sim_process import SimProcess
from tests.collector_proc import CollectorProcess

ALL_TAGS = 36  # the packaged plant: 8 twins, their parameters and setpoints


@pytest.fixture
def collectors():
    """Start collectors; any still running at the end are killed."""
    started: list[CollectorProcess] = []

    def start(config, db_url, *extra, status_interval=0.25) -> CollectorProcess:
        c = CollectorProcess(config, db_url, *extra, status_interval=status_interval).start()
        started.append(c)
        return c

    yield start
    for c in started:
        if c.proc and c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait(10)


def write_config(tmp_path, sim: SimProcess, edit=None):
    text_ = sim.config_text if edit is None else edit(sim.config_text)
    path = tmp_path / "plant.toml"
    path.write_text(text_)
    return path


def hmi(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hmi.cli", *args], capture_output=True, text=True, input=stdin, timeout=120
    )


def rows(db_url: str, sql: str, **params):
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def check_history(db_url: str, config_path) -> None:
    """Every configured tag has good samples within its engineering range and no duplicate."""
    plant = parse_config(config_path.read_text()).plant()
    per_tag = dict(
        rows(
            db_url,
            "SELECT t.name, count(*) FROM samples s JOIN tags t ON t.id = s.tag_id WHERE s.quality = 0 GROUP BY t.name",
        )
    )
    missing = [t.tag_id for t in plant.tags if per_tag.get(t.tag_id, 0) == 0]
    assert not missing, f"no good samples stored for {missing}"
    for tag in plant.tags:
        lo, hi = rows(
            db_url,
            "SELECT min(value), max(value) FROM samples s JOIN tags t ON t.id = s.tag_id "
            "WHERE t.name = :n AND s.quality = 0",
            n=tag.tag_id,
        )[0]
        assert tag.eng_low <= lo <= hi <= tag.eng_high, (tag.tag_id, lo, hi)
    dupes = rows(db_url, "SELECT count(*) FROM (SELECT tag_id, ts_us FROM samples GROUP BY tag_id, ts_us HAVING count(*) > 1) d")
    assert dupes[0][0] == 0


def test_collector_stores_every_tag_of_plc_sim_in_sqlite_and_the_cli_reads_it_back(tmp_path, plc_sim_factory, collectors):
    sim = plc_sim_factory(rate=4)
    config = write_config(tmp_path, sim)
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    c = collectors(config, db, "--run-for", "6")
    assert c.proc.wait(60) == 0, c.stderr
    time.sleep(0.2)
    assert c.statuses, c.lines
    final = c.statuses[-1]
    assert final.good == ALL_TAGS and final.bad == 0
    stored = rows(db, "SELECT count(*) FROM samples")[0][0]
    assert final.stored == stored > ALL_TAGS * 10
    check_history(db, config)

    listed = hmi("history", "tags", "--db", db)
    assert listed.returncode == 0, listed.stderr
    assert "drillrig1.torque" in listed.stdout.split() and "transformer1.voltage" in listed.stdout.split()

    exported = hmi("history", "export", "--db", db, "--tag", "drillrig1.torque", "--from", "-10m", "--to", "now")
    assert exported.returncode == 0, exported.stderr
    table = list(csv.reader(io.StringIO(exported.stdout)))
    header, body = table[0], table[1:]
    assert header[:3] == ["time_utc", "value", "quality"]
    assert len(body) == rows(db, "SELECT count(*) FROM samples s JOIN tags t ON t.id=s.tag_id WHERE t.name='drillrig1.torque'")[0][0]
    assert all(r[0].endswith("Z") for r in body) and 0.0 <= float(body[-1][1]) <= 200.0


@pytest.mark.postgres
def test_collector_stores_into_postgresql(tmp_path, plc_sim_factory, collectors, pg_url):
    sim = plc_sim_factory(rate=4)
    config = write_config(tmp_path, sim)
    c = collectors(config, pg_url, "--run-for", "5")
    assert c.proc.wait(60) == 0, c.stderr
    assert c.statuses[-1].stored == rows(pg_url, "SELECT count(*) FROM samples")[0][0] > ALL_TAGS * 5
    check_history(pg_url, config)


@pytest.mark.slow
def test_a_killed_plc_goes_bad_within_2s_comes_back_within_10s_and_history_keeps_the_gap(tmp_path, plc_sim_factory, collectors):
    sim = plc_sim_factory(rate=5)
    config = write_config(tmp_path, sim)
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    c = collectors(config, db, status_interval=0.1)
    c.wait_for(lambda s: s.good == ALL_TAGS, 20, "all tags good")

    killed_wall = time.time()
    sim.kill()
    bad = c.wait_for(lambda s: s.bad == ALL_TAGS and "plc1=down" in s.text, 5, "all tags bad after the kill")
    assert bad.wall - killed_wall < 2.0 + 0.1  # the status line comes every 0.1 s

    time.sleep(3)
    restarted_wall = time.time()  # the PLC is back from the moment it starts again
    sim.restart()
    ready_wall = time.time()
    good = c.wait_for(
        lambda s: s.good == ALL_TAGS and "plc1=up" in s.text and s.stored > bad.stored, 15, "all tags good again"
    )
    assert good.wall - ready_wall < 10.0
    time.sleep(1.5)
    assert c.stop() == 0
    assert "lost" in c.stderr and "is back" in c.stderr

    tag = "drillrig1.torque"
    history = rows(
        db,
        "SELECT s.ts_us, s.value, s.quality FROM samples s JOIN tags t ON t.id = s.tag_id WHERE t.name = :n ORDER BY s.ts_us",
        n=tag,
    )
    lo, hi = killed_wall * 1e6, restarted_wall * 1e6
    during = [r for r in history if lo <= r[0] <= hi]
    # The outage is one Bad marker with no value (a gap), not a line drawn through it.
    assert during and all(r[2] == 2 and r[1] is None for r in during), during
    assert any(r[0] > hi and r[2] == 0 for r in history), "no good samples after the restart"


@pytest.mark.slow
def test_every_sample_reported_stored_survives_a_sigkill_of_the_collector(tmp_path, plc_sim_factory, collectors):
    sim = plc_sim_factory(rate=10, extra_tags=300, extra_rate=10)
    config = write_config(tmp_path, sim)
    path = tmp_path / "h.sqlite"
    db = f"sqlite:///{path}"
    c = collectors(config, db, status_interval=0.1)
    c.wait_for(lambda s: s.stored > 10_000, 40, "10,000 samples stored")
    time.sleep(1.3)
    c.kill()
    time.sleep(0.2)
    reported = max(s.stored for s in c.statuses)
    in_db = rows(db, "SELECT count(*) FROM samples")[0][0]
    assert in_db >= reported > 10_000
    assert rows(db, "PRAGMA integrity_check")[0][0] == "ok"


def test_unknown_nodes_nan_inf_and_text_are_bad_with_a_reason_and_the_rest_keeps_flowing(tmp_path, plc_sim_factory, collectors):
    sim = plc_sim_factory(rate=4, fault_tags=True)

    def add_ghost(cfg: str) -> str:
        return cfg + (
            '\n[twins.drillrig1.parameters.ghost]\nnode_id = "ns=2;s=drillrig1.ghost"\nunit = "Nm"\n'
            "range = [0.0, 1.0]\nband = [0.0, 1.0]\n"
        )

    config = write_config(tmp_path, sim, add_ghost)
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    c = collectors(config, db, "--run-for", "5")
    assert c.proc.wait(60) == 0, c.stderr
    log = c.stderr
    assert "drillrig1.ghost: node ns=2;s=drillrig1.ghost does not exist on plc1 (BadNodeIdUnknown)" in log
    assert "faults.nan: not a finite number" in log
    assert "faults.inf: not a finite number" in log
    assert "faults.text: expected a number, got str" in log
    bad_tags = {"drillrig1.ghost", "faults.nan", "faults.inf", "faults.text"}
    final = c.statuses[-1]
    assert final.bad == len(bad_tags)
    assert final.good == ALL_TAGS  # the whole plant keeps flowing
    for tag in bad_tags:
        stored = rows(
            db, "SELECT value, quality FROM samples s JOIN tags t ON t.id = s.tag_id WHERE t.name = :n", n=tag
        )
        assert stored and all(v is None and q == 2 for v, q in stored), (tag, stored[:3])
    assert rows(
        db, "SELECT count(*) FROM samples s JOIN tags t ON t.id = s.tag_id WHERE t.name = 'drillrig1.torque' AND quality = 0"
    )[0][0] > 5


def test_a_config_with_a_typo_stops_before_anything_connects(tmp_path):
    bad = tmp_path / "plant.toml"
    from hmi.resources import resource_text

    bad.write_text(resource_text("plant.toml").replace("deadband = 0.0", "deadbnad = 0.0", 1))
    result = hmi("collect", "--config", str(bad), "--db", f"sqlite:///{tmp_path / 'h.sqlite'}", "--run-for", "1")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"{bad}: twins.drillrig1.parameters.torque.deadbnad: unknown key" in lines[0]
    assert not (tmp_path / "h.sqlite").exists()


def test_a_database_that_is_not_there_at_start_is_spooled_for_and_the_reason_said(tmp_path):
    result = hmi("collect", "--db", "postgresql+psycopg://hmi@127.0.0.1:1/nope", "--run-for", "2.5",
                 "--status-interval", "0.5")
    assert result.returncode == 0, result.stderr  # it collects (into the spool) instead of refusing to start
    assert "Traceback" not in result.stderr
    statuses = [line for line in result.stdout.splitlines() if "| db " in line]
    assert statuses and all("db DOWN (connecting)" in s or "db DOWN (connection refused)" in s for s in statuses), statuses
    assert "db DOWN (connection refused)" in statuses[-1]
    assert "127.0.0.1:1/nope is unavailable: connection refused" in result.stderr and "spooling to" in result.stderr


def test_db_upgrade_creates_the_schema_and_is_idempotent(tmp_path):
    db = f"sqlite:///{tmp_path / 'new.sqlite'}"
    first = hmi("db", "upgrade", "--db", db)
    second = hmi("db", "upgrade", "--db", db)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "database at schema" in first.stdout and "(upgraded from none)" in first.stdout
    assert "(already there)" in second.stdout
    assert first.stderr == "" and second.stderr == ""  # alembic's INFO lines only with -v
    names = {r[0] for r in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"tags", "samples"} <= names


def test_export_of_an_unknown_tag_or_a_bad_time_says_what_is_wrong(tmp_path):
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    assert hmi("db", "upgrade", "--db", db).returncode == 0
    unknown = hmi("history", "export", "--db", db, "--tag", "drillrig1.torqe")
    assert unknown.returncode == 1 and "no history for tag 'drillrig1.torqe'" in unknown.stderr
    bad_time = hmi("history", "export", "--db", db, "--tag", "x", "--from", "last tuesday")
    assert bad_time.returncode == 1 and "cannot read the time 'last tuesday'" in bad_time.stderr
