"""Alarm health on hand-built journals: rates, floods, chattering, stale alarms, top 10, priority mix."""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right

import pytest

from hmi.domain.alarm_defs import AlarmKind
from hmi.domain.alarm_engine import AlarmState as S
from hmi.domain.alarm_health import alarm_health, pct_text, span_text
from hmi.domain.alarm_journal import JournalEntry

T0 = 1_795_413_600.0  # 2026-11-23T06:00:00Z
H = 3600.0


def entry(ts: float, aid: str, what: str, fr: S, to: S, priority: int = 3, **kw) -> JournalEntry:
    return JournalEntry(ts=ts, alarm_id=aid, tag=f"press1.{aid}", twin="press1", kind=AlarmKind.HI,
                        priority=priority, from_state=fr, to_state=to, what=what, value=1.0,
                        message=f"{aid} high", **kw)  # fmt: skip


def activate(ts: float, aid: str, priority: int = 3) -> JournalEntry:
    return entry(ts, aid, "activate", S.NORMAL, S.UNACK, priority)


def back_to_normal(ts: float, aid: str, priority: int = 3) -> list[JournalEntry]:
    """The return and the acknowledgement that close an annunciation."""
    return [
        entry(ts, aid, "return", S.UNACK, S.RTN_UNACK, priority),
        entry(ts + 0.5, aid, "ack", S.RTN_UNACK, S.NORMAL, priority, user="olaf"),
    ]


def pulses(times: list[float], aid: str, priority: int = 3) -> list[JournalEntry]:
    """An alarm that comes and goes at each of the times (each one an annunciation)."""
    out = []
    for t in times:
        out += [activate(t, aid, priority), *back_to_normal(t + 1, aid, priority)]
    return out


def test_an_empty_period_has_zero_rates_and_says_so():
    h = alarm_health([], T0, T0 + H)
    assert h.annunciations == 0 and h.duration == H
    assert [(b.start - T0, b.count) for b in h.buckets] == [(i * 600.0, 0) for i in range(6)]
    assert (h.per_10min, h.per_hour, h.peak_10min, h.peak_start) == (0.0, 0.0, 0, None)
    assert h.floods == () and h.flood_share == 0 and h.chattering == () and h.stale == () and h.top == ()
    assert [p.share for p in h.priority_mix] == [0.0] * 4
    assert h.ack_median is None and h.ack_p90 is None
    assert h.findings[0].text == "no alarm annunciated in 60 min" and h.findings[0].ok is None
    assert h.findings[1].text == "no stale alarm (active more than 24 h)"


def test_a_period_must_end_after_it_starts():
    with pytest.raises(ValueError, match="must end after it starts"):
        alarm_health([], T0, T0)


def test_buckets_averages_and_peak():
    times = [T0 + 30, T0 + 650, T0 + 700, T0 + 1190, T0 + 3000]
    journal = [e for i, t in enumerate(times) for e in pulses([t], f"a{i}")]
    h = alarm_health(journal, T0, T0 + H)
    assert [b.count for b in h.buckets] == [1, 3, 0, 0, 0, 1]
    assert h.annunciations == 5
    assert h.per_10min == pytest.approx(5 / 6) and h.per_hour == pytest.approx(5.0)
    assert h.peak_10min == 3 and h.peak_start == T0 + 600
    assert h.findings[0].ok is True
    assert h.findings[0].text.startswith("5 alarms in 60 min: average 0.8 per 10 min, 5 per hour")


def test_a_flood_starts_above_10_in_10_min_and_ends_below_5():
    # 11 annunciations from 100 s to 200 s: a flood from the first of them. The window (t - 10 min, t]
    # drops to 4 when the one at 160 s leaves it, at 760 s: the flood ends there.
    ids = ["a"] * 5 + ["b"] * 3 + ["c", "d", "e"]
    journal = [e for k, aid in enumerate(ids) for e in pulses([T0 + 100 + 10 * k], aid)]
    h = alarm_health(journal, T0, T0 + 2 * H)
    assert len(h.floods) == 1
    f = h.floods[0]
    assert (f.start - T0, f.end - T0, f.count, f.ongoing) == (100.0, 760.0, 11, False)
    assert f.top == (("a", 5), ("b", 3), ("c", 1))  # the tie among c, d, e goes by id
    assert h.flood_share == pytest.approx(100 * 660 / 7200)
    assert h.findings[2].text == "1 flood, 9.2% of the time in flood (target < 1%); the longest 11 min with 11 alarms"
    assert h.findings[2].ok is False


