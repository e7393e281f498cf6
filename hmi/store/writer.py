"""The historian writer: takes tag batches from the bus without blocking, stores them in batches, spools when needed."""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import bindparam, exc, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from hmi.config import DatabaseConfig, HistorianConfig
from hmi.domain.historian import WriterStats  # defined in the domain, for the status bar and the CLI
from hmi.domain.tags import TagValue
from hmi.paths import data_dir
from hmi.store.db import BEGIN_IMMEDIATE, DEFAULT_BUSY_TIMEOUT_MS, NO_ANSWER, make_engine, one_line, safe_url
from hmi.store.errors import DatabaseUnavailable, SpoolUnavailable
from hmi.store.ingest import Row, refresh_rollups, write_rows
from hmi.store.migrate import SchemaNotReady, known_revisions, revision_on, schema_problem
from hmi.store.schema import BAD, samples, tags
from hmi.store.spool import Spool

log = logging.getLogger(__name__)

DROP_LOG_INTERVAL_S = 5.0
# Retries after a failed write wait retry_interval_s, doubled after each failure up to this.
RETRY_MAX_S = 15.0
GAP_REASON = "no data: collector stopped"
# A sample this much after the stopped writer was last alive was written by someone else (clocks differ a little).
GAP_SLACK_US = 2_000_000
GOOD = 0
_EXPECTED_ERRORS = (exc.SQLAlchemyError, DatabaseUnavailable, SchemaNotReady, OSError)


