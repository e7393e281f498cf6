"""Alarm-system health over a period, from the journal: the ISA-18.2 / EEMUA 191 performance metrics.

Pure: journal entries in, frozen figures and findings in words out. The period is ``[start, until)``
where ``until`` is ``end``, or ``now`` when that is earlier (a period that reaches into the future is
cut at the present). Entries at or after ``until`` are ignored.

The rules, precisely:

- Annunciation: an entry that takes an alarm to UNACK from any other state (``activate`` from NORMAL or
  RTN_UNACK, or coming back from shelving, suppression or service while the condition is active). Only
  annunciations in the period count for rates, floods, chattering, the top 10 and the priority mix.
- 10-minute buckets start at ``start``; the last one may be short. The peak is the fullest bucket.
- Flood (ISA-18.2): the trailing window at time t is ``(t - 10 min, t]``. A flood starts when the window
  holds more than 10 annunciations (11 in less than 10 minutes; exactly 10 is no flood) and ends at the
  first moment it holds fewer than 5, which can only be when an annunciation leaves the window, so the
  end is an annunciation's time plus 10 minutes. The flood counts from the first annunciation of the
  window that started it (not before the previous flood's end); its alarms are those in ``[start, end)``.
  A flood still on at ``until`` ends there and is marked ongoing.
- Chattering (ISA-18.2 TR5): an alarm annunciated 3 or more times within 60 s, i.e. an annunciation
  less than 60 s after the one two before it. A burst is a run of such annunciations.
- Stale: an alarm whose condition has been active for more than 24 h at ``until``. The condition is
  active from an entry that takes it to UNACK or ACKED until one that takes it to NORMAL or RTN_UNACK;
  shelving and service hide it without changing it (the engine journals no condition change while an
  alarm is hidden). For an alarm that became active before ``start`` the caller passes entries from
  before ``start`` (at least each alarm's activation); they set the state but count for nothing else.
  Without them an alarm counts as active from its first entry that shows it active (a ``persistent``
  mark: 5 minutes before it), which can only make it look younger.
- Priority mix against EEMUA 191's about 5% high / 15% medium / 80% low: priority 1 (act now) is high,
  2 is medium, 3 and 4 together are low. It is "ok" when high is at most 10% and medium at most 30%
  (twice the guidance): too many urgent alarms is the failure, too many low ones is not.
- Acknowledgement time: from an alarm's annunciation to its acknowledgement (from UNACK or RTN_UNACK);
  a re-activation before the ack keeps the first annunciation's time; shelving or service drops it.

A finding is ok when it meets: an average of at most 2 per 10 min (EEMUA 191's "manageable"; 1 is the
aim), under 1% of 10-min buckets over 10, under 1% of the time in flood, no chattering alarm, the top 10
at most 5% of all (ISA-18.2: a small plant with few alarms will not meet that), fewer than 5 stale
alarms. Acknowledgement times and the states at the end are figures without a target (``ok`` None).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from operator import attrgetter

from hmi.domain.alarm_engine import PERSISTENT_AFTER_S, AlarmState
from hmi.domain.alarm_journal import JournalEntry

BUCKET_S = 600.0
FLOOD_WINDOW_S = 600.0
FLOOD_ABOVE = 10  # more annunciations than this in the trailing window start a flood
FLOOD_BELOW = 5  # fewer than this end it
CHATTER_WINDOW_S = 60.0
CHATTER_COUNT = 3
STALE_AFTER_S = 24 * 3600.0
TOP_N = 10
# The top 10's share of all (ISA-18.2: at most 5%) says something only of many alarms: of 8, it is
# always 100%. Below this count it is a figure, not a finding.
TOP_JUDGED_FROM = 200
FLOOD_TOP = 3  # contributors named per flood
BANDS = (("high", (1,), 5.0), ("medium", (2,), 15.0), ("low", (3, 4), 80.0))
BAND_OF = {p: name for name, prios, _ in BANDS for p in prios}

_UNACK = AlarmState.UNACK
_ACTIVE = frozenset({AlarmState.UNACK, AlarmState.ACKED})
_CLEAR = frozenset({AlarmState.NORMAL, AlarmState.RTN_UNACK})
_HIDDEN = frozenset({AlarmState.SHELVED, AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE})
_STANDING = frozenset({AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTN_UNACK})


@dataclass(frozen=True, slots=True)
class AlarmRef:
    """What a row names an alarm by: id, tag, twin, priority and message (from its latest entry)."""

    alarm_id: str
    tag: str
    twin: str
    priority: int
    message: str


@dataclass(frozen=True, slots=True)
class Bucket:
    """One 10-minute bucket: its start (UTC epoch s) and how many alarms were annunciated in it."""

    start: float
    count: int


@dataclass(frozen=True, slots=True)
class Flood:
    """One alarm flood: ``[start, end)``, the annunciations in it and the alarms that made most of them."""

    start: float
    end: float
    count: int
    top: tuple[tuple[str, int], ...]
    ongoing: bool

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class ChatteringAlarm:
    """An alarm annunciated 3+ times within 60 s: how often in all, in how many bursts, most in 60 s."""

    alarm: AlarmRef
    count: int
    bursts: int
    max_in_60s: int


@dataclass(frozen=True, slots=True)
class StaleAlarm:
    """An alarm active for more than 24 h at the period's end: since when, how long, its state then."""

    alarm: AlarmRef
    since: float
    active_for: float
    state: AlarmState


