"""A shopfloor tile: its id, its heartbeat state in a shape and a word, capacity, load, activity, last report,
and for the MES manager a capacity control and the in-dispatch switch.

Calm grey while online; the state line alone takes the abnormal colour (amber late, red offline,
slate unknown), always with its shape and its word.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from hmi.domain.orders import Shopfloor, ShopfloorHealth
from hmi.ui import theme
from hmi.ui.order_text import age_text, health_text, span_text, units, when_text

MAX_CAPACITY = 1_000_000.0
ROWS = (("heartbeat", "Heartbeat"), ("capacity", "Capacity"), ("load", "Load"), ("busy", "Busy for"),
        ("activity", "Activity"), ("report", "Last report"), ("dispatch", "Dispatch"))  # fmt: skip
HEALTH_STATE = {ShopfloorHealth.ONLINE: "ok", ShopfloorHealth.LATE: "late", ShopfloorHealth.OFFLINE: "offline",
                ShopfloorHealth.UNKNOWN: "unknown"}  # fmt: skip


def tile_style(p: theme.Palette) -> str:
    """The tiles' QSS: a panel each; the health line coloured only when abnormal."""
    return f"""
    QFrame#shopfloorTile {{ background: {p.panel}; border: 1px solid {p.border}; }}
    QFrame#shopfloorTile QLabel {{ background: transparent; }}
    QLabel#sfId {{ font-size: {theme.VALUE_PT}pt; font-weight: bold; }}
    QLabel#sfHealth {{ font-size: {theme.TITLE_PT}pt; font-weight: bold; padding: 2px 8px; }}
    QFrame#shopfloorTile QLabel#sfHealth[health="late"] {{ background: {theme.WARNING}; color: #000000; }}
    QFrame#shopfloorTile QLabel#sfHealth[health="offline"] {{ background: {theme.ALARM_HIGH}; color: #FFFFFF; }}
    QFrame#shopfloorTile QLabel#sfHealth[health="unknown"] {{ background: {theme.STALE}; color: #FFFFFF; }}
    QLabel[role="key"] {{ color: {p.muted}; }}
    QLabel[role="value"] {{ font-size: {theme.TITLE_PT}pt; }}
    QFrame#shopfloorTile QLabel#sfDispatch[out="true"] {{ background: {theme.WARNING}; color: #000000;
        font-weight: bold; padding: 1px 6px; }}
    """


class ShopfloorTile(QFrame):
    """One shopfloor; ``capacity_requested(id, value)`` and ``dispatch_requested(id, on)`` are the manager's."""

    capacity_requested = Signal(str, float)
    dispatch_requested = Signal(str, bool)

    def __init__(self, shopfloor_id: str, now: Callable[[], datetime], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shopfloorTile")
        self.shopfloor_id = shopfloor_id
        self._now = now
        self.shopfloor: Shopfloor | None = None
        self.name = QLabel(shopfloor_id)
        self.name.setObjectName("sfId")
        self.health = QLabel("")
        self.health.setObjectName("sfHealth")
        self.values: dict[str, QLabel] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(12, 8, 12, 10)
        grid.setHorizontalSpacing(12)
        head = QHBoxLayout()
        head.addWidget(self.name)
        head.addStretch(1)
        head.addWidget(self.health)
        grid.addLayout(head, 0, 0, 1, 2)
        for row, (key, label) in enumerate(ROWS, start=1):
            k = QLabel(label)
            k.setProperty("role", "key")
            v = QLabel("")
            v.setProperty("role", "value")
            v.setObjectName(f"sf{key.capitalize()}")
            self.values[key] = v
            grid.addWidget(k, row, 0)
            grid.addWidget(v, row, 1)
        self.capacity_edit = QDoubleSpinBox()
        self.capacity_edit.setObjectName("sfCapacityEdit")
        self.capacity_edit.setRange(0.0, MAX_CAPACITY)
        self.capacity_edit.setDecimals(0)
        self.capacity_edit.setGroupSeparatorShown(True)
        self.capacity_edit.valueChanged.connect(lambda _v: setattr(self, "_edited", True))
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("sfApply")
        self.apply_button.setAutoDefault(False)
        self.apply_button.clicked.connect(self._apply)
        self.dispatch_box = QCheckBox("in dispatch")
        self.dispatch_box.setObjectName("sfDispatchBox")
        self.dispatch_box.clicked.connect(lambda on: self.dispatch_requested.emit(self.shopfloor_id, bool(on)))
        self.controls = QWidget()
        c = QGridLayout(self.controls)
        c.setContentsMargins(0, 6, 0, 0)
        c.addWidget(self.capacity_edit, 0, 0)
        c.addWidget(QLabel("units/h"), 0, 1)
        c.addWidget(self.apply_button, 0, 2)
        c.addWidget(self.dispatch_box, 1, 0, 1, 3)
        c.setColumnStretch(0, 1)
        grid.addWidget(self.controls, len(ROWS) + 1, 0, 1, 2)
        grid.setColumnStretch(1, 1)
        self._edited = False
        self.setMinimumWidth(320)

    def _apply(self) -> None:
        self._edited = False
        self.capacity_requested.emit(self.shopfloor_id, float(self.capacity_edit.value()))

    def set_manager(self, allowed: bool, why_not: str) -> None:
        """Show the manager's controls to one who may use them; others see why not in a tooltip of the values."""
        self.controls.setVisible(allowed)
        self.values["capacity"].setToolTip("" if allowed else why_not)

    def text(self, key: str) -> str:
        """What a value line shows ('health' for the state)."""
        return self.health.text() if key == "health" else self.values[key].text()

    def show_shopfloor(self, s: Shopfloor) -> None:
        """Show the shopfloor as last read."""
        self.shopfloor = s
        now = self._now()
        self.health.setText(health_text(s.health))
        self.health.setProperty("health", HEALTH_STATE[s.health])
        self.health.style().unpolish(self.health)
        self.health.style().polish(self.health)
        v = self.values
        v["heartbeat"].setText(age_text(s.last_heartbeat, now))
        v["capacity"].setText(f"{units(s.capacity)} units/h")
        v["load"].setText(f"{units(s.load)} units")
        v["busy"].setText(span_text(s.load / s.capacity * 3600) if s.capacity > 0 and s.load else "—")
        v["busy"].setToolTip("how long the units assigned and not yet made take at this capacity")
        heard = s.health in (ShopfloorHealth.ONLINE, ShopfloorHealth.LATE)
        v["activity"].setText(s.activity if heard and s.activity else f"— (was {s.activity})" if s.activity else "—")
        v["report"].setText(age_text(s.last_report, now) if s.last_report else "none yet")
        v["report"].setToolTip(when_text(s.last_report, now))
        out = not s.in_dispatch
        v["dispatch"].setText(f"{theme.SHAPE_WARNING} OUT of dispatch" if out else "in dispatch")
        v["dispatch"].setProperty("out", "true" if out else "false")
        v["dispatch"].style().unpolish(v["dispatch"])
        v["dispatch"].style().polish(v["dispatch"])
        if not self._edited and not self.capacity_edit.hasFocus():
            self.capacity_edit.blockSignals(True)
            self.capacity_edit.setValue(s.capacity)
            self.capacity_edit.blockSignals(False)
        self.dispatch_box.setChecked(s.in_dispatch)
        self.setToolTip(f"{s.shopfloor_id}: {s.health.value}; last heartbeat "
                        f"{s.last_heartbeat.isoformat(timespec='seconds') if s.last_heartbeat else 'never'}")  # fmt: skip
        self.health.setAlignment(Qt.AlignmentFlag.AlignCenter)
