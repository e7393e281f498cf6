"""The database a subcommand works on: --db, else the config's, brought up to the newest schema."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from hmi.config import PlantConfig, load_config

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def open_database(args: argparse.Namespace, config: PlantConfig | None = None, *, migrate: bool = True) -> Engine:
    """An engine on ``--db`` (or the config's database), migrated first unless ``migrate`` is False.

    SQLAlchemy and alembic are imported here, when a command runs, not when the CLI starts.
    """
    if not args.verbose:  # alembic announces every step (and its plugins, on import) at INFO
        logging.getLogger("alembic").setLevel(logging.WARNING)
    from hmi.services.db import make_engine, upgrade

    if config is None and (args.config or not args.db):  # a given --config's timeouts hold for --db too
        config = load_config(args.config)
    url = args.db or config.database_url
    engine = make_engine(url, settings=config.database if config is not None else None)
    if migrate:
        upgrade(engine)
    return engine
