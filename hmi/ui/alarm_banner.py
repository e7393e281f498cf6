"""The alarm banner across the top of the main window: the newest highest-priority unacknowledged alarm,
the unacknowledged counts by priority, and the Silence button of the alarm sounds.

Calm grey with "No unacknowledged alarms" when there are none. An alarm is shown with its priority as a
diamond with the number, its time, message and value, readable from two metres; a click on it asks the
window to show that alarm in the alarm pane. Like the pane, it looks at the alarm center's ``version``
once per refresh tick and does nothing when it has not changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import tzinfo

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from hmi.domain.alarm_engine import AlarmStatus
from hmi.services.alarm_center import AlarmCenter
from hmi.ui import theme
from hmi.ui.alarm_model import UNACKED, AlarmLabels, paint_priority, priority_colour, time_text
from hmi.ui.alarm_sounds import AlarmSounds
from hmi.ui.context import AppContext

NONE_TEXT = "No unacknowledged alarms"
NO_SYSTEM_TEXT = "No alarm system in this window"
BANNER_PT = 18  # the alarm's text: readable from two metres
COUNT_PT = 15
PRIORITIES = (1, 2, 3, 4)


def stylesheet(p: theme.Palette) -> str:
    """The banner's QSS: the panel grey; an alarm's priority colour only on its diamond and on non-zero counts."""
    count_rules = "\n".join(
        f'QLabel#bannerCount[prio="{n}"][some="true"] {{ background: {priority_colour(n)}; '
        f'color: {"#FFFFFF" if n == 1 else "#000000"}; font-weight: bold; }}'
        for n in PRIORITIES
    )
    return f"""
    QFrame#alarmBanner {{ background: {p.panel}; border-bottom: 2px solid {p.border}; }}
    QFrame#alarmBanner[alarm="true"] {{ border-bottom: 2px solid {p.text}; }}
    QFrame#alarmBanner QLabel {{ background: transparent; color: {p.text}; }}
    QLabel#bannerText {{ font-size: {BANNER_PT}pt; font-weight: bold; }}
    QFrame#alarmBanner[alarm="false"] QLabel#bannerText {{ color: {p.muted}; font-weight: normal; }}
    QLabel#bannerCount {{ font-size: {COUNT_PT}pt; padding: 2px 8px; border: 1px solid {p.border}; }}
    {count_rules}
    QPushButton#bannerSilence {{ font-size: {COUNT_PT}pt; padding: 4px 14px; }}
    """


class PriorityBadge(QWidget):
    """The priority of the banner's alarm as the pane shows it: a diamond in its colour with the number."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.priority: int | None = None
        self.setFixedSize(QSize(46, 46))

    def set_priority(self, priority: int | None) -> None:
        """Show this priority, or nothing."""
        if priority != self.priority:
            self.priority = priority
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Paint the diamond."""
        if self.priority is None:
            return
        font = QFont(self.font())
        font.setPointSize(BANNER_PT)
        font.setBold(True)
        painter = QPainter(self)
        paint_priority(painter, QRectF(self.rect()).adjusted(1, 1, -1, -1), self.priority, False, font)
        painter.end()


class AlarmBanner(QFrame):
    """The top strip: newest most urgent unacknowledged alarm, counts P1–P4, Silence; click to see the alarm."""

    alarm_clicked = Signal(str)  # the alarm_id shown, to raise the alarm pane on it

    def __init__(
        self,
        ctx: AppContext,
        sounds: AlarmSounds | None = None,
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("alarmBanner")
        self.ctx = ctx
        self.sounds = sounds if sounds is not None else AlarmSounds(parent=self)
        self._clock = clock
        self._tz = tz
        self._center: AlarmCenter | None = None
        self._labels: AlarmLabels | None = None
        self._version = -1
        self.top: AlarmStatus | None = None
        self.full_text = NONE_TEXT  # what the text label says before it is elided to fit
        self.counts: dict[int, int] = dict.fromkeys(PRIORITIES, 0)
        self._build()
        ctx.tick.connect(lambda _changed: self.refresh())
        ctx.status_changed.connect(self.refresh)
        self.sounds.changed.connect(self._show_silence)
        theme.signals().changed.connect(self._on_theme)
        self._on_theme(theme.current())
        self.refresh(force=True)

    def _build(self) -> None:
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(56)
        self.badge = PriorityBadge()
        self.text = QLabel(NONE_TEXT)
        self.text.setObjectName("bannerText")
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # long messages clip
        self.count_labels: dict[int, QLabel] = {}
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 4, 8, 4)
        row.setSpacing(10)
        row.addWidget(self.badge)
        row.addWidget(self.text, 1)
        for n in PRIORITIES:
            label = QLabel(f"P{n} 0")
            label.setObjectName("bannerCount")
            label.setProperty("prio", str(n))
            label.setProperty("some", "false")
            label.setToolTip(f"Unacknowledged alarms of priority {n}")
            self.count_labels[n] = label
            row.addWidget(label)
        self.silence_button = QPushButton("♪ Silence")
        self.silence_button.setObjectName("bannerSilence")
        self.silence_button.setAutoDefault(False)
        self.silence_button.setCursor(Qt.CursorShape.ArrowCursor)
        self.silence_button.setToolTip("Silence the alarm sounds now; an alarm that comes in later sounds again")
        self.silence_button.clicked.connect(self.sounds.silence)
        row.addWidget(self.silence_button)
        self._show_silence()

    def _on_theme(self, palette: theme.Palette) -> None:
        self.setStyleSheet(stylesheet(palette))

    # --- what it shows -----------------------------------------------------------------------------

    def refresh(self, force: bool = False) -> None:
        """Redo the banner (and the sounds) if the alarm center changed since the last look."""
        center = self.ctx.alarms
        if center is not self._center:
            self._center, self._version = center, -1
            self._labels = AlarmLabels(self.ctx.plant, center.definitions) if center is not None else None
        if center is None:
            if force or self._version != -2:
                self._version = -2
                self._show(None, dict.fromkeys(PRIORITIES, 0), NO_SYSTEM_TEXT)
            return
        if center.version == self._version and not force:
            return
        self._version = center.version
        alarms = center.active()
        self.sounds.update(alarms)
        self.show_alarms(alarms)

    def show_alarms(self, alarms: Sequence[AlarmStatus]) -> None:
        """Show the first unacknowledged alarm of a list in alarm order (priority, then newest) and the counts."""
        counts = dict.fromkeys(PRIORITIES, 0)
        top = None
        for s in alarms:
            if s.state in UNACKED:
                counts[s.priority] = counts.get(s.priority, 0) + 1
                if top is None:
                    top = s
        self._show(top, counts, NONE_TEXT)

    def _show(self, top: AlarmStatus | None, counts: dict[int, int], calm: str) -> None:
        self.top, self.counts = top, counts
        for n, label in self.count_labels.items():
            label.setText(f"P{n} {counts.get(n, 0)}")
            _set_style_flag(label, "some", bool(counts.get(n, 0)))
        if top is None:
            self.badge.set_priority(None)
            self._set_text(calm)
            self.setToolTip("")
        else:
            self.badge.set_priority(top.priority)
            self._set_text(self.alarm_text(top))
            self.setToolTip(f"Priority {top.priority}: {top.message}\nClick to show it in the alarm pane")
        _set_style_flag(self, "alarm", top is not None)

    def _set_text(self, text: str) -> None:
        self.full_text = text
        self._elide()

    def _elide(self) -> None:
        # The message comes last, so a narrow window cuts the end of the message, never the value.
        width = max(0, self.text.width() - 4)
        self.text.setText(QFontMetrics(self.text.font()).elidedText(self.full_text, Qt.TextElideMode.ElideRight, width))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        """Elide the text anew to the new width."""
        super().resizeEvent(event)
        self._elide()

    def alarm_text(self, s: AlarmStatus) -> str:
        """'P1  ·  14:03:21  ·  95.2 °C  ·  Reactor temperature high-high': what the banner says of an alarm."""
        t = s.activated_at if s.activated_at is not None else s.since
        value = self._labels.value(s) if self._labels is not None else ""
        returned = " (returned)" if not s.active else ""
        return f"P{s.priority}  ·  {time_text(t, self._clock(), self._tz)}  ·  {value}{returned}  ·  {s.message or s.alarm_id}"

    def counts_text(self) -> str:
        """'P1 2 · P2 0 · P3 5 · P4 1'."""
        return " · ".join(self.count_labels[n].text() for n in PRIORITIES)

    def _show_silence(self) -> None:
        sounding = bool(self.sounds.sounding)
        self.silence_button.setEnabled(sounding)
        self.silence_button.setText("♪ Silence" if sounding or not self.sounds.silenced else "♪ Silenced")

    # --- clicking ----------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """A click on the banner shows its alarm in the alarm pane."""
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self.top is not None:
            self.alarm_clicked.emit(self.top.alarm_id)


def _set_style_flag(widget: QWidget, name: str, on: bool) -> None:
    # Polishing anew restyles the widget from the style sheet: in a flood the banner is redone a few times
    # a second with the same flags, so only a flag that changed is worth it.
    value = "true" if on else "false"
    if widget.property(name) == value:
        return
    widget.setProperty(name, value)
    widget.style().unpolish(widget)
    widget.style().polish(widget)