def test_exactly_10_in_10_min_is_no_flood_and_11_over_exactly_10_min_neither():
    ten = [e for k in range(10) for e in pulses([T0 + 100 + 5 * k], f"x{k}")]
    h = alarm_health(ten, T0, T0 + H)
    assert h.floods == () and h.peak_10min == 10 and h.over_10_share == 0
    assert "no alarm flood" in h.findings[2].text and h.findings[2].ok is True
    # The first leaves the window as the eleventh arrives: never more than 10 at once.
    spread = [e for k in range(11) for e in pulses([T0 + 60 * k], f"y{k}")]
    assert alarm_health(spread, T0, T0 + H).floods == ()


def test_a_flood_lasts_while_alarms_keep_coming_and_one_at_the_end_is_ongoing():
    # 2 per minute for 30 minutes, then quiet: one flood; then a burst in the last minutes of the period.
    steady = [T0 + 30 * k for k in range(60)]
    burst = [T0 + H - 100 + k for k in range(12)]
    journal = [e for k, t in enumerate(steady + burst) for e in pulses([t], f"s{k % 7}")]
    h = alarm_health(journal, T0, T0 + H)
    first, last = h.floods
    assert first.start == T0 and first.end == T0 + 30 * 55 + 600 and not first.ongoing
    assert first.count == 60
    assert (last.start, last.end, last.count, last.ongoing) == (T0 + H - 100, T0 + H, 12, True)
    assert h.flood_share == pytest.approx(100 * (first.duration + 100) / H)


def test_chattering_is_3_within_60_s_counted_in_bursts():
    x = [T0 + 10, T0 + 30, T0 + 50, T0 + 65, T0 + 1000, T0 + 1010, T0 + 1020]
    y = [T0 + 2000, T0 + 2030, T0 + 2060]  # 60 s apart end to end: not within 60 s
    journal = pulses(x, "x", priority=2) + pulses(y, "y")
    h = alarm_health(journal, T0, T0 + H)
    assert [c.alarm.alarm_id for c in h.chattering] == ["x"]
    c = h.chattering[0]
    assert (c.count, c.bursts, c.max_in_60s) == (7, 2, 4)
    assert (c.alarm.twin, c.alarm.priority, c.alarm.message) == ("press1", 2, "x high")
    chatter = next(f for f in h.findings if "chattering" in f.text)
    assert chatter.ok is False and chatter.text == "1 chattering alarm (3 or more in 60 s; target none): x"


def test_reactivation_from_rtn_unack_and_return_from_shelving_are_annunciations():
    journal = [
        activate(T0 + 10, "a"),
        entry(T0 + 20, "a", "return", S.UNACK, S.RTN_UNACK),
        entry(T0 + 30, "a", "activate", S.RTN_UNACK, S.UNACK),
        entry(T0 + 40, "a", "persistent", S.UNACK, S.UNACK),
        entry(T0 + 50, "a", "shelve", S.UNACK, S.SHELVED, user="olaf"),
        entry(T0 + 90, "a", "shelve_ended", S.SHELVED, S.UNACK),
        entry(T0 + 95, "a", "ack", S.UNACK, S.ACKED, user="olaf"),
    ]
    h = alarm_health(journal, T0, T0 + H)
    assert h.annunciations == 3
    assert (h.acked, h.not_acked, h.ack_median) == (1, 0, 5.0)  # shelving dropped the first two


def test_acknowledgement_times_median_and_p90():
    journal = []
    for k, delay in enumerate([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]):
        t = T0 + 300 * k
        journal += [activate(t, f"a{k}"), entry(t + delay, f"a{k}", "ack", S.UNACK, S.ACKED, user="olaf")]
    journal.append(activate(T0 + 3500, "late"))
    h = alarm_health(journal, T0, T0 + H)
    assert (h.acked, h.not_acked) == (10, 1)
    assert h.ack_median == 55.0 and h.ack_p90 == 90.0
    assert "acknowledged after 55 s (median), 90% within 90 s; 1 not acknowledged by the end" in [f.text for f in h.findings]


