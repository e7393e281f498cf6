"""Helpers for the MQTT link tests: a bare paho client on the broker (the other side), and waiting on a loop."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt

from hmi.config import MqttConfig
from hmi.io.link import LinkState
from hmi.io.mqtt import MqttLink


class Peer:
    """A plain paho client (its own thread) that publishes at QoS 1 and collects what it receives."""

    def __init__(self, url: str, subscribe: str | None = None) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"peer-{uuid.uuid4().hex[:8]}")
        self.received: list[tuple[str, bytes]] = []
        self._subscribed = threading.Event()
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, m.payload))
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.connect(host, int(port))
        self.client.loop_start()
        if subscribe is not None:
            self.client.subscribe(subscribe, qos=1)
            assert self._subscribed.wait(10), "the peer's subscription was not acknowledged"

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def wait_received(self, count: int, timeout: float = 10.0) -> list[tuple[str, bytes]]:
        """What the peer got, once it has at least count messages (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)

    def close(self) -> None:
        """Disconnect and stop the thread."""
        self.client.disconnect()
        self.client.loop_stop()


def config(url: str, **given) -> MqttConfig:
    """An [mqtt] section for this broker URL, with the given keys."""
    return MqttConfig(url=url, **given)


def unique(prefix: str = "t") -> str:
    """A topic prefix (and client id part) of this test's own."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Wait on the loop until predicate() holds; its last value."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return predicate()


async def until_state(link: MqttLink, state: LinkState, timeout: float = 10.0) -> LinkState:
    """Wait until the link is in state; the state it is in then."""
    await until(lambda: link.status.state is state, timeout)
    return link.status.state
