"""Connections for read-modify-write transactions."""

from __future__ import annotations

from sqlalchemy.engine import Connection, Engine

from hmi.store.db import BEGIN_IMMEDIATE


def write_connection(engine: Engine) -> Connection:
    """A connection whose transactions take the write lock at BEGIN on SQLite (no upgrade deadlock)."""
    return engine.connect().execution_options(**{BEGIN_IMMEDIATE: True})
