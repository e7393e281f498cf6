"""Shared test set-up: offscreen Qt, throwaway data directories, and the fixtures of tests/fixtures_*."""

from __future__ import annotations

import os

# Before any QApplication exists, or pytest aborts with exit 134 on a machine without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest_plugins = ["tests.fixtures_plc", "tests.fixtures_pg", "tests.fixtures_qt", "tests.fixtures_db", "tests.fixtures_smtp", "tests.fixtures_mqtt"]


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    """Every test gets its own data directory: no test touches the real one."""
    data = tmp_path / "hmi-data"
    monkeypatch.setenv("HMI_DATA_DIR", str(data))
    return data
