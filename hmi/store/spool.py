"""The local spool: an SQLite file that holds samples, in arrival order, while the database is away."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
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
        self.backlog: int = self._conn.execute("SELECT count(*) FROM spool").fetchone()[0]

    def append(self, rows: Sequence[Row]) -> None:
        """Commit rows to the end of the spool; when this returns they are acknowledged."""
        if not rows:
            return
        with self._transaction():
            self._conn.executemany("INSERT INTO spool (tag, ts_us, value, quality) VALUES (?, ?, ?, ?)", rows)
        self.backlog += len(rows)

    def oldest(self, limit: int) -> tuple[int, list[Row]]:
        """Up to ``limit`` of the oldest rows and the sequence number of the last one (0 when empty)."""
        cursor = self._conn.execute("SELECT seq, tag, ts_us, value, quality FROM spool ORDER BY seq LIMIT ?", (limit,))
        records = cursor.fetchall()
        if not records:
            return 0, []
        return records[-1][0], [(tag, ts_us, value, quality) for _seq, tag, ts_us, value, quality in records]

    def delete_through(self, seq: int) -> int:
        """Remove every row up to and including ``seq`` (after the database committed them)."""
        with self._transaction():
            removed = self._conn.execute("DELETE FROM spool WHERE seq <= ?", (seq,)).rowcount
        self.backlog = max(self.backlog - removed, 0)
        return removed

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
