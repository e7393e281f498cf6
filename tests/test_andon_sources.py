"""Causes of andon calls without processes (issue 14): the trip edges of a twin's status tag, the dispatcher's
machine and offline causes, and the escalation tick's config."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from hmi.config import ConfigError, load_config, parse_config
from hmi.domain.andon import Origin, TripDetector, status_tags
from hmi.domain.orders import ShopfloorHealth
from hmi.domain.shopfloor import Machine, MachineState, encode, iso
from hmi.domain.errors import DatabaseUnavailable
from hmi.domain.tags import Quality, TagValue
from hmi.resources import resource_text
from hmi.services.andon import AndonService
from tests.andon_support import andon_config
from tests.test_dispatch import T0, Clock, FakeStore, acks, run, settle

PLANT = resource_text("plant.toml")

TAG = "compressor1.status"


def tv(value: float | None, ts: float, quality: Quality = Quality.GOOD, tag: str = TAG) -> TagValue:
    return TagValue(tag, value, quality, ts, ts)


def edges(detector: TripDetector, *values: TagValue) -> list[tuple[str, bool, int]]:
    return [(e.line, e.started, e.at_us) for e in detector.feed(values)]


def test_every_twin_of_the_packaged_plant_has_a_status_tag():
    config = load_config()
    assert status_tags(config.plant()) == {f"{twin}.status": twin for twin in config.twins}
    assert len(config.twins) == 8


def test_plc_sim_prints_a_status_tag_for_every_twin():
    from tests.fixtures_plc import run_plc_sim

    printed = run_plc_sim("--print-config", "--port", "4999")
    assert printed.returncode == 0, printed.stderr
    config = parse_config(printed.stdout, "printed")
    assert sorted(status_tags(config.plant()).values()) == sorted(load_config().twins)
    assert all(config.twins[t].parameters["status"].node_id == f"ns=2;s={t}.status" for t in config.twins)


def test_a_good_one_to_zero_starts_a_trip_and_back_to_one_ends_it():
    d = TripDetector({TAG: "compressor1"})
    assert edges(d, tv(1.0, 10.0)) == [("compressor1", False, 10_000_000)]  # the first value: ends a stale one
    assert edges(d, tv(1.0, 11.0)) == []
    started = d.feed([tv(0.0, 12.5)])
    assert [(e.line, e.origin, e.started, e.at_us) for e in started] == [("compressor1", Origin.TRIP, True, 12_500_000)]
    assert "tripped" in started[0].detail
    assert edges(d, tv(0.0, 13.0)) == []
    assert edges(d, tv(1.0, 20.0)) == [("compressor1", False, 20_000_000)]


def test_bad_quality_is_no_trip_and_keeps_the_state():
    d = TripDetector({TAG: "compressor1"})
    d.feed([tv(1.0, 1.0)])
    assert edges(d, tv(None, 2.0, Quality.BAD), tv(0.0, 3.0, Quality.BAD), tv(0.0, 4.0, Quality.UNCERTAIN)) == []
    assert edges(d, tv(1.0, 5.0)) == []  # back Good and still running: nothing happened
    assert edges(d, tv(None, 6.0, Quality.BAD), tv(0.0, 7.0)) == [("compressor1", True, 7_000_000)]


def test_a_first_value_of_zero_starts_a_trip_and_other_tags_are_ignored():
    d = TripDetector({TAG: "compressor1", "pipeline1.status": "pipeline1"})
    got = edges(d, tv(0.0, 1.0), tv(0.0, 1.0, tag="pipeline1.pressure"), tv(0.0, 2.0, tag="pipeline1.status"))
    assert got == [("compressor1", True, 1_000_000), ("pipeline1", True, 2_000_000)]


# --- the dispatcher's causes (a fake orders store and link, a real SQLite database) ----------------------

def machine(seq: int, state: MachineState, at: datetime, sf: str = "sf1") -> bytes:
    return encode(Machine(msgId=f"M-{sf}-{seq}", shopfloorId=sf, machine="line", state=state,
                          reason="jam" if state is MachineState.STOPPED else "", timestamp=iso(at)))  # fmt: skip


def andon(engine) -> AndonService:
    return AndonService(engine, andon_config(), clock=lambda: US(T0 + timedelta(hours=1)))


async def acked(d, n: int) -> None:
    """Until the dispatcher has sent n acks (each after its batch committed)."""
    for _ in range(500):
        await settle(d)
        if len(acks(d.link)) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(acks(d.link))} acks, not {n}")


def later() -> Clock:
    """The dispatcher's clock an hour after the messages' times."""
    clock = Clock()
    clock.now = T0 + timedelta(hours=1)
    return clock


def US(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def test_a_machine_stop_raises_a_call_and_running_again_clears_it_resends_change_nothing(engine):
    stop, run_again = machine(1, MachineState.STOPPED, T0), machine(2, MachineState.RUNNING, T0 + timedelta(minutes=2))

    async def body(d):
        d.on_message("shopfloor/sf1/reports", stop)
        await acked(d, 1)
        (call,) = andon(engine).board()
        assert (call.line, call.origin, call.cause_active, call.raised_us) == ("sf1", Origin.MACHINE, True, US(T0))
        assert "machine line stopped: jam" in call.detail
        d.on_message("shopfloor/sf1/reports", run_again)
        d.on_message("shopfloor/sf1/reports", stop)  # its ack was lost: sent again, after the restart
        d.on_message("shopfloor/sf1/reports", run_again)
        await acked(d, 4)

    _store, link, _d = run(engine, body, clock=later())
    (call,) = andon(engine).board()
    assert call.cleared and call.origin is Origin.MACHINE
    (stop_record,) = andon(engine).downtime(US(T0) - 1, US(T0 + timedelta(hours=1)))
    assert (stop_record.start_us, stop_record.end_us, stop_record.call_id) == (US(T0), US(T0 + timedelta(minutes=2)),
                                                                               call.call_id)  # fmt: skip
    assert sorted(m for _t, m in acks(link)) == ["M-sf1-1", "M-sf1-1", "M-sf1-2", "M-sf1-2"]


def test_a_machine_stop_shorter_than_the_micro_stop_threshold_is_not_called(engine):
    async def body(d):
        d.on_message("shopfloor/sf1/reports", machine(1, MachineState.STOPPED, T0))
        d.on_message("shopfloor/sf1/reports", machine(2, MachineState.RUNNING, T0 + timedelta(seconds=5)))
        await acked(d, 2)

    run(engine, body, clock=later())
    assert andon(engine).board() == []
    (stop_record,) = andon(engine).downtime(US(T0) - 1, US(T0 + timedelta(hours=1)))
    assert stop_record.micro


class HealthStore(FakeStore):
    """save_health reports the changes it is told to."""

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[tuple[str, ShopfloorHealth]] = []

    def save_health(self, conn, health):
        changes, self.changes = self.changes, []
        return changes


def test_a_shopfloor_judged_offline_raises_a_call_and_online_again_clears_it(engine):
    store = HealthStore()
    clock = Clock()
    store.heartbeats = {"sf1": T0}

    async def body(d):
        clock.now = T0 + timedelta(seconds=40)
        store.changes = [("sf1", ShopfloorHealth.ONLINE)]
        await d.tick()
        (call,) = andon(engine).board()
        assert (call.line, call.origin, call.cause_active) == ("sf1", Origin.OFFLINE, True)
        assert call.raised_us == US(clock.now) and "no heartbeat for" in call.detail
        store.heartbeats = {"sf1": T0 + timedelta(seconds=100)}
        clock.now = T0 + timedelta(seconds=101)
        store.changes = [("sf1", ShopfloorHealth.OFFLINE)]
        await d.tick()

    run(engine, body, store=store, clock=clock)
    (call,) = andon(engine).board()
    assert call.cleared
    (stop_record,) = andon(engine).downtime(US(T0) - 1, US(T0 + timedelta(hours=1)))
    assert stop_record.end_us == US(T0 + timedelta(seconds=101)) and stop_record.start_us >= US(T0)


def test_the_escalation_period_is_in_the_config_and_checked():
    assert load_config().andon.escalate_every_s == 5.0
    assert parse_config(PLANT + "\n[andon]\nescalate_every_s = 1.5\n", "p").andon.escalate_every_s == 1.5
    for bad, says in (("0", "greater than 0"), ("301", "less than or equal to 300"), ("nan", "finite")):
        with pytest.raises(ConfigError, match=rf"andon\.escalate_every_s: .*{says}"):
            parse_config(PLANT + f"\n[andon]\nescalate_every_s = {bad}\n", "p")


def test_random_machine_stops_come_now_and_then_and_run_again():
    import random

    from shopfloor_sim.floor import Floor
    from shopfloor_sim.link import STOP_S, RandomStops

    floor = Floor("sf1", 1200.0, 0.0, random.Random(1))
    stops = RandomStops(10.0, random.Random(2))
    kinds = []
    for step in range(20_000):  # 2,000 s in 0.1 s steps
        for out in stops.step(step * 0.1, floor):
            kinds.append((step * 0.1, floor.machine_stopped))
    starts = [t for t, stopped in kinds if stopped]
    ends = [t for t, stopped in kinds if not stopped]
    assert len(starts) >= 10 and len(ends) >= len(starts) - 1
    assert all(STOP_S[0] - 0.2 <= e - s <= STOP_S[1] + 0.2 for s, e in zip(starts, ends))


# --- the runtime's andon side: edges in order, what the database refused tried again, the tick -------------

class FakeAndon:
    """Records the causes and escalations; refuses while ``down``."""

    def __init__(self) -> None:
        self.done: list[tuple] = []
        self.down = False

    def cause_started(self, line, kind, origin, detail, at_us):
        if self.down:
            raise DatabaseUnavailable("database is away")
        self.done.append(("start", line, kind, origin, at_us))

    def cause_ended(self, line, origin, at_us):
        if self.down:
            raise DatabaseUnavailable("database is away")
        self.done.append(("end", line, origin, at_us))

    def escalate(self):
        if self.down:
            raise DatabaseUnavailable("database is away")
        self.done.append(("escalate",))
        return []


def test_the_runtime_writes_trips_in_order_retries_after_an_outage_and_escalates_every_period():
    from hmi.domain.andon import LineKind
    from hmi.runtime import AndonCauses

    fake = FakeAndon()
    causes = AndonCauses(fake, TripDetector({TAG: "compressor1"}), every_s=0.05)  # type: ignore[arg-type]

    async def main():
        causes.start()
        await asyncio.sleep(0.12)
        fake.down = True
        causes.consume([tv(1.0, 1.0), tv(0.0, 2.0)])
        await asyncio.sleep(0.05)
        assert not [d for d in fake.done if d[0] != "escalate"]  # refused: waiting
        fake.down = False
        causes.consume([tv(1.0, 3.0)])
        await asyncio.sleep(0.15)
        await causes.stop()

    asyncio.run(main())
    edges_done = [d for d in fake.done if d[0] != "escalate"]
    assert edges_done == [("end", "compressor1", Origin.TRIP, 1_000_000),
                          ("start", "compressor1", LineKind.TWIN, Origin.TRIP, 2_000_000),
                          ("end", "compressor1", Origin.TRIP, 3_000_000)]  # fmt: skip
    assert fake.done.count(("escalate",)) >= 3


def test_every_twin_of_the_simulated_plant_reports_status_zero_while_it_is_down():
    import numpy as np

    from plc_sim.episodes import TwinState
    from plc_sim.model import PlantModel, SimParam

    config = load_config()
    params = [SimParam.from_tag(t) for t in config.plant().tags]
    model = PlantModel(params, seed=5, start_time=1_796_000_000.0, episode_every_s=300)
    index = {t: i for i, t in enumerate(model.produced_tags)}
    seen_down = set()
    for t in 1_796_000_000.0 + np.arange(1, 3000) * 30.0:
        values, _ = model.step(t)
        for twin in config.twins:
            down = model.episodes.state(twin) == TwinState.DOWN
            assert values[index[f"{twin}.status"]] == (0.0 if down else 1.0)
            if down:
                seen_down.add(twin)
    assert len(seen_down) >= 6, seen_down
