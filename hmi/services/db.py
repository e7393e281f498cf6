"""The database as the window and the CLI open it: an engine on a URL, the schema brought up to date, the URL shown.

The screens and the commands call these rather than hmi.store, so the store can change below them
(engine options, migrations) without a change above. Each raises DatabaseUnavailable with the
reason and what to do when the database cannot be used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL, Engine

from hmi.domain.errors import DatabaseUnavailable
from hmi.store import db

if TYPE_CHECKING:
    from hmi.store.migrate import Upgraded


def make_engine(url: str | URL, **options: Any) -> Engine:
    """An Engine on an sqlite:/// or postgresql+psycopg:// URL, checked with one connection unless ``check=False``."""
    return db.make_engine(url, **options)


def upgrade(target: str | URL | Engine, **options: Any) -> Upgraded:
    """Create the schema or migrate it to the newest revision (a no-op when it is there); what it did."""
    from hmi.store import migrate  # alembic only for the commands that migrate (it logs its plugins on import)

    return migrate.upgrade(target, **options)


def current_revision(target: str | URL | Engine) -> str | None:
    """The revision the database's schema is at, or None for an empty database."""
    from hmi.store import migrate

    return migrate.current_revision(target)


def head_revision() -> str:
    """The newest schema revision this version of the program knows."""
    from hmi.store import migrate

    return migrate.head_revision()


def safe_url(url: str | URL) -> str:
    """The URL as text with its password masked, for messages and logs."""
    return db.safe_url(url)


def unavailable(engine: Engine, error: BaseException) -> DatabaseUnavailable:
    """A DatabaseUnavailable for this engine that says why, in one line, and what to do."""
    return db.unavailable(engine, error)
