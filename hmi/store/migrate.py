"""Schema migrations run from code: no alembic.ini, scripts found next to this file (source, wheel or bundle)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import URL

from hmi.store.db import make_engine, unavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Several workstations may start at once against one PostgreSQL: one migrates, the others wait.
_PG_LOCK_KEY = 0x484D4953  # "HMIS"


def alembic_config() -> Config:
    """The alembic Config, built in code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(target: str | URL | Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except exc.DBAPIError as error:
        raise unavailable(engine, error) from None
    finally:
        if engine is not target:
            engine.dispose()


def upgrade(target: str | URL | Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``; a no-op when it is already there."""
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        with engine.connect() as conn:
            _upgrade_on(conn, revision)
    except exc.DBAPIError as error:
        raise unavailable(engine, error) from None
    finally:
        if engine is not target:
            engine.dispose()


def _upgrade_on(conn: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = conn
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
        conn.commit()
        try:
            command.upgrade(config, revision)
        finally:
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
    else:
        command.upgrade(config, revision)
        conn.commit()
