"""shopfloor-sim on real brokers, the test playing the HMI with a plain paho client.

Capacity 3600/h at speed 10 makes 10 units a second, so an instruction of 30 takes about 3 s.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from hmi.domain.shopfloor import (
    Ack, Activity, Channel, Heartbeat, Hello, Instruction, Machine, MachineState, MessageError, Report, Resume,
    Withdraw, decode, encode, parse_topic, topic, utc_now_iso,
)  # fmt: skip
from shopfloor_sim.process import ShopfloorProcess

FAST = ["--speed", "10", "--seed", "3", "--resend-s", "0.5"]
_job = itertools.count(1)


def instruction(sf: str, quantity: int) -> Instruction:
    n = next(_job)
    job = f"JO-20261207-{n:04d}"
    return Instruction(f"{job}/{sf}/1", f"ORD-20261207-{n:04d}", job, "Cola Bottles 500ml", quantity, "PET Plastic",
                       utc_now_iso())  # fmt: skip


class Hmi:
    """The HMI's side: sends on the instructions topics, collects what comes on reports and heartbeat."""

    def __init__(self, url: str, ids: list[str], auto_ack: bool = True) -> None:
        self.ids, self.auto_ack = ids, auto_ack
        self.got: list[tuple[float, str, Any]] = []  # (arrival, shopfloor id, message or the raw invalid payload)
        self.cond = threading.Condition()
        host, port = url.removeprefix("mqtt://").split(":")
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-hmi-{uuid.uuid4().hex[:8]}",
                                  clean_session=False)  # fmt: skip
        self.client.reconnect_delay_set(1, 2)
        self.client.on_socket_open = lambda c, u, s: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self._subscribed = threading.Event()
        self.client.connect(host, int(port), keepalive=10)
        self.client.loop_start()
        assert self._subscribed.wait(10), "the test's HMI client did not subscribe"

    def _on_connect(self, client, userdata, flags, reason, props) -> None:  # noqa: ANN001
        client.subscribe([(topic(sf, ch), 1) for sf in self.ids for ch in (Channel.REPORTS, Channel.HEARTBEAT)])

    def _on_message(self, client, userdata, msg) -> None:  # noqa: ANN001
        sf, channel = parse_topic(msg.topic)
        try:
            message: Any = decode(msg.payload, channel)
        except MessageError:
            message = bytes(msg.payload)
        if self.auto_ack and isinstance(message, (Report, Hello, Machine)):
            self.ack(sf, message.msgId)
        with self.cond:
            self.got.append((time.monotonic(), sf, message))
            self.cond.notify_all()

    def send(self, sf: str, message: Any) -> None:
        self.client.publish(topic(sf, Channel.INSTRUCTIONS), encode(message), qos=1)

    def ack(self, sf: str, msg_id: str) -> None:
        self.send(sf, Ack(ackFor=msg_id, shopfloorId=sf))

    def wait_for(self, test: Callable[[str, Any], bool], timeout: float = 20.0, after: float = 0.0) -> Any:
        """The first message (arrived after ``after``) for which test(shopfloor id, message) holds."""
        def found() -> Any:
            return next((m for t, sf, m in self.got if t >= after and test(sf, m)), None)

        with self.cond:
            if not self.cond.wait_for(lambda: found() is not None, timeout):
                tail = [(sf, m if not isinstance(m, bytes) else m[:60]) for _, sf, m in self.got[-8:]]
                raise AssertionError(f"no such message within {timeout:g} s; the last were {tail}")
            return found()

    def all(self, test: Callable[[str, Any], bool], after: float = 0.0) -> list[Any]:
        with self.cond:
            return [m for t, sf, m in self.got if t >= after and test(sf, m)]

    def final(self, iid: str, timeout: float = 30.0) -> Report:
        return self.wait_for(lambda sf, m: isinstance(m, Report) and m.instructionId == iid and m.final, timeout)

    def reports(self, iid: str) -> list[Report]:
        return self.all(lambda sf, m: isinstance(m, Report) and m.instructionId == iid)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def is_ack(msg_id: str) -> Callable[[str, Any], bool]:
    return lambda sf, m: isinstance(m, Ack) and m.ackFor == msg_id


@pytest.fixture
def hmi_factory():
    made: list[Hmi] = []

    def make(url: str, ids: list[str], auto_ack: bool = True) -> Hmi:
        made.append(Hmi(url, ids, auto_ack))
        return made[-1]

    yield make
    for h in made:
        h.close()


@pytest.fixture
def sims():
    started: list[ShopfloorProcess] = []

    def start(url: str, ids: list[str], *options: str, capacity: float = 3600.0, state_dir=None, launch_only=False):  # noqa: ANN001
        p = ShopfloorProcess(url, ids, [capacity], [*FAST, *options], state_dir)
        started.append(p)
        p.launch() if launch_only else p.start()
        return p

    yield start
    for p in started:
        p.stop()


# --- confirmed delivery both ways --------------------------------------------------------------------


