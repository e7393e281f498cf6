"""plc_sim forcing: a tag held at a written value until released, through the real server and client."""

from __future__ import annotations

import asyncio
import csv
import json
import math
import time
from pathlib import Path

import pytest
from asyncua import Client, ua

from hmi.config import load_config
from hmi.domain.plant import TagKind
from hmi.sim_process import free_port
from plc_sim.__main__ import main as plc_sim_main
from plc_sim.force import ForceClient, ForceError, force, force_sync, forcing
from plc_sim.model import PlantModel, SimParam
from plc_sim.plant import force_node_id, simulated_plant
from plc_sim.server import SimOptions, SimServer
from tests.fixtures_plc import run_plc_sim

PRESSURE = "drillrig1.pressure"
PRESSURE_NODE = "ns=2;s=drillrig1.pressure"


async def wait_for(node, accept, timeout: float = 2.0) -> tuple[ua.DataValue, float]:
    """Poll a node until accept(value); the DataValue and the seconds it took."""
    start = time.monotonic()
    while True:
        dv = await node.read_data_value()
        if accept(dv.Value.Value):
            return dv, time.monotonic() - start
        assert time.monotonic() - start < timeout, f"still {dv.Value.Value} after {timeout} s"
        await asyncio.sleep(0.02)


def test_force_node_ids():
    assert force_node_id(PRESSURE) == "ns=2;s=sim.force.drillrig1.pressure"
    assert force_node_id("transformer1.voltage") == "ns=2;s=sim.force.transformer1.voltage"


# ---- in-process, on a fake clock: forcing overrides one output and touches nothing else ---------


def test_forcing_overrides_one_tag_and_leaves_the_model_and_other_tags_alone():
    async def scenario() -> None:
        port = free_port()
        url = f"opc.tcp://127.0.0.1:{port}/hmi/plc"
        config = simulated_plant(load_config(), url=url)
        options = SimOptions(port=port, seed=11, speed=60, rate=10)
        server = SimServer(config, options)
        offset = [0.0]
        server.sim_time = lambda mono=None: server._sim_t0 + offset[0]  # the model's clock, driven by hand
        await server.start()
        try:
            group = server._groups[0]
            tags = {t.tag_id: t for t in config.plant().tags}
            reference = PlantModel(
                [SimParam.from_tag(tags[t]) for t in (p.tag_id for p in group.model.params)],
                seed=options.seed, start_time=server._sim_t0, episode_every_s=options.episode_every_s,
            )
            assert list(reference.produced_tags) == list(group.tags)
            expected = reference.step(server._sim_t0)[0].tolist()
            k = group.tags.index(PRESSURE)

            async with Client(url, timeout=5) as client, ForceClient(url) as forcer:
                nodes = [client.get_node(tags[t].node_id) for t in group.tags]

                async def tick() -> list[float]:
                    nonlocal expected
                    offset[0] += 6.0
                    await server._tick(group)
                    expected = reference.step(server._sim_t0 + offset[0])[0].tolist()
                    return await client.read_values(nodes)

                assert await client.read_values(nodes) == expected
                assert await tick() == expected

                await forcer.force(PRESSURE, 75.0)
                served = await client.read_values(nodes)  # at once, before the next tick
                assert served[k] == 75.0 and served[:k] + served[k + 1:] == expected[:k] + expected[k + 1:]
                for _ in range(3):
                    served = await tick()
                    assert served[k] == 75.0
                    assert served[:k] + served[k + 1:] == expected[:k] + expected[k + 1:]
                assert await forcer.forced(PRESSURE) == 75.0

                await forcer.force(PRESSURE, None)
                assert await client.read_values(nodes) == expected  # the model's value is back at once
                assert await forcer.forced(PRESSURE) is None
                for _ in range(2):
                    assert await tick() == expected  # same seed, same clock: the random stream was untouched
        finally:
            await server.stop()

    asyncio.run(scenario())


