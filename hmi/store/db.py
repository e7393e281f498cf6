"""Engines for the historian database: SQLite tuned for one writer and many readers, or PostgreSQL."""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, exc, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.url import URL

from hmi.config import DatabaseConfig
from hmi.domain.errors import one_line  # defined in the domain; imported here for the store's callers
from hmi.store.errors import DatabaseUnavailable

DEFAULT_BUSY_TIMEOUT_MS = 5000
# The client waits this much longer than the server's own statement_timeout, so that a live but slow
# server cancels the statement itself (the connection stays usable) before the client gives up on it.
ANSWER_GRACE_S = 1.0

# Execution option that makes an SQLite transaction take the write lock at BEGIN (see _sqlite_events).
BEGIN_IMMEDIATE = "hmi_sqlite_begin_immediate"

# How a timeout's reason starts: the database counts as away, like one that refuses connections.
NO_ANSWER = "no answer from the database within"


def safe_url(url: str | URL) -> str:
    """The URL as text with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<unparseable database URL>"


def resolve_database_url(url: str | URL) -> URL:
    """The URL to connect with: a PostgreSQL URL with a user and no password gets the secret ``database``.

    The secret comes from ``HMI_SECRET_DATABASE`` or the OS keyring (see hmi.secrets); where it is set
    nowhere the URL stays without a password (peer or trust authentication needs none). A password
    already in the URL (``--db`` on the user's own command line) is kept. ArgumentError if unparseable.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.username or parsed.password is not None:
        return parsed
    if "password" in parsed.query:
        return parsed
    from hmi.secrets import DATABASE_SECRET, find_secret

    password = find_secret(DATABASE_SECRET)
    return parsed if password is None else parsed.set(password=password)


def make_engine(
    url: str | URL,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    check: bool = True,
    settings: DatabaseConfig | None = None,
    must_exist: bool = False,
) -> Engine:
    """An Engine for an sqlite:/// or postgresql+psycopg:// URL; DatabaseUnavailable when it cannot be used.

    With ``check`` one connection is opened at once, so a bad path or a missing server is
    reported here with a clear message rather than at the first write. A PostgreSQL password
    comes from the secret ``database`` (resolve_database_url). On PostgreSQL ``settings`` (the
    [database] section; its defaults without) bound every wait: connecting, and each answer. An
    SQLite file and its folder are created unless ``must_exist`` (a command that only reads), which
    refuses a missing file instead.
    """
    try:
        parsed = resolve_database_url(url)
    except exc.ArgumentError:
        scheme = str(url).split("://", 1)[0][:40] if "://" in str(url) else "?"
        raise DatabaseUnavailable(
            f"not a database URL (scheme {scheme!r}); expected sqlite:///PATH or postgresql+psycopg://HOST/DB"
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        (_sqlite_file_exists if must_exist else _make_sqlite_parent)(parsed, shown)
    elif backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": _connect_seconds(settings or DatabaseConfig())}
    else:
        raise DatabaseUnavailable(f"{shown}: unsupported database; use sqlite:///PATH or postgresql+psycopg://...")
    try:
        engine = create_engine(parsed, **kwargs)
    except (exc.ArgumentError, ImportError) as error:
        raise DatabaseUnavailable(f"{shown}: cannot use this URL: {error}") from None
    if backend == "sqlite":
        _sqlite_events(engine, busy_timeout_ms)
    else:
        _pg_events(engine, settings or DatabaseConfig())
    if check:
        check_engine(engine)
    return engine


def check_engine(engine: Engine) -> None:
    """Open one connection and run a trivial query; DatabaseUnavailable with the reason if that fails."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except exc.DBAPIError as error:
        raise unavailable(engine, error) from None


def unavailable(engine: Engine, error: BaseException) -> DatabaseUnavailable:
    """A DatabaseUnavailable for this engine that says why, in one line, and what to do."""
    shown = engine.url.render_as_string(hide_password=True)
    reason = one_line(error)
    if reason.startswith(NO_ANSWER):
        hint = "check that the server is running and not overloaded, or raise [database] connect_timeout_s / statement_timeout_s"
    elif engine.dialect.name == "sqlite":
        hint = "check that the folder exists, is writable and has free space, and that no other program locks the file"
    elif "password" in reason.lower():
        hint = ("the database password comes from `hmi secret set database` or the environment variable "
                "HMI_SECRET_DATABASE: set the right one, and check the user name")
    else:
        hint = "check that the server is running and reachable, and the user, password and database name"
    return DatabaseUnavailable(f"database {shown} is unavailable: {reason}; {hint}")


def _connect_seconds(settings: DatabaseConfig) -> int:
    """The connect timeout as libpq applies it: whole seconds, at least 2."""
    return max(2, math.ceil(settings.connect_timeout_s))


def _pg_events(engine: Engine, settings: DatabaseConfig) -> None:
    """Connections whose every wait for the server is bounded, each timeout saying which one ran out.

    The server's statement_timeout does nothing when the server itself is frozen (SIGSTOP, a hung
    host whose kernel still acknowledges): the client must stop waiting on its own. TCP keepalives
    and tcp_user_timeout do not help there either, as the peer's kernel answers them. The errors stay
    the driver's (an OperationalError), so every caller handles them as it handles a server gone away.
    """
    connection_class = _bounded_connection_class(_connect_seconds(settings), settings.statement_timeout_s)
    statement_ms = math.ceil(settings.statement_timeout_s * 1000)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        return connection_class.connect(*cargs, **cparams)

    @event.listens_for(engine, "connect")
    def _server_timeout(dbapi_conn: Any, _record: Any) -> None:
        # A live but stuck statement is cancelled by the server itself. SET rather than the startup
        # option "options", which a PgBouncer in between refuses; committed, or a rollback undoes it.
        dbapi_conn.execute(f"SET statement_timeout = {statement_ms}")
        dbapi_conn.commit()

    @event.listens_for(engine, "handle_error")
    def _name_the_timeout(context: Any) -> None:
        import psycopg

        error = context.original_exception
        if isinstance(error, psycopg.errors.QueryCanceled) and "statement timeout" in str(error):
            # The server's own cancel ("canceling statement due to statement timeout"), in our words.
            error.args = (f"{NO_ANSWER} {settings.statement_timeout_s:g} s (statement_timeout_s)",)


class _Silent(Exception):
    """Raised inside a psycopg wait when the server has sent nothing for too long."""


def _answered_within(gen: Generator[Any, Any, Any], limit_s: float) -> Generator[Any, Any, Any]:
    """psycopg's protocol generator ``gen``, given up on (_Silent) once its socket was idle for ``limit_s``.

    Idle, not in all: a batch of many statements (executemany in a pipeline) is one wait, and may take
    long on a busy server while it answers all along. psycopg's wait sends READY_NONE (0) into the
    generator at each poll interval (0.1 s) that saw no event; any event is progress. The server sends
    a pipeline's results a buffer (8 kB) at a time: a batch of many rows shows progress all along, a
    batch of a few slow statements would look silent until its end.
    """
    last = time.monotonic()
    try:
        state = next(gen)
        while True:
            ready = yield state
            now = time.monotonic()
            if ready:
                last = now
            elif now - last > limit_s:
                gen.close()
                raise _Silent
            state = gen.send(ready)
    except StopIteration as done:
        return done.value


@cache
def _bounded_connection_class(connect_timeout_s: int, statement_timeout_s: float) -> type:
    """A psycopg Connection that gives up on a server that does not answer, and closes itself then."""
    import psycopg

    answer_timeout_s = statement_timeout_s + ANSWER_GRACE_S

    class BoundedConnection(psycopg.Connection):
        """psycopg's Connection giving up each wait that has no timeout of its own (every query, commit,
        fetch) once the server has been silent for the answer timeout."""

        @classmethod
        def connect(cls, *args: Any, **kwargs: Any) -> Any:
            """psycopg's connect (bounded by libpq's connect_timeout), its timeout said in our words."""
            try:
                return super().connect(*args, **kwargs)
            except psycopg.errors.ConnectionTimeout:
                raise psycopg.errors.ConnectionTimeout(
                    f"{NO_ANSWER} {connect_timeout_s:g} s of connecting (connect_timeout_s)"
                ) from None

        def wait(self, gen: Any, interval: float | None = None, timeout: float | None = None) -> Any:
            """Consume ``gen`` as psycopg does, within ``timeout``, or while the server keeps answering."""
            given = {"interval": interval} if interval is not None else {}
            if timeout is not None:
                return super().wait(gen, timeout=timeout, **given)
            try:
                return super().wait(_answered_within(gen, answer_timeout_s), **given)
            except _Silent:
                # Mid-protocol: the connection's state is unknown, so it is closed (and SQLAlchemy,
                # seeing it closed, treats the error as a disconnect and drops it from the pool).
                self.close()
                raise psycopg.OperationalError(f"{NO_ANSWER} {statement_timeout_s:g} s (statement_timeout_s)") from None

    return BoundedConnection


def _sqlite_file_exists(url: URL, shown: str) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    if path.is_dir():
        raise DatabaseUnavailable(f"{shown}: {path} is a folder, not a database; give the database file")
    if not path.is_file() or path.stat().st_size == 0:
        raise DatabaseUnavailable(f"no database at {path}; create it with hmi db upgrade (or give another --db)")
    try:  # opening a file that is not SQLite's would write to it (the WAL pragma)
        with path.open("rb") as file:
            header = file.read(16)
    except OSError as error:
        raise DatabaseUnavailable(f"{shown}: cannot read {path}: {error.strerror or error}") from None
    if header != b"SQLite format 3\x00":
        raise DatabaseUnavailable(f"{shown}: {path} is not an SQLite database; give the database file")


def _make_sqlite_parent(url: URL, shown: str) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    parent = Path(database).expanduser().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseUnavailable(
            f"database {shown} is unavailable: cannot create the folder {parent}: {error.strerror or error}; "
            "choose a writable location with --db or [database] url"
        ) from None


def _sqlite_events(engine: Engine, busy_timeout_ms: int) -> None:
    """Pragmas on every new connection, and BEGIN emitted by us (pysqlite's implicit BEGIN is unreliable)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            # Bulk inserts into the clustered samples index: a 64 MB page cache and a checkpoint
            # every ~40 MB of WAL instead of every 4 MB (measured: about +9 % ingest).
            cursor.execute("PRAGMA cache_size = -65536")
            cursor.execute("PRAGMA wal_autocheckpoint = 10000")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the lock up front: upgrading a read transaction to a write one fails at
        # once with "database is locked" when another writer committed meanwhile, ignoring busy_timeout.
        immediate = conn.get_execution_options().get(BEGIN_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
