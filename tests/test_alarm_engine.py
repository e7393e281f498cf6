"""The pure alarm engine: definitions from the plant and every ISA-18.2 transition, on an injected clock."""

from __future__ import annotations

import pytest

from hmi.domain.alarm_defs import AlarmDefinition, AlarmKind, band_limits, default_definitions
from hmi.domain.alarm_engine import AlarmEngine, AlarmError, AlarmState
from hmi.domain.plant import Plant, Stream, TagKind, TagSpec, TwinSpec
from hmi.domain.tags import Quality, TagValue

S = AlarmState
T0 = 1_700_000_000.0
TAG = "drillrig1.pressure"


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def hi(**kw: object) -> AlarmDefinition:
    args: dict = dict(alarm_id=f"{TAG}.hi", tag=TAG, kind=AlarmKind.HI, limit=60.0, priority=3, deadband=2.0)
    args.update(kw)
    return AlarmDefinition(**args)


def lo(**kw: object) -> AlarmDefinition:
    args: dict = dict(alarm_id=f"{TAG}.lo", tag=TAG, kind=AlarmKind.LO, limit=10.0, priority=3, deadband=2.0)
    args.update(kw)
    return AlarmDefinition(**args)


def comm(**kw: object) -> AlarmDefinition:
    args: dict = dict(alarm_id="plc1.comm_loss", tag="", kind=AlarmKind.COMM_LOSS, limit=0.0, priority=2, endpoint="plc1")
    args.update(kw)
    return AlarmDefinition(**args)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def feed(engine: AlarmEngine, clock: Clock, value: float | None, at: float, tag: str = TAG, quality: Quality = Quality.GOOD):
    clock.now = T0 + at
    return engine.update([TagValue(tag, value, quality, T0 + at, T0 + at)])


def states(events) -> list[tuple[AlarmState, AlarmState]]:
    return [(e.from_state, e.to_state) for e in events]


def test_normal_unack_acked_normal(clock: Clock) -> None:
    eng = AlarmEngine([hi()], clock)
    assert feed(eng, clock, 50.0, 0) == []
    ev = feed(eng, clock, 61.0, 1)
    assert states(ev) == [(S.NORMAL, S.UNACK)] and ev[0].value == 61.0 and ev[0].ts == T0 + 1 and ev[0].what == "activate"
    clock.now = T0 + 2
    ev = eng.ack([f"{TAG}.hi"], "olga", "seen")
    assert states(ev) == [(S.UNACK, S.ACKED)]
    assert (ev[0].user, ev[0].comment, ev[0].ts) == ("olga", "seen", T0 + 2)
    assert states(feed(eng, clock, 50.0, 3)) == [(S.ACKED, S.NORMAL)]
    assert eng.active() == []


def test_return_unacknowledged_is_latched_until_ack(clock: Clock) -> None:
    eng = AlarmEngine([hi()], clock)
    feed(eng, clock, 61.0, 0)
    assert states(feed(eng, clock, 50.0, 1)) == [(S.UNACK, S.RTN_UNACK)]
    assert feed(eng, clock, 50.0, 100) == [] and eng.status(f"{TAG}.hi").state is S.RTN_UNACK  # latched
    # comes back while latched: unacknowledged again
    assert states(feed(eng, clock, 70.0, 101)) == [(S.RTN_UNACK, S.UNACK)]
    feed(eng, clock, 50.0, 102)
    assert states(eng.ack(f"{TAG}.hi", "olga")) == [(S.RTN_UNACK, S.NORMAL)]