def test_an_instruction_is_acked_reported_to_its_quantity_and_resending_stops_at_the_ack(any_broker, hmi_factory, sims):
    sf = f"conf-{any_broker.kind}"
    hmi = hmi_factory(any_broker.url, [sf], auto_ack=False)
    sims(any_broker.url, [sf])
    hello = hmi.wait_for(lambda s, m: isinstance(m, Hello))
    assert hello.instructions == ()
    hmi.ack(sf, hello.msgId)
    job = instruction(sf, 30)
    hmi.send(sf, job)
    hmi.wait_for(is_ack(job.msgId))
    final = hmi.final(job.msgId)
    assert (final.produced, final.orderId, final.shopfloorId, final.withdrawn) == (30, job.orderId, sf, False)
    reports = hmi.reports(job.msgId)
    assert [r.produced for r in reports] == sorted(r.produced for r in reports) and len(reports) >= 3
    # Not acked: the final report comes again with the same msgId (every 0.5 s here) ...
    t = time.monotonic()
    again = hmi.wait_for(lambda s, m: isinstance(m, Report) and m.msgId == final.msgId, after=t)
    assert again == final
    # ... and a duplicate of the instruction is acked again, not made twice.
    hmi.send(sf, job)
    hmi.wait_for(is_ack(job.msgId), after=t)
    hmi.ack(sf, final.msgId)
    time.sleep(0.3)  # the ack on its way
    t = time.monotonic()
    hmi.wait_for(lambda s, m: isinstance(m, Heartbeat) and m.activity is Activity.IDLE and m.queued == 0, after=t)
    hmi.wait_for(lambda s, m: isinstance(m, Heartbeat), after=time.monotonic())  # two heartbeats = 2 s+ = 4 resend periods
    assert [r.seq for r in hmi.all(lambda s, m: isinstance(m, Report), after=t)] == []
    assert max(r.produced for r in hmi.reports(job.msgId)) == 30


def test_a_withdraw_ends_the_instruction_with_a_final_withdrawn_report(mosquitto, hmi_factory, sims):
    sf = "withdraw1"
    hmi = hmi_factory(mosquitto.url, [sf])
    sims(mosquitto.url, [sf])
    job = instruction(sf, 10_000)
    hmi.send(sf, job)
    hmi.wait_for(lambda s, m: isinstance(m, Report) and m.instructionId == job.msgId and m.produced > 5)
    hmi.send(sf, Withdraw("W-test-1", job.msgId, "moved to another shopfloor", utc_now_iso()))
    hmi.wait_for(is_ack("W-test-1"))
    final = hmi.final(job.msgId)
    assert final.withdrawn and 5 < final.produced < 10_000
    assert final.seq == max(r.seq for r in hmi.reports(job.msgId))
    t = time.monotonic()
    hmi.send(sf, job)  # sent again after the withdraw: acked and ignored
    hmi.wait_for(is_ack(job.msgId), after=t)
    hb = hmi.wait_for(lambda s, m: isinstance(m, Heartbeat), after=time.monotonic())
    assert (hb.activity, hb.queued) == (Activity.IDLE, 0)
    assert hmi.all(lambda s, m: isinstance(m, Report) and not m.final, after=t) == []


def test_killed_mid_instruction_and_restarted_it_holds_the_work_until_resume_and_makes_it_exactly_once(
    mosquitto, hmi_factory, sims, tmp_path
):
    sf = "restart1"
    hmi = hmi_factory(mosquitto.url, [sf])
    sim = sims(mosquitto.url, [sf], "--defect-rate", "0.1", state_dir=tmp_path)
    job = instruction(sf, 60)
    hmi.send(sf, job)
    hmi.wait_for(lambda s, m: isinstance(m, Report) and m.instructionId == job.msgId and m.produced >= 15)
    sim.kill()
    before = max(hmi.reports(job.msgId), key=lambda r: r.seq)
    assert not before.final
    t = time.monotonic()
    sim.start()
    hello = hmi.wait_for(lambda s, m: isinstance(m, Hello), after=t)
    assert hello.instructions == (job.msgId,)
    hb = hmi.wait_for(lambda s, m: isinstance(m, Heartbeat) and m.seq >= 2, after=t)
    assert (hb.activity, hb.queued) == (Activity.IDLE, 1)  # paused: held, not produced
    held = hmi.all(lambda s, m: isinstance(m, Report), after=t)  # at most the one it saved but had not sent
    assert {r.seq for r in held} <= {before.seq, before.seq + 1}, held
    hmi.send(sf, Resume("R-test-1", job.msgId, utc_now_iso()))
    hmi.wait_for(is_ack("R-test-1"))
    final = hmi.final(job.msgId)
    after = [r for r in hmi.reports(job.msgId) if r.seq > before.seq]
    assert final.produced == 60 and not final.withdrawn
    assert min(r.seq for r in after) >= before.seq  # the numbering goes on: no report repeats an old seq with other totals
    assert all(r.produced >= before.produced for r in after)
    assert "paused until the HMI answers" in sim.wait_for_line("paused")


