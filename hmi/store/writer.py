"""The historian writer: takes tag batches from the bus without blocking, stores them in batches, spools when needed."""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import exc
from sqlalchemy.engine import Engine

from hmi.config import DatabaseConfig, HistorianConfig
from hmi.domain.historian import WriterStats  # defined in the domain, for the status bar and the CLI
from hmi.domain.tags import TagValue
from hmi.paths import data_dir
from hmi.store.db import BEGIN_IMMEDIATE, DEFAULT_BUSY_TIMEOUT_MS, make_engine, one_line, safe_url
from hmi.store.errors import DatabaseUnavailable, SpoolUnavailable
from hmi.store.ingest import Row, write_rows
from hmi.store.migrate import upgrade
from hmi.store.schema import BAD
from hmi.store.spool import Spool

log = logging.getLogger(__name__)

DROP_LOG_INTERVAL_S = 5.0
_EXPECTED_ERRORS = (exc.SQLAlchemyError, DatabaseUnavailable, OSError)


class HistorianWriter:
    """Stores every sample from the tag bus in the database, in batches, on its own thread.

    ``consume`` is the bus consumer (event-loop thread, never blocks). The writer thread flushes
    at least every ``flush_interval_s``; when the database cannot be written the batch is committed
    to the spool instead, and the spool is forwarded, oldest first, once the database is back.
    """

    def __init__(
        self,
        url: str,
        spool_path: str | Path | None = None,
        flush_interval_s: float = 1.0,
        max_batch: int = 50_000,
        queue_limit: int = 2_000_000,
        *,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        retry_interval_s: float = 1.5,
        database: DatabaseConfig | None = None,
    ) -> None:
        self.url = url
        self.spool_path = Path(spool_path) if spool_path is not None else data_dir() / "spool.sqlite"
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.queue_limit = queue_limit
        self.retry_interval_s = retry_interval_s
        self._busy_timeout_ms = busy_timeout_ms
        self._database = database  # its timeouts: past them the database counts as away
        self._shown_url = safe_url(url)

        # Written by the event-loop thread only.
        self._queue: deque[Sequence[TagValue]] = deque()
        self._put = 0
        self._received = 0
        self._dropped = 0
        # Written by the writer thread only; the loop thread reads the ints (atomic under the GIL).
        self._taken = 0
        self._held_count = 0
        self._snapshot = WriterStats()

        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

        # Writer-thread state.
        self._spool: Spool | None = None
        self._held: list[Row] = []
        self._engine: Engine | None = None
        self._schema_ready = False
        self._ids: dict[str, int] = {}
        self._db_ok: bool | None = None
        self._next_retry = 0.0
        self._down_since: float | None = None
        self._outage_forwarded = 0
        self._stored = 0
        self._forwarded = 0
        self._last_error = ""
        self._flush_ms = 0.0
        self._drops_logged = 0
        self._drops_logged_at = 0.0

    @classmethod
    def from_config(cls, url: str, config: HistorianConfig, database: DatabaseConfig | None = None) -> HistorianWriter:
        """A writer for this database with the historian (and [database] timeout) settings of the plant config."""
        return cls(
            url,
            config.spool_path,
            flush_interval_s=config.flush_interval_s,
            max_batch=config.max_batch,
            queue_limit=config.queue_limit,
            database=database,
        )

    # ---- event-loop side -------------------------------------------------------------------

    def consume(self, batch: Sequence[TagValue]) -> None:
        """Queue a batch for the database; never blocks. Beyond queue_limit samples are dropped and counted."""
        n = len(batch)
        if n == 0:
            return
        self._received += n
        room = self.queue_limit - (self._put - self._taken) - self._held_count
        if room < n:
            keep = max(room, 0)
            self._dropped += n - keep
            if keep == 0:
                return
            batch = batch[:keep]
            n = keep
        # A tuple of the batch: the producer may reuse its list after this call.
        self._queue.append(tuple(batch))
        self._put += n
        if self._put - self._taken >= self.max_batch and not self._wake.is_set():
            self._wake.set()

    def stats(self) -> WriterStats:
        """The current counters."""
        snap = self._snapshot
        queued = max(self._put - self._taken, 0) + self._held_count
        return WriterStats(
            received=self._received,
            stored=snap.stored,
            spooled_backlog=snap.spooled_backlog,
            forwarded=snap.forwarded,
            dropped=self._dropped,
            queued=queued,
            db_ok=snap.db_ok,
            last_error=snap.last_error,
            flush_ms=snap.flush_ms,
        )

    # ---- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Open the spool and start the writer thread (it forwards a spool left from a previous run)."""
        if self._thread is not None:
            raise RuntimeError("the historian writer is already started")
        try:
            self._spool = Spool(self.spool_path)
        except (sqlite3.Error, OSError) as error:
            raise SpoolUnavailable(
                f"historian spool {self.spool_path} cannot be opened: {one_line(error)}; "
                "set [historian] spool_path to a writable file"
            ) from None
        if self._spool.backlog:
            log.info("historian spool %s holds %d samples from a previous run; forwarding", self.spool_path, self._spool.backlog)
        self._publish()
        self._thread = threading.Thread(target=self._run, name="historian-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Flush what is queued (to the database or the spool) and stop; False if the thread did not end in time."""
        thread = self._thread
        if thread is None:
            return True
        self._stopping.set()
        self._wake.set()
        thread.join(timeout)
        if thread.is_alive():
            log.error("historian writer did not stop within %.1f s; %d samples may not be stored", timeout, self.stats().queued)
            return False
        self._thread = None
        return True

    # ---- writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                self._wake.wait(self.flush_interval_s)
                self._wake.clear()
                final = self._stopping.is_set()
                try:
                    self._cycle(final)
                except Exception:  # the thread must outlive any bug in a cycle
                    log.exception("historian writer cycle failed")
                if final:
                    break
        finally:
            if self._spool is not None:
                self._spool.close()
            if self._engine is not None:
                self._engine.dispose()
            self._publish()

    def _cycle(self, final: bool) -> None:
        started = time.perf_counter()
        had_work = self._take()
        spool = self._spool
        assert spool is not None
        if spool.backlog and not final and self._retry_due():
            had_work = True
            self._forward(budget_s=max(1.0, 2 * self.flush_interval_s))
        self._place_held()
        if self._down_since is not None and self._db_ok and spool.backlog == 0:
            log.warning(
                "historian database %s is back after %.1f s; forwarded %d samples from the spool",
                self._shown_url,
                time.monotonic() - self._down_since,
                self._outage_forwarded,
            )
            self._down_since = None
            self._outage_forwarded = 0
        if had_work:
            self._flush_ms = (time.perf_counter() - started) * 1000.0
        self._log_drops()
        self._publish()

    def _take(self) -> bool:
        """Move queued batches into the held rows, as (tag, ts_us, value, quality)."""
        queue, held = self._queue, self._held
        took = False
        while queue:
            batch = queue.popleft()
            rows: list[Row] = []
            for tv in batch:
                value = tv.value
                quality = int(tv.quality)
                if value is None or quality == BAD or not math.isfinite(value):
                    value, quality = None, BAD
                rows.append((tv.tag, round(tv.source_ts * 1e6), value, quality))
            held.extend(rows)
            self._held_count += len(rows)
            self._taken += len(rows)
            took = True
        return took

    def _place_held(self) -> None:
        """Acknowledge the held rows: to the database when it is usable and the spool is empty, else the spool."""
        spool = self._spool
        assert spool is not None
        while self._held:
            chunk = self._held[: self.max_batch]
            placed = False
            if spool.backlog == 0 and self._retry_due():
                placed = self._write_db(chunk)
            if not placed:
                try:
                    spool.append(chunk)
                except (sqlite3.Error, OSError) as error:
                    # Neither database nor spool: keep the rows in memory (bounded by queue_limit) and retry.
                    self._last_error = f"spool {self.spool_path}: {one_line(error)}"
                    log.error("historian cannot write its spool %s either: %s", self.spool_path, one_line(error))
                    return
            del self._held[: len(chunk)]
            self._held_count -= len(chunk)

    def _forward(self, budget_s: float) -> None:
        """Move spooled rows to the database oldest first; each chunk leaves the spool only after the commit."""
        spool = self._spool
        assert spool is not None
        deadline = time.monotonic() + budget_s
        while spool.backlog:
            last_seq, rows = spool.oldest(self.max_batch)
            if not rows:
                spool.backlog = 0
                return
            if not self._write_db(rows):
                return
            # A crash here leaves rows the database already has in the spool: forwarding them again is harmless.
            spool.delete_through(last_seq)
            self._forwarded += len(rows)
            self._outage_forwarded += len(rows)
            if time.monotonic() > deadline:
                return

    def _retry_due(self) -> bool:
        return bool(self._db_ok) or time.monotonic() >= self._next_retry

    def _write_db(self, rows: list[Row]) -> bool:
        """Write rows in one transaction; True once the commit returned."""
        try:
            engine = self._ready_engine()
            with engine.connect() as conn:
                conn.execution_options(**{BEGIN_IMMEDIATE: True})
                with conn.begin():
                    added, new_ids = write_rows(conn, rows, self._ids)
        except Exception as error:
            self._mark_down(error)
            return False
        self._ids.update(new_ids)
        self._stored += added
        self._db_ok = True
        self._publish()
        return True

    def _ready_engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url, busy_timeout_ms=self._busy_timeout_ms, check=False, settings=self._database)
        if not self._schema_ready:
            upgrade(self._engine)
            self._schema_ready = True
        return self._engine

    def _mark_down(self, error: BaseException) -> None:
        reason = one_line(error)
        self._last_error = reason
        self._next_retry = time.monotonic() + self.retry_interval_s
        if self._db_ok is not False:
            if isinstance(error, _EXPECTED_ERRORS):
                log.warning("historian database %s is unavailable: %s; spooling to %s", self._shown_url, reason, self.spool_path)
            else:
                log.error("historian write failed unexpectedly; spooling to %s", self.spool_path, exc_info=error)
            self._down_since = time.monotonic()
        self._db_ok = False
        # After an outage the database may be another one (restored, rebuilt): ask again.
        self._ids.clear()
        self._schema_ready = False
        if self._engine is not None:
            self._engine.dispose()

    def _log_drops(self) -> None:
        dropped = self._dropped
        now = time.monotonic()
        if dropped > self._drops_logged and now - self._drops_logged_at >= DROP_LOG_INTERVAL_S:
            log.warning(
                "historian queue full (%d samples): dropped %d samples since the last report (%d in all)",
                self.queue_limit,
                dropped - self._drops_logged,
                dropped,
            )
            self._drops_logged = dropped
            self._drops_logged_at = now

    def _publish(self) -> None:
        spool = self._spool
        self._snapshot = WriterStats(
            stored=self._stored,
            spooled_backlog=spool.backlog if spool is not None else 0,
            forwarded=self._forwarded,
            db_ok=bool(self._db_ok),
            last_error=self._last_error,
            flush_ms=self._flush_ms,
        )