@dataclass(frozen=True, slots=True)
class FrequentAlarm:
    """One of the most frequent alarms: annunciations in the period and share of all (%)."""

    alarm: AlarmRef
    count: int
    share: float


@dataclass(frozen=True, slots=True)
class PriorityShare:
    """Annunciations of one priority (1-4), its EEMUA 191 band, share (%), the band's share and guidance (%)."""

    priority: int
    band: str
    count: int
    share: float
    band_share: float
    guidance: float


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding in words; ``ok`` is whether it meets its target (None: a figure with no target)."""

    ok: bool | None
    text: str


@dataclass(frozen=True, slots=True)
class AlarmHealth:
    """The alarm system's performance over ``[start, until)``: rates, floods, bad actors, findings."""

    start: float
    end: float
    until: float
    annunciations: int
    buckets: tuple[Bucket, ...]
    per_10min: float
    per_hour: float
    peak_10min: int
    peak_start: float | None
    over_10_share: float  # % of buckets with more than 10 annunciations
    floods: tuple[Flood, ...]
    flood_share: float  # % of the period in flood
    chattering: tuple[ChatteringAlarm, ...]
    stale: tuple[StaleAlarm, ...]
    top: tuple[FrequentAlarm, ...]
    top_share: float  # % of all annunciations made by the top 10
    priority_mix: tuple[PriorityShare, ...]
    acked: int
    not_acked: int
    ack_median: float | None
    ack_p90: float | None
    standing: int
    shelved: int
    suppressed: int
    out_of_service: int
    findings: tuple[Finding, ...]

    @property
    def duration(self) -> float:
        """Seconds in the period (``until - start``)."""
        return self.until - self.start


