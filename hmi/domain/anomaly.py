"""Statistical anomaly detection per tag: |z| above a threshold against a rolling window of recent values.

Each new Good value is scored against the window *before* it is added: z = (v - mean) / std, with the
sample standard deviation (ddof=1, as pandas' rolling std). The condition is |z| > threshold; the
detector reports only changes of it, as ``(alarm_id, active, value, source_ts)`` for
``AlarmEngine.set_condition``.

Choices (seed 001: threshold statistics over a rolling window of recent values):

- Every Good value enters the window after it is scored, anomalous or not. The window then follows a
  lasting change of level (a new setpoint becomes the new normal and the alarm returns) instead of
  alarming for ever; the price is that one large spike widens the std for ``window`` samples, which
  makes the detector less sensitive for that long.
- A value that is not Good (Bad or Uncertain), None, NaN or infinite is skipped: it neither enters
  the window nor changes the condition (hold), like the alarm engine's bad-quality hold.
- std == 0 (the window is constant, to within a relative 1e-9): there is no z. A value equal to that
  constant is normal; a value that differs is anomalous (|z| is infinite): a signal that sat still and
  moves is unusual. A constant signal that stays constant never alarms.
- Fewer than ``min_samples`` values in the window: no score, the condition stays as it is (off).

Cost is O(1) per sample: running sums of (v - shift) over a deque. The shift is a recent mean, so the
sums hold small deviations and E[x²] - E[x]² does not cancel catastrophically; every ``window``
samples the sums are recomputed exactly from the deque (amortised O(1)) so rounding cannot drift.
Not thread-safe: one owner, next to the alarm engine.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from hmi.domain.alarm_defs import AlarmDefinition, AlarmKind
from hmi.domain.tags import Quality, TagValue

_CONSTANT_REL = 1e-9  # a window whose std is below this fraction of its level counts as constant

AnomalyChange = tuple[str, bool, float, float]


class _Window:
    """The rolling window and running sums of one tag (detector-internal)."""

    __slots__ = ("alarm_id", "values", "shift", "s", "ss", "tol", "tol2", "active", "since_exact")

    def __init__(self, alarm_id: str) -> None:
        self.alarm_id = alarm_id
        self.values: deque[float] = deque()
        self.shift = 0.0
        self.s = 0.0  # sum of (v - shift) over the window
        self.ss = 0.0  # sum of (v - shift)² over the window
        self.tol = _CONSTANT_REL
        self.tol2 = _CONSTANT_REL * _CONSTANT_REL
        self.active = False
        self.since_exact = 0

    def recompute(self) -> None:
        """Exact sums from the window, shifted by its current mean."""
        values = self.values
        self.shift = shift = math.fsum(values) / len(values) if values else 0.0
        self.s = math.fsum(v - shift for v in values)
        self.ss = math.fsum((v - shift) * (v - shift) for v in values)
        self.tol = _CONSTANT_REL * max(1.0, abs(shift))
        self.tol2 = self.tol * self.tol
        self.since_exact = 0


class AnomalyDetector:
    """Per tag, flags a Good value whose |z| against the last ``window`` Good values exceeds ``z``."""

    def __init__(self, tags: Iterable[str], window: int = 120, min_samples: int = 30, z: float = 3.0) -> None:
        if not 2 <= min_samples <= window:
            raise ValueError(f"anomaly detector: need 2 <= min_samples <= window, got {min_samples} and {window}")
        if not z > 0:
            raise ValueError(f"anomaly detector: the z threshold must be > 0, got {z}")
        self.window = window
        self.min_samples = min_samples
        self.z = z
        self._windows = {tag: _Window(f"{tag}.{AlarmKind.ANOMALY.value}") for tag in tags}

    @classmethod
    def for_definitions(
        cls, definitions: Iterable[AlarmDefinition], window: int = 120, min_samples: int = 30, z: float = 3.0
    ) -> AnomalyDetector:
        """A detector for the tags that have an ANOMALY alarm among these definitions."""
        return cls((d.tag for d in definitions if d.kind is AlarmKind.ANOMALY), window, min_samples, z)

    @property
    def tags(self) -> list[str]:
        """The tags watched."""
        return list(self._windows)

    def is_active(self, tag: str) -> bool:
        """The current condition of a tag's anomaly alarm (KeyError for a tag not watched)."""
        return self._windows[tag].active

    def update(self, values: Iterable[TagValue]) -> list[AnomalyChange]:
        """Score a batch of tag values; the condition changes as (alarm_id, active, value, source_ts)."""
        changes: list[AnomalyChange] = []
        windows = self._windows
        good = Quality.GOOD
        size, min_n, z2 = self.window, self.min_samples, self.z * self.z
        inf = math.inf
        for tv in values:
            w = windows.get(tv.tag)
            if w is None:
                continue
            v = tv.value
            # `-inf < v < inf` is False for NaN as well
            if v is None or tv.quality is not good or not -inf < v < inf:
                continue
            buf = w.values
            n = len(buf)
            d = v - w.shift
            if n >= min_n:
                mean_d = w.s / n
                var = (w.ss - w.s * mean_d) / (n - 1)
                dev = d - mean_d
                if var > w.tol2:
                    anomalous = dev * dev > z2 * var
                else:
                    anomalous = abs(dev) > w.tol
                if anomalous is not w.active:
                    w.active = anomalous
                    changes.append((w.alarm_id, anomalous, v, tv.source_ts))
            elif n == 0:
                w.values.append(v)
                w.recompute()
                continue
            buf.append(v)
            w.s += d
            w.ss += d * d
            if n >= size:
                old = buf.popleft() - w.shift
                w.s -= old
                w.ss -= old * old
            w.since_exact += 1
            if w.since_exact >= size:
                w.recompute()
        return changes
