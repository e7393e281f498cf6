"""Ring buffers of recent samples per tag, for the live part of the trends (plain Python and numpy).

The buffers are a tag bus consumer: every batch is appended, in time order, to one fixed-size
ring per tag. A Bad sample is kept as NaN so a trend draws it as a gap. Memory is bounded:
``capacity`` samples per tag (an hour at 10 Hz by default, about 600 KB) and at most ``max_tags``
tags. The trends keep rings only for the tags someone shows (``keep``/``release``, counted per
user): a tag's older samples come from the historian, so a ring that nobody shows is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from hmi.domain.tags import Quality, TagValue

DEFAULT_CAPACITY = 36_000  # one hour at 10 Hz
DEFAULT_MAX_TAGS = 2_000
PENDING_MAX = 256  # samples appended one by one are written to the arrays in slices of at most this


class TagRing:
    """A fixed-capacity ring of (time, value, quality) for one tag, oldest overwritten first.

    Samples must arrive in time order; one older than the newest kept sample is refused
    (the historian has it) and counted in ``refused``.
    """

    __slots__ = ("_last", "_pq", "_pts", "_pval", "_q", "_size", "_start", "_ts", "_val", "capacity", "refused",
                 "version")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._ts = np.empty(capacity, dtype=np.float64)
        self._val = np.empty(capacity, dtype=np.float64)
        self._q = np.empty(capacity, dtype=np.uint8)
        self._start = 0  # index of the oldest sample
        self._size = 0
        self.refused = 0
        self.version = 0  # bumped on every change, for cheap "did anything change" checks
        self._last = -math.inf  # the time of the newest sample taken (kept or pending)
        # Samples appended one by one wait in plain lists and reach the arrays in one slice when
        # read or when there are PENDING_MAX of them: a numpy write per sample costs ten times more.
        self._pts: list[float] = []
        self._pval: list[float] = []
        self._pq: list[int] = []

    @property
    def size(self) -> int:
        """How many samples are kept."""
        if self._pts:
            self._flush()
        return self._size

    def append(self, ts: float, value: float, quality: int) -> bool:
        """Append one sample (cheap: no numpy per call); False when refused as older than the newest."""
        if ts < self._last:
            self.refused += 1
            return False
        self._last = ts
        self._pts.append(ts)
        self._pval.append(value)
        self._pq.append(quality)
        self.version += 1
        if len(self._pts) >= PENDING_MAX:
            self._flush()
        return True

    def _flush(self) -> None:
        ts, val, q = self._pts, self._pval, self._pq
        self._pts, self._pval, self._pq = [], [], []
        self._write(np.array(ts, dtype=np.float64), np.array(val, dtype=np.float64), np.array(q, dtype=np.uint8))

    @property
    def nbytes(self) -> int:
        """The memory the arrays hold."""
        return self._ts.nbytes + self._val.nbytes + self._q.nbytes

    def last_ts(self) -> float | None:
        """The time of the newest sample, or None when empty."""
        if self._pts:
            self._flush()
        if not self._size:
            return None
        return float(self._ts[(self._start + self._size - 1) % self.capacity])

    def first_ts(self) -> float | None:
        """The time of the oldest sample kept, or None when empty."""
        if self._pts:
            self._flush()
        return float(self._ts[self._start]) if self._size else None

    def extend(self, ts: Sequence[float], values: Sequence[float], quality: Sequence[int]) -> int:
        """Append samples (oldest first); returns how many were kept."""
        ts_a = np.asarray(ts, dtype=np.float64)
        val_a = np.asarray(values, dtype=np.float64)
        q_a = np.asarray(quality, dtype=np.uint8)
        if ts_a.size == 0:
            return 0
        if self._pts:
            self._flush()
        # Keep only the samples that continue the time order (a backfill goes to the historian only).
        last = self.last_ts()
        running = np.maximum.accumulate(ts_a)
        ok = ts_a >= running  # not older than an earlier sample of the same batch
        if last is not None:
            ok &= ts_a >= last
        if not ok.all():
            self.refused += int((~ok).sum())
            ts_a, val_a, q_a = ts_a[ok], val_a[ok], q_a[ok]
        n = ts_a.size
        if n == 0:
            return 0
        self._last = max(self._last, float(ts_a[-1]))
        self._write(ts_a, val_a, q_a)
        self.version += 1
        return n

    def _write(self, ts_a: np.ndarray, val_a: np.ndarray, q_a: np.ndarray) -> None:
        """Put samples already checked for order after the newest kept one."""
        n = ts_a.size
        cap = self.capacity
        if n >= cap:  # only the newest ``cap`` samples survive
            ts_a, val_a, q_a = ts_a[-cap:], val_a[-cap:], q_a[-cap:]
            self._ts[:], self._val[:], self._q[:] = ts_a, val_a, q_a
            self._start, self._size = 0, cap
            return
        end = (self._start + self._size) % cap
        first = min(n, cap - end)
        for dst, src in ((self._ts, ts_a), (self._val, val_a), (self._q, q_a)):
            dst[end : end + first] = src[:first]
            dst[: n - first] = src[first:]
        overflow = self._size + n - cap
        if overflow > 0:
            self._start = (self._start + overflow) % cap
            self._size = cap
        else:
            self._size += n

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All kept samples as (ts, value, quality), oldest first (views when not wrapped, else copies)."""
        if self._pts:
            self._flush()
        s, n, cap = self._start, self._size, self.capacity
        if s + n <= cap:
            return self._ts[s : s + n], self._val[s : s + n], self._q[s : s + n]
        tail = s + n - cap
        return tuple(np.concatenate((a[s:], a[:tail])) for a in (self._ts, self._val, self._q))  # type: ignore[return-value]

    def window(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The samples with t0 <= ts <= t1 as (ts, value, quality); value NaN for Bad samples."""
        ts, val, q = self.arrays()
        i0 = int(np.searchsorted(ts, t0, side="left"))
        i1 = int(np.searchsorted(ts, t1, side="right"))
        return ts[i0:i1], val[i0:i1], q[i0:i1]

    def value_at(self, t: float, max_age: float = math.inf) -> float | None:
        """The value of the newest sample at or before t, if not older than max_age; None for Bad or none."""
        ts, val, _ = self.arrays()
        i = int(np.searchsorted(ts, t, side="right")) - 1
        if i < 0 or t - ts[i] > max_age:
            return None
        v = float(val[i])
        return None if math.isnan(v) else v


class TrendBuffers:
    """One TagRing per tag, fed as a tag bus consumer (``bus.subscribe(buffers)``).

    With ``tags`` given (an empty list too) only the tags kept are buffered: those, and those added
    with ``keep``, each until its last user ``release``s it; otherwise every tag seen. Either way at
    most ``max_tags`` (further tags are ignored and counted in ``ignored``), so memory stays bounded.
    """

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        tags: Iterable[str] | None = None,
        max_tags: int = DEFAULT_MAX_TAGS,
    ) -> None:
        self.capacity = capacity
        self.max_tags = max_tags
        self._users: dict[str, int] | None = None if tags is None else {}
        self._rings: dict[str, TagRing] = {}
        self.ignored = 0
        for tag in tags or ():
            self.keep(tag)

    def keep(self, tag: str) -> None:
        """One more user of a tag: its samples are buffered from now on, until the last user releases it."""
        if self._users is None:
            return
        self._users[tag] = self._users.get(tag, 0) + 1
        self._ring_for(tag)

    def release(self, tag: str) -> None:
        """One user fewer; with none left, the tag's ring and its memory go."""
        users = self._users
        if users is None or tag not in users:
            return
        users[tag] -= 1
        if users[tag] <= 0:
            del users[tag]
            self._rings.pop(tag, None)

    def kept(self) -> set[str]:
        """The tags buffered on request (every tag seen when built without ``tags``)."""
        return set(self._rings) if self._users is None else set(self._users)

    def __call__(self, batch: Sequence[TagValue]) -> None:
        """Append a batch from the bus (the consumer interface)."""
        # 10,000 samples a second arrive here, mostly one per tag per batch: plain appends.
        rings = self._rings
        ignored: set[str] = set()
        bad_q, nan = int(Quality.BAD), math.nan
        every = self._users is None  # else the rings of the kept tags exist already
        for tv in batch:
            ring = rings.get(tv.tag)
            if ring is None:
                if not every or tv.tag in ignored:
                    continue
                ring = self._ring_for(tv.tag)
                if ring is None:
                    ignored.add(tv.tag)
                    continue
            value, quality = tv.value, tv.quality
            if value is None or quality is Quality.BAD:
                ring.append(tv.source_ts, nan, bad_q)
            else:
                ring.append(tv.source_ts, value, int(quality))

    def _ring_for(self, tag: str) -> TagRing | None:
        ring = self._rings.get(tag)
        if ring is not None:
            return ring
        if (self._users is not None and tag not in self._users) or len(self._rings) >= self.max_tags:
            self.ignored += 1
            return None
        ring = self._rings[tag] = TagRing(self.capacity)
        return ring

    def ring(self, tag: str) -> TagRing | None:
        """The ring of a tag, or None when nothing of it was kept."""
        return self._rings.get(tag)

    def tags(self) -> list[str]:
        """The tags that have a ring."""
        return list(self._rings)

    def version(self, tag: str) -> int:
        """A number that changes whenever the tag's ring changes (0 when there is none)."""
        ring = self._rings.get(tag)
        return ring.version if ring is not None else 0

    def first_ts(self, tag: str) -> float | None:
        """The oldest time kept for a tag: older than this, a trend needs the historian."""
        ring = self._rings.get(tag)
        return ring.first_ts() if ring is not None else None

    def window(self, tag: str, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """A tag's samples in [t0, t1] as (ts, value) arrays, value NaN for Bad; empty arrays for none."""
        ring = self._rings.get(tag)
        if ring is None:
            return np.empty(0), np.empty(0)
        ts, val, _ = ring.window(t0, t1)
        return ts, val

    def window_with_quality(self, tag: str, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like window, with the quality of each sample (Quality values as uint8)."""
        ring = self._rings.get(tag)
        if ring is None:
            return np.empty(0), np.empty(0), np.empty(0, dtype=np.uint8)
        return ring.window(t0, t1)

    @property
    def nbytes(self) -> int:
        """Memory held by all rings."""
        return sum(r.nbytes for r in self._rings.values())
