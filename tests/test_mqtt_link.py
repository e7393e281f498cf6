"""The MQTT link against real brokers: subscribe, deliver into the loop, publish with PUBACK, status in words."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from hmi.io.acquisition_loop import AcquisitionLoop
from hmi.io.link import LinkState
from hmi.io.mqtt import MqttLink
from hmi.sim_process import free_port
from tests.mqtt_peer import Peer, config, unique, until, until_state


def test_messages_reach_the_handler_on_the_acquisition_loops_thread(any_broker):
    prefix = unique()
    got: list[tuple[str, bytes, str]] = []
    link = MqttLink(config(any_broker.url), lambda t, p: got.append((t, p, threading.current_thread().name)),
                    [f"{prefix}/#"], workstation=prefix)
    loop = AcquisitionLoop()
    loop.start()
    try:
        loop.submit(link.start()).result(5)
        assert loop.submit(until_state(link, LinkState.UP)).result(20) is LinkState.UP
        peer = Peer(any_broker.url)
        for i in range(3):
            peer.publish(f"{prefix}/sf-{i}/reports", b"report %d" % i)
        peer.close()
        assert loop.submit(until(lambda: len(got) == 3)).result(20)
        assert sorted((t, p) for t, p, _ in got) == [(f"{prefix}/sf-{i}/reports", b"report %d" % i) for i in range(3)]
        assert {thread for _, _, thread in got} == {"acquisition"}
        assert link.counters.received == 3
    finally:
        loop.submit(link.stop()).result(15)
        loop.stop()
    assert link.status.state is LinkState.STOPPED


def test_publish_returns_at_the_brokers_puback_and_the_message_is_on_the_broker(any_broker):
    prefix = unique()
    peer = Peer(any_broker.url, subscribe=f"{prefix}/#")
    statuses: list[LinkState] = []

    async def run() -> list[bool]:
        link = MqttLink(config(any_broker.url), lambda t, p: None, [], workstation=prefix)
        link.on_status = lambda s: statuses.append(s.state)
        await link.start()
        assert await until_state(link, LinkState.UP) is LinkState.UP
        results = [await link.publish(f"{prefix}/sf-1/instructions", b"instruction %d" % i) for i in range(5)]
        results += await asyncio.gather(*(link.publish(f"{prefix}/sf-2/instructions", b"x") for _ in range(50)))
        assert link.counters.published == 55
        await link.stop()
        return results

    try:
        assert asyncio.run(run()) == [True] * 55
        got = peer.wait_received(55)
    finally:
        peer.close()
    assert [p for t, p in got if t.endswith("sf-1/instructions")] == [b"instruction %d" % i for i in range(5)]
    assert len(got) == 55
    assert statuses == [LinkState.CONNECTING, LinkState.UP, LinkState.STOPPED]


def test_nothing_listening_is_connection_refused_and_publish_refuses_at_once():
    port = free_port()

    async def run():
        link = MqttLink(config(f"mqtt://127.0.0.1:{port}"), lambda t, p: None, ["x/#"], workstation="w")
        await link.start()
        await until_state(link, LinkState.DOWN)
        down = link.status
        ok = await link.publish("x/y", b"z")
        await link.stop()
        return down, link.status.state, ok

    down, state, ok = asyncio.run(run())
    assert (state, ok) == (LinkState.STOPPED, False)
    assert down.brief() == "mqtt=down (connection refused)"
    assert down.detail == f"no connection to mqtt://127.0.0.1:{port}: connection refused"


def test_a_handler_that_raises_is_logged_and_the_next_message_still_arrives(mosquitto, caplog):
    prefix = unique()
    got: list[bytes] = []

    def handler(topic: str, payload: bytes) -> None:
        if payload == b"bad":
            raise ValueError("cannot take this one")
        got.append(payload)

    async def run() -> None:
        link = MqttLink(config(mosquitto.url), handler, [f"{prefix}/#"], workstation=prefix)
        await link.start()
        await until_state(link, LinkState.UP)
        peer = Peer(mosquitto.url)
        peer.publish(f"{prefix}/a", b"bad")
        peer.publish(f"{prefix}/a", b"good")
        peer.close()
        await until(lambda: got == [b"good"])
        await link.stop()

    with caplog.at_level(logging.ERROR, logger="hmi.io.mqtt"):
        asyncio.run(run())
    assert got == [b"good"]
    assert f"mqtt: the handler failed on a message on {prefix}/a" in caplog.text


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_messages_published_while_the_link_is_stopped_arrive_when_it_starts_again(mosquitto, protocol):
    """A persistent session: clean session off (3.1.1), or clean start off with a session expiry (5)."""
    prefix = unique()
    extra = {"protocol": protocol, "session_expiry_s": 600} if protocol == "5" else {}
    cfg = config(mosquitto.url, client_id=f"hmi-{prefix}", **extra)
    got: list[bytes] = []

    async def session(publish_while_away: bool) -> None:
        link = MqttLink(cfg, lambda t, p: got.append(p), [f"{prefix}/#"], workstation="unused")
        await link.start()
        assert await until_state(link, LinkState.UP) is LinkState.UP
        if not publish_while_away:
            await until(lambda: len(got) >= 20)
        await link.stop()

    asyncio.run(session(publish_while_away=True))
    peer = Peer(mosquitto.url)
    for i in range(20):
        peer.publish(f"{prefix}/sf-1/reports", b"%d" % i)
    peer.close()
    asyncio.run(session(publish_while_away=False))
    assert got == [b"%d" % i for i in range(20)]


def test_mqtt5_against_amqtt_says_no_connack_and_names_the_fix(amqtt_broker):
    async def run() -> str:
        link = MqttLink(config(amqtt_broker.url, protocol="5"), lambda t, p: None, ["x/#"], workstation=unique())
        await link.start()
        await until_state(link, LinkState.DOWN, timeout=20)
        reason = link.status.reason
        await link.stop()
        return reason

    reason = asyncio.run(run())
    assert reason.startswith("no CONNACK from the broker within 5 s to an MQTT 5 CONNECT")
    assert 'amqtt 0.12.1, never answers one: set protocol = "3.1.1"' in reason