def test_on_delay_swallows_a_short_spike(clock: Clock) -> None:
    eng = AlarmEngine([hi(on_delay_s=3.0)], clock)
    assert feed(eng, clock, 65.0, 0) == []
    assert feed(eng, clock, 50.0, 2) == []  # back before 3 s: swallowed
    assert eng.tick(T0 + 10) == []
    assert feed(eng, clock, 65.0, 20) == []
    assert eng.tick(T0 + 22) == []
    ev = eng.tick(T0 + 23.5)
    assert states(ev) == [(S.NORMAL, S.UNACK)] and ev[0].ts == T0 + 23  # when the delay elapsed
    # a later sample can also complete the on-delay
    eng2 = AlarmEngine([hi(on_delay_s=3.0)], clock)
    feed(eng2, clock, 65.0, 0)
    assert states(feed(eng2, clock, 66.0, 3)) == [(S.NORMAL, S.UNACK)]


def test_off_delay(clock: Clock) -> None:
    eng = AlarmEngine([hi(off_delay_s=5.0)], clock)
    feed(eng, clock, 65.0, 0)
    assert feed(eng, clock, 50.0, 1) == []
    assert feed(eng, clock, 65.0, 3) == []  # back above before 5 s: the clear timer restarts
    assert feed(eng, clock, 50.0, 4) == [] and eng.tick(T0 + 8) == []
    ev = eng.tick(T0 + 9)
    assert states(ev) == [(S.UNACK, S.RTN_UNACK)] and ev[0].ts == T0 + 9


def test_deadband_stops_chatter(clock: Clock) -> None:
    eng = AlarmEngine([hi(deadband=2.0)], clock)
    events = []
    for k, v in enumerate([61.0, 59.5, 60.5, 58.5, 60.9, 59.0, 58.1]):
        events += feed(eng, clock, v, k)
    assert states(events) == [(S.NORMAL, S.UNACK)]  # never below 58: no return, no chatter
    assert states(feed(eng, clock, 57.9, 10)) == [(S.UNACK, S.RTN_UNACK)]
    # LO: must rise above limit + deadband
    eng = AlarmEngine([lo(deadband=2.0)], clock)
    assert states(feed(eng, clock, 9.0, 0)) == [(S.NORMAL, S.UNACK)]
    assert feed(eng, clock, 11.5, 1) == []
    assert states(feed(eng, clock, 12.5, 2)) == [(S.UNACK, S.RTN_UNACK)]


def test_bad_quality_neither_raises_nor_clears(clock: Clock) -> None:
    eng = AlarmEngine([hi(on_delay_s=3.0)], clock)
    assert feed(eng, clock, None, 0, quality=Quality.BAD) == []
    assert feed(eng, clock, 99.0, 1, quality=Quality.BAD) == []
    feed(eng, clock, 65.0, 2)
    feed(eng, clock, None, 3, quality=Quality.BAD)  # bad during the on-delay: no alarm from the delay
    assert eng.tick(T0 + 20) == []
    feed(eng, clock, 65.0, 30)
    assert states(eng.tick(T0 + 33)) == [(S.NORMAL, S.UNACK)]
    assert feed(eng, clock, None, 40, quality=Quality.BAD) == []
    assert eng.tick(T0 + 100) == [] and eng.status(f"{TAG}.hi").state is S.UNACK  # held
    assert eng.status(f"{TAG}.hi").value == 65.0
    # uncertain values are evaluated
    assert states(feed(eng, clock, 40.0, 101, quality=Quality.UNCERTAIN)) == [(S.UNACK, S.RTN_UNACK)]


def test_comm_loss_raise_and_clear(clock: Clock) -> None:
    eng = AlarmEngine([comm(on_delay_s=5.0)], clock)
    assert eng.link("plc1", False, T0) == []
    assert eng.link("plc1", True, T0 + 2) == []  # a blink inside the on-delay
    assert eng.link("plc1", False, T0 + 10) == []
    ev = eng.tick(T0 + 15)
    assert states(ev) == [(S.NORMAL, S.UNACK)] and ev[0].alarm_id == "plc1.comm_loss"
    clock.now = T0 + 20
    assert states(eng.link("plc1", True)) == [(S.UNACK, S.RTN_UNACK)]
    assert eng.link("other", False) == []


