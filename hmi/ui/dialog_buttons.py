"""The Cancel / OK row of the HMI's dialogs: OK is the default (Enter), Cancel never is."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QHBoxLayout, QPushButton


def ok_cancel_row(dialog: QDialog, ok_text: str, on_ok: Callable[[], object]) -> tuple[QPushButton, QPushButton, QHBoxLayout]:
    """(ok, cancel, the row to add): OK calls ``on_ok``, Cancel rejects the dialog; object names ok and cancel."""
    ok = QPushButton(ok_text)
    ok.setObjectName("ok")
    ok.setDefault(True)
    ok.clicked.connect(on_ok)
    cancel = QPushButton("Cancel")
    cancel.setObjectName("cancel")
    cancel.setAutoDefault(False)
    cancel.clicked.connect(dialog.reject)
    row = QHBoxLayout()
    row.addStretch(1)
    row.addWidget(cancel)
    row.addWidget(ok)
    return ok, cancel, row
