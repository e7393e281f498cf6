"""Judging shopfloors by their heartbeats (hmi.domain.dispatch): online, late, offline, unknown."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hmi.domain.dispatch import DispatchStats, judge_health, silence_s
from hmi.domain.orders import ShopfloorHealth as H

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_by_age_with_the_thresholds_inclusive():
    heard = {"a": at(95), "b": at(94.9), "c": at(90), "d": at(89.9), "never": None}
    health = judge_health(heard, at(100), link_up_since=at(0), late_after_s=5, offline_after_s=10)
    assert health == {"a": H.ONLINE, "b": H.LATE, "c": H.LATE, "d": H.OFFLINE, "never": H.UNKNOWN}


def test_nobody_is_judged_while_the_link_is_down():
    heard = {"a": at(99), "b": at(0)}
    assert judge_health(heard, at(100), None, 5, 10) == {"a": H.UNKNOWN, "b": H.UNKNOWN}


def test_after_a_reconnect_ages_count_from_the_link_coming_back():
    # Last heard at 0, the link was down until 95: at 100 that is 5 s of silence, not 100.
    heard = {"a": at(0)}
    assert judge_health(heard, at(100), at(95), 5, 10) == {"a": H.ONLINE}
    assert judge_health(heard, at(111), at(95), 5, 10) == {"a": H.OFFLINE}
    assert silence_s(at(0), at(111), at(95)) == 16.0
    assert silence_s(None, at(111), at(95)) == 0.0


def test_the_status_line_names_the_counts_and_the_role():
    line = DispatchStats(120, 98, 2, 1, 3, holder=True).brief()
    assert line == "orders received 120 applied 98 dup 2 invalid 1 outbox 3 (dispatcher)"
    down = DispatchStats(holder=False, db_ok=False, last_error="connection refused").brief()
    assert down.endswith("(follower) db DOWN (connection refused)")
