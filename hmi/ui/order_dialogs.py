"""The orders pane's New order dialog: product, quantity, material, due date-time, priority.

It checks what it can itself (a message under the form names the field and what to do), then hands
the values to ``submit`` (the pane's call of the service) and stays open until that succeeds: a
refusal of the service (unknown material, not allowed) is shown in the dialog, the input kept.
Open it with hmi.ui.dialog_tasks.open_dialog (never exec()).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from hmi.domain.errors import one_line
from hmi.domain.orders import Material
from hmi.ui import theme
from hmi.ui.dialog_tasks import Tasks
from hmi.ui.order_text import units

log = logging.getLogger(__name__)

MAX_QUANTITY = 10_000_000
DEFAULT_DUE_H = 8
PRIORITIES = ((1, "1 – most urgent"), (2, "2"), (3, "3 – normal"), (4, "4"), (5, "5 – least urgent"))


@dataclass(frozen=True)
class NewOrder:
    """What the dialog asks the service to create (``due`` in UTC)."""

    product: str
    quantity: int
    material: str
    due: datetime
    priority: int


def _stylesheet(p: theme.Palette) -> str:
    return f"""
    QDialog#orderDialog QLabel[role="heading"] {{ font-size: {theme.TITLE_PT + 1}pt; font-weight: bold; }}
    QDialog#orderDialog QLabel#error {{ color: {theme.ALARM_HIGH}; font-weight: bold; }}
    QDialog#orderDialog QLabel#materialNote {{ color: {p.muted}; }}
    QDialog#orderDialog QLineEdit, QDialog#orderDialog QComboBox, QDialog#orderDialog QSpinBox,
    QDialog#orderDialog QDateTimeEdit {{ padding: 3px 6px; }}
    QDialog#orderDialog QPushButton {{ padding: 6px 16px; }}
    """


def material_label(m: Material) -> str:
    """'steel — 4,000 kg available'."""
    return f"{m.name} — {units(m.available)} {m.unit} available"


class NewOrderDialog(QDialog):
    """Asks for a new order; ``submit(values)`` creates it (the dialog closes when it returns)."""

    def __init__(
        self,
        materials: Sequence[Material],
        submit: Callable[[NewOrder], Awaitable[object]],
        now: Callable[[], datetime],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("orderDialog")
        self.setWindowTitle("New order")
        self.setModal(True)
        self.setStyleSheet(_stylesheet(theme.current()))
        self._submit = submit
        self._now = now
        self._tasks = Tasks()
        self.result_value: object = None  # what submit returned (the new Order)

        head = QLabel("New production order: it is planned, not yet released to the shopfloors")
        head.setProperty("role", "heading")
        head.setWordWrap(True)
        self.product = QLineEdit()
        self.product.setObjectName("product")
        self.product.setPlaceholderText("required: what to make, e.g. bracket-A")
        self.quantity = QSpinBox()
        self.quantity.setObjectName("quantity")
        self.quantity.setRange(0, MAX_QUANTITY)
        self.quantity.setGroupSeparatorShown(True)
        self.quantity.setSuffix(" good units")
        self.material = QComboBox()
        self.material.setObjectName("material")
        for m in materials:
            self.material.addItem(material_label(m), m.name)
        self.material_note = QLabel("")
        self.material_note.setObjectName("materialNote")
        if not materials:
            self.material_note.setText("No material is known yet: receive one first (hmi material receive).")
        self.due = QDateTimeEdit()
        self.due.setObjectName("due")
        self.due.setCalendarPopup(True)
        self.due.setDisplayFormat("yyyy-MM-dd HH:mm")
        default_due = now() + timedelta(hours=DEFAULT_DUE_H)
        self.due.setDateTime(QDateTime.fromSecsSinceEpoch(int(default_due.timestamp())))
        self.priority = QComboBox()
        self.priority.setObjectName("priority")
        for value, label in PRIORITIES:
            self.priority.addItem(label, value)
        self.priority.setCurrentIndex(2)
        form = QFormLayout()
        form.addRow("Product", self.product)
        form.addRow("Quantity", self.quantity)
        form.addRow("Material", self.material)
        form.addRow("", self.material_note)
        form.addRow("Due (local time)", self.due)
        form.addRow("Priority", self.priority)

        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.ok_button = QPushButton("Create order")
        self.ok_button.setObjectName("ok")
        self.ok_button.setDefault(True)
        self.ok_button.clicked.connect(self.try_create)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancel")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.ok_button)
        box = QVBoxLayout(self)
        box.addWidget(head)
        box.addLayout(form)
        box.addWidget(self.error)
        box.addLayout(buttons)
        self.setMinimumWidth(560)
        self.product.setFocus()

    def values(self) -> NewOrder:
        """The input as typed (due converted from local time to UTC)."""
        due = datetime.fromtimestamp(self.due.dateTime().toSecsSinceEpoch(), tz=timezone.utc)
        return NewOrder(self.product.text().strip(), self.quantity.value(), self.material.currentData() or "",
                        due, int(self.priority.currentData()))  # fmt: skip

    def problem(self) -> str:
        """Why the input cannot be sent yet, naming the field and what to do ('' when it can)."""
        v = self.values()
        if not v.product:
            return "Product: type what to make"
        if v.quantity <= 0:
            return "Quantity: give at least 1 good unit"
        if not v.material:
            return "Material: none is known; receive one first (hmi material receive)"
        if v.due <= self._now():
            return "Due: choose a time in the future"
        return ""

    def show_error(self, text: str) -> None:
        """Say under the form why the order was not created (the input stays)."""
        self.error.setText(f"{theme.SHAPE_BAD} {text}" if text else "")

    def try_create(self) -> asyncio.Task | None:
        """The Create button: check the input, then create through ``submit``; stay open on a refusal."""
        problem = self.problem()
        if problem:
            self.show_error(problem)
            return None
        self.show_error("")
        self.ok_button.setEnabled(False)
        self.error.setText("creating…")
        return self._tasks.spawn(self._create(self.values()))

    async def _create(self, values: NewOrder) -> None:
        try:
            self.result_value = await self._submit(values)
        except Exception as error:  # noqa: BLE001 - the service's refusal, shown here in one line
            log.info("order not created: %s", error)
            self.show_error(f"Not created: {one_line(error)}")
            return
        finally:
            self.ok_button.setEnabled(True)
        self.accept()

    async def settle(self) -> None:
        """Wait for a create in flight (tests)."""
        while len(self._tasks):
            await asyncio.sleep(0.01)
