"""Report ingest through Mosquitto at QoS 1: MqttLink into an asyncio loop (decoding each report) against a bare paho subscriber.

Both sides get the same N report-sized messages from one paho publisher (QoS 1, 100 in flight) on a
Mosquitto started here; each figure is messages/s from the first publish to the last message handled.
The baseline counts messages in paho's on_message; ours is MqttLink handing them into an asyncio loop
whose handler decodes each with hmi.domain.shopfloor.decode.

Run: .venv/bin/python bench/bench_mqtt_ingest.py [--messages 50000]
Target: ours >= 5,000 messages/s, none lost.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hmi.config import MqttConfig  # noqa: E402
from hmi.domain.shopfloor import Channel, Report, decode, encode, report_id, topic, utc_now_iso  # noqa: E402
from hmi.io.link import LinkState  # noqa: E402
from hmi.io.mqtt import MqttLink  # noqa: E402
from tests.fixtures_mqtt import Broker  # noqa: E402


def reports(count: int) -> list[tuple[str, bytes]]:
    """count progress reports spread over three shopfloors, as (topic, payload)."""
    out = []
    for i in range(count):
        sf = f"sf-{i % 3 + 1}"
        instruction = f"JO-20261207-0001/{sf}/1"
        seq = i // 3 + 1
        report = Report(report_id(instruction, seq), instruction, "ORD-20261207-0001", sf, seq, seq * 10, seq // 20,
                        utc_now_iso())  # fmt: skip
        out.append((topic(sf, Channel.REPORTS), encode(report)))
    return out


def publish_all(url_port: int, messages: list[tuple[str, bytes]]) -> float:
    """Publish every message at QoS 1 (waiting for the last PUBACK); the perf_counter time it started."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.on_socket_open = lambda _c, _u, sock: sock.setsockopt(6, 1, 1)  # TCP_NODELAY
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    started = time.perf_counter()
    last = None
    for t, payload in messages:
        last = client.publish(t, payload, qos=1)
    assert last is not None
    last.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()
    return started


def run_baseline(port: int, messages: list[tuple[str, bytes]]) -> tuple[float, int]:
    """A bare paho subscriber counting in on_message: (messages/s, received)."""
    count = 0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(_c, _u, _m) -> None:
        nonlocal count
        count += 1
        if count == len(messages):
            done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{uuid.uuid4().hex[:6]}")
    sub.on_message = on_message
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.on_socket_open = lambda _c, _u, sock: sock.setsockopt(6, 1, 1)
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    sub.subscribe("shopfloor/+/reports", qos=1)
    subscribed.wait(10)
    started = publish_all(port, messages)
    done.wait(120)
    elapsed = time.perf_counter() - started
    sub.disconnect()
    sub.loop_stop()
    return count / elapsed, count


async def run_ours(port: int, messages: list[tuple[str, bytes]]) -> tuple[float, int, int]:
    """MqttLink into this loop, each message decoded: (messages/s, decoded, undecodable)."""
    decoded = 0
    invalid = 0
    done = asyncio.Event()

    def handle(_topic: str, payload: bytes) -> None:
        nonlocal decoded, invalid
        try:
            decode(payload, Channel.REPORTS)
            decoded += 1
        except ValueError:
            invalid += 1
        if decoded + invalid == len(messages):
            done.set()

    link = MqttLink(MqttConfig(url=f"mqtt://127.0.0.1:{port}"), handle, ["shopfloor/+/reports"],
                    workstation=f"bench-{uuid.uuid4().hex[:6]}")  # fmt: skip
    await link.start()
    while link.status.state is not LinkState.UP:
        await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    started = await loop.run_in_executor(None, publish_all, port, messages)
    try:
        await asyncio.wait_for(done.wait(), 120)
    except asyncio.TimeoutError:
        pass
    elapsed = time.perf_counter() - started
    await link.stop()
    return decoded / elapsed, decoded, invalid


def main() -> None:
    """Run both and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    messages = reports(args.messages)
    size = sum(len(p) for _, p in messages) / len(messages)
    with tempfile.TemporaryDirectory() as folder:
        broker = Broker("mosquitto", Path(folder)).start()
        try:
            base_rate, base_count = run_baseline(broker.port, messages)
            ours_rate, ours_count, invalid = asyncio.run(run_ours(broker.port, messages))
        finally:
            broker.stop()
    n = len(messages)
    print(f"{n:,} QoS 1 reports of {size:.0f} bytes through Mosquitto")
    print(f"baseline (bare paho subscriber, counting): {base_rate:10,.0f} msgs/s, received {base_count:,}, lost {n - base_count:,}")
    print(f"ours (MqttLink -> asyncio loop, decode):   {ours_rate:10,.0f} msgs/s, decoded {ours_count:,}, "
          f"invalid {invalid:,}, lost {n - ours_count - invalid:,}")  # fmt: skip
    print(f"ratio ours/baseline: {ours_rate / base_rate:.2f}   target: >= 5,000 msgs/s, none lost: "
          f"{'PASS' if ours_rate >= 5000 and ours_count == n else 'FAIL'}")  # fmt: skip


if __name__ == "__main__":
    main()
