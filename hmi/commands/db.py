"""`hmi db upgrade`: create or migrate the database schema."""

from __future__ import annotations

import argparse

from hmi.config import load_config


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `db` and its verbs to the parser."""
    p = sub.add_parser("db", parents=[common], help="database schema")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    up = verbs.add_parser("upgrade", parents=[common], help="create or migrate the schema to the newest version")
    up.set_defaults(handler=run_upgrade)


def run_upgrade(args: argparse.Namespace) -> int:
    """Migrate the configured (or --db) database to the newest schema."""
    from hmi.services.db import safe_url, upgrade

    url = args.db or load_config(args.config).database_url
    print(f"{safe_url(url)}: {upgrade(url).line()}")
    return 0