def test_stale_alarms_are_active_over_24_h_at_the_end_including_one_from_before_start():
    start, end = T0, T0 + 30 * H
    journal = [
        activate(start - 48 * H, "old"),  # before the period, still active: stale since then
        entry(start - 47 * H, "old", "ack", S.UNACK, S.ACKED, user="olaf"),
        entry(start - 20 * H, "old", "persistent", S.ACKED, S.ACKED),
        activate(start - 72 * H, "gone"),  # active before, returned before the period: not stale
        entry(start - 70 * H, "gone", "return", S.UNACK, S.RTN_UNACK),
        activate(start + H, "new"),  # 29 h by the end
        activate(start + 8 * H, "young"),  # 22 h: not stale
        activate(start - 26 * H, "hidden"),  # shelved while active: still stale, and shown as shelved
        entry(start + 2 * H, "hidden", "shelve", S.UNACK, S.SHELVED, user="olaf"),
        entry(start + 5 * H, "new", "persistent", S.UNACK, S.UNACK),
    ]
    h = alarm_health(journal, start, end)
    assert [(s.alarm.alarm_id, s.since, s.active_for, s.state) for s in h.stale] == [
        ("old", start - 48 * H, 78 * H, S.ACKED),
        ("hidden", start - 26 * H, 56 * H, S.SHELVED),
        ("new", start + H, 29 * H, S.UNACK),
    ]
    assert h.annunciations == 2  # the activations before the period count for nothing there
    assert (h.standing, h.shelved) == (4, 1)  # old, new, young and the unacknowledged return of gone
    stale = next(f for f in h.findings if "stale" in f.text)
    assert stale.ok is True and stale.text == "3 stale alarms (active more than 24 h; ISA-18.2: fewer than 5): old, hidden, new"


def test_a_persistent_mark_without_the_activation_dates_it_5_min_earlier():
    h = alarm_health([entry(T0 + 100, "p", "persistent", S.ACKED, S.ACKED)], T0, T0 + 25 * H)
    assert [(s.alarm.alarm_id, s.since) for s in h.stale] == [("p", T0 + 100 - 300)]


def test_now_cuts_a_period_that_reaches_into_the_future():
    journal = pulses([T0 + 100], "a") + pulses([T0 + 5000], "b")  # b comes after now
    h = alarm_health(journal, T0, T0 + 24 * H, now=T0 + H)
    assert h.until == T0 + H and h.end == T0 + 24 * H and h.duration == H
    assert h.annunciations == 1 and len(h.buckets) == 6
    stale = alarm_health([activate(T0 - 23 * H, "s")], T0, T0 + 24 * H, now=T0 + 2 * H)
    assert [s.active_for for s in stale.stale] == [25 * H]


def test_top_10_by_count_ties_by_id_with_shares():
    counts = {"k05": 5, "k01": 5, "k02": 4, "k03": 3, "k04": 3, "k06": 3, "k07": 2, "k09": 2, "k08": 2,
              "k10": 1, "k12": 1, "k11": 1}  # fmt: skip
    journal = []
    for aid, n in counts.items():
        journal += pulses([T0 + 120 * k + int(aid[1:]) for k in range(n)], aid)
    random.Random(7).shuffle(journal)  # the journal may come in any order
    h = alarm_health(journal, T0, T0 + H)
    assert h.annunciations == 32
    assert [(t.alarm.alarm_id, t.count) for t in h.top] == [
        ("k01", 5), ("k05", 5), ("k02", 4), ("k03", 3), ("k04", 3), ("k06", 3), ("k07", 2), ("k08", 2),
        ("k09", 2), ("k10", 1),
    ]  # fmt: skip
    assert h.top[0].share == pytest.approx(100 * 5 / 32)
    assert h.top_share == pytest.approx(100 * 30 / 32)
    top = next(f for f in h.findings if f.text.startswith("the 10 most frequent"))
    # 32 alarms are too few to judge the share against ISA-18.2's 5%: a figure, not a finding
    assert (top.ok, top.text) == (None, "the 10 most frequent alarms make 94% of all (judged from 200 alarms on); "
                                        "most frequent k01 (5)")  # fmt: skip
    many = alarm_health([e for k in range(7) for e in pulses([T0 + 500 * k + 5 * i for i in range(32)], f"m{k}")]
                        + journal, T0, T0 + 4 * H)  # fmt: skip
    top = next(f for f in many.findings if f.text.startswith("the 10 most frequent"))
    assert many.annunciations == 256 and top.ok is False and "(ISA-18.2: ≤ 5%)" in top.text


