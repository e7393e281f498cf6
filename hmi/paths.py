"""Where the HMI keeps its data, config and logs on this workstation."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "hmi"


def data_dir(*, create: bool = True) -> Path:
    """The per-user data directory (historian, spool); HMI_DATA_DIR overrides it, as tests do."""
    override = os.environ.get("HMI_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    """The per-user log directory; follows HMI_DATA_DIR when that is set."""
    override = os.environ.get("HMI_DATA_DIR")
    path = Path(override) / "logs" if override else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_url() -> str:
    """The SQLite historian in the data directory, used when the config names no database."""
    return f"sqlite:///{data_dir(create=False) / 'historian.sqlite'}"  # made by whoever writes it first