def test_shelving_ends_by_itself_in_the_state_the_process_dictates(clock: Clock) -> None:
    eng = AlarmEngine([hi(), lo()], clock)
    feed(eng, clock, 65.0, 0)
    ev = eng.shelve(f"{TAG}.hi", "olga", 600, "known fault, work order 42", max_s=3600)
    assert states(ev) == [(S.UNACK, S.SHELVED)] and ev[0].comment == "known fault, work order 42"
    st = eng.status(f"{TAG}.hi")
    assert (st.user, st.reason, st.shelved_until) == ("olga", "known fault, work order 42", T0 + 600)
    # returns and comes back while shelved: not annunciated, journaled as the condition with the state kept
    ev = feed(eng, clock, 50.0, 10)
    assert [(e.what, e.from_state, e.to_state) for e in ev] == [("return", S.SHELVED, S.SHELVED)]
    ev = feed(eng, clock, 70.0, 20)
    assert [(e.what, e.from_state, e.to_state) for e in ev] == [("activate", S.SHELVED, S.SHELVED)]
    assert eng.tick(T0 + 599) == []
    ev = eng.tick(T0 + 601)
    assert states(ev) == [(S.SHELVED, S.UNACK)] and ev[0].what == "shelve_ended" and ev[0].ts == T0 + 600
    # shelved while active, cleared meanwhile: back to NORMAL
    eng.ack(f"{TAG}.hi", "olga")
    clock.now = T0 + 700
    eng.shelve(f"{TAG}.hi", "olga", 60, "noise")
    feed(eng, clock, 50.0, 710)
    assert states(eng.tick(T0 + 760)) == [(S.SHELVED, S.NORMAL)]
    assert eng.status(f"{TAG}.hi").shelved_until is None


def test_unshelve_by_hand_and_shelving_limits(clock: Clock) -> None:
    eng = AlarmEngine([hi()], clock)
    with pytest.raises(AlarmError, match=r"maximum is 3600 s"):
        eng.shelve(f"{TAG}.hi", "olga", 7200, "too long", max_s=3600)
    with pytest.raises(AlarmError, match="reason is required"):
        eng.shelve(f"{TAG}.hi", "olga", 60, " ")
    with pytest.raises(AlarmError, match="not shelved"):
        eng.unshelve(f"{TAG}.hi", "olga")
    eng.shelve(f"{TAG}.hi", "olga", 60, "test")
    with pytest.raises(AlarmError, match="it is shelved"):
        eng.shelve(f"{TAG}.hi", "olga", 60, "again")
    assert states(eng.unshelve(f"{TAG}.hi", "ivan", "done")) == [(S.SHELVED, S.NORMAL)]
    assert eng.tick(T0 + 3600) == []


def test_suppression_and_out_of_service(clock: Clock) -> None:
    eng = AlarmEngine([hi(), lo()], clock)
    ev = eng.suppress(f"{TAG}.hi", "eng1", "unit shut down")
    assert states(ev) == [(S.NORMAL, S.SUPPRESSED)] and (ev[0].user, ev[0].comment) == ("eng1", "unit shut down")
    assert [(e.what, e.to_state) for e in feed(eng, clock, 70.0, 1)] == [("activate", S.SUPPRESSED)]
    st = eng.status(f"{TAG}.hi")
    assert st.state is S.SUPPRESSED and st.active and (st.user, st.reason) == ("eng1", "unit shut down")
    clock.now = T0 + 2
    assert states(eng.return_to_service(f"{TAG}.hi", "eng1")) == [(S.SUPPRESSED, S.UNACK)]
    ev = eng.out_of_service(f"{TAG}.lo", "tech", "transmitter replaced")
    assert states(ev) == [(S.NORMAL, S.OUT_OF_SERVICE)]
    with pytest.raises(AlarmError, match="return it to service first"):
        eng.suppress(f"{TAG}.lo", "tech", "x")
    with pytest.raises(AlarmError, match="reason is required"):
        eng.out_of_service(f"{TAG}.hi", "tech", "")
    assert states(eng.return_to_service(f"{TAG}.lo", "tech")) == [(S.OUT_OF_SERVICE, S.NORMAL)]
    with pytest.raises(AlarmError, match="cannot return .* to service: it is normal"):
        eng.return_to_service(f"{TAG}.lo", "tech")


