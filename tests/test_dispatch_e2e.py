"""Orders over MQTT end to end (issue 13, "How it is judged"): a real broker, real shopfloor-sim processes,
`hmi collect` with an [mqtt] section as the HMI (a real Runtime with its Dispatcher), SQLite, and the
orders created and released through the OrderService as a production planner.

What a user checks: the order's status and totals, its shares and reassignments, the material, and
the counters of invalid messages. The shopfloors run at a high speed factor so each order takes seconds.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import func, select

from hmi.domain.orders import FINISHED, OrderStatus, ShareStatus, ShopfloorHealth
from hmi.domain.session import SessionUser
from hmi.domain.shopfloor import Ack, Activity, Heartbeat, Instruction, Report, decode, encode, iso
from hmi.services.commands import CommandService
from hmi.services.orders import OrderService
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from hmi.store.schema import report_receipts
from shopfloor_sim.process import ShopfloorProcess
from tests.collector_proc import CollectorProcess

T = TypeVar("T")
CAPACITIES = {"a": 1200.0, "b": 900.0, "c": 600.0}  # good units per hour at speed 1
SPEED = 400  # sf "a" makes 1200 * 400 / 3600 = 133 good units a second
QUANTITY = 3000
MATERIAL = "PET Plastic"


def wait_until(probe: Callable[[], T | None], timeout: float, what: str, every: float = 0.2) -> T:
    """The first truthy value of ``probe()`` within ``timeout`` s; fails the test naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"no {what} within {timeout:g} s (last: {last!r})")


def write_config(path: Path, broker_url: str, client_id: str) -> Path:
    """A plant with no PLC and the MES half on: heartbeats judged quickly, re-sends every second."""
    path.write_text(
        "endpoints = []\n[twins]\n\n"
        f'[mqtt]\nurl = "{broker_url}"\nclient_id = "{client_id}"\n\n'
        "[shopfloors]\nlate_after_s = 3\noffline_after_s = 6\nresend_s = 1\nahead = 2\n",
        encoding="utf-8",
    )
    return path


