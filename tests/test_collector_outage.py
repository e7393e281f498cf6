"""PostgreSQL away for 60 s while the collector runs under load: the spool takes it, then drains in order."""

from __future__ import annotations

import csv
import time
from collections import defaultdict

import pytest
from sqlalchemy import create_engine, text

from tests.collector_proc import CollectorProcess

OUTAGE_S = 60


def produced(record_path) -> dict[str, list[tuple[int, float]]]:
    """Every numeric value plc_sim wrote, per tag, in order."""
    per_tag: dict[str, list[tuple[int, float]]] = defaultdict(list)
    with open(record_path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                per_tag[row["tag"]].append((int(row["source_ts_us"]), float(row["value"])))
            except ValueError:
                continue
    return per_tag


def deliverable(series: list[tuple[int, float]], first_us: int, last_us: float) -> dict[int, float]:
    """What a subscription delivers from its first value on: each change (an unchanged value raises none).

    The first value is the one the PLC held at ``first_us``: the link stamps a subscription's initial
    value at the time the subscription was made when its source time is older (hmi.io.opcua).
    """
    start = max(i for i, (ts, _) in enumerate(series) if ts <= first_us)
    out = {first_us: series[start][1]}
    for (_, before), (ts, value) in zip(series[start:], series[start + 1 :]):
        if ts > last_us:
            break
        if value != before:
            out[ts] = value
    return out


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_outage_of_60s_spools_then_drains_with_nothing_lost_and_no_duplicates(
    tmp_path, plc_sim_factory, pg_server, pg_url
):
    record = tmp_path / "produced.csv"
    sim = plc_sim_factory(rate=2, extra_tags=100, extra_rate=5, record=record, seed=7)
    config = tmp_path / "plant.toml"
    config.write_text(sim.config_text)
    collector = CollectorProcess(config, pg_url, status_interval=0.5).start()
    try:
        collector.wait_for(lambda s: s.good >= 129 and s.stored > 1000, 30, "all tags good and data stored")

        pg_server.stop()
        down = collector.wait_for(lambda s: not s.db_ok, 15, "the database reported down")
        time.sleep(OUTAGE_S / 2)
        middle = collector.statuses[-1]
        time.sleep(OUTAGE_S / 2)
        late = collector.statuses[-1]
        assert down.backlog < middle.backlog < late.backlog, (down.text, middle.text, late.text)
        assert late.backlog > 500 * OUTAGE_S * 0.8  # about 500 samples/s went to the spool

        pg_server.start()
        drained = collector.wait_for(lambda s: s.db_ok and s.backlog == 0, 90, "the spool drained")
        assert drained.dropped == 0
        time.sleep(2)
        sim_stopped_us = time.time() * 1e6
        assert sim.stop() == 0
        time.sleep(1.5)
        assert collector.stop() == 0
    finally:
        if collector.proc and collector.proc.poll() is None:
            collector.kill()
    assert "spool" in collector.stderr.lower()

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT t.name, s.ts_us, s.value, s.quality FROM samples s JOIN tags t ON t.id = s.tag_id")
        ).all()
        dupes = conn.execute(
            text("SELECT count(*) FROM (SELECT tag_id, ts_us FROM samples GROUP BY tag_id, ts_us HAVING count(*) > 1) d")
        ).scalar()
    engine.dispose()
    assert dupes == 0

    horizon = sim_stopped_us - 2e6  # the last writes before the simulator stopped may not have been published
    got: dict[str, dict[int, float]] = defaultdict(dict)
    for name, ts_us, value, quality in stored:
        if ts_us <= horizon:
            assert quality == 0, (name, ts_us, quality)  # the PLC was there all along: no Bad marker before its stop
            got[name][ts_us] = value

    checked = 0
    for tag, series in produced(record).items():
        expected = deliverable(series, min(got[tag]), horizon)
        actual = {ts: v for ts, v in got[tag].items() if ts <= horizon}
        assert actual == expected, f"{tag}: missing {sorted(set(expected) - set(actual))[:5]}, extra {sorted(set(actual) - set(expected))[:5]}"
        checked += len(expected)
    assert checked > 500 * (OUTAGE_S + 10)
