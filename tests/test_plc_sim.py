"""plc_sim: the signal model (pure, fake clock) and the real server process (asyncua client, no mocks)."""

from __future__ import annotations

import asyncio
import csv
import json
import math
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from asyncua import Client, ua

from hmi.config import load_config, parse_config
from hmi.domain.plant import TagKind
from plc_sim.episodes import EpisodeScheduler, TwinState
from plc_sim.model import DAY, PlantModel, SimParam, Tuning
from plc_sim.plant import simulated_plant, to_toml
from tests.fixtures_plc import run_plc_sim

T0 = 1_700_000_000.0


def default_params() -> list[SimParam]:
    return [SimParam.from_tag(t) for t in load_config().plant().tags]


def run_model(model: PlantModel, times) -> np.ndarray:
    return np.array([model.step(t)[0] for t in times])


# ---- the model, with a fake clock ----------------------------------------------------------------


def test_model_is_deterministic_given_the_seed():
    times = T0 + np.arange(1, 500) * 60.0
    a = run_model(PlantModel(default_params(), seed=7, start_time=T0, episode_every_s=3600), times)
    b = run_model(PlantModel(default_params(), seed=7, start_time=T0, episode_every_s=3600), times)
    c = run_model(PlantModel(default_params(), seed=8, start_time=T0, episode_every_s=3600), times)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_model_values_sit_near_the_band_and_inside_the_range():
    params = default_params()
    model = PlantModel(params, seed=1, start_time=T0, episode_every_s=None)
    values = run_model(model, T0 + np.arange(1, 2000) * 30.0)
    produced = [p for p in params if p.kind != TagKind.SETPOINT]
    for k, p in enumerate(produced):
        col = values[:, k]
        assert col.min() >= p.eng_low and col.max() <= p.eng_high, p.tag_id
        if p.kind == TagKind.ANALOG:
            assert p.band_low <= np.median(col) <= p.band_high, p.tag_id
            assert col.std() > 0, p.tag_id


def test_daily_cycle_repeats_every_simulated_day():
    tuning = Tuning(noise=0.0, drift=0.0, excursions_per_day=0.0, daily=0.2)
    model = PlantModel(default_params(), seed=3, start_time=T0, episode_every_s=None, tuning=tuning)
    morning = model.step(T0 + 3 * 3600)[0]
    evening = model.step(T0 + 15 * 3600)[0]
    next_morning = model.step(T0 + DAY + 3 * 3600)[0]
    analog = [k for k, tag in enumerate(model.produced_tags) if not tag.endswith("status")]
    assert np.allclose(morning[analog], next_morning[analog], atol=1e-6)
    assert not np.allclose(morning[analog], evening[analog], atol=1e-3)


def test_values_are_clamped_to_the_engineering_range():
    tuning = Tuning(noise=5.0, drift=2.0, daily=3.0)  # far wider than the range
    params = default_params()
    model = PlantModel(params, seed=5, start_time=T0, episode_every_s=None, tuning=tuning)
    values = run_model(model, T0 + np.arange(1, 300) * 10.0)
    produced = [p for p in params if p.kind != TagKind.SETPOINT]
    low = np.array([p.eng_low for p in produced])
    high = np.array([p.eng_high for p in produced])
    assert (values >= low).all() and (values <= high).all()
    assert (values == low).any() and (values == high).any()


def test_primary_parameter_follows_the_setpoint_with_a_lag():
    tuning = Tuning(noise=0.0, drift=0.0, daily=0.0, excursions_per_day=0.0, setpoint_tau_s=30.0)
    model = PlantModel(default_params(), seed=1, start_time=T0, episode_every_s=None, tuning=tuning)
    torque = model.produced_tags.index("drillrig1.torque")
    assert model.step(T0 + 1)[0][torque] == pytest.approx(100.0)
    model.set_setpoint("drillrig1", 180.0)
    after_one_tau = model.step(T0 + 31)[0][torque]
    assert after_one_tau == pytest.approx(180 - 80 * math.exp(-1), rel=1e-6)
    assert model.step(T0 + 400)[0][torque] == pytest.approx(180.0, abs=0.01)
    model.set_setpoint("drillrig1", 1e9)
    assert model.setpoint("drillrig1") == 200.0


