"""The window with its database down or without the schema at start: it opens, says why, and creates nothing."""

from __future__ import annotations

import sqlite3

from PySide6.QtCore import QTimer

from hmi.config import load_config
from tests.test_app_gui import DUMMY_PANES

DEAD_PG = "postgresql+psycopg://hmi@127.0.0.1:1/hmi"


def run_window(url: str) -> tuple[int, list[tuple[str, str]]]:
    """run_gui for 3 s on ``url``; the exit code and every (text, tooltip) the database label showed."""
    from hmi.app import run_gui

    seen: list[tuple[str, str]] = []

    def watch(window) -> None:
        timer = QTimer(window)
        timer.timeout.connect(lambda: seen.append((window.status.db_label.text(), window.status.db_label.toolTip())))
        timer.start(100)

    code = run_gui(load_config(), url, run_for=3, panes=DUMMY_PANES, on_window=watch, greet=False)
    return code, seen


def test_window_opens_with_postgresql_down_and_the_status_bar_says_why():
    code, seen = run_window(DEAD_PG)
    assert code == 0
    assert seen, "the window never showed"
    assert ("▲ database DOWN: connection refused", "connection refused") in seen, seen[-3:]
    assert all(text.startswith("▲ database DOWN") for text, _ in seen)  # never "ok", never an empty reason


def test_window_on_a_database_without_schema_says_run_hmi_db_upgrade_and_creates_no_table(tmp_path):
    path = tmp_path / "fresh.sqlite"
    code, seen = run_window(f"sqlite:///{path}")
    assert code == 0
    assert any(text == "▲ database DOWN: no schema: run hmi db upgrade" for text, _ in seen), seen[-3:]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == []
