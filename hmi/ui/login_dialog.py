"""The login dialog: user name and password; the check (bcrypt, the audit record) runs in an executor.

Enter in the password field logs in (Enter in the name field moves on to the password). While the
check runs the dialog says so and takes no second attempt; the window behind keeps updating. A
refusal is said in words in the dialog, the password is cleared and the name kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget,
)

from hmi.domain.audit import AuditUnavailable
from hmi.domain.errors import DatabaseUnavailable, one_line
from hmi.domain.passwords import PasswordRejected
from hmi.domain.users import LoginRefused, UserError, UserInfo
from hmi.ui import theme
from hmi.ui.dialog_tasks import Tasks, in_executor

log = logging.getLogger(__name__)

Check = Callable[[str, str], UserInfo]  # (name, password) -> the user, blocking; raises LoginRefused ...


def refusal_text(error: BaseException, what: str = "log-in") -> str:
    """A refused or failed login (or user creation) in words, for the dialog."""
    if isinstance(error, (LoginRefused, PasswordRejected, UserError)):
        return str(error)
    if isinstance(error, AuditUnavailable):
        return f"{error}; {what} refused"
    if isinstance(error, DatabaseUnavailable):
        return f"{error}; {what} not possible now"
    return f"{what} failed: {one_line(error)}"


class MessageLine(QLabel):
    """A line in a dialog that says what went wrong, with a shape (never colour alone); hidden when empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setMargin(4)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hide()

    def say(self, text: str, bad: bool = True) -> None:
        """Show ``text`` (a problem when ``bad``), or hide the line for an empty text."""
        self.setText((f"{theme.SHAPE_BAD} " if bad and text else "") + text)
        self.setProperty("health", "bad" if bad else "ok")
        self.style().unpolish(self)
        self.style().polish(self)
        self.setVisible(bool(text))

    @property
    def message(self) -> str:
        """The text without its shape."""
        return self.text().removeprefix(f"{theme.SHAPE_BAD} ")


def quiet_button(text: str, parent: QWidget) -> QPushButton:
    """A push button that Enter does not press by itself (the dialogs decide what Enter does)."""
    button = QPushButton(text, parent)
    button.setAutoDefault(False)
    button.setDefault(False)
    return button