def test_persistent_mark_at_five_minutes(clock: Clock) -> None:
    eng = AlarmEngine([hi()], clock)
    feed(eng, clock, 65.0, 0)
    eng.ack(f"{TAG}.hi", "olga")
    assert eng.tick(T0 + 299) == [] and not eng.status(f"{TAG}.hi").persistent
    ev = eng.tick(T0 + 301)
    assert [(e.what, e.from_state, e.to_state, e.ts) for e in ev] == [("persistent", S.ACKED, S.ACKED, T0 + 300)]
    assert eng.status(f"{TAG}.hi").persistent and eng.tick(T0 + 400) == []
    # a break resets it; a sample alone can also mark it
    feed(eng, clock, 50.0, 500)
    assert not eng.status(f"{TAG}.hi").persistent
    feed(eng, clock, 65.0, 600)
    assert feed(eng, clock, 66.0, 899) == []
    assert [e.what for e in feed(eng, clock, 66.0, 900)] == ["persistent"]


def test_invalid_commands_say_why_in_one_line(clock: Clock) -> None:
    eng = AlarmEngine([hi(), lo()], clock)
    with pytest.raises(AlarmError) as err:
        eng.ack([f"{TAG}.hi"], "olga")
    assert str(err.value) == f"cannot acknowledge {TAG}.hi: it is normal, not unacknowledged"
    with pytest.raises(AlarmError, match="no alarm 'nope'"):
        eng.ack(["nope"], "olga")
    feed(eng, clock, 65.0, 0)
    with pytest.raises(AlarmError):  # all or none
        eng.ack([f"{TAG}.hi", f"{TAG}.lo"], "olga")
    assert eng.status(f"{TAG}.hi").state is S.UNACK
    eng.ack([f"{TAG}.hi"], "olga")
    with pytest.raises(AlarmError, match="it is acked"):
        eng.ack([f"{TAG}.hi"], "olga")


def test_active_order_and_unacked_counts(clock: Clock) -> None:
    defs = [
        hi(alarm_id="a.hi", tag="a", priority=3),
        hi(alarm_id="b.hihi", tag="b", kind=AlarmKind.HIHI, priority=1),
        hi(alarm_id="c.hi", tag="c", priority=3),
        lo(alarm_id="d.lo", tag="d", priority=2),
        hi(alarm_id="e.hi", tag="e", priority=4),
    ]
    eng = AlarmEngine(defs, clock)
    feed(eng, clock, 70.0, 1, tag="a")
    feed(eng, clock, 70.0, 2, tag="b")
    feed(eng, clock, 70.0, 3, tag="c")
    feed(eng, clock, 0.0, 4, tag="d")
    eng.ack(["d.lo"], "olga")
    assert [s.alarm_id for s in eng.active()] == ["b.hihi", "d.lo", "c.hi", "a.hi"]
    assert eng.unacked_counts() == {1: 1, 2: 0, 3: 2, 4: 0}
    feed(eng, clock, 50.0, 5, tag="a")  # RTN_UNACK still counts
    assert eng.unacked_counts() == {1: 1, 2: 0, 3: 2, 4: 0}
    assert eng.status("a.hi").state is S.RTN_UNACK


def test_update_evaluates_only_the_batch_tags_and_ignores_unknown_ones(clock: Clock) -> None:
    eng = AlarmEngine([hi()], clock)
    assert eng.update([TagValue("other.tag", 1e9, Quality.GOOD, T0, T0)]) == []
    assert eng.update([]) == []


