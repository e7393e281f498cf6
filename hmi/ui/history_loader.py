"""Loads downsampled history for the trends off the GUI thread and hands it back through a signal.

One worker thread and one history reader per loader (its engine made lazily in the worker). Each request has an
id; a newer request makes the older ones stale: a queued one does nothing, a running one stops
between tags, and the pane drops any stale answer that still arrives.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from hmi.services.history import HistoryReader

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """What to load: tags over [t0, t1) in ``points`` buckets."""

    request_id: int
    tags: tuple[str, ...]
    t0: float
    t1: float
    points: int


@dataclass(frozen=True, slots=True)
class TagHistory:
    """One tag's buckets as arrays: start time, min, max and mean (NaN for a Bad-only bucket)."""

    tag: str
    t0: float
    t1: float
    points: int
    t: np.ndarray
    vmin: np.ndarray
    vmax: np.ndarray
    vavg: np.ndarray
    n_bad: np.ndarray  # Bad samples per bucket: the line breaks after such a bucket


class HistoryLoader(QObject):
    """Runs the history reader's ``downsampled_range`` in a worker thread; ``loaded``/``failed`` arrive on the GUI thread."""

    loaded = Signal(int, object)  # request id, dict[str, TagHistory]
    failed = Signal(int, str)  # request id, a one-line reason

    def __init__(self, url: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.url = url
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trend-history")
        self._reader = HistoryReader(url)
        self._latest = 0
        self._lock = threading.Lock()
        self._closed = False
        self.requests = 0
        self.completed = 0

    def request(self, tags: tuple[str, ...], t0: float, t1: float, points: int) -> HistoryRequest:
        """Queue a load; the returned request's id identifies the answer."""
        with self._lock:
            self._latest += 1
            req = HistoryRequest(self._latest, tuple(tags), t0, t1, max(1, int(points)))
        self.requests += 1
        if not self._closed:
            self._executor.submit(self._run, req)
        return req

    @property
    def latest_id(self) -> int:
        """The id of the newest request."""
        return self._latest

    def _stale(self, req: HistoryRequest) -> bool:
        return self._closed or req.request_id != self._latest

    def _run(self, req: HistoryRequest) -> None:
        if self._stale(req):
            return
        try:
            result: dict[str, TagHistory] = {}
            for tag in req.tags:
                if self._stale(req):
                    return
                buckets = self._reader.downsampled_range(tag, req.t0, req.t1, req.points)
                n = len(buckets)
                arr = np.array(
                    [(b.t, _f(b.vmin), _f(b.vmax), _f(b.vavg), b.n_bad) for b in buckets], dtype=np.float64
                ).reshape(n, 5)
                result[tag] = TagHistory(
                    tag, req.t0, req.t1, req.points, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4]
                )
        except Exception as error:  # noqa: BLE001 - any failure is reported to the pane, never raised in the pool
            log.warning("trend history load failed: %s", error)
            self._emit(self.failed, req.request_id, str(error).splitlines()[0][:200] if str(error) else type(error).__name__)
            return
        self.completed += 1
        self._emit(self.loaded, req.request_id, result)

    def _emit(self, signal, *args) -> None:  # noqa: ANN001
        if self._closed:
            return
        try:
            signal.emit(*args)  # queued to the GUI thread: this object lives there
        except RuntimeError:  # the loader was deleted while the worker ran
            pass

    def close(self) -> Future | None:
        """Stop taking requests, cancel queued ones and let the reader's engine go (without blocking)."""
        if self._closed:
            return None
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._reader.close()
        return None


def _f(v: float | None) -> float:
    return np.nan if v is None else float(v)
