"""The shopfloor message codec: every message round-trips; every malformed payload gets a reason."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
import pytest

from hmi.domain.shopfloor import (
    Ack, Activity, Channel, Heartbeat, Hello, Instruction, Machine, MachineState, MessageError, Report,
    Resume, Totals, Withdraw, decode, encode, parse_topic, topic, utc_now_iso,
)  # fmt: skip

NOW = "2026-12-07T10:00:00.000Z"
EXAMPLES = [
    Instruction("sf1-ORD-1-1", "ORD-1", "JO-20261207-0001", "Cola Bottles 500ml", 3000, "PET Plastic", NOW),
    Withdraw("w-1", "sf1-ORD-1-1", "shopfloor sf1 went offline", NOW),
    Resume("r-1", "sf1-ORD-1-1", NOW),
    Ack("sf1-ORD-1-1", "sf1"),
    Report("sf1-ORD-1-1/3", "sf1-ORD-1-1", "ORD-1", "sf1", 3, 120, 2, NOW),
    Report("sf1-ORD-1-1/9", "sf1-ORD-1-1", "ORD-1", "sf1", 9, 1000, 12, NOW, final=True, withdrawn=True),
    Hello("h-1", "sf1", ("sf1-ORD-1-1",), NOW),
    Machine("m-1", "sf1", "filler", MachineState.STOPPED, "jam at the capper", NOW),
    Heartbeat("sf1", 1200.0, Activity.PRODUCING, 1, NOW, 7),
]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: m.TYPE)
def test_every_message_round_trips(message):
    assert decode(encode(message)) == message


GOOD_REPORT = json.loads(encode(EXAMPLES[4]))


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"", "empty payload"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"x" * 1_000_000, "over the limit"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON list, not an object"),
        (json.dumps({**GOOD_REPORT, "type": "rocket"}).encode(), "unknown message type 'rocket'"),
        (json.dumps({**GOOD_REPORT, "v": 2}).encode(), "version 2"),
        (json.dumps({k: v for k, v in GOOD_REPORT.items() if k != "produced"}).encode(), "lacks 'produced'"),
        (json.dumps({**GOOD_REPORT, "produced": -1}).encode(), "whole number from 0"),
        (json.dumps({**GOOD_REPORT, "produced": 1.5}).encode(), "whole number from 0"),
        (json.dumps({**GOOD_REPORT, "produced": True}).encode(), "whole number from 0"),
        (json.dumps({**GOOD_REPORT, "timestamp": "yesterday"}).encode(), "not an ISO 8601 time"),
        (json.dumps({**GOOD_REPORT, "timestamp": "2026-12-07T10:00:00"}).encode(), "no time zone"),
        (json.dumps({**GOOD_REPORT, "shopfloorId": "../x"}).encode(), "not a shopfloor id"),
        (json.dumps({**GOOD_REPORT, "extra": 1}).encode(), "unknown field 'extra'"),
        (b'{"type":"heartbeat","v":1,"shopfloorId":"sf1","capacity":NaN,"activity":"idle","queued":0,'
         b'"timestamp":"2026-12-07T10:00:00Z"}', "NaN"),
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_a_malformed_payload_is_refused_with_its_reason(payload, reason):
    with pytest.raises(MessageError, match=reason):
        decode(payload, Channel.REPORTS)


def test_a_message_on_the_wrong_topic_is_refused():
    with pytest.raises(MessageError, match="an instruction message does not belong on the reports topic"):
        decode(encode(EXAMPLES[0]), Channel.REPORTS)


def test_topics():
    assert topic("sf1", Channel.REPORTS) == "shopfloor/sf1/reports"
    assert parse_topic("shopfloor/sf-2/heartbeat") == ("sf-2", Channel.HEARTBEAT)
    for bad in ("shopfloor/sf1", "plant/sf1/reports", "shopfloor/sf1/gossip", "shopfloor/a b/reports"):
        with pytest.raises(MessageError):
            parse_topic(bad)


def test_totals_take_the_highest_sequence_whatever_the_order():
    reports = [Report(f"i/{n}", "i", "o", "sf1", n, n * 10, n, NOW, final=n == 5) for n in range(1, 6)]
    totals = Totals()
    changed = [totals.apply(r) for r in (reports[4], reports[1], reports[4], reports[0], reports[3])]
    assert changed == [True, False, False, False, False]
    assert (totals.produced, totals.defective, totals.final) == (50, 5, True)


def test_utc_now_is_decodable():
    assert decode(encode(Heartbeat("sf1", 1.0, Activity.IDLE, 0, utc_now_iso()))).timestamp.endswith("Z")


def _round_trip(broker) -> list[bytes]:
    got: list[bytes] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"codec-{broker.kind}")
    client.on_message = lambda c, u, m: got.append(m.payload)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.subscribe("shopfloor/codec/#", qos=1)
        time.sleep(0.3)
        for message in EXAMPLES:
            client.publish(topic("codec", Channel.REPORTS), encode(message), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while len(got) < len(EXAMPLES) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        client.loop_stop()
        client.disconnect()
    return got


def test_messages_cross_both_real_brokers_unchanged(mosquitto, amqtt_broker):
    for broker in (mosquitto, amqtt_broker):
        assert [decode(p) for p in _round_trip(broker)] == EXAMPLES, broker.kind


def test_the_test_mosquitto_persists_its_store(broker_factory):
    """The fault tests rely on it: a Mosquitto that cannot write its store would forget queued messages."""
    broker = broker_factory("mosquitto")
    deadline = time.monotonic() + 5
    while not (broker.workdir / "mosquitto.db").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    broker.stop()
    assert (broker.workdir / "mosquitto.db").exists(), broker.log.read_text()[-500:]
    assert "Permission denied" not in broker.log.read_text()