def test_an_episode_climbs_then_trips_then_recovers():
    params = default_params()
    model = PlantModel(params, seed=11, start_time=T0, episode_every_s=1800)
    events, series = [], []
    for t in T0 + np.arange(1, 3 * 24 * 60) * 60.0:
        values, evs = model.step(t)
        events += evs
        series.append((t, values))
    kinds = [e.kind for e in events]
    assert {"episode_start", "failure", "recovered"} <= set(kinds)
    failure = next(e for e in events if e.kind == "failure")
    assert failure.episode_start < failure.sim_time
    k = model.produced_tags.index(f"{failure.twin}.{failure.parameter}")
    during = [v[k] for t, v in series if failure.episode_start <= t < failure.sim_time]
    third = max(1, len(during) // 3)
    assert np.mean(during[-third:]) > np.mean(during[:third])
    spike = next(v[k] for t, v in series if t >= failure.sim_time)
    p = next(p for p in params if p.tag_id == f"{failure.twin}.{failure.parameter}")
    assert spike > p.band_high


def test_failed_compressor_reports_status_zero():
    params = [p for p in default_params() if p.twin == "compressor1"]
    model = PlantModel(params, seed=2, start_time=T0, episode_every_s=600)
    status = model.produced_tags.index("compressor1.status")
    seen_down = False
    for t in T0 + np.arange(1, 2000) * 10.0:
        values, _ = model.step(t)
        down = model.episodes.state("compressor1") == TwinState.DOWN
        assert values[status] == (0.0 if down else 1.0)
        seen_down |= down
    assert seen_down


def test_no_episodes_without_a_failing_parameter():
    sched = EpisodeScheduler({}, every_s=10, rng=np.random.default_rng(0), start_time=0)
    assert sched.advance(1e6) == []


def test_printed_config_round_trips():
    config = simulated_plant(load_config(), url="opc.tcp://127.0.0.1:1/hmi/plc", extra_tags=250, fault_tags=True)
    again = parse_config(to_toml(config))
    assert again == config
    twins = again.twins
    assert [len(twins[t].parameters) for t in ("load01", "load02", "load03")] == [100, 100, 50]
    assert twins["load03"].parameters["s049"].node_id == "ns=2;s=load03.s049"
    assert set(twins["faults"].parameters) == {"nan", "inf", "text"}
    assert twins["transformer1"].parameters["voltage"].node_id == "ns=3;i=1001"


# ---- the server process ------------------------------------------------------------------------


async def read_tags(url: str, node_ids: list[str]) -> list:
    async with Client(url, timeout=5) as client:
        nodes = [client.get_node(n) for n in node_ids]
        return await client.read_values(nodes)


def test_print_config_matches_the_served_nodes(plc_sim):
    config = parse_config(plc_sim.config_text)
    assert [e.url for e in config.endpoints] == [plc_sim.url]
    assert set(config.twins) == set(load_config().twins)
    tags = config.plant().tags
    assert {t.node_id for t in tags} >= {"ns=3;i=1001", "ns=3;i=1002", "ns=3;i=1099", "ns=2;s=drillrig1.torque"}

    async def check():
        async with Client(plc_sim.url, timeout=5) as client:
            namespaces = await client.get_namespace_array()
            assert namespaces[2:4] == ["urn:hmi:plc-sim", "urn:hmi:plc-sim:numeric"]
            values = await client.read_values([client.get_node(t.node_id) for t in tags])
            for tag, value in zip(tags, values, strict=True):
                assert isinstance(value, float), tag.tag_id
                assert tag.eng_low <= value <= tag.eng_high, (tag.tag_id, value)
            dv = await client.get_node("ns=3;i=1001").read_data_value()
            age = time.time() - dv.SourceTimestamp.timestamp()
            assert -1 < age < 5, "SourceTimestamp is wall-clock UTC"

    asyncio.run(check())


def test_values_change_over_time_within_the_range(plc_sim_factory):
    sim = plc_sim_factory(seed=4, rate=10, speed=60)
    tags = [t for t in parse_config(sim.config_text).plant().tags if t.kind == TagKind.ANALOG]
    first = asyncio.run(read_tags(sim.url, [t.node_id for t in tags]))
    time.sleep(0.6)
    second = asyncio.run(read_tags(sim.url, [t.node_id for t in tags]))
    changed = sum(a != b for a, b in zip(first, second, strict=True))
    assert changed == len(tags)
    for tag, value in zip(tags, first + second, strict=False):
        assert tag.eng_low <= value <= tag.eng_high


def test_a_written_setpoint_moves_the_primary_parameter(plc_sim_factory):
    sim = plc_sim_factory(seed=2, rate=10, speed=60)  # setpoint lag of 30 simulated s = 0.5 s wall

    async def check():
        async with Client(sim.url, timeout=5) as client:
            setpoint = client.get_node("ns=2;s=drillrig1.setpoint")
            torque = client.get_node("ns=2;s=drillrig1.torque")
            await setpoint.write_value(ua.DataValue(ua.Variant(185.0, ua.VariantType.Double)))
            assert await setpoint.read_value() == 185.0
            await asyncio.sleep(2.5)
            samples = []
            for _ in range(5):
                samples.append(await torque.read_value())
                await asyncio.sleep(0.1)
            return samples

    samples = asyncio.run(check())
    assert np.median(samples) > 150, samples


def read_episodes(directory: Path) -> list[dict]:
    path = directory / "episodes.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_record(path: Path) -> list[tuple[str, int, str]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["tag", "source_ts_us", "value"]
    return [(tag, int(ts), value) for tag, ts, value in rows[1:]]


def test_a_degradation_episode_ends_in_a_failure_in_the_ground_truth(plc_sim_factory, tmp_path):
    truth, record = tmp_path / "truth", tmp_path / "record.csv"
    sim = plc_sim_factory(seed=3, rate=20, speed=200, episode_every=400, ground_truth=truth, record=record)
    deadline = time.monotonic() + 25
    while not any(e["kind"] == "failure" for e in read_episodes(truth)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sim.stop() == 0
    episodes = read_episodes(truth)
    failure = next((e for e in episodes if e["kind"] == "failure"), None)
    assert failure is not None, episodes
    start = next(e for e in episodes if e["kind"] == "episode_start" and e["twin"] == failure["twin"])
    assert start["sim_time"] == failure["episode_start"] < failure["sim_time"]
    assert start["wall_epoch"] == failure["episode_start_wall"] <= failure["wall_epoch"]
    assert {"wall_time", "sim_time", "parameter", "twin"} <= set(failure)

    tag = f"{failure['twin']}.{failure['parameter']}"
    lo_us, hi_us = start["wall_epoch"] * 1e6, failure["wall_epoch"] * 1e6
    climb = [float(v) for t, ts, v in read_record(record) if t == tag and lo_us <= ts < hi_us]
    assert len(climb) >= 6, climb
    third = len(climb) // 3
    assert np.mean(climb[-third:]) > np.mean(climb[:third]), climb


def test_record_holds_exactly_what_a_subscriber_received(plc_sim_factory, tmp_path):
    record = tmp_path / "record.csv"
    sim = plc_sim_factory(seed=5, rate=10, record=record)
    watched = ["ns=2;s=drillrig1.torque", "ns=3;i=1001", "ns=2;s=compressor1.status"]
    received: list[tuple[str, int, float]] = []

    class Handler:
        def datachange_notification(self, node, value, data):
            dv = data.monitored_item.Value
            stamp = dv.SourceTimestamp
            received.append((node.nodeid.to_string(), round(stamp.timestamp() * 1e6), value))

    async def collect():
        async with Client(sim.url, timeout=5) as client:
            sub = await client.create_subscription(50, Handler())
            await sub.subscribe_data_change([client.get_node(n) for n in watched], sampling_interval=0)
            await asyncio.sleep(2.0)

    asyncio.run(collect())
    assert sim.stop() == 0  # SIGTERM flushes the record
    rows = read_record(record)
    recorded = {(tag, ts): float(v) for tag, ts, v in rows}
    names = {"ns=2;s=drillrig1.torque": "drillrig1.torque", "ns=3;i=1001": "transformer1.voltage",
             "ns=2;s=compressor1.status": "compressor1.status"}
    assert len(received) >= 15
    for node, ts, value in received:
        assert recorded[(names[node], ts)] == value
    config = parse_config(sim.config_text).plant()
    produced = {t.tag_id for t in config.tags if t.kind != TagKind.SETPOINT}
    assert produced <= {tag for tag, _, _ in rows}
    torque = [ts for tag, ts, _ in rows if tag == "drillrig1.torque"]
    assert 15 <= len(torque) <= 40
    assert torque == sorted(torque) and len(set(torque)) == len(torque)


def test_two_simulators_side_by_side_and_restart(plc_sim_factory):
    a = plc_sim_factory(seed=1)
    b = plc_sim_factory(seed=2, endpoint_name="plc2")
    assert a.port != b.port
    assert parse_config(b.config_text).endpoints[0].name == "plc2"
    va, vb = asyncio.run(read_tags(a.url, ["ns=3;i=1001"])), asyncio.run(read_tags(b.url, ["ns=3;i=1001"]))
    assert va != vb
    a.kill()
    assert a.proc.returncode == -9
    a.restart()
    assert asyncio.run(read_tags(a.url, ["ns=2;s=drillrig1.torque"]))[0] >= 0


def test_fault_tags_deliver_nan_inf_and_text(plc_sim_factory):
    sim = plc_sim_factory(fault_tags=True, extra_tags=120)
    faults = parse_config(sim.config_text).twins["faults"].parameters
    assert [faults[n].node_id for n in ("nan", "inf", "text")] == [
        "ns=2;s=faults.nan", "ns=2;s=faults.inf", "ns=2;s=faults.text"]
    nan, inf, text, load = asyncio.run(
        read_tags(sim.url, ["ns=2;s=faults.nan", "ns=2;s=faults.inf", "ns=2;s=faults.text", "ns=2;s=load02.s019"])
    )
    assert math.isnan(nan) and inf == math.inf and isinstance(text, str)
    assert 0 <= load <= 100


def test_bad_config_and_taken_port_give_one_line_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[endpoints]]\nname = "plc1"\nurl = "http://nope"\n[twins]\n')
    missing = tmp_path / "missing.toml"
    duplicate = tmp_path / "duplicate.toml"
    duplicate.write_text(
        to_toml(load_config()).replace('"ns=3;i=1002"', '"ns=3;i=1001"')
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cases = {
            str(bad): ["--config", str(bad)],
            str(missing): ["--config", str(missing)],
            "transformer1.current: cannot serve node_id 'ns=3;i=1001'": ["--config", str(duplicate)],
            "cannot listen": ["--port", str(taken.getsockname()[1])],
        }
        with ThreadPoolExecutor(len(cases)) as pool:
            results = dict(zip(cases, pool.map(lambda args: run_plc_sim(*args), cases.values()), strict=True))
    for expected, result in results.items():
        assert result.returncode != 0, expected
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr and expected in result.stderr


def test_sigterm_ends_the_simulator_while_a_reconnecting_client_is_attached(plc_sim_factory):
    """A client with auto-reconnect came straight back during shutdown and kept asyncua's stop waiting."""
    import asyncio
    import time

    from hmi.config import parse_config
    from hmi.io.opcua import OpcUaSource

    async def attach_and_stop(sim) -> tuple[int | None, float]:
        config = parse_config(sim.config_text)
        source = OpcUaSource(config.endpoints[0], config.plant().tags, lambda batch: None)
        task = asyncio.create_task(source.run())
        await asyncio.sleep(4)
        started = time.monotonic()
        code = await asyncio.get_running_loop().run_in_executor(None, sim.stop, 8.0)
        elapsed = time.monotonic() - started
        await source.stop()
        await task
        return code, elapsed

    for _ in range(4):
        sim = plc_sim_factory(rate=2, extra_tags=100, extra_rate=5)
        code, elapsed = asyncio.run(attach_and_stop(sim))
        assert code == 0 and elapsed < 5.0, (code, elapsed, list(sim.output)[-5:])
