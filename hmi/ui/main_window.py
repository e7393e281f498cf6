"""The main window: menus (Session among them), the alarm banner, toolbar, status bar and one dock per registered
pane, with a saved layout."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QMessageBox, QToolBar, QWidget

from hmi.ui import layout, theme
from hmi.ui.alarm_banner import AlarmBanner
from hmi.ui.context import AppContext
from hmi.ui.pane_registry import PaneSpec, registered_panes
from hmi.ui.session_controller import SessionController
from hmi.ui.status_bar import StatusBar

log = logging.getLogger(__name__)

APP_TITLE = "Control room HMI"
BIG_SHARE = 0.62  # the first pane (the overview) gets this share of the window by default


class MainWindow(QMainWindow):
    """Docks the panes, restores this workstation's layout, and saves it when closed."""

    closed = Signal()

    def __init__(
        self,
        ctx: AppContext,
        panes: Sequence[PaneSpec] | None = None,
        settings: QSettings | None = None,
        title_suffix: str = "",
    ) -> None:
        super().__init__()
        self.setObjectName("hmi_main_window")
        self.setWindowTitle(APP_TITLE + (f" — {title_suffix}" if title_suffix else ""))
        self.ctx = ctx
        self.specs = list(registered_panes() if panes is None else panes)
        self.settings = settings if settings is not None else layout.workstation_settings()
        self.setDockNestingEnabled(True)
        self.setDockOptions(QMainWindow.DockOption.AllowNestedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        # Docks fill the window; the central widget is an empty placeholder Qt requires.
        placeholder = QWidget(self)
        placeholder.setObjectName("hmi_central_placeholder")
        placeholder.setMaximumWidth(0)  # any height: a pane across the bottom must not take all of it
        self.setCentralWidget(placeholder)
        self.docks: dict[str, QDockWidget] = {spec.object_name: self._make_dock(spec) for spec in self.specs}
        self.status = StatusBar(ctx, self)
        self.setStatusBar(self.status)
        # Who is at the station: the Session menu, the login dialogs and the idle lock.
        self.sessions = SessionController(ctx, self)
        self.status.user_clicked.connect(self.sessions.on_user_slot)
        self.sessions.message.connect(self._session_message)
        self._build_actions()
        self._build_menus()
        self._build_banner()
        self._build_toolbar()
        self.resize(1600, 900)
        self.reset_layout()
        self.layout_restored = layout.restore_layout(self, self.settings)
        if not self.layout_restored:
            self.reset_layout()

    # --- docks -------------------------------------------------------------------------------------

    def _make_dock(self, spec: PaneSpec) -> QDockWidget:
        dock = QDockWidget(spec.title, self)
        dock.setObjectName(spec.object_name)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        widget = spec.create(self.ctx)
        dock.setWidget(widget)
        return dock

    def reset_layout(self) -> None:
        """Put every dock back where its PaneSpec says, visible and docked; the first pane gets most room."""
        size = self.size()
        for spec in self.specs:
            dock = self.docks[spec.object_name]
            dock.setFloating(False)
            dock.show()
            # Tabbed at once, not added first: each dock added on its own stacks its height on the others'
            # and grows the window (13 panes: 1600x2231), which then stays that tall.
            if spec.tab_with in self.docks and spec.tab_with != spec.object_name:
                self.tabifyDockWidget(self.docks[spec.tab_with], dock)
            else:
                self.addDockWidget(spec.area, dock)
        for spec in self.specs:  # Qt puts the last tab added in front; the pane tabbed with stays in front
            if spec.tab_with and spec.tab_with in self.docks:
                self.docks[spec.tab_with].raise_()
        self._size_default()
        self.resize(size.expandedTo(self.minimumSizeHint()))

    def _size_default(self) -> None:
        if len(self.specs) < 2:
            return
        big = self.specs[0]
        sides = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)
        for spec in self.specs[1:]:
            if spec.tab_with or spec.area == big.area:
                continue
            dock = self.docks[spec.object_name]
            if spec.area not in sides and big.area in sides:
                # A pane across the bottom or top (the alarm list) takes the small share of the height.
                self.resizeDocks([dock], [int(self.height() * (1 - BIG_SHARE))], Qt.Orientation.Vertical)
                continue
            horizontal = spec.area in sides or big.area in sides
            orientation = Qt.Orientation.Horizontal if horizontal else Qt.Orientation.Vertical
            extent = self.width() if horizontal else self.height()
            self.resizeDocks(
                [self.docks[big.object_name], dock],
                [int(extent * BIG_SHARE), int(extent * (1 - BIG_SHARE))],
                orientation,
            )

    def on_reset_layout(self) -> None:
        """Menu action: the default layout, and forget the saved one."""
        layout.clear_layout(self.settings)
        self.reset_layout()

    # --- actions, menus, toolbar -------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.act_quit = QAction("&Quit", self, shortcut=QKeySequence("Ctrl+Q"), triggered=self.close)
        self.act_quit.setObjectName("act_quit")
        self.act_reset = QAction("&Reset layout", self, triggered=self.on_reset_layout)
        self.act_reset.setObjectName("act_reset_layout")
        self.act_full = QAction("&Full screen", self, shortcut=QKeySequence("F11"), checkable=True)
        self.act_full.setObjectName("act_full_screen")
        self.act_full.toggled.connect(self.set_full_screen)
        self.act_night = QAction("&Night theme", self, checkable=True)
        self.act_night.setObjectName("act_night_theme")
        self.act_night.setChecked(theme.current() is theme.NIGHT)
        self.act_night.toggled.connect(self.set_night)
        self.act_about = QAction("&About", self, triggered=self.about)
        self.act_about.setObjectName("act_about")

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.act_quit)
        self.session_menu = bar.addMenu("&Session")
        self.session_menu.setObjectName("menu_session")
        s = self.sessions
        for action in (s.act_login, s.act_switch, s.act_lock, s.act_logout):
            self.session_menu.addAction(action)
        self.session_menu.addSeparator()
        self.session_menu.addAction(s.act_users)
        self.view_menu = bar.addMenu("&View")
        self.view_menu.setObjectName("menu_view")
        for spec in self.specs:
            self.view_menu.addAction(self.docks[spec.object_name].toggleViewAction())
        self.view_menu.addSeparator()
        for action in (self.act_reset, self.act_full, self.act_night):
            self.view_menu.addAction(action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_about)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main toolbar", self)
        bar.setObjectName("hmi_toolbar")  # saveState needs it
        bar.setMovable(False)
        for spec in self.specs:
            bar.addAction(self.docks[spec.object_name].toggleViewAction())
        bar.addSeparator()
        for action in (self.act_reset, self.act_full, self.act_night):
            bar.addAction(action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

    def _build_banner(self) -> None:
        # A toolbar row of its own above the main toolbar: across the whole window, above the docks, and
        # part of the saved state like any toolbar. It cannot be moved, floated or hidden.
        self.banner = AlarmBanner(self.ctx)
        self.banner.alarm_clicked.connect(self.show_alarm)
        bar = QToolBar("Alarm banner", self)
        bar.setObjectName("hmi_alarm_banner")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.toggleViewAction().setVisible(False)
        bar.setStyleSheet("QToolBar { padding: 0px; border: none; }")
        bar.addWidget(self.banner)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        self.banner_bar = bar

    def bring_to_front(self, names: list[str]) -> None:
        """Bring these panes to the front of their tabs (`--show`), also after the first trends open."""

        def bring() -> None:
            for name in names:
                self.docks[name].show()
                self.docks[name].raise_()

        bring()
        # The demo's first trends bring the trends pane forward once the links start: once more after that.
        self.ctx.open_trends.connect(lambda _tags: QTimer.singleShot(0, bring), Qt.ConnectionType.SingleShotConnection)

    def show_alarm(self, alarm_id: str) -> None:
        """Bring the alarm pane to the front and select an alarm there (a click on the banner does this)."""
        dock = self.docks.get("alarms")
        if dock is None:
            return
        dock.show()
        dock.raise_()
        select = getattr(dock.widget(), "select_alarm", None)
        if callable(select):
            select(alarm_id)

    def _session_message(self, text: str) -> None:
        self.status.showMessage(f"{theme.SHAPE_WARNING} {text}", 15_000)

    def set_full_screen(self, on: bool) -> None:
        """Full screen for wall displays (F11 toggles)."""
        if on and not self.isFullScreen():
            self.showFullScreen()
        elif not on and self.isFullScreen():
            self.showNormal()
        if self.act_full.isChecked() != on:
            self.act_full.setChecked(on)

    def set_night(self, on: bool) -> None:
        """Switch between the day and the night theme."""
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.apply(app, "night" if on else "day")

    def about(self) -> None:
        """Help > About."""
        QMessageBox.about(self, APP_TITLE, f"{APP_TITLE}\n{len(self.ctx.plant.twins)} twins, "
                          f"{len(self.ctx.plant.tags)} tags")

    # --- closing -----------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        """Save the layout, close the panes, then tell the application the window is gone."""
        try:
            layout.save_layout(self, self.settings)
        except Exception:  # a layout that cannot be saved must not keep the window open
            log.exception("could not save the window layout")
        super().closeEvent(event)
        # Each pane gets its own close event: it leaves the tag bus and frees what it buffers.
        for dock in self.docks.values():
            widget = dock.widget()
            if widget is not None:
                widget.close()
        self.closed.emit()