def test_priority_mix_in_percent_against_eemua_191():
    journal = []
    for k, p in enumerate([1] * 1 + [2] * 3 + [3] * 12 + [4] * 4):
        journal += pulses([T0 + 150 * k], f"p{p}-{k}", priority=p)
    h = alarm_health(journal, T0, T0 + H)
    assert [(p.priority, p.band, p.count, p.share) for p in h.priority_mix] == [
        (1, "high", 1, 5.0), (2, "medium", 3, 15.0), (3, "low", 12, 60.0), (4, "low", 4, 20.0)
    ]  # fmt: skip
    assert [(p.band_share, p.guidance) for p in h.priority_mix] == [(5.0, 5.0), (15.0, 15.0), (80.0, 80.0), (80.0, 80.0)]
    mix = next(f for f in h.findings if f.text.startswith("priority mix"))
    assert mix.ok is True and "high / medium / low 5% / 15% / 80%" in mix.text
    urgent = alarm_health(pulses([T0 + 10, T0 + 500], "u", priority=1), T0, T0 + H)
    assert next(f for f in urgent.findings if f.text.startswith("priority mix")).ok is False


def test_states_at_the_end():
    journal = [
        activate(T0 + 1, "a"),
        activate(T0 + 2, "b"), entry(T0 + 3, "b", "ack", S.UNACK, S.ACKED),
        activate(T0 + 4, "c"), entry(T0 + 5, "c", "return", S.UNACK, S.RTN_UNACK),
        *pulses([T0 + 6], "d"),
        entry(T0 + 7, "e", "shelve", S.NORMAL, S.SHELVED),
        entry(T0 + 8, "f", "suppress", S.NORMAL, S.SUPPRESSED),
        entry(T0 + 9, "g", "out_of_service", S.NORMAL, S.OUT_OF_SERVICE),
        entry(T0 + 10, "h", "out_of_service", S.NORMAL, S.OUT_OF_SERVICE),
        entry(T0 + 11, "h", "return_to_service", S.OUT_OF_SERVICE, S.NORMAL),
    ]  # fmt: skip
    h = alarm_health(journal, T0, T0 + H)
    assert (h.standing, h.shelved, h.suppressed, h.out_of_service) == (3, 1, 1, 1)
    assert h.findings[-1].text == "at the end: 3 standing, 1 shelved, 1 suppressed, 1 out of service"


def test_texts_for_numbers():
    assert [pct_text(x) for x in (12.4, 9.25, 0.5, 0.01, 0.0)] == ["12%", "9.2%", "0.5%", "< 0.1%", "0%"]
    assert [span_text(s) for s in (45, 660, 3.5 * H, 50 * H)] == ["45 s", "11 min", "3.5 h", "2.1 d"]


def flood_rule_step_by_step(times: list[float], until: float) -> list[tuple[float, float, int, bool]]:
    """The flood rule played moment by moment: at every arrival and every departure from the window."""
    leave = [t + 600 for t in times]  # an annunciation is out of the window (T - 10 min, T] from t + 600 on
    moments = sorted({*times, *(t for t in leave if t < until)})
    floods, first, prev_end = [], None, float("-inf")
    for moment in moments:
        lo, hi = bisect_right(leave, moment), bisect_right(times, moment)
        if first is None and hi - lo > 10:
            first = max(times[lo], prev_end)
        elif first is not None and hi - lo < 5:
            floods.append((first, moment, bisect_left(times, moment) - bisect_left(times, first), False))
            first, prev_end = None, moment
    if first is not None:
        floods.append((first, until, len(times) - bisect_left(times, first), True))
    return floods


def test_floods_follow_the_rule_on_random_journals():
    rng = random.Random(3)
    found = 0
    for _ in range(300):
        # Whole minutes as well as random times, so that arrivals and departures coincide.
        times = sorted(rng.choice([rng.uniform(0, H), rng.randint(0, 59) * 60.0]) for _ in range(rng.randint(0, 80)))
        journal = [activate(T0 + t, f"a{k % 9}") for k, t in enumerate(times)]
        h = alarm_health(journal, T0, T0 + H)
        expected = flood_rule_step_by_step([T0 + t for t in times], T0 + H)
        assert [(f.start, f.end, f.count, f.ongoing) for f in h.floods] == expected
        found += len(expected)
    assert found > 100
