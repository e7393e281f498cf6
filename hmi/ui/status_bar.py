"""The status bar: every PLC link, the database, the spool backlog, samples stored, and who is logged in."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from hmi.io.link import LinkState, LinkStatus
from hmi.store.writer import WriterStats
from hmi.ui import theme
from hmi.ui.context import AppContext


def link_text(link: LinkStatus) -> tuple[str, str]:
    """The label text and the state property ("up", "down", "connecting") of one link."""
    if link.state is LinkState.UP:
        return f"{theme.SHAPE_UP} {link.name} up", "up"
    if link.state is LinkState.DOWN:
        return f"{theme.SHAPE_DOWN} {link.name} DOWN", "down"
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


class StatusBar(QStatusBar):
    """Shows the state of the links and the historian; refreshed on ``ctx.status_changed``."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hmi_status_bar")
        self.setSizeGripEnabled(False)
        self._ctx = ctx
        self.link_labels: dict[str, QLabel] = {}
        self.db_label = self._label("status_db")
        self.backlog_label = self._label("status_backlog")
        self.stored_label = self._label("status_stored")
        # Users come with a later issue: until then the slot stays empty rather than show a fake name.
        self.user_label = self._label("status_user", permanent=True)
        ctx.status_changed.connect(self.refresh)
        self.refresh()

    def _label(self, name: str, permanent: bool = False) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        if permanent:
            self.addPermanentWidget(label)
        else:
            self.addWidget(label)
        return label

    def set_user(self, name: str | None) -> None:
        """Show who is logged in (None: nobody, the slot is empty)."""
        self.user_label.setText(f"user: {name}" if name else "")

    def refresh(self) -> None:
        """Read the links and the historian from the context and update the labels."""
        self._refresh_links(self._ctx.links())
        self._refresh_historian(self._ctx.historian())

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
            _set(self.db_label, f"{theme.SHAPE_DOWN} database DOWN", "health", "bad", stats.last_error)
        backlog = stats.spooled_backlog + stats.queued
        # A few queued batches are normal; samples in the spool mean the database is away or too slow.
        growing = stats.spooled_backlog > 0
        text = f"{theme.SHAPE_WARNING} backlog {backlog:,} SPOOLED" if growing else f"backlog {backlog:,}"
        _set(self.backlog_label, text, "health", "warn" if growing else "ok",
             f"{stats.spooled_backlog:,} in the spool, {stats.queued:,} in memory, {stats.dropped:,} dropped")
        _set(self.stored_label, f"stored {stats.stored:,}", "health", "ok")
