"""The local spool: an SQLite file that holds samples, in arrival order, while the database is away."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hmi.store.ingest import Row

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tag TEXT NOT NULL,
    ts_us INTEGER NOT NULL,
    value REAL,
    quality INTEGER NOT NULL
)
"""
# The writers that used this spool: when each was last seen alive (UTC µs), and whether it stopped.
_RUNS = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pid INTEGER NOT NULL,
    started_us INTEGER NOT NULL,
    alive_us INTEGER NOT NULL,
    stopped INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True, slots=True)
class PreviousRun:
    """What begin_run found: when the last writer that has gone was last alive (None: no record), and whether another runs."""

    last_alive_us: int | None
    others_running: bool


def process_running(pid: int) -> bool:
    """True when a process with this id exists (POSIX; elsewhere unknown, so False)."""
    if os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    """Samples acknowledged locally (committed to the spool file) and waiting to be forwarded.

    Used from one thread at a time (the writer thread). Tag names, not ids, are kept, so the
    spool survives a database that was rebuilt or replaced meanwhile.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._conn.execute("PRAGMA journal_mode = WAL")
        # What the spool acknowledged must survive a power cut, not only a crash.
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute(_SCHEMA)
        self._conn.execute(_RUNS)
        self.backlog: int = self._conn.execute("SELECT count(*) FROM spool").fetchone()[0]
        self._run_id: int | None = None

    def append(self, rows: Sequence[Row]) -> None:
        """Commit rows to the end of the spool; when this returns they are acknowledged."""
        if not rows:
            return
        with self._transaction():
            self._conn.executemany("INSERT INTO spool (tag, ts_us, value, quality) VALUES (?, ?, ?, ?)", rows)
        self.backlog += len(rows)

    def oldest(self, limit: int, through: int | None = None) -> tuple[int, list[Row]]:
        """Up to ``limit`` of the oldest rows (up to seq ``through``) and the sequence number of the last one (0 when none)."""
        cursor = self._conn.execute(
            "SELECT seq, tag, ts_us, value, quality FROM spool WHERE seq <= ? ORDER BY seq LIMIT ?",
            (through if through is not None else 2**63 - 1, limit),
        )
        records = cursor.fetchall()
        if not records:
            return 0, []
        return records[-1][0], [(tag, ts_us, value, quality) for _seq, tag, ts_us, value, quality in records]

    def last_seq(self) -> int:
        """The sequence number of the newest row (0 when empty): rows up to it came before this moment."""
        return self._conn.execute("SELECT coalesce(max(seq), 0) FROM spool").fetchone()[0]

    def delete_through(self, seq: int) -> int:
        """Remove every row up to and including ``seq`` (after the database committed them)."""
        with self._transaction():
            removed = self._conn.execute("DELETE FROM spool WHERE seq <= ?", (seq,)).rowcount
        self.backlog = max(self.backlog - removed, 0)
        return removed

    def begin_run(self, now_us: int) -> PreviousRun:
        """Record this process as the spool's writer; the previous writers that have gone (stopped or killed) are forgotten.

        A writer whose process still runs (a window beside a collector, sharing the data folder)
        is left alone and reported in ``others_running``.
        """
        me = os.getpid()
        with self._transaction():
            gone: list[int] = []
            last: int | None = None
            others = False
            for run_id, pid, alive_us, stopped in self._conn.execute("SELECT id, pid, alive_us, stopped FROM runs"):
                if not stopped and pid != me and process_running(pid):
                    others = True
                    continue
                gone.append(run_id)
                last = alive_us if last is None else max(last, alive_us)
            self._conn.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in gone])
            self._run_id = self._conn.execute(
                "INSERT INTO runs (pid, started_us, alive_us) VALUES (?, ?, ?)", (me, now_us, now_us)
            ).lastrowid
        return PreviousRun(last, others)

    def heartbeat(self, now_us: int, stopped: bool = False) -> None:
        """Note that this writer is alive (or, with ``stopped``, has stopped) at ``now_us``."""
        if self._run_id is None:
            return
        with self._transaction():
            self._conn.execute("UPDATE runs SET alive_us = ?, stopped = ? WHERE id = ?", (now_us, int(stopped), self._run_id))

    def close(self) -> None:
        """Close the spool file."""
        self._conn.close()

    def _transaction(self) -> _Txn:
        self._conn.execute("BEGIN IMMEDIATE")
        return _Txn(self._conn)


class _Txn:
    """Commit on success, roll back on error (the connection runs in autocommit mode otherwise)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self._conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            self._conn.execute("ROLLBACK")
            return
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
