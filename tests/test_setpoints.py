"""Setpoint writes: the typed value's rules, the audited service, and the value arriving on a real plc_sim
(through the Runtime and through `hmi setpoint write` as a subprocess)."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from asyncua import Client, ua

from hmi.config import load_config, parse_config
from hmi.domain.permissions import PermissionDenied
from hmi.domain.plant import Plant, TagKind
from hmi.domain.session import SessionUser
from hmi.domain.setpoints import (
    SetpointRejected,
    SetpointWriteError,
    format_setpoint,
    parse_setpoint,
    range_text,
    requested_setpoint,
    validate_setpoint,
)
from hmi.io.link import LinkState
from hmi.io.opcua import OneOffConnection
from hmi.services import user_admin
from hmi.services.commands import CommandService
from hmi.services.login import create_first_admin
from hmi.services.setpoints import write_setpoint
from hmi.store import audit
from hmi.store.audit import AuditUnavailable
from hmi.store.migrate import upgrade

PW = "Control room 42"
SP = "drillrig1.setpoint"
WAIT_S = 30.0  # a deadline for things that must happen, never a measured duration


@pytest.fixture
def plant() -> Plant:
    return load_config().plant()


def as_user(engine, name: str, role: str) -> CommandService:
    return CommandService(engine, lambda: SessionUser(name, role), "ws-test")


def trail(engine) -> list[tuple[str, str, str, str | None, str | None, str]]:
    """(user, target, result, old, new, detail) of every record, oldest first."""
    records = audit.query(engine, audit.AuditQuery(newest_first=False))
    return [(r.entry.user, r.entry.target, r.entry.result, r.entry.old_value, r.entry.new_value, r.entry.detail)
            for r in records]


class FakeWriter:
    """Records what would have been sent to the PLC; can be told to fail like a PLC."""

    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[tuple[str, float]] = []
        self.error = error

    def __call__(self, tag_id: str, value: float) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append((tag_id, value))


# --- the domain: what a user may type, and how old and new are shown ---------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("45", 45.0), ("45.5", 45.5), ("45,5", 45.5), (" 45.5 Nm ", 45.5), ("45Nm", 45.0), ("+7", 7.0),
     ("-3", -3.0), (".5", 0.5), ("0,250", 0.25), ("120.", 120.0)],
)
def test_typed_numbers_in_either_decimal_form(plant, text, value):
    assert parse_setpoint(plant.tag(SP), text) == value


@pytest.mark.parametrize(
    ("text", "says"),
    [("", "type a number"), ("abc", "not a number"), ("nan", "not a number"), ("inf", "not a number"),
     ("1e3", "not a number"), ("1.2.3", "not a number"), ("1 234", "not a number"), ("1,234.5", "not a number"),
     ("45 bar", "not a number"), ("1,234", "ambiguous")],
)
def test_text_that_is_not_one_clear_number_is_refused_with_the_reason(plant, text, says):
    with pytest.raises(SetpointRejected, match=says):
        parse_setpoint(plant.tag(SP), text)


def test_the_range_is_inclusive_and_named_with_its_unit_when_refused(plant):
    spec = plant.tag(SP)  # 0..200 Nm
    assert validate_setpoint(spec, 0.0) == 0.0 and validate_setpoint(spec, 200) == 200.0
    with pytest.raises(SetpointRejected) as refused:
        validate_setpoint(spec, 200.5)
    assert str(refused.value) == "200.5 Nm is outside the range of drillrig1.setpoint: 0.0 – 200.0 Nm"
    with pytest.raises(SetpointRejected, match="0.0 – 200.0 Nm"):
        requested_setpoint(spec, "-0,1")
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(SetpointRejected, match="not a finite number"):
            validate_setpoint(spec, bad)
    with pytest.raises(SetpointRejected, match="not a number"):
        validate_setpoint(spec, True)


def test_only_setpoint_tags_are_written(plant):
    torque = plant.tag("drillrig1.torque")
    assert torque.kind is TagKind.ANALOG
    with pytest.raises(SetpointRejected, match="drillrig1.torque is a analog tag, not a setpoint"):
        validate_setpoint(torque, 100.0)


def test_old_and_new_are_shown_with_unit_and_the_digits_typed(plant):
    spec = plant.tag(SP)
    assert format_setpoint(spec, 42.0) == "42.0 Nm"
    assert format_setpoint(spec, 45.55) == "45.55 Nm"  # never rounds away what the user typed
    assert format_setpoint(spec, None) == "unknown"
    assert format_setpoint(plant.tag("compressor1.setpoint"), 550.0) == "550 kWh"  # a span of 1000: no decimals
    assert range_text(spec) == "0.0 – 200.0 Nm"


# --- the service: permission, validation, audit, then the write --------------------------------------


@pytest.mark.parametrize(("name", "role"), [("erik", "engineer"), ("ada", "admin")])
def test_an_engineer_or_admin_writes_and_it_is_recorded_before_and_after(engine, plant, name, role):
    writer = FakeWriter()
    written = write_setpoint(as_user(engine, name, role), plant, writer, SP, "120,5", current=100.0)
    assert writer.sent == [(SP, 120.5)]
    assert (written.old, written.new, written.value) == ("100.0 Nm", "120.5 Nm", 120.5)
    assert trail(engine) == [
        (name, SP, "requested", "100.0 Nm", "120.5 Nm", ""),
        (name, SP, "ok", "100.0 Nm", "120.5 Nm", ""),
    ]
    record = audit.query(engine)[0].entry
    assert (record.action, record.role, record.workstation) == ("write_setpoint", role, "ws-test")


def test_an_operator_is_denied_nothing_is_written_and_the_denial_is_audited(engine, plant):
    writer = FakeWriter()
    with pytest.raises(PermissionDenied):
        write_setpoint(as_user(engine, "olga", "operator"), plant, writer, SP, 120.0, current=100.0)
    assert writer.sent == []
    ((user, target, result, _old, new, detail),) = trail(engine)
    assert (user, target, result, new) == ("olga", SP, "denied", "120.0")
    assert "may not" in detail


@pytest.mark.parametrize("value", [250.0, "250", -1.0, math.nan, "1,234", "lots"])
def test_an_invalid_value_never_reaches_the_plc_and_is_recorded_as_refused(engine, plant, value):
    writer = FakeWriter()
    with pytest.raises(SetpointRejected):
        write_setpoint(as_user(engine, "erik", "engineer"), plant, writer, SP, value, current=100.0)
    assert writer.sent == []
    ((user, target, result, old, _new, detail),) = trail(engine)
    assert (user, target, result, old) == ("erik", SP, "refused", "100.0 Nm")
    assert detail


def test_unknown_and_measurement_tags_are_refused_without_a_write(engine, plant):
    writer = FakeWriter()
    commands = as_user(engine, "erik", "engineer")
    with pytest.raises(SetpointRejected, match="no tag 'drillrig9.setpoint'"):
        write_setpoint(commands, plant, writer, "drillrig9.setpoint", 10.0)
    with pytest.raises(SetpointRejected, match="not a setpoint"):
        write_setpoint(commands, plant, writer, "drillrig1.torque", 10.0)
    assert writer.sent == []
    assert [r[2] for r in trail(engine)] == ["refused", "refused"]


def test_a_failed_write_is_recorded_as_failed_with_the_plcs_reason(engine, plant):
    writer = FakeWriter(SetpointWriteError("plc1 is not connected (connection refused); the setpoint was not written"))
    with pytest.raises(SetpointWriteError):
        write_setpoint(as_user(engine, "erik", "engineer"), plant, writer, SP, 150.0, current=100.0)
    assert trail(engine) == [
        ("erik", SP, "requested", "100.0 Nm", "150.0 Nm", ""),
        ("erik", SP, "failed", "100.0 Nm", "150.0 Nm",
         "plc1 is not connected (connection refused); the setpoint was not written"),
    ]


def test_without_an_audit_trail_nothing_is_written(engine, plant):
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DROP TABLE audit_head"))
    writer = FakeWriter()
    with pytest.raises(AuditUnavailable, match="not carried out"):
        write_setpoint(as_user(engine, "erik", "engineer"), plant, writer, SP, 150.0, current=100.0)
    assert writer.sent == []


# --- on a real plc_sim ------------------------------------------------------------------------------


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for a condition with a generous deadline (the deadline only guards against a hang)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


async def read_node(url: str, node_id: str) -> float:
    async with Client(url, timeout=5) as client:
        return await client.get_node(node_id).read_value()


def wait_for_value(url: str, node_id: str, condition: Callable[[float], bool], what: str) -> float:
    async def poll() -> float:
        async with Client(url, timeout=5) as client:
            node = client.get_node(node_id)
            box: list[float] = []

            async def check() -> None:
                box.append(await node.read_value())

            await check()
            deadline = time.monotonic() + WAIT_S
            while not condition(box[-1]):
                if time.monotonic() > deadline:
                    raise AssertionError(f"never happened: {what} (last {box[-1]})")
                await asyncio.sleep(0.1)
                await check()
            return box[-1]

    return asyncio.run(poll())


def test_setpoint_nodes_are_writable_by_a_client_and_measurements_are_not(plc_sim_factory):
    sim = plc_sim_factory(seed=1, rate=10)
    config = parse_config(sim.config_text, "plc-sim --print-config")
    plant = config.plant()

    async def check() -> tuple[list[int], str]:
        async with Client(sim.url, timeout=5) as client:
            levels = []
            for spec in plant.tags:
                node = client.get_node(spec.node_id)
                access = (await node.read_attribute(ua.AttributeIds.AccessLevel)).Value.Value
                user_access = (await node.read_attribute(ua.AttributeIds.UserAccessLevel)).Value.Value
                writable = bool(access & ua.AccessLevel.CurrentWrite.mask) and \
                    bool(user_access & ua.AccessLevel.CurrentWrite.mask)
                levels.append(writable == (spec.kind is TagKind.SETPOINT))
        connection = OneOffConnection(config.endpoint("plc1"))
        await connection.open()
        try:
            with pytest.raises(SetpointWriteError) as refused:
                await connection.write(plant.tag("drillrig1.torque"), 10.0)
        finally:
            await connection.close()
        return levels, str(refused.value)

    levels, refusal = asyncio.run(check())
    assert all(levels)
    assert refusal.startswith("the PLC refused the setpoint: plc1 does not let this HMI write drillrig1.torque")
    assert "BadUserAccessDenied" in refusal and "nothing was changed" in refusal


def test_the_runtime_writes_a_setpoint_that_reaches_plc_sim_and_comes_back(plc_sim_factory, tmp_path, engine):
    from hmi.runtime import Runtime

    sim = plc_sim_factory(seed=2, rate=10, speed=60)  # setpoint lag of 30 simulated s = 0.5 s wall
    config = parse_config(sim.config_text, "plc-sim --print-config")
    history = f"sqlite:///{tmp_path / 'history.sqlite'}"
    upgrade(history)
    runtime = Runtime(config, history)
    commands = as_user(engine, "erik", "engineer")

    async def scenario():
        await runtime.start()
        try:
            await until(lambda: runtime.sources[0].status.state is LinkState.UP
                        and runtime.bus.latest(SP) is not None, "plc1 up with a setpoint value")
            current = runtime.bus.latest(SP).value
            loop = asyncio.get_running_loop()
            written = await loop.run_in_executor(
                None, write_setpoint, commands, runtime.plant, runtime.write_setpoint, SP, "185", current
            )
            await until(lambda: runtime.bus.latest(SP).value == 185.0, "the PLC reports 185 back")
            with pytest.raises(RuntimeError, match="executor"):  # blocking: never on an event loop
                runtime.write_setpoint(SP, 150.0)
            return current, written
        finally:
            await runtime.stop()

    current, written = asyncio.run(scenario())
    assert written.new == "185.0 Nm"
    assert asyncio.run(read_node(sim.url, "ns=2;s=drillrig1.setpoint")) == 185.0
    # the twin's primary parameter follows its setpoint
    wait_for_value(sim.url, "ns=2;s=drillrig1.torque", lambda v: v > 150.0, "torque moves toward 185")
    assert [r[2:5] for r in trail(engine)] == [
        ("requested", format_setpoint(runtime.plant.tag(SP), current), "185.0 Nm"),
        ("ok", format_setpoint(runtime.plant.tag(SP), current), "185.0 Nm"),
    ]


def test_a_runtime_without_its_plc_fails_the_write_in_words_and_records_it(plc_sim_factory, tmp_path, engine):
    from hmi.runtime import Runtime
    from hmi.sim_process import free_port

    text = load_config().model_copy()  # the default plant, pointed at a port where nothing listens
    endpoint = text.endpoints[0].model_copy(update={"url": f"opc.tcp://127.0.0.1:{free_port()}/hmi/plc"})
    config = text.model_copy(update={"endpoints": [endpoint]})
    history = f"sqlite:///{tmp_path / 'history.sqlite'}"
    upgrade(history)
    runtime = Runtime(config, history)
    commands = as_user(engine, "erik", "engineer")

    async def scenario() -> str:
        await runtime.start()
        try:
            await until(lambda: runtime.sources[0].status.state is LinkState.DOWN, "plc1 down")
            loop = asyncio.get_running_loop()
            with pytest.raises(SetpointWriteError) as failed:
                await loop.run_in_executor(None, write_setpoint, commands, runtime.plant, runtime.write_setpoint,
                                           SP, 150.0, None)
            return str(failed.value)
        finally:
            await runtime.stop()

    reason = asyncio.run(scenario())
    assert reason.startswith("plc1 is not connected (no connection to plc1: connection refused")
    assert reason.endswith("the setpoint was not written")
    assert [(r[2], r[5]) for r in trail(engine)] == [("requested", ""), ("failed", reason)]


# --- `hmi setpoint write` as a subprocess -----------------------------------------------------------


def hmi(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hmi.cli", *args], capture_output=True, text=True, input=stdin, timeout=120
    )


def test_the_cli_writes_as_an_engineer_and_refuses_an_operator(plc_sim_factory, tmp_path, engine, db_url):
    sim = plc_sim_factory(seed=3, rate=10)
    config_file = tmp_path / "plant.toml"
    config_file.write_text(sim.config_text)
    create_first_admin(engine, "ada", PW)
    admin = as_user(engine, "ada", "admin")
    user_admin.add_user(admin, "erik", "engineer", PW)
    user_admin.add_user(admin, "olga", "operator", PW)
    before = len(trail(engine))
    node = "ns=2;s=drillrig1.setpoint"
    initial = asyncio.run(read_node(sim.url, node))

    def write(user: str, value: str) -> subprocess.CompletedProcess[str]:
        return hmi("setpoint", "write", SP, value, "--user", user, "--config", str(config_file), "--db", db_url,
                   stdin=PW + "\n")

    denied = write("olga", "150")
    assert denied.returncode == 1
    assert denied.stderr.strip().startswith("hmi setpoint: olga (operator) may not") and \
        len(denied.stderr.strip().splitlines()) == 1, denied.stderr
    refused = write("erik", "250")
    assert refused.returncode == 1
    assert refused.stderr == "hmi setpoint: 250.0 Nm is outside the range of drillrig1.setpoint: 0.0 – 200.0 Nm\n"
    assert asyncio.run(read_node(sim.url, node)) == initial  # nothing reached the PLC

    ok = write("erik", "150,5")
    assert ok.returncode == 0, ok.stderr
    old = format_setpoint(load_config().plant().tag(SP), initial)
    assert ok.stdout.strip() == f"drillrig1.setpoint: {old} -> 150.5 Nm written to plc1"
    assert asyncio.run(read_node(sim.url, node)) == 150.5

    shown = hmi("setpoint", "show", SP, "--config", str(config_file))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "drillrig1.setpoint: 150.5 Nm (range 0.0 – 200.0 Nm) on plc1"

    rows = [(r[0], r[2], r[3], r[4]) for r in trail(engine)[before:] if r[1] == SP]
    assert rows == [
        ("olga", "denied", None, "150"),
        ("erik", "refused", None, "250"),
        ("erik", "requested", old, "150.5 Nm"),
        ("erik", "ok", old, "150.5 Nm"),
    ]
