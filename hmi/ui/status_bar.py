"""The status bar: every PLC link, the database, the spool backlog, samples stored, and who is logged in."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from hmi.domain.historian import WriterStats
from hmi.domain.links import LinkState, LinkStatus
from hmi.ui import theme
from hmi.ui.context import AppContext


def link_text(link: LinkStatus) -> tuple[str, str]:
    """The label text and the state property ("up", "down", "connecting") of one link."""
    if link.state is LinkState.UP:
        return f"{theme.SHAPE_UP} {link.name} up", "up"
    if link.state is LinkState.DOWN:
        why = f" ({link.reason})" if link.reason else ""
        return f"{theme.SHAPE_DOWN} {link.name} DOWN{why}", "down"
    if link.state is LinkState.STOPPED:
        return f"{theme.SHAPE_DOWN} {link.name} stopped", "down"
    return f"{theme.SHAPE_CONNECTING} {link.name} connecting", "connecting"


def _set(label: QLabel, text: str, prop: str, value: str, tip: str = "") -> None:
    """Change a label only when something changed: the bar refreshes five times a second."""
    if label.text() != text:
        label.setText(text)
    if label.toolTip() != tip:
        label.setToolTip(tip)
    if label.property(prop) != value:
        label.setProperty(prop, value)
        label.style().unpolish(label)
        label.style().polish(label)


VIEW_ONLY = "View only — log in to give commands"
LOCKED = "Locked — last user"


def user_text(ctx: AppContext) -> tuple[str, str]:
    """The user slot's text and health ("ok", "warn") for the session, in words.

    Without a database for commands there is nobody to log in: the slot stays empty.
    """
    if ctx.commands is None:
        return "", "ok"
    s = ctx.session
    if s.user is None:
        return VIEW_ONLY, "ok"
    if s.locked:
        return f"{LOCKED} {s.user.name} ({s.user.role})", "warn"
    return f"{s.user.name} · {s.user.role}", "ok"


class UserSlot(QLabel):
    """The user slot: who is logged in; a click opens the login dialog.

    A locked station shows a padlock before the words. It is drawn, not a character: the emoji
    U+1F512 is missing from the fonts of many plant PCs and would show as an empty box.
    """

    clicked = Signal()
    ICON_W = 18

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.locked = False

    def set_locked(self, on: bool) -> None:
        """Show the padlock (or not)."""
        if on != self.locked:
            self.locked = on
            self.setContentsMargins(self.ICON_W if on else 0, 0, 0, 0)
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        super().paintEvent(event)
        if not self.locked:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = self.palette().color(self.foregroundRole())
        h = min(self.height() - 6, 16)
        x, y = 6.0, (self.height() - h) / 2
        body = QRectF(x, y + h * 0.45, h * 0.75, h * 0.55)
        painter.setPen(QPen(colour, 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        shackle = QRectF(body.left() + body.width() * 0.18, y + 1, body.width() * 0.64, h * 0.7)
        painter.drawArc(shackle, 0, 180 * 16)
        painter.drawLine(QPointF(shackle.left(), shackle.center().y()), QPointF(shackle.left(), body.top()))
        painter.drawLine(QPointF(shackle.right(), shackle.center().y()), QPointF(shackle.right(), body.top()))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(body, 1.5, 1.5)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
            event.accept()
            return
        super().mousePressEvent(event)


class StatusBar(QStatusBar):
    """Shows the state of the links and the historian (on ``ctx.status_changed``) and the user (on ``session_changed``)."""

    user_clicked = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hmi_status_bar")
        self.setSizeGripEnabled(False)
        self._ctx = ctx
        self.link_labels: dict[str, QLabel] = {}
        self.db_label = self._label("status_db")
        self.backlog_label = self._label("status_backlog")
        self.stored_label = self._label("status_stored")
        self.journal_label = self._label("status_alarm_journal")
        self.journal_label.setVisible(False)
        self.user_label = UserSlot(self)
        self.user_label.setObjectName("status_user")
        self.user_label.setCursor(Qt.CursorShape.PointingHandCursor)
        self.user_label.clicked.connect(self.user_clicked)
        self.addPermanentWidget(self.user_label)
        ctx.status_changed.connect(self.refresh)
        ctx.session_changed.connect(self.refresh_user)
        self.refresh()
        self.refresh_user()

    def _label(self, name: str, permanent: bool = False) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        if permanent:
            self.addPermanentWidget(label)
        else:
            self.addWidget(label)
        return label

    def refresh_user(self) -> None:
        """Show who is logged in, or that the station is view only or locked (words, not colour alone)."""
        text, health = user_text(self._ctx)
        tip = "" if not text else "Click to log in" if self._ctx.session.locked else "Click to switch user"
        self.user_label.set_locked(health == "warn")
        _set(self.user_label, text, "health", health, tip)

    def refresh(self) -> None:
        """Read the links and the historian from the context and update the labels."""
        self._refresh_links(self._ctx.links())
        self._refresh_historian(self._ctx.historian())
        self._refresh_journal()

    def _refresh_journal(self) -> None:
        """The alarm journal shows only when it cannot write: the alarms still work, their record waits."""
        alarms = self._ctx.alarms
        stats = alarms.stats() if alarms is not None else None
        if stats is None or stats.db_ok:
            self.journal_label.setVisible(False)
            return
        self.journal_label.setVisible(True)
        tip = (f"The alarms work on this workstation; {stats.queued:,} alarm events wait for the database "
               f"({stats.last_error})")  # fmt: skip
        _set(self.journal_label, f"{theme.SHAPE_WARNING} alarm journal waiting: {stats.queued:,}", "health", "warn", tip)

    def _refresh_links(self, links: tuple[LinkStatus, ...]) -> None:
        for link in links:
            label = self.link_labels.get(link.name)
            if label is None:
                label = QLabel(self)
                label.setObjectName(f"status_link_{link.name}")
                self.insertWidget(len(self.link_labels), label)
                self.link_labels[link.name] = label
            text, state = link_text(link)
            _set(label, text, "linkState", state, link.detail)

    def _refresh_historian(self, stats: WriterStats | None) -> None:
        if stats is None:
            for label in (self.db_label, self.backlog_label, self.stored_label):
                label.setVisible(False)
            return
        if stats.db_ok:
            _set(self.db_label, f"{theme.SHAPE_UP} database ok", "health", "ok")
        else:
            # The reason is short ("connection refused", "no schema: run hmi db upgrade"); the tooltip has it whole.
            reason = stats.last_error if len(stats.last_error) <= 48 else stats.last_error[:47] + "…"
            _set(self.db_label, f"{theme.SHAPE_DOWN} database DOWN: {reason}" if reason else f"{theme.SHAPE_DOWN} database DOWN",
                 "health", "bad", stats.last_error)  # fmt: skip
        backlog = stats.spooled_backlog + stats.queued
        # A few queued batches are normal; samples in the spool mean the database is away or too slow.
        growing = stats.spooled_backlog > 0
        text = f"{theme.SHAPE_WARNING} backlog {backlog:,} SPOOLED" if growing else f"backlog {backlog:,}"
        _set(self.backlog_label, text, "health", "warn" if growing else "ok",
             f"{stats.spooled_backlog:,} in the spool, {stats.queued:,} in memory, {stats.dropped:,} dropped")
        _set(self.stored_label, f"stored {stats.stored:,}", "health", "ok")
