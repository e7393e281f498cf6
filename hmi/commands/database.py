"""The database a subcommand works on: --db, else the config's; a command that only reads creates nothing."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from hmi.config import PlantConfig, load_config

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def database_url(args: argparse.Namespace, config: PlantConfig | None = None) -> str:
    """--db, else the config's database URL."""
    return args.db or (config or load_config(args.config)).database_url


def database_exists(args: argparse.Namespace, config: PlantConfig | None = None) -> bool:
    """False only for an SQLite database whose file is missing or empty (a server is asked when connecting)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(database_url(args, config))
    except ArgumentError:
        return True  # open_database says what is wrong with it
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return True
    path = Path(url.database).expanduser()
    if not path.exists():
        return False
    return not path.is_file() or path.stat().st_size > 0  # a folder: open_database says what is wrong


def open_database(args: argparse.Namespace, config: PlantConfig | None = None, *, create: bool = False) -> Engine:
    """An engine on ``--db`` (or the config's database) with the newest schema.

    Without ``create`` the database must exist with the newest schema: nothing is created or
    migrated (DatabaseUnavailable saying to run `hmi db upgrade`). With ``create`` (a command that
    may be the first on a new database, e.g. adding the first admin) it is created and migrated.
    SQLAlchemy and alembic are imported here, when a command runs, not when the CLI starts.
    """
    if not args.verbose:  # alembic announces every step (and its plugins, on import) at INFO
        logging.getLogger("alembic").setLevel(logging.WARNING)
    from hmi.domain.errors import DatabaseUnavailable
    from hmi.services.db import current_revision, head_revision, make_engine, safe_url, upgrade

    if config is None and (args.config or not args.db):  # a given --config's timeouts hold for --db too
        config = load_config(args.config)
    url = database_url(args, config)
    settings = config.database if config is not None else None
    if create:
        upgrade(url)
        return make_engine(url, settings=settings)
    engine = make_engine(url, must_exist=True, settings=settings)
    have, need = current_revision(engine), head_revision()
    if have != need:
        engine.dispose()
        shown = safe_url(url)
        if have is None:
            raise DatabaseUnavailable(f"no database at {shown} (it has no schema); create it with hmi db upgrade")
        raise DatabaseUnavailable(
            f"database {shown} has schema revision {have}, this program needs {need}; upgrade it with hmi db upgrade"
        )
    return engine
