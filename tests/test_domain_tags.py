"""The tag types and the tag bus, without Qt, network or database."""

import math

import pytest

from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import Quality, TagValue, coerce_value
from hmi.domain.timespec import format_utc, parse_time


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        (math.nan, "not a finite number"),
        (math.inf, "not a finite number"),
        (-math.inf, "not a finite number"),
        ("12.5 bar", "expected a number, got str"),
        (None, "expected a number, got NoneType"),
        ([1, 2], "expected a number, got list"),
    ],
)
def test_a_value_that_is_not_a_number_is_bad_with_a_reason(raw, reason_part):
    tv = coerce_value("drillrig1.torque", raw, 10.0, 10.5)
    assert tv.quality is Quality.BAD
    assert tv.value is None
    assert reason_part in tv.reason


def test_numbers_and_booleans_are_good():
    assert coerce_value("t", 7, 1.0, 1.0).value == 7.0
    assert coerce_value("compressor1.status", True, 1.0, 1.0).value == 1.0
    assert coerce_value("t", 2.5, 1.0, 1.0).is_good


def test_a_bad_status_keeps_its_reason_and_drops_the_value():
    tv = coerce_value("t", 3.0, 1.0, 1.0, Quality.BAD, "BadSensorFailure")
    assert (tv.value, tv.quality, tv.reason) == (None, Quality.BAD, "BadSensorFailure")


def test_bus_keeps_the_latest_value_and_hands_every_batch_to_every_consumer():
    bus = TagBus()
    seen_a, seen_b = [], []
    bus.subscribe(seen_a.extend)
    bus.subscribe(seen_b.extend)
    batch = [TagValue("a", 1.0, Quality.GOOD, 1.0, 1.0), TagValue("a", 2.0, Quality.GOOD, 2.0, 2.0)]
    bus.publish(batch)
    assert bus.latest("a").value == 2.0
    assert seen_a == batch and seen_b == batch
    assert bus.drain_changed() == {"a"}
    assert bus.drain_changed() == set()


def test_a_late_sample_goes_to_consumers_but_does_not_replace_a_newer_value():
    bus = TagBus()
    bus.publish([TagValue("a", 5.0, Quality.GOOD, 100.0, 100.0)])
    late = TagValue("a", 1.0, Quality.GOOD, 50.0, 90.0)
    got = []
    bus.subscribe(got.extend)
    bus.publish([late])
    assert got == [late]
    assert bus.latest("a").value == 5.0


def test_a_failing_consumer_does_not_stop_the_others():
    bus = TagBus()
    got = []

    def broken(batch):
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(got.extend)
    bus.publish([TagValue("a", 1.0, Quality.GOOD, 1.0, 1.0)])
    assert len(got) == 1
    assert bus.consumer_errors == 1


def test_time_specs():
    now = 1_800_000_000.0
    assert parse_time("now", now) == now
    assert parse_time("-2h", now) == now - 7200
    assert parse_time("-15m", now) == now - 900
    assert parse_time("2026-11-23T08:00:00Z", now) == 1795420800.0
    assert format_utc(1795420800.0) == "2026-11-23T08:00:00.000Z"
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("yesterday-ish", now)


def test_an_unsubscribed_consumer_gets_no_more_batches():
    bus = TagBus()
    a, b = [], []
    sub_a = bus.subscribe(a.extend)
    bus.subscribe(b.extend)
    bus.publish([TagValue("x", 1.0, Quality.GOOD, 1.0, 1.0)])
    sub_a.unsubscribe()
    sub_a.unsubscribe()  # a second time does nothing
    bus.publish([TagValue("x", 2.0, Quality.GOOD, 2.0, 2.0)])
    assert [tv.value for tv in a] == [1.0]
    assert [tv.value for tv in b] == [1.0, 2.0]
    assert bus.consumers() == 1


def test_a_consumer_may_unsubscribe_itself_while_the_bus_delivers():
    bus = TagBus()
    got: list[float] = []
    subs = []

    def once(batch):
        got.extend(tv.value for tv in batch)
        subs[0].unsubscribe()

    subs.append(bus.subscribe(once))
    after = []
    bus.subscribe(after.extend)
    bus.publish([TagValue("x", 1.0, Quality.GOOD, 1.0, 1.0)])
    bus.publish([TagValue("x", 2.0, Quality.GOOD, 2.0, 2.0)])
    assert got == [1.0] and len(after) == 2  # the consumer after it still got the first batch
