"""The dispatcher on its own (a unit test of one piece): a fake orders store and a fake link, a real
SQLite database for its transactions and the lease. What goes in, what is stored, what is sent back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import exc

from hmi.domain.links import LinkState, LinkStatus
from hmi.domain.orders import Reassignment, ReportRejected, ShopfloorHealth
from hmi.domain.shopfloor import Ack, Activity, Heartbeat, Hello, Report, decode, encode
from hmi.services.dispatch import Dispatcher

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
ISO = "2026-12-07T10:00:00.000Z"


@dataclass
class Settings:
    late_after_s: float = 5.0
    offline_after_s: float = 10.0
    resend_s: float = 3.0
    ahead: int = 2
    known: tuple = ()


@dataclass
class Out:
    msg_id: str
    shopfloor_id: str
    payload: bytes


@dataclass
class FakeStore:
    """Records each call; apply_report says new once per msgId, refuses unknown orders, fails on 'BOOM'."""

    calls: list[tuple] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    heartbeats: dict[str, datetime | None] = field(default_factory=dict)
    due: list[Out] = field(default_factory=list)
    unfinished: set[str] = field(default_factory=set)

    def record_heartbeat(self, conn, hb, received_at):
        self.calls.append(("heartbeat", hb.shopfloorId, hb.seq))

    def apply_report(self, conn, r, received_at):
        if r.orderId == "ORD-UNKNOWN":
            raise ReportRejected(f"there is no order {r.orderId}")
        if r.orderId == "BOOM":
            raise exc.OperationalError("UPDATE", {}, Exception("database is locked"))
        self.calls.append(("report", r.msgId))
        new = r.msgId not in self.seen
        self.seen.add(r.msgId)
        return new

    def apply_ack(self, conn, ack, now=None):
        if ack.ackFor == "BUG":
            raise RuntimeError("a bug in the store")
        self.calls.append(("ack", ack.ackFor))

    def answer_hello(self, conn, hello, now):
        self.calls.append(("hello", hello.msgId))

    def outbox_due(self, conn, now, resend_s):
        return list(self.due)

    def mark_sent(self, conn, ids, now):
        self.calls.append(("sent", tuple(ids)))

    def dispatch_queued(self, conn, now, ahead):
        self.calls.append(("dispatch", ahead))

    def reassign_offline(self, conn, shopfloor_id, reason, now, workstation="dispatch"):
        self.calls.append(("reassign", shopfloor_id, reason))
        if shopfloor_id in self.unfinished:
            self.unfinished.discard(shopfloor_id)
            return [Reassignment(now, "ORD-1", shopfloor_id, 100, (("sf2", 100),), reason)]
        return []

    def save_health(self, conn, health):
        self.calls.append(("health", dict(health)))
        return []

    def count_invalid(self, conn, shopfloor_id, reason, now=None):
        self.calls.append(("invalid", shopfloor_id, reason))

    def last_heartbeats(self, conn):
        return dict(self.heartbeats)

    def outbox_pending(self, conn):
        return len(self.due)

    def of(self, kind):
        return [c for c in self.calls if c[0] == kind]


class FakeLink:
    """Takes every publish except to topics in ``refuse``; ``up`` is the link state."""

    def __init__(self) -> None:
        self.up = True
        self.published: list[tuple[str, bytes]] = []
        self.refuse: set[str] = set()

    @property
    def status(self) -> LinkStatus:
        return LinkStatus("broker", LinkState.UP if self.up else LinkState.DOWN, 0.0)

    async def publish(self, topic, payload, qos=1):
        if topic in self.refuse:
            return False
        self.published.append((topic, payload))
        return True


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def report(seq: int, sf: str = "sf1", order: str = "ORD-1", produced: int = 10) -> bytes:
    iid = f"JO-1/{sf}/1"
    return encode(Report(msgId=f"{iid}/{seq}", instructionId=iid, orderId=order, shopfloorId=sf, seq=seq,
                         produced=produced, defective=0, timestamp=ISO))


def heartbeat(sf: str, seq: int) -> bytes:
    return encode(Heartbeat(shopfloorId=sf, capacity=1200.0, activity=Activity.PRODUCING, queued=1, timestamp=ISO, seq=seq))


def acks(link: FakeLink) -> list[tuple[str, str]]:
    out = []
    for topic, payload in link.published:
        m = decode(payload)
        if isinstance(m, Ack):
            out.append((topic, m.ackFor))
    return out


def run(engine, body, *, holder=True, store=None, link=None, clock=None, tick_s=3600.0):
    """Run ``body(dispatcher)`` on a loop with a started dispatcher, then stop it; (store, link)."""
    store = store or FakeStore()
    link = link or FakeLink()

    async def main():
        d = Dispatcher(link, engine, Settings(), store, "ws1", clock=clock or Clock(), tick_s=tick_s)
        await d.start()
        await asyncio.sleep(0.05)  # the first round: the lease
        assert d.holder is holder
        try:
            await body(d)
        finally:
            await d.stop()
        return d

    d = asyncio.run(main())
    return store, link, d


async def settle(d: Dispatcher) -> None:
    """Until the inbox is applied and the acks are out."""
    for _ in range(200):
        await asyncio.sleep(0.01)
        if not d._inbox and not d._publishing:
            return


def test_reports_are_applied_then_acknowledged_duplicates_too(engine):
    async def body(d):
        for payload in (report(1), report(2), report(1)):
            d.on_message("shopfloor/sf1/reports", payload)
        await settle(d)

    store, link, d = run(engine, body)
    # Applied by order, instruction and seq within a batch (one lock order for every workstation).
    assert store.of("report") == [("report", "JO-1/sf1/1/1"), ("report", "JO-1/sf1/1/1"), ("report", "JO-1/sf1/1/2")]
    assert sorted(acks(link)) == [("shopfloor/sf1/instructions", "JO-1/sf1/1/1")] * 2 + [("shopfloor/sf1/instructions", "JO-1/sf1/1/2")]
    s = d.stats()
    assert (s.received, s.applied, s.duplicates, s.invalid) == (3, 2, 1, 0)


@pytest.mark.parametrize("topic,payload,reason", [
    ("shopfloor/sf1/reports", b"", "empty payload (0 bytes)"),
    ("shopfloor/sf1/reports", b"{" + b" " * (1024 * 1024) + b"}", "payload of 1,048,578 bytes is over the limit"),
    ("shopfloor/sf1/reports", b'{"type":"report","v":1,"msgId":"\xff"}', "payload is not UTF-8"),
    ("shopfloor/sf1/reports", b'{"type":"report","v":1,"msgId":"x"}', "report message lacks 'instructionId'"),
    ("shopfloor/sf1/heartbeat", report(1), "a report message does not belong on the heartbeat topic"),
    ("shopfloor/sf2/reports", report(1, sf="sf1"), "report message of sf1 on the topic of sf2"),
    ("shopfloor/sf1/other", report(1), "has an unknown channel 'other'"),
    ("factory/sf1/reports", report(1), "is not shopfloor/<id>/<channel>"),
])  # fmt: skip
def test_invalid_messages_are_counted_with_the_reason_and_change_nothing(engine, caplog, topic, payload, reason):
    async def body(d):
        d.on_message(topic, payload)
        await settle(d)

    store, link, d = run(engine, body)
    [(kind, sf, why)] = [c for c in store.calls if c[0] not in ("dispatch", "health")]
    assert kind == "invalid" and reason in why
    assert sf == (None if topic.startswith("factory") else topic.split("/")[1])
    assert acks(link) == []
    assert d.stats().invalid == 1 and d.stats().applied == 0
    assert reason in caplog.text


def test_a_refused_report_is_counted_and_acknowledged_and_the_rest_of_its_batch_applies(engine):
    async def body(d):
        d.on_message("shopfloor/sf1/reports", report(1, order="ORD-UNKNOWN"))
        d.on_message("shopfloor/sf1/reports", report(2))
        await settle(d)

    store, link, d = run(engine, body)
    [invalid] = store.of("invalid")
    assert invalid[1] == "sf1" and "there is no order ORD-UNKNOWN" in invalid[2]
    # Both acknowledged: the refused one can never apply, so the shopfloor may stop sending it.
    assert sorted(acks(link)) == [("shopfloor/sf1/instructions", "JO-1/sf1/1/1"), ("shopfloor/sf1/instructions", "JO-1/sf1/1/2")]
    assert (d.stats().applied, d.stats().invalid) == (1, 1)


def test_when_the_batch_cannot_be_stored_nothing_is_acknowledged(engine):
    async def body(d):
        d.on_message("shopfloor/sf1/reports", report(1))
        d.on_message("shopfloor/sf1/reports", report(2, order="BOOM"))
        await settle(d)

    store, link, d = run(engine, body)
    assert acks(link) == []
    assert d.stats().db_ok is False and "database is locked" in d.stats().last_error


def test_heartbeats_are_recorded_newest_per_shopfloor_and_acks_applied(engine):
    async def body(d):
        for seq in (1, 2, 3):
            d.on_message("shopfloor/sf1/heartbeat", heartbeat("sf1", seq))
        d.on_message("shopfloor/sf2/heartbeat", heartbeat("sf2", 7))
        d.on_message("shopfloor/sf1/reports", encode(Ack(ackFor="JO-1/sf1/1", shopfloorId="sf1")))
        await settle(d)

    store, link, d = run(engine, body)
    assert sorted(store.of("heartbeat")) == [("heartbeat", "sf1", 3), ("heartbeat", "sf2", 7)]
    assert store.of("ack") == [("ack", "JO-1/sf1/1")]
    assert link.published == []  # an ack is not acknowledged


def test_only_the_dispatcher_answers_a_hello(engine):
    hello = encode(Hello(msgId="H-sf1-1", shopfloorId="sf1", instructions=("JO-1/sf1/1",), timestamp=ISO))

    async def both():
        store = FakeStore()
        holder_link, follower_link = FakeLink(), FakeLink()
        first = Dispatcher(holder_link, engine, Settings(), store, "ws1", tick_s=3600)
        second = Dispatcher(follower_link, engine, Settings(), store, "ws1", tick_s=3600)
        await first.start()
        await asyncio.sleep(0.05)
        await second.start()
        await asyncio.sleep(0.05)
        assert (first.holder, second.holder) == (True, False)
        second.on_message("shopfloor/sf1/reports", hello)
        await settle(second)
        assert store.of("hello") == [] and follower_link.published == []
        first.on_message("shopfloor/sf1/reports", hello)
        await settle(first)
        assert store.of("hello") == [("hello", "H-sf1-1")]
        assert acks(holder_link) == [("shopfloor/sf1/instructions", "H-sf1-1")]
        await second.stop()
        await first.stop()

    asyncio.run(both())


def test_the_round_reassigns_an_offline_shopfloor_and_sends_what_is_due(engine):
    clock = Clock()
    store = FakeStore(heartbeats={"sf1": T0 - timedelta(seconds=60), "sf2": None}, unfinished={"sf1"})
    store.due = [Out("JO-1/sf2/1", "sf2", b"instruction sf2"), Out("JO-1/sf3/1", "sf3", b"instruction sf3")]
    link = FakeLink()
    link.refuse = {"shopfloor/sf3/instructions"}

    async def body(d):
        clock.now = T0 + timedelta(seconds=5)
        d.on_message("shopfloor/sf2/heartbeat", heartbeat("sf2", 1))
        await settle(d)
        clock.now = T0 + timedelta(seconds=11)  # sf1 heard before the link came up (at T0), 11 s ago; sf2 6 s ago
        await d.tick()
        assert d.health == {"sf1": ShopfloorHealth.OFFLINE, "sf2": ShopfloorHealth.LATE}

    store, link, d = run(engine, body, store=store, link=link, clock=clock)
    [(_, sf, reason)] = store.of("reassign")[:1]
    assert sf == "sf1" and reason == "sf1 offline: no heartbeat for 11 s"
    assert ("dispatch", 2) in store.calls
    assert ("health", {"sf1": ShopfloorHealth.OFFLINE, "sf2": ShopfloorHealth.LATE}) in store.calls
    assert ("shopfloor/sf2/instructions", b"instruction sf2") in link.published
    assert ("sent", ("JO-1/sf2/1",)) in store.calls  # sf3's was not taken: due again next round
    assert d.stats().outbox_pending == 2


def test_while_the_link_is_down_nobody_is_judged_and_nothing_is_sent(engine):
    clock = Clock()
    store = FakeStore(heartbeats={"sf1": T0 - timedelta(seconds=600)}, unfinished={"sf1"})
    store.due = [Out("JO-1/sf1/1", "sf1", b"x")]
    link = FakeLink()
    link.up = False

    async def body(d):
        clock.now = T0 + timedelta(seconds=30)
        await d.tick()
        assert d.health == {"sf1": ShopfloorHealth.UNKNOWN}

    store, link, d = run(engine, body, store=store, link=link, clock=clock)
    assert store.of("reassign") == [] and store.of("sent") == [] and link.published == []
    assert ("health", {"sf1": ShopfloorHealth.UNKNOWN}) in store.calls


def test_a_follower_neither_judges_nor_sends(engine):
    store = FakeStore(heartbeats={"sf1": T0 - timedelta(seconds=600)}, unfinished={"sf1"})
    store.due = [Out("JO-1/sf1/1", "sf1", b"x")]

    async def main():
        holder = Dispatcher(FakeLink(), engine, Settings(), FakeStore(), "ws1", clock=Clock(), tick_s=3600)
        await holder.start()
        await asyncio.sleep(0.05)
        link = FakeLink()
        follower = Dispatcher(link, engine, Settings(), store, "ws2", clock=Clock(), tick_s=3600)
        await follower.start()
        await asyncio.sleep(0.05)
        await follower.tick()
        assert follower.holder is False and link.published == []
        await follower.stop()
        await holder.stop()

    asyncio.run(main())
    assert store.calls == []


def test_a_message_that_fails_is_counted_and_the_rest_of_its_batch_applies(engine, caplog):
    async def body(d):
        d.on_message("shopfloor/sf1/reports", encode(Ack(ackFor="BUG", shopfloorId="sf1")))
        d.on_message("shopfloor/sf1/reports", report(1))
        await settle(d)

    store, link, d = run(engine, body)
    [invalid] = store.of("invalid")
    assert invalid[1:] == ("sf1", "ack message could not be applied (RuntimeError)")
    assert acks(link) == [("shopfloor/sf1/instructions", "JO-1/sf1/1/1")]
    assert "a bug in the store" in caplog.text