class HistorianWriter:
    """Stores every sample from the tag bus in the database, in batches, on its own thread.

    ``consume`` is the bus consumer (event-loop thread, never blocks). The writer thread flushes
    at least every ``flush_interval_s``; when the database cannot be written (down, locked, or
    without the schema: it never creates one) the batch is committed to the spool instead, and
    the spool is forwarded, oldest first, once the database is back. Retries back off from
    ``retry_interval_s`` to RETRY_MAX_S.

    Once per start, before this run's first sample reaches the database, the stop of the writer
    that used this spool before (killed, crashed or stopped; the spool file keeps when it was last
    alive) is marked: each of ``tags`` whose newest stored sample is Good and no newer than that
    moment gets a Bad sample (GAP_REASON) at that moment, or 1 µs after the sample if that is
    later (see mark_gaps). So what the predecessor did not store shows as a gap, not as a line.
    A tag's first sample of this run that is not newer than its marker (an unchanged value the
    PLC still stamps with its old time) is stored at the time it was received, to end the gap.
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
        retry_max_s: float = RETRY_MAX_S,
        tags: Iterable[str] = (),
    ) -> None:
        self.url = url
        self.spool_path = Path(spool_path) if spool_path is not None else data_dir() / "spool.sqlite"
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.queue_limit = queue_limit
        self.retry_interval_s = retry_interval_s
        self.retry_max_s = max(retry_max_s, retry_interval_s)
        self.tags = tuple(tags)
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
        self._schema_logged = False
        self._ids: dict[str, int] = {}
        self._db_ok: bool | None = None
        self._next_retry = 0.0
        self._retry_delay = retry_interval_s
        self._logged_reason = ""
        self._down_since: float | None = None
        self._outage_forwarded = 0
        self._stored = 0
        self._forwarded = 0
        self._last_error = "connecting"
        self._flush_ms = 0.0
        # The gap markers (see the class docstring): done once the rows of earlier runs are stored.
        self._gap_after_us: int | None = None
        self._prior_seq = 0
        self._marked = not self.tags
        self._first_seen: dict[str, tuple[int, int, float | None, int]] = {}
        self._marks: dict[str, int] = {}
        self._gap_marks = 0
        self._drops_logged = 0
        self._drops_logged_at = 0.0

    @classmethod
    def from_config(
        cls, url: str, config: HistorianConfig, database: DatabaseConfig | None = None, *, tags: Iterable[str] = ()
    ) -> HistorianWriter:
        """A writer for this database with the plant config's historian and [database] timeout settings (``tags``: the ones collected)."""
        return cls(
            url,
            config.spool_path,
            flush_interval_s=config.flush_interval_s,
            max_batch=config.max_batch,
            queue_limit=config.queue_limit,
            database=database,
            tags=tags,
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
            gap_marks=snap.gap_marks,
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
        self._prior_seq = self._spool.last_seq()
        self._begin_run()
        self._publish()
        self._wake.set()  # the first cycle at once: the status says "connecting" only while it connects
        self._thread = threading.Thread(target=self._run, name="historian-writer", daemon=True)
        self._thread.start()

    def _begin_run(self) -> None:
        """Find when the previous writer of this spool was last alive: where this run marks the gap."""
        assert self._spool is not None
        try:
            previous = self._spool.begin_run(round(time.time() * 1e6))
        except sqlite3.Error as error:
            log.warning("historian spool %s: cannot record this run (%s); no gap markers", self.spool_path, one_line(error))
            previous = None
        if previous is None or not self.tags:
            self._marked = True
        elif previous.others_running:
            log.info("another HMI process writes through the spool %s: it was collecting, no gap markers", self.spool_path)
            self._marked = True
        elif previous.last_alive_us is None:
            self._marked = True  # no record of a predecessor on this spool: nobody is known to have stopped
        else:
            self._gap_after_us = previous.last_alive_us

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
                self._heartbeat(final)
                if final:
                    break
        finally:
            if self._spool is not None:
                self._spool.close()
            if self._engine is not None:
                self._engine.dispose()
            self._publish()

    def _heartbeat(self, final: bool) -> None:
        """After the cycle's commits: note in the spool that this writer was alive (or stopped) now."""
        assert self._spool is not None
        try:
            self._spool.heartbeat(round(time.time() * 1e6), stopped=final)
        except sqlite3.Error:
            pass  # the spool's own troubles are reported where rows are placed

    def _cycle(self, final: bool) -> None:
        started = time.perf_counter()
        had_work = self._take()
        spool = self._spool
        assert spool is not None
        budget_s = max(1.0, 2 * self.flush_interval_s)
        if not self._marked and not final and self._retry_due():
            had_work = True
            self._prepare(budget_s)
        if self._marked and spool.backlog and not final and self._retry_due():
            had_work = True
            self._forward(budget_s)
        self._place_held()
        if not self._db_ok and not final and self._retry_due() and not self._held and not spool.backlog:
            self._probe()  # nothing to write (no PLC yet): still say truly whether the database can be written
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
        first_seen = None if self._marked else self._first_seen
        marks = self._marks
        took = False
        while queue:
            batch = queue.popleft()
            rows: list[Row] = []
            for tv in batch:
                value = tv.value
                quality = int(tv.quality)
                if value is None or quality == BAD or not math.isfinite(value):
                    value, quality = None, BAD
                ts_us = round(tv.source_ts * 1e6)
                if first_seen is not None and tv.tag not in first_seen:
                    first_seen[tv.tag] = (ts_us, round(tv.received_ts * 1e6), value, quality)
                elif marks and tv.tag in marks:
                    mark = marks.pop(tv.tag)
                    if ts_us <= mark:
                        ts_us = max(round(tv.received_ts * 1e6), mark + 1)
                rows.append((tv.tag, ts_us, value, quality))
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
            if self._marked and spool.backlog == 0 and self._retry_due():
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

    def _forward(self, budget_s: float, through: int | None = None) -> bool:
        """Move spooled rows (up to seq ``through``) to the database oldest first; True when none are left.

        Each chunk leaves the spool only after the database committed it.
        """
        spool = self._spool
        assert spool is not None
        deadline = time.monotonic() + budget_s
        while spool.backlog:
            last_seq, rows = spool.oldest(self.max_batch, through)
            if not rows:
                if through is None:
                    spool.backlog = 0
                return True
            if not self._write_db(rows):
                return False
            # A crash here leaves rows the database already has in the spool: forwarding them again is harmless.
            spool.delete_through(last_seq)
            self._forwarded += len(rows)
            self._outage_forwarded += len(rows)
            if time.monotonic() > deadline:
                return False
        return True

    def _prepare(self, budget_s: float) -> None:
        """Before this run writes: forward what earlier runs spooled, then store the gap markers (once)."""
        if self._prior_seq and not self._forward(budget_s, through=self._prior_seq):
            return
        try:
            engine = self._ready_engine()
            with engine.connect() as conn:
                conn.execution_options(**{BEGIN_IMMEDIATE: True})
                with conn.begin():
                    assert self._gap_after_us is not None
                    marks = mark_gaps(conn, self.tags, self._gap_after_us)
        except _EXPECTED_ERRORS as error:
            self._mark_down(error)
            return
        except Exception:  # a bug here must not keep the history from the database: go on without markers
            log.exception("historian: the gap markers could not be stored; going on without them")
            marks = {}
        self._marked = True
        self._db_ok = True
        self._gap_marks = len(marks)
        if marks:
            log.warning(
                "historian: %d tags had no data since the collector stopped; stored a Bad sample (%r) where each one's data stopped",
                len(marks), GAP_REASON,
            )  # fmt: skip
        self._end_gaps(marks)
        self._publish()

    def _end_gaps(self, marks: dict[str, int]) -> None:
        """A marked tag already seen this run with a time not after its marker gets a row at its receive time."""
        first_seen, self._first_seen = self._first_seen, {}
        again: list[Row] = []
        for tag, mark in marks.items():
            seen = first_seen.get(tag)
            if seen is None:
                self._marks[tag] = mark  # _take restamps the first one to come
            elif seen[0] <= mark:
                _ts_us, received_us, value, quality = seen
                again.append((tag, max(received_us, mark + 1), value, quality))
        if again:
            self._held[:0] = again
            self._held_count += len(again)

    def _probe(self) -> None:
        """Connect and check the schema without writing; the status says ok, or why not."""
        try:
            with self._ready_engine().connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception as error:
            self._mark_down(error)
            return
        self._db_ok = True
        self._retry_delay = self.retry_interval_s
        self._logged_reason = ""

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
        self._retry_delay = self.retry_interval_s
        self._logged_reason = ""
        self._publish()
        return True

    def _ready_engine(self) -> Engine:
        """The engine, once the database has this version's schema (checked, never created: see hmi.store.migrate)."""
        if self._engine is None:
            self._engine = make_engine(self.url, busy_timeout_ms=self._busy_timeout_ms, check=False, settings=self._database)
        if not self._schema_ready:
            with self._engine.connect() as conn:
                revision = revision_on(conn)
            problem = schema_problem(revision)
            if problem is not None:
                raise SchemaNotReady(problem)
            if revision not in known_revisions():
                log.warning("historian database %s is at schema %s, newer than this version knows; update this workstation",
                            self._shown_url, revision)  # fmt: skip
            self._schema_ready = True
            if not self._schema_logged:
                log.info("historian database %s at schema %s", self._shown_url, revision)
                self._schema_logged = True
        return self._engine

    def _mark_down(self, error: BaseException) -> None:
        reason = short_reason(error)
        self._last_error = reason
        self._next_retry = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, self.retry_max_s)
        if self._db_ok is not False or reason != self._logged_reason:
            if isinstance(error, _EXPECTED_ERRORS):
                detail = one_line(error)
                log.warning("historian database %s is unavailable: %s; spooling to %s, retrying with back-off up to %g s",
                            self._shown_url, reason if detail == reason else f"{reason} ({detail})", self.spool_path,
                            self.retry_max_s)  # fmt: skip
            else:
                log.error("historian write failed unexpectedly; spooling to %s", self.spool_path, exc_info=error)
            self._logged_reason = reason
        if self._db_ok is not False:
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
            last_error="" if self._db_ok else self._last_error,
            flush_ms=self._flush_ms,
            gap_marks=self._gap_marks,
        )


