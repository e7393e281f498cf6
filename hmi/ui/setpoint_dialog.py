"""The setpoint dialog: enter a twin's new setpoint, confirm old → new, write it to the PLC through the service.

Three steps on one dialog: enter (the twin, the tag, the current value, the allowed range and the new
value), confirm (old → new in large type, "Write to PLC" or "Cancel"), and the outcome in words. The
write runs through ``ctx.command`` (in an executor, as the session's user; a locked station asks for a
login first), never on the GUI thread. The service checks the permission, the range and audits it.
"""

from __future__ import annotations

import asyncio
import logging
import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from hmi.domain.permissions import PermissionDenied
from hmi.domain.plant import TagSpec
from hmi.domain.session import SessionLocked
from hmi.domain.setpoints import (
    SetpointRejected,
    SetpointWriteError,
    format_number,
    format_setpoint,
    range_text,
    requested_setpoint,
)
from hmi.services.setpoints import SetpointWritten, write_setpoint
from hmi.ui import theme
from hmi.ui.context import AppContext, NoCommands

log = logging.getLogger(__name__)

CONFIRM_PT = 28  # old → new: readable from two metres
ENTER, CONFIRM, OUTCOME = 0, 1, 2


def _stylesheet(p: theme.Palette) -> str:
    return f"""
    QDialog#setpointDialog QLabel {{ font-size: {theme.BASE_PT + 1}pt; }}
    QDialog#setpointDialog QLabel[role="heading"] {{ font-size: {theme.TITLE_PT + 2}pt; font-weight: bold; }}
    QDialog#setpointDialog QLabel[role="current"] {{ font-size: {theme.VALUE_PT - 4}pt; font-weight: bold; }}
    QDialog#setpointDialog QLineEdit {{ font-size: {theme.VALUE_PT - 4}pt; font-weight: bold; padding: 2px 6px; }}
    QDialog#setpointDialog QLabel[role="old"] {{ font-size: {CONFIRM_PT}pt; color: {p.muted}; }}
    QDialog#setpointDialog QLabel[role="arrow"] {{ font-size: {CONFIRM_PT}pt; }}
    QDialog#setpointDialog QLabel[role="new"] {{ font-size: {CONFIRM_PT}pt; font-weight: bold; }}
    QDialog#setpointDialog QLabel[role="caption"] {{ color: {p.muted}; }}
    QDialog#setpointDialog QLabel[role="error"] {{ color: {theme.ALARM_HIGH}; font-weight: bold; }}
    QDialog#setpointDialog QLabel[role="outcome"] {{ font-size: {theme.TITLE_PT + 2}pt; font-weight: bold; }}
    QDialog#setpointDialog QPushButton {{ font-size: {theme.BASE_PT + 1}pt; padding: 6px 16px; }}
    """