# ---- the real simulator process -----------------------------------------------------------------


def read_record(path: Path, tag: str) -> list[tuple[int, float]]:
    with path.open(newline="") as f:
        return [(int(ts), float(v)) for t, ts, v in csv.reader(f) if t == tag]


def test_a_forced_value_is_served_fresh_until_released(plc_sim_factory, tmp_path):
    record, truth = tmp_path / "record.csv", tmp_path / "truth"
    sim = plc_sim_factory(seed=1, rate=10, record=record, ground_truth=truth)

    async def scenario() -> tuple[float, float]:
        async with Client(sim.url, timeout=5) as client:
            node = client.get_node(PRESSURE_NODE)
            before = await node.read_value()
            assert 0.0 <= before <= 80.0 and before != 75.0
            t_force = time.time()
            await force(sim.url, PRESSURE, 75.0)
            dv, took = await wait_for(node, lambda v: v == 75.0)
            assert took < 1.0
            assert dv.StatusCode.is_good()
            first = dv.SourceTimestamp.timestamp()
            assert abs(first - time.time()) < 1.0
            await asyncio.sleep(0.5)
            dv = await node.read_data_value()
            assert dv.Value.Value == 75.0 and dv.StatusCode.is_good()
            assert dv.SourceTimestamp.timestamp() > first  # re-served at every tick, not frozen
            t_release = time.time()
            await force(sim.url, PRESSURE, None)
            _, took = await wait_for(node, lambda v: v != 75.0)
            assert took < 1.0
            values = set()
            for _ in range(5):
                await asyncio.sleep(0.15)
                values.add(await node.read_value())
            assert len(values) > 1 and all(0.0 <= v <= 80.0 for v in values)
            return t_force, t_release

    t_force, t_release = asyncio.run(scenario())
    assert sim.stop() == 0
    rows = read_record(record, PRESSURE)
    stamps = [ts for ts, _ in rows]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    held = [v for ts, v in rows if t_force * 1e6 <= ts <= t_release * 1e6]
    assert len(held) >= 5 and set(held) == {75.0}, held  # about ten ticks at 10 a second
    lines = [json.loads(line) for line in (truth / "episodes.jsonl").read_text().splitlines()]
    forces = [(e["kind"], e["twin"], e["parameter"], e["value"]) for e in lines if e["kind"] in ("force", "release")]
    assert forces == [("force", "drillrig1", "pressure", 75.0), ("release", "drillrig1", "pressure", None)]


def test_a_spike_and_an_oscillation_reach_a_subscriber_in_order(plc_sim_factory):
    sim = plc_sim_factory(seed=2, rate=10)
    received: list[float] = []

    class Handler:
        def datachange_notification(self, node, value, data):
            received.append(value)

    async def scenario() -> None:
        async with Client(sim.url, timeout=5) as client, ForceClient(sim.url) as forcer:
            sub = await client.create_subscription(20, Handler())
            await sub.subscribe_data_change(client.get_node(PRESSURE_NODE), sampling_interval=0)
            await asyncio.sleep(0.3)
            await forcer.force(PRESSURE, 75.0)  # a spike of about 0.3 s (an on-delay should ignore it)
            await asyncio.sleep(0.3)
            await forcer.force(PRESSURE, None)
            await asyncio.sleep(0.3)
            for value in (59.0, 61.0, 59.5, 60.5, 59.0, 61.0):  # around the high limit (a deadband's case)
                await forcer.force(PRESSURE, value)
                await asyncio.sleep(0.15)
            await forcer.force(PRESSURE, None)
            await asyncio.sleep(0.3)

    asyncio.run(scenario())
    assert 75.0 in received
    spike = received.index(75.0)
    assert received[spike + 1] != 75.0  # a forced value repeats, so one notification until release
    forced = [v for v in received[spike + 1:] if v in (59.0, 61.0, 59.5, 60.5)]
    assert forced == [59.0, 61.0, 59.5, 60.5, 59.0, 61.0]
    assert received[-1] not in (59.0, 61.0, 59.5, 60.5)