def short_reason(error: BaseException) -> str:
    """Why the database is not written, in the few words of the status line."""
    if isinstance(error, SchemaNotReady):
        return str(error)
    text = one_line(error)
    lower = text.lower()
    if NO_ANSWER in text:  # a frozen server: which timeout ran out is the reason ("... within 10 s (statement_timeout_s)")
        return text[text.index(NO_ANSWER):]
    for needle, words in (
        ("refused", "connection refused"),
        ("database is locked", "database is locked"),
        ("timeout", "timed out"),
        ("timed out", "timed out"),
        ("password authentication failed", "password refused"),
        ("could not translate host name", "unknown host"),
        ("no such table", "no schema: run hmi db upgrade"),
        ("does not exist", text),
    ):
        if needle in lower:
            return words
    return text


def mark_gaps(conn: Connection, names: Iterable[str], stopped_us: int) -> dict[str, int]:
    """Store a Bad sample (GAP_REASON) where each tag's data stopped, for the tags whose newest sample is Good.

    ``stopped_us`` is when the stopped writer was last alive. A tag whose newest sample is later
    than that (beyond GAP_SLACK_US) was written by another collector meanwhile: no marker. Else the
    marker goes at ``stopped_us``, or 1 µs after the newest sample if that is later: not at the
    newest sample itself, because an unchanged value (a setpoint, a quiet tag) was known, unchanged,
    until the writer stopped. In the caller's transaction (on SQLite one that took the write lock
    at BEGIN); returns {tag: marker time in µs}.
    """
    wanted = sorted(set(names))
    ids: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        ids.update({name: tag_id for name, tag_id in conn.execute(select(tags.c.name, tags.c.id).where(tags.c.name.in_(chunk)))})
    newest = (
        select(samples.c.ts_us, samples.c.quality)
        .where(samples.c.tag_id == bindparam("tid"))
        .order_by(samples.c.ts_us.desc())
        .limit(1)
    )
    marks: dict[str, int] = {}
    rows: list[dict[str, object]] = []
    for name, tag_id in ids.items():
        last = conn.execute(newest, {"tid": tag_id}).first()
        if last is None or last.quality != GOOD or last.ts_us > stopped_us + GAP_SLACK_US:
            continue
        at = max(last.ts_us + 1, stopped_us)
        marks[name] = at
        rows.append({"tag_id": tag_id, "ts_us": at, "value": None, "quality": BAD, "reason": GAP_REASON})
    if rows:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(insert(samples).on_conflict_do_nothing(index_elements=["tag_id", "ts_us"]), rows)
        refresh_rollups(conn, ((r["tag_id"], r["ts_us"]) for r in rows))  # type: ignore[misc]
    return marks

