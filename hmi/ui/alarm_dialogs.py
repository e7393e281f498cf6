"""The alarm pane's dialogs: a comment (optional, or a required reason) and shelving (how long and why).

They only collect input; the pane runs the command. Open them with hmi.ui.dialog_tasks.open_dialog
(never exec()), then read ``comment()`` / ``duration_s()`` after an Accepted result.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from hmi.domain.alarm_engine import AlarmError
from hmi.services.alarm_commands import format_duration, parse_duration
from hmi.ui import theme
from hmi.ui.dialog_buttons import ok_cancel_row

SHELVE_PRESETS_S = (15 * 60.0, 30 * 60.0, 3600.0, 2 * 3600.0, 4 * 3600.0, 8 * 3600.0)
MAX_LISTED = 6  # alarms named in a dialog; more are counted


def _stylesheet(p: theme.Palette) -> str:
    return f"""
    QDialog#alarmDialog QLabel[role="heading"] {{ font-size: {theme.TITLE_PT + 1}pt; font-weight: bold; }}
    QDialog#alarmDialog QLabel[role="alarms"] {{ color: {p.text}; }}
    QDialog#alarmDialog QLabel[role="error"] {{ color: {theme.ALARM_HIGH}; font-weight: bold; }}
    QDialog#alarmDialog QLineEdit, QDialog#alarmDialog QComboBox {{ padding: 3px 6px; }}
    QDialog#alarmDialog QPushButton {{ padding: 6px 16px; }}
    """


def alarm_lines(names: Sequence[str]) -> str:
    """The alarms a command is about, one a line, the rest counted."""
    shown = [f"• {n}" for n in names[:MAX_LISTED]]
    if len(names) > MAX_LISTED:
        shown.append(f"… and {len(names) - MAX_LISTED} more")
    return "\n".join(shown)


class _AlarmDialog(QDialog):
    """The frame both dialogs share: heading, the alarms concerned, a form, an error line, the buttons."""

    def __init__(self, title: str, heading: str, names: Sequence[str], ok_text: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setObjectName("alarmDialog")
        self.setWindowTitle(title)
        self.setModal(True)
        self.setStyleSheet(_stylesheet(theme.current()))
        head = QLabel(heading)
        head.setProperty("role", "heading")
        head.setWordWrap(True)
        alarms = QLabel(alarm_lines(list(names)))
        alarms.setObjectName("alarmList")
        alarms.setProperty("role", "alarms")
        self.form = QFormLayout()
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.ok_button, self.cancel_button, buttons = ok_cancel_row(self, ok_text, self._try_accept)
        box = QVBoxLayout(self)
        box.addWidget(head)
        box.addWidget(alarms)
        box.addLayout(self.form)
        box.addWidget(self.error)
        box.addLayout(buttons)
        self.setMinimumWidth(520)

    def problem(self) -> str:
        """Why the input cannot be accepted yet ('' when it can)."""
        return ""

    def _try_accept(self) -> None:
        problem = self.problem()
        if problem:
            self.error.setText(f"{theme.SHAPE_BAD} {problem}")
            return
        self.accept()


class CommentDialog(_AlarmDialog):
    """Asks for a comment on a command over some alarms; with ``required`` it is a reason and must be given."""

    def __init__(
        self,
        title: str,
        heading: str,
        names: Sequence[str],
        ok_text: str,
        required: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(title, heading, names, ok_text, parent)
        self.required = required
        self.comment_edit = QLineEdit()
        self.comment_edit.setObjectName("comment")
        self.comment_edit.setPlaceholderText("required: why" if required else "optional")
        self.comment_edit.returnPressed.connect(self._try_accept)
        self.form.addRow("Reason" if required else "Comment", self.comment_edit)
        self.comment_edit.setFocus()

    def comment(self) -> str:
        """The comment (or reason) as typed, trimmed."""
        return self.comment_edit.text().strip()

    def problem(self) -> str:  # noqa: D102
        return "give a reason" if self.required and not self.comment() else ""


class ShelveDialog(_AlarmDialog):
    """Asks how long to shelve (presets up to the configured maximum, or typed: 45m, 1h30m) and why."""

    def __init__(self, names: Sequence[str], max_s: float, parent: QWidget | None = None) -> None:
        n = len(names)
        heading = f"Shelve {'this alarm' if n == 1 else f'these {n} alarms'}: it stays off the list and silent " \
                  f"until the time is up (at most {format_duration(max_s)})"
        super().__init__("Shelve alarms", heading, names, "Shelve", parent)
        self.max_s = max_s
        self.duration_box = QComboBox()
        self.duration_box.setObjectName("duration")
        self.duration_box.setEditable(True)
        for seconds in SHELVE_PRESETS_S:
            if seconds <= max_s:
                self.duration_box.addItem(format_duration(seconds), seconds)
        if self.duration_box.count() == 0:
            self.duration_box.addItem(format_duration(max_s), max_s)
        self.duration_box.setCurrentIndex(min(1, self.duration_box.count() - 1))
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("reason")
        self.reason_edit.setPlaceholderText("required: why (e.g. instrument being recalibrated)")
        self.reason_edit.returnPressed.connect(self._try_accept)
        self.form.addRow("For", self.duration_box)
        self.form.addRow("Reason", self.reason_edit)
        self.reason_edit.setFocus()

    def set_duration_text(self, text: str) -> None:
        """Type a duration ('45m', '2h', '1h30m')."""
        self.duration_box.setEditText(text)

    def duration_s(self) -> float:
        """The shelving time in seconds; AlarmError when the text is not a duration."""
        text = self.duration_box.currentText()
        index = self.duration_box.findText(text)
        if index >= 0 and self.duration_box.itemData(index) is not None:
            return float(self.duration_box.itemData(index))
        return parse_duration(text)

    def comment(self) -> str:
        """The reason as typed, trimmed."""
        return self.reason_edit.text().strip()

    def problem(self) -> str:  # noqa: D102
        try:
            seconds = self.duration_s()
        except AlarmError as error:
            return str(error)
        if not 0 < seconds <= self.max_s:
            return f"shelve for more than 0 and at most {format_duration(self.max_s)}"
        return "" if self.comment() else "give a reason"