# --- the fault options -------------------------------------------------------------------------------


def test_each_fault_option_shows_on_the_broker(mosquitto, hmi_factory, sims):
    ids = ["fdie", "fstall", "fother", "fsilent", "fbad", "fmach"]
    hmi = hmi_factory(mosquitto.url, ids)
    sims(mosquitto.url, ["fsilent"], "--stop-reporting-after", "2.5")
    hmi.send("fsilent", instruction("fsilent", 500))
    die = sims(mosquitto.url, ["fdie"], "--die-after", "2")
    sims(mosquitto.url, ["fstall", "fother"], "--fault-id", "fstall", "--stall-after", "3", "--stall-for", "4")
    sims(mosquitto.url, ["fbad"], "--malformed-every", "2")
    sims(mosquitto.url, ["fmach"], "--machine-stop-after", "1.5", "--machine-stop-for", "2")
    for sf in ("fbad", "fmach"):
        hmi.send(sf, instruction(sf, 500))

    assert die.wait(20) == 3  # os._exit, as a crash

    stopped = hmi.wait_for(lambda s, m: isinstance(m, Machine) and m.state is MachineState.STOPPED)
    assert stopped.shopfloorId == "fmach" and "jam" in stopped.reason
    hb = hmi.wait_for(lambda s, m: s == "fmach" and isinstance(m, Heartbeat), after=time.monotonic())
    assert hb.activity is Activity.STOPPED
    hmi.wait_for(lambda s, m: isinstance(m, Machine) and m.state is MachineState.RUNNING)
    hmi.wait_for(lambda s, m: s == "fmach" and isinstance(m, Heartbeat) and m.activity is Activity.PRODUCING)

    # stop reporting: heartbeats say producing, no report arrives any more
    t = time.monotonic() + 0.5
    hmi.wait_for(lambda s, m: s == "fsilent" and isinstance(m, Heartbeat), after=t)
    hb = hmi.wait_for(lambda s, m: s == "fsilent" and isinstance(m, Heartbeat), after=time.monotonic())
    assert hb.activity is Activity.PRODUCING and hmi.all(lambda s, m: s == "fsilent" and isinstance(m, Report), after=t) == []
    assert hmi.all(lambda s, m: s == "fsilent" and isinstance(m, Report))  # it did report before

    # malformed: every kind came by, among valid messages
    raw = hmi.wait_for(lambda s, m: s == "fbad" and isinstance(m, bytes) and len(m) > 1_000_000)
    bad = hmi.all(lambda s, m: s == "fbad" and isinstance(m, bytes)) + [raw]
    assert b"" in bad and any(b"\xff" in m for m in bad) and any(m.startswith(b"{this") for m in bad)
    assert any(b'"msgId":42' in m for m in bad)
    assert hmi.all(lambda s, m: s == "fbad" and isinstance(m, Report) and m.orderId == "ORD-00000000-0000")
    assert hmi.all(lambda s, m: s == "fbad" and isinstance(m, Report) and m.orderId != "ORD-00000000-0000")

    # stall: the faulty one's heartbeats paused for the stall while its neighbour's in the same process went on
    hmi.wait_for(lambda s, m: s == "fstall" and isinstance(m, Heartbeat) and m.seq >= 4)
    beats = {sf: [(t, m.seq) for t, s, m in hmi.got if s == sf and isinstance(m, Heartbeat)] for sf in ("fstall", "fother")}
    gaps = {sf: max(b[0] - a[0] for a, b in zip(ts, ts[1:])) for sf, ts in beats.items()}
    assert gaps["fstall"] > 3.5 > gaps["fother"], gaps
    assert [seq for _, seq in beats["fstall"]] == list(range(1, len(beats["fstall"]) + 1))  # the same process
    assert not hmi.all(lambda s, m: s == "fdie" and isinstance(m, Heartbeat), after=time.monotonic() - 2.5)


# --- the broker goes away ----------------------------------------------------------------------------


@pytest.mark.slow
def test_it_waits_for_a_missing_broker_and_survives_its_kill_and_restart(broker_factory, hmi_factory, sims):
    broker = broker_factory("mosquitto")
    broker.kill()
    sf = "outage1"
    sim = sims(broker.url, [sf], launch_only=True)
    sim.wait_for_line("retrying")
    broker.restart()
    sim.wait_ready()
    hmi = hmi_factory(broker.url, [sf])
    job = instruction(sf, 80)
    hmi.send(sf, job)
    hmi.wait_for(lambda s, m: isinstance(m, Report) and m.instructionId == job.msgId and m.produced >= 10)
    broker.kill()
    time.sleep(1.5)
    broker.restart()
    final = hmi.final(job.msgId, timeout=40)
    assert (final.produced, final.withdrawn) == (80, False)
    lines = [line for line in sim.output if "retrying" in line]
    assert len(lines) == 2, lines  # once per outage: at the start and at the kill
    assert sum("connected to the broker again" in line for line in sim.output) == 2
