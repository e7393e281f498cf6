"""Wall mode (`hmi --wall`, `hmi demo --wall`): the andon board alone, full screen, for a display on the shop wall.

Nobody is asked to log in to look at it; a step taken there (acknowledge, resolve, raise) asks for a
login first, as any command on a locked station does. No menus, toolbars or status bar: only the
board. F11 leaves full screen, Ctrl+Q quits. Its window state is kept apart from the workstation's
layout, so the wall never overwrites a control-room layout.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDockWidget, QToolBar, QWidget

from hmi.paths import data_dir
from hmi.ui import layout
from hmi.ui.main_window import MainWindow
from hmi.ui.pane_registry import PaneSpec

WALL_SETTINGS = "wall.ini"


def wall_panes() -> list[PaneSpec]:
    """The one pane of the wall: the andon board."""
    from hmi.ui.panes.andon import SPEC

    return [SPEC]


def make_wall(window: MainWindow) -> None:
    """Turn the main window into the wall board: only the board, full screen (an on_window callback of run_gui)."""
    window.settings = layout.workstation_settings(data_dir() / WALL_SETTINGS)
    window.setWindowTitle(f"{window.windowTitle()} — andon board")
    window.menuBar().setVisible(False)
    window.statusBar().setVisible(False)
    for bar in window.findChildren(QToolBar):
        bar.setVisible(False)
    for dock in window.findChildren(QDockWidget):
        dock.setTitleBarWidget(QWidget(dock))  # no title, no close button
        dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
    for action in (window.act_full, window.act_quit):  # their menus are hidden: keep the shortcuts
        window.addAction(action)
    window.set_full_screen(True)