class BusyDialog(QDialog):
    """A dialog whose main button runs a blocking ``work`` in an executor, with a busy cue and errors in words."""

    attempted = Signal(str)  # after each attempt: "" when it succeeded, else the message shown

    def __init__(self, parent: QWidget | None, title: str, accept_text: str, cancel_text: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.tasks = Tasks()
        self.busy = False
        self.user: UserInfo | None = None
        self.form = QFormLayout()
        self.heading = QLabel(title, self)
        self.heading.setObjectName("dialog_heading")
        heading_font = self.heading.font()
        heading_font.setPointSize(theme.TITLE_PT)
        heading_font.setBold(True)
        self.heading.setFont(heading_font)
        self.note = QLabel(self)
        self.note.setObjectName("dialog_note")
        self.note.setWordWrap(True)
        self.note.hide()
        self.message = MessageLine(self)
        self.message.setObjectName("dialog_message")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("dialog_busy")
        self.progress.setRange(0, 0)  # moving to and fro: something is being checked
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        self.busy_label = QLabel("", self)
        self.busy_label.setObjectName("dialog_busy_text")
        self.busy_label.hide()
        self.accept_button = quiet_button(accept_text, self)
        self.accept_button.setObjectName("dialog_accept")
        self.accept_button.clicked.connect(self.attempt)
        self.cancel_button = quiet_button(cancel_text, self)
        self.cancel_button.setObjectName("dialog_cancel")
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.accept_button)
        box = QVBoxLayout(self)
        box.addWidget(self.heading)
        box.addWidget(self.note)
        box.addLayout(self.form)
        box.addWidget(self.message)
        box.addWidget(self.busy_label)
        box.addWidget(self.progress)
        box.addLayout(buttons)
        self.setMinimumWidth(460)

    def set_note(self, text: str) -> None:
        """An explanation above the fields (why a login is asked for)."""
        self.note.setText(text)
        self.note.setVisible(bool(text))

    # --- the attempt ------------------------------------------------------------------------------

    def attempt(self) -> None:
        """The main button or Enter: validate, then run the work in the background (once at a time)."""
        if self.busy:
            return
        self.tasks.spawn(self._attempt())

    def validate(self) -> tuple[str, QWidget | None]:
        """A problem with the input ("" when none) and the field to put the cursor in."""
        return "", None

    def work(self) -> Callable[[], UserInfo]:
        """The blocking call to run (it reads the fields now, on the GUI thread)."""
        raise NotImplementedError

    def failed(self) -> None:
        """After a refusal: clear what must be typed again."""

    async def _attempt(self) -> None:
        problem, field = self.validate()
        if problem:
            self.message.say(problem)
            if field is not None:
                field.setFocus()
            self.attempted.emit(problem)
            return
        call = self.work()
        self.message.say("")
        self._set_busy(True)
        try:
            user = await in_executor(call)
        except Exception as error:  # every refusal and failure is shown, never raised into Qt
            if not isinstance(error, (LoginRefused, PasswordRejected, UserError, AuditUnavailable,
                                      DatabaseUnavailable)):
                log.exception("%s failed", self.windowTitle())
            text = refusal_text(error, self.what)
            self._set_busy(False)
            self.message.say(text)
            self.failed()
            self.attempted.emit(text)
            return
        self._set_busy(False)
        self.user = user
        self.message.say("")
        self.attempted.emit("")
        self.accept()

    what = "log-in"
    busy_text = "Checking the password…"

    def _set_busy(self, on: bool) -> None:
        self.busy = on
        self.progress.setVisible(on)
        self.busy_label.setText(self.busy_text if on else "")
        self.busy_label.setVisible(on)
        for widget in self.inputs():
            widget.setEnabled(not on)
        self.accept_button.setEnabled(not on)
        self.cancel_button.setEnabled(not on)
        if on:
            self.setCursor(Qt.CursorShape.BusyCursor)
        else:
            self.unsetCursor()

    def inputs(self) -> list[QWidget]:
        """The fields, disabled while the work runs."""
        return []

    def reject(self) -> None:
        """Cancel / View only / Escape; not while a check runs (its outcome is already on the record)."""
        if self.busy:
            return
        super().reject()


class LoginDialog(BusyDialog):
    """User name and password; ``user`` is set when the dialog is accepted."""

    def __init__(
        self,
        check: Check,
        parent: QWidget | None = None,
        *,
        name: str = "",
        title: str = "Log in",
        note: str = "",
        cancel_text: str = "Cancel",
    ) -> None:
        super().__init__(parent, title, "Log in", cancel_text)
        self.setObjectName("login_dialog")
        self._check = check
        self.name_edit = QLineEdit(name, self)
        self.name_edit.setObjectName("login_name")
        self.name_edit.setMaxLength(64)
        self.password_edit = QLineEdit(self)
        self.password_edit.setObjectName("login_password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.form.addRow("User name", self.name_edit)
        self.form.addRow("Password", self.password_edit)
        self.name_edit.returnPressed.connect(self._name_entered)
        self.password_edit.returnPressed.connect(self.attempt)
        self.set_note(note)
        (self.password_edit if name else self.name_edit).setFocus()

    def _name_entered(self) -> None:
        if self.password_edit.text():
            self.attempt()
        else:
            self.password_edit.setFocus()

    def validate(self) -> tuple[str, QWidget | None]:
        if not self.name_edit.text().strip():
            return "enter your user name", self.name_edit
        if not self.password_edit.text():
            return "enter your password", self.password_edit
        return "", None

    def work(self) -> Callable[[], UserInfo]:
        name, password, check = self.name_edit.text().strip(), self.password_edit.text(), self._check
        return lambda: check(name, password)

    def failed(self) -> None:
        self.password_edit.clear()
        self.password_edit.setFocus()

    def inputs(self) -> list[QWidget]:
        return [self.name_edit, self.password_edit]