def test_anomaly_condition_is_set_from_outside(clock: Clock) -> None:
    eng = AlarmEngine([AlarmDefinition("x.anomaly", "x", AlarmKind.ANOMALY, 3.0, 4)], clock)
    assert eng.update([TagValue("x", 1e9, Quality.GOOD, T0, T0)]) == []  # no limit evaluation
    assert states(eng.set_condition("x.anomaly", True, value=4.2)) == [(S.NORMAL, S.UNACK)]


def _plant() -> Plant:
    def spec(param: str, kind: TagKind, endpoint: str, deadband: float = 0.0) -> TagSpec:
        return TagSpec(
            f"rig.{param}", "rig", param, "bar", 0.0, 80.0, 10.0, 60.0, kind, endpoint, f"ns=2;s={param}", 1000, deadband
        )

    tags = (spec("pressure", TagKind.ANALOG, "plc1"), spec("pump", TagKind.DISCRETE, "plc1"), spec("flow", TagKind.ANALOG, "plc2", 0.5))
    return Plant((TwinSpec("rig", "Rig", Stream.UPSTREAM, tags),))


def test_default_definitions_from_the_plant() -> None:
    defs = {d.alarm_id: d for d in default_definitions(_plant())}
    assert sorted(defs) == ["plc1.comm_loss", "plc2.comm_loss", "rig.flow.hi", "rig.flow.lo", "rig.pressure.hi", "rig.pressure.lo"]
    p = defs["rig.pressure.hi"]
    assert (p.tag, p.kind, p.limit, p.priority, p.deadband) == ("rig.pressure", AlarmKind.HI, 60.0, 3, 0.8)
    assert defs["rig.pressure.lo"].limit == 10.0 and defs["rig.flow.hi"].deadband == 0.5
    assert "high" in p.message and "60" in p.message
    c = defs["plc2.comm_loss"]
    assert (c.kind, c.endpoint, c.priority) == (AlarmKind.COMM_LOSS, "plc2", 2)
    # the hook adds high-high / low-low
    defs = default_definitions(_plant(), lambda s: {**band_limits(s), AlarmKind.HIHI: 75.0, AlarmKind.LOLO: 2.0})
    hh = next(d for d in defs if d.alarm_id == "rig.pressure.hihi")
    assert (hh.kind, hh.limit, hh.priority) == (AlarmKind.HIHI, 75.0, 1)
    with pytest.raises(ValueError, match="priority must be 1-4"):
        hi(priority=5)


def test_a_delay_that_ran_out_between_samples_counts_without_a_tick(clock: Clock) -> None:
    """62 at t=0 and 58 at t=0.7 with an on-delay of 0.3 s: the alarm was active from 0.3 s to 0.7 s,
    whether or not a tick came in between (it used to depend on the tick)."""
    for with_tick in (False, True):
        eng = AlarmEngine([hi(on_delay_s=0.3, deadband=1.0)], clock)
        ev = feed(eng, clock, 62.0, 100.0)
        if with_tick:
            ev += eng.tick(T0 + 100.5)
        ev += feed(eng, clock, 58.0, 100.7)
        assert [(e.what, round(e.ts - T0, 3)) for e in ev] == [("activate", 100.3), ("return", 100.7)], with_tick
    eng = AlarmEngine([hi(on_delay_s=0.3, off_delay_s=2.0, deadband=1.0)], clock)
    feed(eng, clock, 62.0, 0.0)
    ev = feed(eng, clock, 58.0, 0.7)  # activated at 0.3 (caught up), then clear: the off-delay starts
    assert [(e.what, round(e.ts - T0, 3)) for e in ev] == [("activate", 0.3)]
    ev = feed(eng, clock, 62.0, 5.0)  # the off-delay ran out at 2.7 with no tick: returned then, tripped again now
    assert [(e.what, round(e.ts - T0, 3)) for e in ev] == [("return", 2.7)]
    assert eng.status(f"{TAG}.hi").state is S.RTN_UNACK
    assert [(e.what, round(e.ts - T0, 3)) for e in eng.tick(T0 + 5.4)] == [("activate", 5.3)]