def test_unknown_tags_setpoints_bad_values_and_a_missing_server_are_refused_in_one_line(plc_sim):
    with pytest.raises(ForceError, match=r"unknown tag 'drillrig1\.nope'.*ns=2;s=sim\.force\.drillrig1\.nope"):
        force_sync(plc_sim.url, "drillrig1.nope", 1.0)
    with pytest.raises(ForceError, match="unknown tag 'drillrig1.setpoint'.*setpoints are written directly"):
        force_sync(plc_sim.url, "drillrig1.setpoint", 1.0)
    with pytest.raises(ValueError, match="finite"):
        force_sync(plc_sim.url, PRESSURE, math.inf)
    with pytest.raises(ForceError, match="cannot reach opc.tcp://127.0.0.1:"):
        force_sync(f"opc.tcp://127.0.0.1:{free_port()}/hmi/plc", PRESSURE, 1.0)

    result = run_plc_sim("force", "--url", plc_sim.url, "nope.x", "3")  # the installed command's way in
    assert result.returncode == 1
    assert result.stderr.startswith("plc-sim force: unknown tag 'nope.x'") and len(result.stderr.splitlines()) == 1


def test_the_command_line_refuses_bad_values_and_a_missing_server_in_one_line(capsys):
    url = f"opc.tcp://127.0.0.1:{free_port()}/hmi/plc"
    cases = {
        "VALUE must be a finite number or 'release', got 'nan'": [PRESSURE, "nan"],
        "VALUE must be a number or 'release', got 'high'": [PRESSURE, "high"],
        f"cannot reach {url}: ": [PRESSURE, "3"],
    }
    for expected, args in cases.items():
        assert plc_sim_main(["force", "--url", url, *args]) == 1
        err = capsys.readouterr().err
        assert err.startswith("plc-sim force: ") and expected in err and len(err.splitlines()) == 1, err


def test_the_command_line_forces_shows_and_releases(plc_sim, capsys):
    def cli(*args: str) -> str:
        assert plc_sim_main(["force", "--url", plc_sim.url, *args]) == 0
        return capsys.readouterr().out.strip()

    assert cli(PRESSURE, "-5") == f"{PRESSURE}: forced to -5.0"  # out of range on purpose is allowed
    assert cli(PRESSURE) == f"{PRESSURE}: forced to -5.0"
    with forcing(plc_sim.url, "transformer1.voltage", 250.0):
        assert cli("transformer1.voltage") == "transformer1.voltage: forced to 250.0"
    assert cli("transformer1.voltage") == "transformer1.voltage: not forced"
    assert cli(PRESSURE, "release") == f"{PRESSURE}: released"
    assert cli(PRESSURE) == f"{PRESSURE}: not forced"
    with pytest.raises(SystemExit):
        plc_sim_main(["--help"])
    assert "plc-sim force" in capsys.readouterr().out


def test_forcing_a_simulator_that_wants_a_user(plc_sim_factory, monkeypatch):
    monkeypatch.setenv("PLC_SIM_FORCE_TEST_PW", "s3cret-force")
    sim = plc_sim_factory(seed=1, rate=10, user="engineer", password_env="PLC_SIM_FORCE_TEST_PW")
    with pytest.raises(ForceError, match="refused the session"):
        force_sync(sim.url, PRESSURE, 70.0)
    force_sync(sim.url, PRESSURE, 70.0, user="engineer", password="s3cret-force")

    async def read() -> float:
        client = Client(sim.url, timeout=5)
        client.set_user("engineer")
        client.set_password("s3cret-force")
        async with client:
            return await client.get_node(PRESSURE_NODE).read_value()

    assert asyncio.run(read()) == 70.0
    force_sync(sim.url, PRESSURE, None, user="engineer", password="s3cret-force")
