"""Database fixtures: a migrated SQLite file per test, and an engine on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from hmi.store.db import make_engine
from hmi.store.migrate import upgrade


@pytest.fixture
def db_url(tmp_path) -> str:
    """The URL of this test's SQLite database (not yet created)."""
    return f"sqlite:///{tmp_path / 'hmi.db'}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on this test's database, migrated to the newest schema."""
    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()
