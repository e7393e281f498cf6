"""The trend ring buffers: wrap-around, window queries, Bad samples as NaN gaps, bounded memory."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import Quality, TagValue
from hmi.domain.trend_buffers import TagRing, TrendBuffers

T0 = 1_700_000_000.0


def tv(tag: str, ts: float, value: float | None, quality: Quality = Quality.GOOD) -> TagValue:
    return TagValue(tag, value, quality, ts, ts)


def test_ring_keeps_order_across_wrap_around():
    ring = TagRing(capacity=10)
    for start in range(0, 25, 5):  # 25 samples in batches of 5 through a ring of 10
        ring.extend([T0 + i for i in range(start, start + 5)], [float(i) for i in range(start, start + 5)], [0] * 5)
    ts, val, _ = ring.arrays()
    assert ring.size == 10
    assert list(val) == [float(i) for i in range(15, 25)]
    assert np.all(np.diff(ts) > 0)
    assert ring.first_ts() == T0 + 15 and ring.last_ts() == T0 + 24


def test_ring_batch_larger_than_capacity_keeps_the_newest():
    ring = TagRing(capacity=4)
    ring.extend([T0 + i for i in range(10)], list(range(10)), [0] * 10)
    assert list(ring.arrays()[1]) == [6.0, 7.0, 8.0, 9.0]
    ring.extend([T0 + 10, T0 + 11], [10, 11], [0, 0])
    assert list(ring.arrays()[1]) == [8.0, 9.0, 10.0, 11.0]


def test_window_query_inclusive_bounds_and_wrapped():
    ring = TagRing(capacity=8)
    ring.extend([T0 + i for i in range(12)], list(range(12)), [0] * 12)  # holds 4..11, wrapped
    ts, val, _ = ring.window(T0 + 5, T0 + 9)
    assert list(val) == [5.0, 6.0, 7.0, 8.0, 9.0]
    assert list(ts) == [T0 + i for i in range(5, 10)]
    assert ring.window(T0 + 100, T0 + 200)[0].size == 0
    assert ring.window(T0 - 100, T0 + 4.5)[1].tolist() == [4.0]


def test_out_of_order_samples_are_refused_and_counted():
    ring = TagRing(capacity=8)
    ring.extend([T0 + 5, T0 + 6], [5, 6], [0, 0])
    ring.extend([T0 + 1, T0 + 7], [1, 7], [0, 0])
    assert list(ring.arrays()[1]) == [5.0, 6.0, 7.0]
    assert ring.refused == 1


def test_bad_samples_are_nan_gaps_through_the_bus():
    bus = TagBus()
    buffers = TrendBuffers(capacity=100)
    bus.subscribe(buffers)
    bus.publish([tv("a.x", T0, 1.0), tv("a.x", T0 + 1, None, Quality.BAD), tv("b.y", T0, 5.0)])
    bus.publish([tv("a.x", T0 + 2, 3.0, Quality.UNCERTAIN)])
    ts, val = buffers.window("a.x", T0, T0 + 10)
    assert ts.tolist() == [T0, T0 + 1, T0 + 2]
    assert val[0] == 1.0 and math.isnan(val[1]) and val[2] == 3.0
    _, _, q = buffers.window_with_quality("a.x", T0, T0 + 10)
    assert q.tolist() == [Quality.GOOD, Quality.BAD, Quality.UNCERTAIN]
    ring = buffers.ring("a.x")
    assert ring is not None
    assert ring.value_at(T0 + 1.5) is None  # the newest sample at that time is Bad
    assert ring.value_at(T0 + 0.5) == 1.0
    assert ring.value_at(T0 + 50, max_age=10) is None  # too old to stand for that time
    assert buffers.window("nothing", T0, T0 + 1)[0].size == 0


def test_memory_is_bounded_by_capacity_and_tag_count():
    buffers = TrendBuffers(capacity=1000, max_tags=3)
    for k in range(50):
        buffers([tv(f"t{j}", T0 + k * 100 + i, float(i)) for j in range(5) for i in range(100)])
    assert len(buffers.tags()) == 3
    assert buffers.ignored > 0
    assert all(buffers.ring(t).size == 1000 for t in buffers.tags())  # type: ignore[union-attr]
    assert buffers.nbytes == 3 * 1000 * (8 + 8 + 1)


def test_only_listed_tags_are_kept_and_version_tracks_changes():
    buffers = TrendBuffers(capacity=10, tags=["a"])
    assert buffers.version("a") == 0
    buffers([tv("a", T0, 1.0), tv("b", T0, 2.0)])
    assert buffers.tags() == ["a"]
    v = buffers.version("a")
    buffers([tv("a", T0 + 1, 1.0)])
    assert buffers.version("a") > v


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        TagRing(0)


def test_samples_appended_one_by_one_read_back_like_a_batch_and_out_of_order_ones_are_refused():
    ring = TagRing(capacity=300)
    for i in range(700):  # through pending flushes and a wrap-around
        assert ring.append(T0 + i, float(i), 0)
    assert not ring.append(T0 + 10, 1.0, 0)
    assert ring.refused == 1 and ring.size == 300 and ring.last_ts() == T0 + 699 and ring.first_ts() == T0 + 400
    ring.extend([T0 + 699.5, T0 + 5], [1.0, 2.0], [0, 0])  # a batch after single samples keeps the order
    assert ring.refused == 2 and ring.arrays()[0][-1] == T0 + 699.5 and ring.size == 300


def test_the_bus_consumer_is_cheap_for_a_thousand_tags_at_ten_hertz():
    buffers = TrendBuffers(capacity=1000)
    batches = [[tv(f"t{j}", T0 + k * 0.1, float(j)) for j in range(1000)] for k in range(20)]
    t0 = time.perf_counter()
    for batch in batches:
        buffers(batch)
    per_sample_us = (time.perf_counter() - t0) / 20_000 * 1e6
    assert buffers.ring("t5").size == 20  # type: ignore[union-attr]
    assert per_sample_us < 5, f"{per_sample_us:.1f} µs a sample"


def test_kept_tags_only_and_a_ring_goes_with_its_last_user():
    buffers = TrendBuffers(capacity=100, tags=())
    buffers.keep("a")
    buffers.keep("a")  # two users: a pen and, say, a tile
    buffers.keep("b")
    buffers([tv("a", T0, 1.0), tv("b", T0, 2.0), tv("c", T0, 3.0)])
    assert sorted(buffers.tags()) == ["a", "b"] and buffers.ring("c") is None
    buffers.release("a")
    assert buffers.ring("a") is not None and buffers.ring("a").size == 1  # type: ignore[union-attr]
    buffers.release("a")
    buffers.release("b")
    buffers.release("b")  # one release too many does nothing
    assert buffers.tags() == [] and buffers.nbytes == 0
    buffers([tv("a", T0 + 1, 1.0)])
    assert buffers.tags() == []
    buffers.keep("a")  # put back: an empty ring, its past comes from the historian
    buffers([tv("a", T0 + 2, 5.0)])
    assert buffers.window("a", T0, T0 + 10)[1].tolist() == [5.0]
