"""The andon board's dialogs: Resolve (a reason code from the config and an optional note) and Raise call
(a category and an optional note). Both stay open with the service's refusal under the form until it
succeeds (hmi.ui.order_dialogs.FormDialog); open them with hmi.ui.dialog_tasks.open_dialog.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from hmi.domain.andon import MAX_NOTE, AndonCall, Category, Reason
from hmi.ui.order_dialogs import FormDialog


@dataclass(frozen=True)
class Resolution:
    """What the Resolve dialog asks the service to do."""

    call_id: int
    reason_code: str
    note: str


@dataclass(frozen=True)
class NewCall:
    """What the Raise call dialog asks the service to raise."""

    line: str
    category: Category
    note: str


def _note(placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName("note")
    edit.setMaxLength(MAX_NOTE)
    edit.setPlaceholderText(placeholder)
    return edit


class ResolveDialog(FormDialog):
    """Asks for the reason code (and a note) of a call's resolution; ``submit(Resolution)`` resolves it."""

    def __init__(self, call: AndonCall, reasons: Sequence[Reason], submit: Callable[[Resolution], Awaitable[object]],
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(f"Resolve call {call.call_id}", f"Resolve call {call.call_id} on {call.line} "
                         f"({call.category.value}): why did the line stop?", "Resolve", "Not resolved", submit,
                         parent)  # fmt: skip
        self.call = call
        self.reason = QComboBox()
        self.reason.setObjectName("reason")
        self.reason.addItem("— choose a reason —", None)
        for r in reasons:
            self.reason.addItem(f"{r.text} ({r.code})", r.code)
        self.note = _note("optional: what was done")
        self.form.addRow("Reason", self.reason)
        self.form.addRow("Note", self.note)

    def choose(self, code: str) -> None:
        """Pick a reason by its code (tests)."""
        self.reason.setCurrentIndex(self.reason.findData(code))

    def problem(self) -> str:
        """A reason code is required."""
        return "" if self.reason.currentData() else "Reason: choose why the line stopped"

    def values(self) -> Resolution:
        """The resolution as chosen."""
        return Resolution(self.call.call_id, str(self.reason.currentData()), self.note.text())


class RaiseDialog(FormDialog):
    """Asks for the category (and a note) of a call raised by hand; ``submit(NewCall)`` raises it."""

    def __init__(self, line: str, submit: Callable[[NewCall], Awaitable[object]], parent: QWidget | None = None) -> None:
        super().__init__(f"Raise call on {line}", f"Raise an andon call on {line}: what help is needed?",
                         "Raise call", "Not raised", submit, parent)  # fmt: skip
        self.line = line
        self.category = QComboBox()
        self.category.setObjectName("category")
        for c in Category:
            self.category.addItem(c.value, c)
        self.note = _note("optional: what is wrong")
        self.form.addRow("Category", self.category)
        self.form.addRow("Note", self.note)

    def choose(self, category: Category) -> None:
        """Pick a category (tests)."""
        self.category.setCurrentIndex(self.category.findData(category))

    def values(self) -> NewCall:
        """The call as chosen."""
        return NewCall(self.line, Category(self.category.currentData()), self.note.text())
