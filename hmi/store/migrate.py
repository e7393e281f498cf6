"""Schema migrations run from code: no alembic.ini, scripts found next to this file (source, wheel or bundle).

The collector and the window never change the schema (the demo, which owns its database, does):
they check it (schema_problem) and spool until an operator has run `hmi db upgrade`, because a
workstation of one version must not migrate a database that others share behind their backs.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path


def _quiet_alembic() -> None:
    """Alembic's INFO lines (its plugins on import, each migration step) only with -v (the root logger at DEBUG)."""
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET and not logging.getLogger().isEnabledFor(logging.DEBUG):
        alembic_log.setLevel(logging.WARNING)


_quiet_alembic()  # before alembic is imported: it logs its plugins then

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import exc, text  # noqa: E402
from sqlalchemy.engine import Connection, Engine  # noqa: E402
from sqlalchemy.engine.url import URL  # noqa: E402

from hmi.store.db import BEGIN_IMMEDIATE, make_engine, unavailable  # noqa: E402

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Several workstations may start at once against one PostgreSQL: one migrates, the others wait.
_PG_LOCK_KEY = 0x484D4953  # "HMIS"
UPGRADE_HINT = "run hmi db upgrade"


class SchemaNotReady(Exception):
    """The database has no schema, or an older one, than this version writes: the message says to run hmi db upgrade."""


@dataclass(frozen=True, slots=True)
class Upgraded:
    """What an upgrade did: the revision before (None: an empty database) and after."""

    before: str | None
    after: str | None

    def line(self) -> str:
        """One line for the operator: 'database at schema 0005 (upgraded from none)' or '(already there)'."""
        if self.before == self.after:
            return f"database at schema {self.after} (already there)"
        return f"database at schema {self.after} (upgraded from {self.before or 'none'})"


def alembic_config() -> Config:
    """The alembic Config, built in code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


@functools.cache
def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision the code knows."""
    return frozenset(script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions())


def current_revision(target: str | URL | Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        with engine.connect() as conn:
            return revision_on(conn)
    except exc.DBAPIError as error:
        raise unavailable(engine, error) from None
    finally:
        if engine is not target:
            engine.dispose()


def revision_on(conn: Connection) -> str | None:
    """The revision of the database behind this connection (None: no schema); reads only."""
    return MigrationContext.configure(conn).get_current_revision()


def schema_problem(revision: str | None) -> str | None:
    """Why a database at ``revision`` cannot take this version's writes, in words for the status line; None if it can.

    A revision this code does not know is a newer HMI's schema: it is written to (the historian's
    tables only grow), and the caller logs that this workstation should be updated.
    """
    if revision is None:
        return f"no schema: {UPGRADE_HINT}"
    head = head_revision()
    if revision != head and revision in known_revisions():
        return f"schema {revision} is older than this version's {head}: {UPGRADE_HINT}"
    return None


def upgrade(target: str | URL | Engine, revision: str = "head") -> Upgraded:
    """Bring the database schema up to ``revision``; a no-op when it is already there.

    Serialised: on PostgreSQL by an advisory lock, on SQLite by the write lock taken at BEGIN
    (the others wait up to busy_timeout, then find the schema there). Alembic's own INFO lines
    go to the log only with -v; the caller prints Upgraded.line() instead.
    """
    _quiet_alembic()
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        with engine.connect() as conn:
            return _upgrade_on(conn, revision)
    except exc.DBAPIError as error:
        raise unavailable(engine, error) from None
    finally:
        if engine is not target:
            engine.dispose()


def _upgrade_on(conn: Connection, revision: str) -> Upgraded:
    config = alembic_config()
    config.attributes["connection"] = conn
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
        conn.commit()
        try:
            before = revision_on(conn)
            conn.commit()
            command.upgrade(config, revision)
            after = revision_on(conn)
        finally:
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
        return Upgraded(before, after)
    # SQLite: the whole migration in one transaction that holds the write lock from its BEGIN, so a
    # second upgrade started at the same moment waits and then reads the new revision, instead of
    # both creating the tables and one failing with "database is locked" or "table exists".
    conn.execution_options(**{BEGIN_IMMEDIATE: True})
    with conn.begin():
        before = revision_on(conn)
        command.upgrade(config, revision)
        after = revision_on(conn)
    return Upgraded(before, after)
