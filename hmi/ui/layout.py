"""The window layout of this workstation: saved with a version number, restored at start, default on failure."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow

from hmi.paths import data_dir

log = logging.getLogger(__name__)

# Bump when the default layout or the set of docks changes in a way old saved states should not survive.
LAYOUT_VERSION = 3  # 2: the orders, planning, shopfloors and production docks; 3: the andon board


def settings_path() -> Path:
    """The workstation's INI file (under the data directory, so a test never touches the real one)."""
    return data_dir() / "workstation.ini"


def workstation_settings(path: Path | None = None) -> QSettings:
    """The QSettings that hold this workstation's window state."""
    return QSettings(str(path or settings_path()), QSettings.Format.IniFormat)


def dock_names(window: QMainWindow) -> list[str]:
    """The object names of the window's docks, sorted."""
    from PySide6.QtWidgets import QDockWidget

    return sorted(d.objectName() for d in window.findChildren(QDockWidget))


def save_layout(window: QMainWindow, settings: QSettings) -> None:
    """Store geometry, dock state, the version and the dock names."""
    settings.beginGroup("layout")
    settings.setValue("version", LAYOUT_VERSION)
    settings.setValue("geometry", window.saveGeometry())
    settings.setValue("state", window.saveState(LAYOUT_VERSION))
    settings.setValue("docks", ",".join(dock_names(window)))
    settings.endGroup()
    settings.sync()


def restore_layout(window: QMainWindow, settings: QSettings) -> bool:
    """Restore the saved layout; False (and the window keeps its default layout) when there is none or it is unusable.

    Unusable: another version, garbage, or a different set of docks (a saved state would hide a new pane).
    """
    settings.beginGroup("layout")
    try:
        state = settings.value("state")
        if state is None:
            return False
        reason = _unusable(settings, window)
        if reason is None:
            geometry = settings.value("geometry")
            # Offscreen (screenshots, tests) Qt would clamp the saved geometry to its small virtual
            # screen: keep the window's own size there, and restore only the dock arrangement.
            offscreen = QGuiApplication.platformName() == "offscreen"
            if isinstance(geometry, QByteArray) and not geometry.isEmpty() and not offscreen:
                window.restoreGeometry(geometry)
            if isinstance(state, QByteArray) and window.restoreState(state, LAYOUT_VERSION):
                return True
            reason = "Qt could not restore the saved state"
        log.warning("saved window layout not restored (%s); using the default layout", reason)
        return False
    finally:
        settings.endGroup()


def _unusable(settings: QSettings, window: QMainWindow) -> str | None:
    try:
        version = int(settings.value("version", -1))
    except (TypeError, ValueError):
        version = -1
    if version != LAYOUT_VERSION:
        return f"layout version {version}, this program uses {LAYOUT_VERSION}"
    saved = sorted(n for n in str(settings.value("docks", "")).split(",") if n)
    if saved != dock_names(window):
        return f"saved for panes {saved}, this window has {dock_names(window)}"
    return None


def clear_layout(settings: QSettings) -> None:
    """Forget the saved layout (after a reset, the default is what is saved at the next exit)."""
    settings.remove("layout")
    settings.sync()