def alarm_health(
    entries: Sequence[JournalEntry], start: float, end: float, *, now: float | None = None
) -> AlarmHealth:
    """The health of the alarm system over ``[start, min(end, now))`` from journal entries in any order."""
    if end <= start:
        raise ValueError(f"the period must end after it starts (start {start}, end {end})")
    until = max(start, end if now is None else min(end, now))
    n_buckets = math.ceil((until - start) / BUCKET_S)
    bucket_counts = [0] * n_buckets
    times: list[float] = []  # every annunciation in the period, in time order
    ids: list[str] = []
    per_alarm: dict[str, list[float]] = {}
    by_priority: Counter[int] = Counter()
    latest: dict[str, JournalEntry] = {}
    state: dict[str, AlarmState] = {}
    active_since: dict[str, float] = {}
    unacked_since: dict[str, float] = {}
    ack_times: list[float] = []

    for e in sorted(entries, key=attrgetter("ts")):
        ts = e.ts
        if ts >= until:
            break
        aid, to = e.alarm_id, e.to_state
        latest[aid] = e
        state[aid] = to
        if to in _ACTIVE or e.what == "activate":  # an activation while shelved keeps its state
            if aid not in active_since:
                active_since[aid] = ts - PERSISTENT_AFTER_S if e.what == "persistent" else ts
        elif to in _CLEAR or e.what == "return":
            active_since.pop(aid, None)
        if ts < start:
            continue
        if to is _UNACK and e.from_state is not _UNACK:
            times.append(ts)
            ids.append(aid)
            per_alarm.setdefault(aid, []).append(ts)
            bucket_counts[int((ts - start) // BUCKET_S)] += 1
            by_priority[e.priority] += 1
            unacked_since.setdefault(aid, ts)
        elif e.what == "ack":
            t0 = unacked_since.pop(aid, None)
            if t0 is not None:
                ack_times.append(ts - t0)
        elif to in _HIDDEN:
            unacked_since.pop(aid, None)

    refs = {aid: _ref(e) for aid, e in latest.items()}
    total = len(times)
    duration = until - start
    buckets = tuple(Bucket(start + i * BUCKET_S, c) for i, c in enumerate(bucket_counts))
    peak = max(bucket_counts, default=0)
    floods = _floods(times, ids, until)
    top = _top(per_alarm, refs, total)
    ack_times.sort()
    health = AlarmHealth(
        start=start, end=end, until=until, annunciations=total, buckets=buckets,
        per_10min=total / (duration / BUCKET_S) if duration else 0.0,
        per_hour=total / (duration / 3600.0) if duration else 0.0,
        peak_10min=peak, peak_start=buckets[bucket_counts.index(peak)].start if total else None,
        over_10_share=_pct(sum(c > FLOOD_ABOVE for c in bucket_counts), n_buckets),
        floods=floods, flood_share=_pct(sum(f.duration for f in floods), duration),
        chattering=_chattering(per_alarm, refs), stale=_stale(active_since, state, refs, until),
        top=top, top_share=_pct(sum(f.count for f in top), total), priority_mix=_mix(by_priority, total),
        acked=len(ack_times), not_acked=len(unacked_since),
        ack_median=_quantile(ack_times, 0.5), ack_p90=_quantile(ack_times, 0.9),
        standing=sum(s in _STANDING for s in state.values()),
        shelved=sum(s is AlarmState.SHELVED for s in state.values()),
        suppressed=sum(s is AlarmState.SUPPRESSED for s in state.values()),
        out_of_service=sum(s is AlarmState.OUT_OF_SERVICE for s in state.values()),
        findings=(),
    )  # fmt: skip
    return replace(health, findings=findings(health))


def _ref(e: JournalEntry) -> AlarmRef:
    return AlarmRef(e.alarm_id, e.tag, e.twin, e.priority, e.message)


def _pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def _quantile(ordered: list[float], q: float) -> float | None:
    """The nearest-rank quantile of a sorted list (the median of an even count: the mean of the middle two)."""
    n = len(ordered)
    if not n:
        return None
    if q == 0.5 and n % 2 == 0:
        return (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return ordered[max(0, math.ceil(q * n) - 1)]


def _floods(times: list[float], ids: list[str], until: float) -> tuple[Flood, ...]:
    """The floods in a sorted list of annunciation times (the rule is in the module's docstring)."""
    floods: list[Flood] = []
    n = len(times)
    lo = i = 0
    prev_end = -math.inf
    while i < n:
        t = times[i]
        hi = i
        while hi < n and times[hi] == t:
            hi += 1
        while times[lo] + FLOOD_WINDOW_S <= t:
            lo += 1
        if hi - lo <= FLOOD_ABOVE:
            i = hi
            continue
        first = max(times[lo], prev_end)
        end, ongoing = _flood_end(times, lo, until)
        a, b = bisect_left(times, first), bisect_left(times, end)
        top = tuple(sorted(Counter(ids[a:b]).items(), key=lambda kv: (-kv[1], kv[0]))[:FLOOD_TOP])
        floods.append(Flood(first, end, b - a, top, ongoing))
        if ongoing:
            break
        prev_end = end
        i = max(hi, b)
    return tuple(floods)


def _flood_end(times: list[float], k: int, until: float) -> tuple[float, bool]:
    """When the window first holds fewer than FLOOD_BELOW, looking at the expiries from index ``k`` on."""
    n = len(times)
    up = k
    while k < n:
        leaving = times[k]
        t = leaving + FLOOD_WINDOW_S
        if t >= until:
            break
        while k < n and times[k] == leaving:
            k += 1
        while up < n and times[up] <= t:
            up += 1
        if up - k < FLOOD_BELOW:
            return t, False
    return until, True


def _chattering(per_alarm: dict[str, list[float]], refs: dict[str, AlarmRef]) -> tuple[ChatteringAlarm, ...]:
    """The alarms annunciated CHATTER_COUNT+ times within CHATTER_WINDOW_S, the worst first."""
    rows = []
    gap = CHATTER_COUNT - 1
    for aid, ts in per_alarm.items():
        bursts = 0
        in_burst = False
        for j in range(gap, len(ts)):
            chatter = ts[j - gap] + CHATTER_WINDOW_S > ts[j]
            if chatter and not in_burst:
                bursts += 1
            in_burst = chatter
        if bursts:
            rows.append(ChatteringAlarm(refs[aid], len(ts), bursts, _max_in_window(ts, CHATTER_WINDOW_S)))
    rows.sort(key=lambda r: (-r.bursts, -r.max_in_60s, -r.count, r.alarm.alarm_id))
    return tuple(rows)


def _max_in_window(ts: list[float], width: float) -> int:
    """The most of the sorted times that fit in one window ``(t - width, t]``."""
    best = lo = 0
    for hi, t in enumerate(ts):
        while ts[lo] + width <= t:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _stale(
    active_since: dict[str, float], state: dict[str, AlarmState], refs: dict[str, AlarmRef], until: float
) -> tuple[StaleAlarm, ...]:
    """The alarms active for more than STALE_AFTER_S at ``until``, the oldest first."""
    rows = [
        StaleAlarm(refs[aid], since, until - since, state[aid])
        for aid, since in active_since.items()
        if until - since > STALE_AFTER_S
    ]
    rows.sort(key=lambda r: (r.since, r.alarm.alarm_id))
    return tuple(rows)


def _top(per_alarm: dict[str, list[float]], refs: dict[str, AlarmRef], total: int) -> tuple[FrequentAlarm, ...]:
    """The TOP_N most frequent alarms, most first; a tie goes by alarm id."""
    ranked = sorted(per_alarm.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_N]
    return tuple(FrequentAlarm(refs[aid], len(ts), _pct(len(ts), total)) for aid, ts in ranked)


def _mix(by_priority: Counter[int], total: int) -> tuple[PriorityShare, ...]:
    """Count and share per priority 1-4 with its band's share and EEMUA 191 guidance."""
    band_count = {name: sum(by_priority[p] for p in prios) for name, prios, _ in BANDS}
    guidance = {name: g for name, _, g in BANDS}
    return tuple(
        PriorityShare(p, BAND_OF[p], by_priority[p], _pct(by_priority[p], total),
                      _pct(band_count[BAND_OF[p]], total), guidance[BAND_OF[p]])
        for p in (1, 2, 3, 4)
    )  # fmt: skip


# ----- findings in words ---------------------------------------------------------------------------


def findings(h: AlarmHealth) -> tuple[Finding, ...]:
    """The health in a few sentences, each against its ISA-18.2 / EEMUA 191 target."""
    out: list[Finding] = []
    if not h.annunciations:
        out.append(Finding(None, f"no alarm annunciated in {span_text(h.duration)}"))
    else:
        out += _rate_findings(h)
        out += _bad_actor_findings(h)
    out.append(_stale_finding(h))
    out.append(Finding(
        None, f"at the end: {h.standing} standing, {h.shelved} shelved, {h.suppressed} suppressed, "
        f"{h.out_of_service} out of service",
    ))  # fmt: skip
    return tuple(out)


def _rate_findings(h: AlarmHealth) -> list[Finding]:
    out = [
        Finding(
            h.per_10min <= 2,
            f"{h.annunciations} alarms in {span_text(h.duration)}: average {num_text(h.per_10min)} per 10 min, "
            f"{num_text(h.per_hour)} per hour (EEMUA 191: ≤ 1 per 10 min acceptable, ≤ 2 manageable, over 10 = flood)",
        ),
        Finding(
            h.over_10_share < 1,
            f"peak {h.peak_10min} alarms in one 10 min; {pct_text(h.over_10_share)} of 10-min periods over 10 "
            "(ISA-18.2: < 1%)",
        ),
    ]
    if not h.floods:
        out.append(Finding(True, "no alarm flood (more than 10 alarms in 10 min)"))
    else:
        n = len(h.floods)
        longest = max(h.floods, key=lambda f: f.duration)
        out.append(Finding(
            h.flood_share < 1,
            f"{n} flood{'s' if n != 1 else ''}, {pct_text(h.flood_share)} of the time in flood (target < 1%); "
            f"the longest {span_text(longest.duration)} with {longest.count} alarms",
        ))  # fmt: skip
    return out


def _bad_actor_findings(h: AlarmHealth) -> list[Finding]:
    out = []
    if not h.chattering:
        out.append(Finding(True, "no chattering alarm (3 or more in 60 s)"))
    else:
        n = len(h.chattering)
        out.append(Finding(
            False, f"{n} chattering alarm{'s' if n != 1 else ''} (3 or more in 60 s; target none): "
            + _names(c.alarm.alarm_id for c in h.chattering),
        ))  # fmt: skip
    first = h.top[0]
    judged = h.annunciations >= TOP_JUDGED_FROM
    out.append(Finding(
        h.top_share <= 5 if judged else None,
        f"the {len(h.top)} most frequent alarms make {pct_text(h.top_share)} of all "
        + ("(ISA-18.2: ≤ 5%)" if judged else f"(judged from {TOP_JUDGED_FROM} alarms on)")
        + f"; most frequent {first.alarm.alarm_id} ({first.count})",
    ))  # fmt: skip
    high, medium, low = (h.priority_mix[0], h.priority_mix[1], h.priority_mix[2])
    out.append(Finding(
        high.band_share <= 10 and medium.band_share <= 30,
        f"priority mix high / medium / low {pct_text(high.band_share)} / {pct_text(medium.band_share)} / "
        f"{pct_text(low.band_share)} (EEMUA 191: about 5% / 15% / 80%; high = priority 1, medium = 2, low = 3-4)",
    ))  # fmt: skip
    if h.acked:
        out.append(Finding(
            None, f"acknowledged after {span_text(h.ack_median or 0.0)} (median), 90% within "
            f"{span_text(h.ack_p90 or 0.0)}; {h.not_acked} not acknowledged by the end",
        ))  # fmt: skip
    else:
        out.append(Finding(None, f"no alarm acknowledged; {h.not_acked} not acknowledged by the end"))
    return out


def _stale_finding(h: AlarmHealth) -> Finding:
    if not h.stale:
        return Finding(True, "no stale alarm (active more than 24 h)")
    n = len(h.stale)
    return Finding(
        n < 5, f"{n} stale alarm{'s' if n != 1 else ''} (active more than 24 h; ISA-18.2: fewer than 5): "
        + _names(s.alarm.alarm_id for s in h.stale),
    )  # fmt: skip


def _names(ids: Iterable[str], most: int = 3) -> str:
    names = list(ids)
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def num_text(x: float) -> str:
    """A rate for a sentence: one decimal, none when it is whole (14, 0.5, 2.3)."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def pct_text(x: float) -> str:
    """A share for a sentence: 12%, 0.5%, < 0.1% (never 0% for something that happened)."""
    if 0 < x < 0.05:
        return "< 0.1%"
    return f"{x:.0f}%" if x >= 10 else f"{num_text(x)}%"


def span_text(seconds: float) -> str:
    """A duration for a sentence: 45 s, 12 min, 3.5 h, 2.1 d."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{num_text(seconds / 3600)} h"
    return f"{num_text(seconds / 86400)} d"