def _label(text: str, name: str, role: str = "", parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName(name)
    if role:
        label.setProperty("role", role)
    return label


def _button(text: str, name: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setAutoDefault(False)
    return button


class SetpointDialog(QDialog):
    """Asks for a setpoint tag's new value, shows old → new to confirm, and writes it through the service."""

    def __init__(self, ctx: AppContext, spec: TagSpec, twin_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.spec = spec
        self.twin_name = twin_name
        self.requested: float | None = None
        self.written: SetpointWritten | None = None
        self.write_task: asyncio.Future | None = None
        self.setObjectName("setpointDialog")
        self.setWindowTitle(f"Setpoint of {twin_name}")
        self.setModal(True)
        self.setStyleSheet(_stylesheet(theme.current()))

        self.pages = QStackedWidget(self)
        self.pages.addWidget(self._enter_page())
        self.pages.addWidget(self._confirm_page())
        self.pages.addWidget(self._outcome_page())
        outer = QVBoxLayout(self)
        outer.addWidget(self.pages)
        self.ctx.tick.connect(self._on_tick)
        self.show_enter()

    # -- the three steps -------------------------------------------------------------------------

    def _enter_page(self) -> QWidget:
        page = QWidget()
        spec = self.spec
        box = QVBoxLayout(page)
        box.addWidget(_label(f"{self.twin_name}: new setpoint", "heading", "heading"))
        form = QFormLayout()
        form.addRow("Tag", _label(f"{spec.tag_id}  (PLC {spec.endpoint})", "tag"))
        self.current_label = _label("", "current", "current")
        form.addRow("Current", self.current_label)
        form.addRow("Allowed", _label(range_text(spec), "range"))
        self.input = QLineEdit()
        self.input.setObjectName("newValue")
        self.input.setPlaceholderText(f"e.g. {format_number(spec, (spec.eng_low + spec.eng_high) / 2)}")
        self.input.returnPressed.connect(self._next)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(_label(spec.unit, "unit"))
        form.addRow("New value", row)
        box.addLayout(form)
        self.error_label = _label("", "error", "error")
        self.error_label.setWordWrap(True)
        box.addWidget(self.error_label)
        box.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        cancel = _button("Cancel", "cancel")
        cancel.clicked.connect(self.reject)
        self.next_button = _button("Next…", "next")
        self.next_button.clicked.connect(self._next)
        buttons.addWidget(cancel)
        buttons.addWidget(self.next_button)
        box.addLayout(buttons)
        return page

    def _confirm_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.addWidget(_label(f"Write this setpoint of {self.twin_name} to the PLC?", "question", "heading"))
        box.addWidget(_label(f"{self.spec.tag_id} on {self.spec.endpoint}", "confirmTag"))
        change = QGridLayout()
        change.setHorizontalSpacing(16)
        change.setColumnStretch(0, 1)
        change.setColumnStretch(4, 1)
        self.old_label = _label("", "old", "old")
        self.arrow_label = _label("→", "arrow", "arrow")
        self.new_label = _label("", "new", "new")
        center = Qt.AlignmentFlag.AlignHCenter
        for col, w in enumerate((self.old_label, self.arrow_label, self.new_label), start=1):
            change.addWidget(w, 0, col, center)
        change.addWidget(_label("now", "oldCaption", "caption"), 1, 1, center)
        change.addWidget(_label("new", "newCaption", "caption"), 1, 3, center)
        box.addSpacing(12)
        box.addLayout(change)
        box.addSpacing(12)
        self.confirm_note = _label("", "confirmNote")
        self.confirm_note.setWordWrap(True)
        box.addWidget(self.confirm_note)
        box.addStretch(1)
        buttons = QHBoxLayout()
        back = _button("Back", "back")
        back.clicked.connect(self.show_enter)
        buttons.addWidget(back)
        buttons.addStretch(1)
        cancel = _button("Cancel", "cancelConfirm")
        cancel.clicked.connect(self.reject)
        self.write_button = _button("Write to PLC", "write")
        self.write_button.clicked.connect(self._write_clicked)
        buttons.addWidget(cancel)
        buttons.addWidget(self.write_button)
        box.addLayout(buttons)
        return page

    def _outcome_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        self.outcome_label = _label("", "outcome", "outcome")
        self.outcome_label.setWordWrap(True)
        self.detail_label = _label("", "outcomeDetail")
        self.detail_label.setWordWrap(True)
        self.detail_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.addWidget(self.outcome_label)
        box.addWidget(self.detail_label)
        box.addStretch(1)
        buttons = QHBoxLayout()
        self.retry_button = _button("Back", "retry")
        self.retry_button.clicked.connect(self.show_enter)
        buttons.addWidget(self.retry_button)
        buttons.addStretch(1)
        self.close_button = _button("Close", "close")
        self.close_button.clicked.connect(self.accept)
        buttons.addWidget(self.close_button)
        box.addLayout(buttons)
        return page

    def current_value(self) -> float | None:
        """The setpoint as the PLC last reported it, or None."""
        tv = self.ctx.latest(self.spec.tag_id)
        value = None if tv is None else tv.value
        return value if isinstance(value, float) and math.isfinite(value) else None

    def show_enter(self) -> None:
        """Step 1: the current value and the range; the input keeps what was typed."""
        current = self.current_value()
        self.current_label.setText(format_setpoint(self.spec, current) if current is not None
                                   else "unknown (no value from the PLC yet)")
        if not self.input.text() and current is not None:
            self.input.setText(format_number(self.spec, current))
        self.input.selectAll()
        self.error_label.setText("")
        self.pages.setCurrentIndex(ENTER)
        self.next_button.setDefault(True)
        self.input.setFocus()

    def _next(self) -> None:
        """Step 2, if the input is a valid setpoint; otherwise say why on step 1."""
        try:
            value = requested_setpoint(self.spec, self.input.text())
        except SetpointRejected as rejected:
            self.error_label.setText(f"✖ {rejected}")
            self.input.setFocus()
            return
        self.requested = value
        current = self.current_value()
        self.old_label.setText(format_setpoint(self.spec, current))
        self.new_label.setText(format_setpoint(self.spec, value))
        note = "It takes effect on the PLC at once."
        if current is not None and current == value:
            note = "This is the setpoint the PLC has now; writing it changes nothing. " + note
        self.confirm_note.setText(note)
        self.write_button.setEnabled(True)
        self.pages.setCurrentIndex(CONFIRM)
        self.write_button.setDefault(True)
        self.write_button.setFocus()

    # -- the write -------------------------------------------------------------------------------

    def confirmation_text(self) -> str:
        """What the confirmation shows, e.g. "100.0 Nm → 120.0 Nm"."""
        return f"{self.old_label.text()} {self.arrow_label.text()} {self.new_label.text()}"

    def outcome_text(self) -> str:
        """The outcome in words (headline and detail)."""
        return f"{self.outcome_label.text()}\n{self.detail_label.text()}".strip()

    def _write_clicked(self) -> None:
        if self.requested is None or (self.write_task is not None and not self.write_task.done()):
            return
        self.write_button.setEnabled(False)
        self.write_task = asyncio.ensure_future(self.write(self.requested))

    async def write(self, value: float) -> bool:
        """Write through the service as the session's user; shows the outcome; True when the PLC took it."""
        spec, current = self.spec, self.current_value()
        writer = self.ctx.setpoint_writer
        plant = self.ctx.plant

        def send(tag_id: str, number: float) -> None:
            if writer is None:
                raise SetpointWriteError("this window has no connection to the PLCs; nothing was written")
            writer(tag_id, number)

        self._show_outcome("Writing to the PLC…", f"{spec.tag_id}: {format_setpoint(spec, current)} → "
                           f"{format_setpoint(spec, value)}", busy=True)
        try:
            written = await self.ctx.command(
                lambda commands: write_setpoint(commands, plant, send, spec.tag_id, value, current)
            )
        except (PermissionDenied, SessionLocked, NoCommands, SetpointRejected, SetpointWriteError) as exc:
            self._show_outcome("✖ Not written", str(exc))
            return False
        except Exception as exc:  # the audit trail or the database is away, or anything unforeseen
            log.exception("writing %s failed", spec.tag_id)
            self._show_outcome("✖ Not written", str(exc) or type(exc).__name__)
            return False
        self.written = written
        self._show_outcome(f"✔ Written: {written.old} → {written.new}", self._reported_text())
        return True

    def _reported_text(self) -> str:
        written = self.written
        if written is None:
            return ""
        current = self.current_value()
        if current is not None and current == written.value:
            return f"The PLC reports the setpoint of {self.twin_name} is now {written.new}."
        return f"Sent to {self.spec.endpoint}; waiting for the PLC to report {written.new} back."

    def _show_outcome(self, headline: str, detail: str, busy: bool = False) -> None:
        self.outcome_label.setText(headline)
        self.detail_label.setText(detail)
        self.retry_button.setVisible(not busy and self.written is None)
        self.close_button.setEnabled(not busy)
        self.pages.setCurrentIndex(OUTCOME)
        if not busy:
            self.close_button.setDefault(True)
            self.close_button.setFocus()

    def _on_tick(self, changed: set[str]) -> None:
        if self.spec.tag_id not in changed:
            return
        if self.pages.currentIndex() == OUTCOME and self.written is not None:
            self.detail_label.setText(self._reported_text())
        elif self.pages.currentIndex() == ENTER:
            current = self.current_value()
            if current is not None:
                self.current_label.setText(format_setpoint(self.spec, current))

    def reject(self) -> None:
        """Cancel (not while a write is under way: its outcome must be seen)."""
        if self.write_task is not None and not self.write_task.done():
            return
        super().reject()

    def done(self, result: int) -> None:  # noqa: D401 - Qt's name
        if self.write_task is not None and not self.write_task.done() and result != QDialog.DialogCode.Accepted:
            return
        try:
            self.ctx.tick.disconnect(self._on_tick)
        except (RuntimeError, TypeError):
            pass
        super().done(result)