class Plant:
    """The HMI (`hmi collect`), its database, and the planner's and MES manager's OrderService on it."""

    def __init__(self, tmp_path: Path, broker_url: str, prefix: str, db_url: str | None = None) -> None:
        self.tmp_path = tmp_path
        self.broker_url = broker_url
        self.prefix = prefix  # shopfloor ids are unique per test: the brokers may be shared
        self.db_url = db_url or f"sqlite:///{tmp_path / 'hmi.db'}"
        upgrade(self.db_url)
        self.engine = make_engine(self.db_url)
        self.config = write_config(tmp_path / "plant.toml", broker_url, f"hmi-{prefix}")
        planner = SessionUser("planner", "production_planner")
        self.orders = OrderService(CommandService(self.engine, lambda: planner, "e2e"))
        self.hmi = self.start_hmi()
        self.floors: dict[str, ShopfloorProcess] = {}

    def start_hmi(self, n: int = 1) -> CollectorProcess:
        """`hmi collect` on this plant (status every 0.5 s); ``n`` > 1: another workstation's (its own client id)."""
        config = self.config if n == 1 else write_config(self.tmp_path / f"plant-{n}.toml", self.broker_url,
                                                          f"hmi-{self.prefix}{n}")  # fmt: skip
        return CollectorProcess(config, self.db_url, status_interval=0.5, migrate=False).start()

    def sf(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def start_floor(self, broker_url: str, name: str, *options: str) -> ShopfloorProcess:
        """One shopfloor-sim process for shopfloor ``name`` with its own state folder."""
        floor = ShopfloorProcess(broker_url, [self.sf(name)], [CAPACITIES[name]],
                                 options=["--speed", str(SPEED), "--seed", "7", *options],
                                 state_dir=self.tmp_path / f"state-{name}")  # fmt: skip
        self.floors[name] = floor
        return floor.start()

    def wait_online(self, names: list[str], timeout: float = 30.0) -> None:
        """Until the HMI has judged each of these shopfloors online."""
        wanted = {self.sf(n) for n in names}

        def online() -> bool:
            return wanted <= {s.shopfloor_id for s in self.orders.list_shopfloors() if s.health is ShopfloorHealth.ONLINE}

        wait_until(online, timeout, f"heartbeats of {sorted(wanted)} judged online")

    def order(self, quantity: int = QUANTITY) -> str:
        """Receive the material, create an order and release it; its id."""
        self.orders.receive_material(MATERIAL, quantity * 2, "kg")
        due = datetime.now(timezone.utc) + timedelta(days=1)
        order = self.orders.create_order("Cola Bottles 500ml", quantity, MATERIAL, due, priority=2, material_per_unit=0.5)
        self.orders.release_order(order.order_id)
        return order.order_id

    def detail(self, order_id: str):
        return self.orders.order_detail(order_id)

    def produced(self, order_id: str) -> int:
        return self.detail(order_id).order.produced

    def finished(self, order_id: str, timeout: float = 90.0):
        """The order once it is completed, short or cancelled."""
        def done():
            order = self.detail(order_id).order
            return order if order.status in FINISHED else None

        return wait_until(done, timeout, f"end of {order_id}", every=0.3)

    def close(self) -> None:
        for floor in self.floors.values():
            floor.stop()
        if self.hmi.proc is not None and self.hmi.proc.poll() is None:
            self.hmi.stop()
        self.engine.dispose()


@pytest.fixture
def plant_factory(tmp_path, request) -> Iterator[Callable[[str], Plant]]:
    made: list[Plant] = []

    def make(broker_url: str, db_url: str | None = None) -> Plant:
        prefix = f"t{abs(hash(request.node.nodeid)) % 10**6}-"
        made.append(Plant(tmp_path, broker_url, prefix, db_url))
        return made[-1]

    yield make
    for plant in made:
        plant.close()


def assert_complete(plant: Plant, order_id: str) -> None:
    """Completed with exactly the quantity in good units; the material consumed as made, nothing left reserved."""
    order = plant.finished(order_id)
    assert order.status is OrderStatus.COMPLETED, plant.hmi.stderr[-3000:]
    assert order.produced == QUANTITY
    active = [s for s in order.shares if s.status not in (ShareStatus.WITHDRAWING, ShareStatus.WITHDRAWN)]
    assert sum(s.produced for s in order.shares) == QUANTITY
    assert all(s.status is ShareStatus.DONE for s in active)
    [material] = [m for m in plant.orders.list_materials() if m.name == MATERIAL]
    assert material.reserved == pytest.approx(0.0)
    assert material.on_hand == pytest.approx(2 * QUANTITY - 0.5 * (order.produced + order.defective))


def start_three(plant: Plant, broker_url: str) -> None:
    for name in CAPACITIES:
        plant.start_floor(broker_url, name)
    plant.wait_online(list(CAPACITIES))


@pytest.mark.parametrize("kind", ["mosquitto", "amqtt"])
def test_an_order_of_3000_is_split_by_capacity_and_completes(request, plant_factory, kind):
    broker = request.getfixturevalue("mosquitto" if kind == "mosquitto" else "amqtt_broker")
    plant = plant_factory(broker.url)
    start_three(plant, broker.url)
    order_id = plant.order()
    shares = {s.shopfloor_id: s.quantity for s in plant.detail(order_id).order.shares}
    total = sum(CAPACITIES.values())
    assert sum(shares.values()) == QUANTITY
    for name, capacity in CAPACITIES.items():
        assert abs(shares[plant.sf(name)] - QUANTITY * capacity / total) <= 1, shares
    assert_complete(plant, order_id)
    order = plant.detail(order_id).order
    assert {s.shopfloor_id: s.produced for s in order.shares} == shares
    line = plant.hmi.wait_for(lambda s: True, 5, "a status line").text
    assert "broker=up" in line and "invalid 0 " in line and "(dispatcher)" in line


@pytest.mark.slow
def test_a_shopfloor_killed_mid_order_has_its_remainder_reassigned(mosquitto, plant_factory):
    plant = plant_factory(mosquitto.url)
    start_three(plant, mosquitto.url)
    order_id = plant.order()
    victim = plant.sf("a")

    def victim_started() -> bool:
        return any(s.shopfloor_id == victim and s.produced > 0 for s in plant.detail(order_id).order.shares)

    wait_until(victim_started, 30, f"first report of {victim}")
    plant.floors["a"].kill()
    assert_complete(plant, order_id)
    detail = plant.detail(order_id)
    [moved] = detail.reassignments
    assert moved.from_shopfloor == victim and moved.by == "system" and "offline" in moved.reason
    assert victim not in {sf for sf, _ in moved.to} and sum(units for _, units in moved.to) == moved.quantity
    [old] = [s for s in detail.order.shares if s.shopfloor_id == victim and s.status is not ShareStatus.DONE]
    assert old.status is ShareStatus.WITHDRAWING
    assert moved.quantity == old.quantity - old.produced
    # It comes back: its hello gets the withdraw, it confirms with its final report and makes no more.
    plant.floors["a"].start()

    def withdrawn():
        share = next(s for s in plant.detail(order_id).order.shares if s.instruction_id == old.instruction_id)
        return share if share.status is ShareStatus.WITHDRAWN else None

    share = wait_until(withdrawn, 30, f"withdrawal of {old.instruction_id} confirmed")
    assert share.produced >= old.produced  # what it made before it died and could not report
    time.sleep(3.0)  # a few heartbeats of the shopfloor back online
    again = next(s for s in plant.detail(order_id).order.shares if s.instruction_id == old.instruction_id)
    assert (again.status, again.produced) == (ShareStatus.WITHDRAWN, share.produced)
    assert plant.detail(order_id).order.status is OrderStatus.COMPLETED


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mosquitto", "amqtt"])  # amqtt forgets all it queued for a session
def test_the_broker_killed_and_restarted_mid_order_loses_no_instruction(broker_factory, plant_factory, kind):
    broker = broker_factory(kind)
    plant = plant_factory(broker.url)
    start_three(plant, broker.url)
    order_id = plant.order()

    def sent() -> bool:
        return all(s.status is not ShareStatus.QUEUED for s in plant.detail(order_id).order.shares)

    wait_until(sent, 20, "the instructions sent", every=0.05)
    broker.kill()  # the instructions on the wire, PUBACKed and forgotten, or their acks lost
    plant.hmi.wait_for(lambda s: "broker=down (" in s.text, 20, "the broker link down, with the reason")
    time.sleep(1.0)
    broker.restart()
    plant.hmi.wait_for(lambda s: "broker=up" in s.text, 40, "the broker link up again")
    wait_until(lambda: plant.produced(order_id) >= QUANTITY // 3, 60, "a third of the order made")
    broker.kill()  # and reports in flight
    time.sleep(2.0)
    broker.restart()
    assert_complete(plant, order_id)
    assert plant.detail(order_id).reassignments == ()


@pytest.mark.slow
def test_the_hmi_killed_mid_order_and_restarted_finishes_it(mosquitto, plant_factory):
    plant = plant_factory(mosquitto.url)
    start_three(plant, mosquitto.url)
    order_id = plant.order()
    wait_until(lambda: plant.produced(order_id) >= QUANTITY // 4, 60, "a quarter of the order made")
    plant.hmi.kill()
    time.sleep(2.0)  # the shopfloors go on and keep their unconfirmed reports
    plant.hmi = plant.start_hmi()
    assert_complete(plant, order_id)


STATUS_COUNTS = re.compile(r"orders received (\d+) applied (\d+) dup (\d+) invalid (\d+) outbox (\d+) \((\w+)\)")


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workstations_on_one_postgresql_apply_each_report_once_and_one_dispatches(mosquitto, pg_url,
                                                                                      plant_factory):  # fmt: skip
    plant = plant_factory(mosquitto.url, pg_url)
    second = plant.start_hmi(2)
    try:
        start_three(plant, mosquitto.url)
        order_id = plant.order()
        assert_complete(plant, order_id)
        def settled():
            """(both status lines) once the reports the two applied add up to the receipts (the last may be in flight)."""
            lines = [hmi.wait_for(lambda s: True, 5, "a status line").text for hmi in (plant.hmi, second)]
            counts = [STATUS_COUNTS.search(line) for line in lines]
            assert all(counts), lines
            with plant.engine.connect() as conn:
                receipts = conn.execute(select(func.count()).select_from(report_receipts)).scalar()
            return counts if sum(int(m.group(2)) for m in counts) == receipts else None

        counts = wait_until(settled, 20, "the applied reports of both adding up to the receipts")
        assert sorted(m.group(6) for m in counts) == ["dispatcher", "follower"]
        assert all(int(m.group(2)) > 0 for m in counts)  # both applied reports
    finally:
        second.stop()


# --- the test plays the shopfloor itself ---------------------------------------------------------


class FakeFloor:
    """A shopfloor played by the test: a paho client that heartbeats, takes instructions and publishes reports."""

    def __init__(self, broker_url: str, shopfloor_id: str) -> None:
        host, port = broker_url.removeprefix("mqtt://").split(":")
        self.id = shopfloor_id
        self.instructions: list[Instruction] = []
        self.acks: set[str] = set()
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fake-{shopfloor_id}")
        self.client.on_message = self._on_message
        self.client.connect(host, int(port))
        self.client.subscribe(f"shopfloor/{shopfloor_id}/instructions", qos=1)
        self.client.loop_start()
        self._beating = True
        self._seq = 0
        threading.Thread(target=self._beat, daemon=True).start()

    def _on_message(self, client, userdata, message) -> None:
        m = decode(message.payload)
        with self._lock:
            if isinstance(m, Instruction):
                if all(i.msgId != m.msgId for i in self.instructions):
                    self.instructions.append(m)
                self.publish("reports", encode(Ack(ackFor=m.msgId, shopfloorId=self.id)), wait=False)
            elif isinstance(m, Ack):
                self.acks.add(m.ackFor)

    def _beat(self) -> None:
        while self._beating:
            self._seq += 1
            hb = Heartbeat(shopfloorId=self.id, capacity=3600.0, activity=Activity.PRODUCING, queued=len(self.instructions),
                           timestamp=iso(datetime.now(timezone.utc)), seq=self._seq)  # fmt: skip
            self.publish("heartbeat", encode(hb), qos=0)
            time.sleep(1.0)

    def publish(self, channel: str, payload: bytes, qos: int = 1, wait: bool = True) -> None:
        """Publish; with ``wait`` until the broker took it (not in paho's callbacks: that would block its thread)."""
        info = self.client.publish(f"shopfloor/{self.id}/{channel}", payload, qos=qos)
        if wait:
            info.wait_for_publish(5)

    def report(self, instruction: Instruction, seq: int, produced: int, defective: int, final: bool = False) -> Report:
        return Report(msgId=f"{instruction.msgId}/{seq}", instructionId=instruction.msgId, orderId=instruction.orderId,
                      shopfloorId=self.id, seq=seq, produced=produced, defective=defective,
                      timestamp=iso(datetime.now(timezone.utc)), final=final)  # fmt: skip

    def close(self) -> None:
        self._beating = False
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def fake_floor(request) -> Iterator[Callable[[str, str], FakeFloor]]:
    made: list[FakeFloor] = []

    def make(broker_url: str, shopfloor_id: str) -> FakeFloor:
        made.append(FakeFloor(broker_url, shopfloor_id))
        return made[-1]

    yield make
    for floor in made:
        floor.close()


def one_instruction(floor: FakeFloor) -> Instruction:
    return wait_until(lambda: floor.instructions[0] if floor.instructions else None, 20, f"instruction to {floor.id}")


def test_duplicate_and_out_of_order_reports_leave_the_totals_right(any_broker, plant_factory, fake_floor):
    plant = plant_factory(any_broker.url)
    floor = fake_floor(any_broker.url, plant.sf("x"))
    plant.wait_online(["x"])
    order_id = plant.order(quantity=100)
    instruction = one_instruction(floor)
    assert instruction.quantity == 100 and instruction.orderId == order_id
    running = [floor.report(instruction, seq, seq * 20, seq) for seq in range(1, 5)]  # 20, 40, 60, 80 good
    final = floor.report(instruction, 5, 100, 5, final=True)
    shuffled = running + running[::-1] + [running[1]]
    random.Random(3).shuffle(shuffled)
    for report in shuffled[:5]:
        floor.publish("reports", encode(report))
    floor.publish("reports", encode(final))
    for report in shuffled[5:] + [final]:  # late and duplicate, after the final one
        floor.publish("reports", encode(report))
    wait_until(lambda: floor.acks >= {r.msgId for r in running + [final]}, 20, "an ack for every report")
    order = plant.finished(order_id, timeout=20)
    assert order.status is OrderStatus.COMPLETED
    assert (order.produced, order.defective) == (100, 5)
    [share] = order.shares
    assert (share.produced, share.defective, share.status) == (100, 5, ShareStatus.DONE)
    line = plant.hmi.wait_for(lambda s: "applied 5 " in s.text, 10, "5 reports applied").text
    assert "invalid 0" in line


def test_bad_messages_are_counted_and_change_no_order(mosquitto, plant_factory, fake_floor):
    plant = plant_factory(mosquitto.url)
    floor = fake_floor(mosquitto.url, plant.sf("y"))
    plant.wait_online(["y"])
    order_id = plant.order(quantity=100)
    instruction = one_instruction(floor)
    floor.publish("reports", encode(floor.report(instruction, 1, 10, 0)))
    plant.hmi.wait_for(lambda s: "applied 1 " in s.text, 20, "the first report applied")
    before = plant.detail(order_id).order
    wrong_schema = json.dumps({"type": "report", "v": 1, "msgId": "x", "produced": "lots"}).encode()
    unknown_order = encode(Report(msgId=f"{instruction.msgId}/2", instructionId=instruction.msgId, orderId="ORD-20000101-0001",
                                  shopfloorId=floor.id, seq=2, produced=99, defective=0,
                                  timestamp=iso(datetime.now(timezone.utc))))  # fmt: skip
    bad = [b"", b"{" + b" " * (1024 * 1024) + b"}", b'{"type":"report","msgId":"\xff\xfe"}', wrong_schema, unknown_order]
    for payload in bad:
        floor.publish("reports", payload)
    line = plant.hmi.wait_for(lambda s: "invalid 5 " in s.text, 20, "5 invalid messages counted").text
    # The refused report is acknowledged all the same (it can never apply); the garbage is not.
    wait_until(lambda: f"{instruction.msgId}/2" in floor.acks, 10, "the ack of the refused report")
    assert floor.acks == {f"{instruction.msgId}/1", f"{instruction.msgId}/2"}
    assert "applied 1 " in line
    def state(order):  # what the messages could change (the expected times move with the clock)
        shares = [(s.instruction_id, s.quantity, s.status, s.produced, s.defective) for s in order.shares]
        return order.produced, order.defective, order.status, shares

    assert state(plant.detail(order_id).order) == state(before)
    assert plant.hmi.proc.poll() is None
    for reason in ("empty payload", "over the limit", "not UTF-8", "report message lacks", "does not match instruction"):
        assert reason in plant.hmi.stderr, reason
