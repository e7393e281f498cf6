"""The MQTT link when the broker dies (SIGKILL) and comes back: down with a reason, up again, resubscribed."""

from __future__ import annotations

import asyncio
import logging

from hmi.io.link import LinkState
from hmi.io.mqtt import MqttLink
from tests.mqtt_peer import Peer, config, unique, until, until_state


def test_a_killed_broker_shows_down_with_the_reason_and_after_its_restart_the_link_is_back_and_resubscribed(
    broker_factory, caplog
):
    broker = broker_factory("mosquitto")
    prefix = unique()
    got: list[bytes] = []
    seen: list[tuple[LinkState, str]] = []

    async def run() -> MqttLink:
        link = MqttLink(config(broker.url, keepalive_s=2), lambda t, p: got.append(p), [f"{prefix}/#"], workstation=prefix)
        link.on_status = lambda s: seen.append((s.state, s.reason))
        await link.start()
        assert await until_state(link, LinkState.UP) is LinkState.UP
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, broker.kill)
        assert await until_state(link, LinkState.DOWN, timeout=10) is LinkState.DOWN
        assert not await link.publish(f"{prefix}/sf-1/instructions", b"while down")
        # Without its store the broker forgets our session: only a new SUBSCRIBE brings the message below.
        (broker.workdir / "mosquitto.db").unlink(missing_ok=True)
        await loop.run_in_executor(None, broker.restart)
        assert await until_state(link, LinkState.UP, timeout=40) is LinkState.UP
        peer = await loop.run_in_executor(None, Peer, broker.url)
        await loop.run_in_executor(None, peer.publish, f"{prefix}/sf-1/reports", b"after the restart")
        await loop.run_in_executor(None, peer.close)
        await until(lambda: b"after the restart" in got)
        assert await link.publish(f"{prefix}-out/sf-1/instructions", b"back")
        await link.stop()
        return link

    with caplog.at_level(logging.INFO, logger="hmi.io.mqtt"):
        link = asyncio.run(run())
    assert got == [b"after the restart"]
    assert (LinkState.DOWN, "broker closed the connection") in seen
    assert seen[-1] == (LinkState.STOPPED, "")
    assert link.counters.reconnects == 1 and link.counters.published == 1
    assert f"mqtt: connection to {broker.url} lost (broker closed the connection); reconnecting" in caplog.text
    assert f"mqtt: {broker.url} is back after " in caplog.text
