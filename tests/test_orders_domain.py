"""The order rules without a database: splitting by capacity, planning, ids, validation, error texts."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import pytest

from hmi.domain.orders import (
    InvalidOrderValue, MaterialShortfall, NoShopfloorAvailable, OrderStateError, OrderStatus, ShareStatus,
    ShopfloorHealth, UnknownMaterial, check_amount, check_due, check_priority, check_quantity, heartbeat_health,
    job_number_for, order_id_for, order_status_after, split_by_capacity,
)  # fmt: skip
from hmi.domain.planning import PlanItem, insert_position, lateness, moved, plan, queued_rank, sent_rank

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def test_ids_carry_the_utc_day_and_a_four_digit_sequence():
    assert order_id_for(date(2026, 12, 7), 1) == "ORD-20261207-0001"
    assert job_number_for(date(2026, 12, 7), 42) == "JO-20261207-0042"
    assert job_number_for(date(2026, 1, 2), 12345) == "JO-20260102-12345"


def test_equal_queues_split_in_proportion_to_capacity():
    assert split_by_capacity(3000, [("sf1", 1000, 0), ("sf2", 1000, 0), ("sf3", 1000, 0)]) == [
        ("sf1", 1000), ("sf2", 1000), ("sf3", 1000)]
    assert split_by_capacity(3000, [("sf1", 600, 0), ("sf2", 1200, 0), ("sf3", 1200, 0)]) == [
        ("sf1", 600), ("sf2", 1200), ("sf3", 1200)]


def test_water_filling_makes_the_shares_finish_together():
    # sf1 is busy for 1 h (1000 queued at 1000/h); sf2 is free. 2000 units: both finish at 1.5 h.
    assert split_by_capacity(2000, [("sf1", 1000, 1000), ("sf2", 1000, 0)]) == [("sf1", 500), ("sf2", 1500)]


def test_a_shopfloor_whose_queue_ends_after_the_others_finish_gets_nothing():
    assert split_by_capacity(500, [("sf1", 1000, 5000), ("sf2", 1000, 0)]) == [("sf2", 500)]


def test_shares_are_integers_that_sum_exactly_and_the_split_is_deterministic():
    rng = random.Random(7)
    for _ in range(300):
        floors = [(f"sf{i}", rng.choice([1.0, 7.0, 333.3, 1200.0]), rng.randint(0, 5000)) for i in range(rng.randint(1, 10))]
        q = rng.randint(1, 100_000)
        split = split_by_capacity(q, floors)
        assert sum(u for _, u in split) == q and all(u > 0 for _, u in split)
        assert split == split_by_capacity(q, floors)
        assert [s for s, _ in split] == [s for s, *_ in floors if s in dict(split)]


def test_no_capacity_anywhere_is_refused_with_what_to_do():
    with pytest.raises(NoShopfloorAvailable, match="hmi shopfloor dispatch"):
        split_by_capacity(10, [("sf1", 0, 0)])
    with pytest.raises(NoShopfloorAvailable):
        split_by_capacity(10, [])


def test_plan_runs_sent_shares_first_then_the_queue_in_order():
    items = [
        PlanItem("b", "O2", "sf1", 500, queued_rank(2, 1)),
        PlanItem("a", "O1", "sf1", 1000, sent_rank(1)),
        PlanItem("c", "O3", "sf1", 500, queued_rank(1, 1)),
    ]
    p = plan(items, {"sf1": 1000.0}, T0)
    assert (p["a"].start, p["a"].finish) == (T0, T0 + timedelta(hours=1))
    assert (p["c"].start, p["c"].finish) == (T0 + timedelta(hours=1), T0 + timedelta(hours=1.5))
    assert (p["b"].start, p["b"].finish) == (T0 + timedelta(hours=1.5), T0 + timedelta(hours=2))


def test_no_capacity_means_no_expected_times_and_lateness_unknown():
    p = plan([PlanItem("a", "O1", "sf1", 10, sent_rank(1))], {"sf1": 0.0}, T0)
    assert p["a"].finish is None
    assert lateness(T0, [p["a"].finish]) == (None, None)


def test_an_order_is_late_by_how_far_its_last_share_passes_the_due_date():
    due = T0 + timedelta(hours=1)
    assert lateness(due, [T0 + timedelta(minutes=30), T0 + timedelta(hours=2)]) == (T0 + timedelta(hours=2), 3600.0)
    assert lateness(due, [T0 + timedelta(minutes=30)]) == (T0 + timedelta(minutes=30), 0.0)


def test_release_inserts_by_priority_then_due_and_moves_shift_the_queue():
    queue = [(3, T0, 1), (3, T0 + timedelta(hours=5), 2), (5, T0, 3)]
    assert insert_position(queue, 1, T0 + timedelta(days=9)) == 1
    assert insert_position(queue, 3, T0 + timedelta(hours=1)) == 2
    assert insert_position(queue, 5, T0 + timedelta(hours=1)) == 4
    assert moved(["a", "b", "c", "d"], "c", -1) == ["a", "c", "b", "d"]
    assert moved(["a", "b", "c", "d"], "b", 10) == ["a", "c", "d", "b"]
    assert moved(["a", "b", "c", "d"], "b", -10) == ["b", "a", "c", "d"]


@pytest.mark.parametrize("value", [0, -1, 1e999, "abc", "1.5", True, 10_000_001, float("nan")])
def test_bad_quantities_are_refused_naming_the_range(value):
    with pytest.raises(InvalidOrderValue, match="quantity"):
        check_quantity(value)


def test_good_values_pass():
    assert check_quantity("3000") == 3000 and check_priority(1) == 1 and check_amount("2.5", "x") == 2.5
    with pytest.raises(InvalidOrderValue, match="1 \\(most urgent\\) to 5"):
        check_priority(6)
    with pytest.raises(InvalidOrderValue, match="finite"):
        check_amount(float("inf"), "per-unit")


def test_a_due_date_in_the_past_or_without_a_zone_is_refused():
    with pytest.raises(InvalidOrderValue, match="in the past"):
        check_due(T0 - timedelta(hours=1), T0)
    with pytest.raises(InvalidOrderValue, match="time zone"):
        check_due(datetime(2027, 1, 1), T0)


def test_the_errors_say_what_is_wrong_and_what_to_do():
    short = MaterialShortfall("ORD-20261207-0001", "PET Plastic", 3000, 1200.5, "kg")
    assert (short.material, short.needed, short.available, short.shortfall) == ("PET Plastic", 3000, 1200.5, 1799.5)
    assert str(short) == ("cannot release ORD-20261207-0001: it needs 3,000 kg of PET Plastic, 1,200.5 available "
                          "(short by 1,799.5); receive material first (hmi material receive)")
    state = OrderStateError("ORD-20261207-0001", OrderStatus.COMPLETED, "cancelled",
                            frozenset({OrderStatus.PLANNED, OrderStatus.RELEASED}))
    assert str(state) == "ORD-20261207-0001 is completed; only planned or released orders can be cancelled"
    assert "known materials: PET Plastic, Steel" in str(UnknownMaterial("Gold", ["PET Plastic", "Steel"]))


def test_heartbeat_health_by_age_and_unknown_while_our_link_is_down():
    assert heartbeat_health(T0, T0 + timedelta(seconds=5), 5, 10) is ShopfloorHealth.ONLINE
    assert heartbeat_health(T0, T0 + timedelta(seconds=6), 5, 10) is ShopfloorHealth.LATE
    assert heartbeat_health(T0, T0 + timedelta(seconds=11), 5, 10) is ShopfloorHealth.OFFLINE
    assert heartbeat_health(T0, T0 + timedelta(seconds=11), 5, 10, link_up=False) is ShopfloorHealth.UNKNOWN
    assert heartbeat_health(None, T0, 5, 10) is ShopfloorHealth.UNKNOWN


def test_order_status_follows_its_shares():
    R, S = OrderStatus.RELEASED, ShareStatus
    assert order_status_after(100, 0, [S.SENT, S.QUEUED], R) is R
    assert order_status_after(100, 10, [S.RUNNING, S.QUEUED], R) is OrderStatus.IN_PROGRESS
    assert order_status_after(100, 100, [S.DONE, S.WITHDRAWING], OrderStatus.IN_PROGRESS) is OrderStatus.COMPLETED
    assert order_status_after(100, 60, [S.DONE, S.WITHDRAWN], OrderStatus.IN_PROGRESS) is OrderStatus.SHORT
    assert order_status_after(100, 0, [], OrderStatus.CANCELLED) is OrderStatus.CANCELLED
