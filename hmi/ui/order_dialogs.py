"""The orders pane's dialogs: New order (product, quantity, material and its use per unit, due date-time,
priority) and Receive material (name, quantity, unit).

It checks what it can itself (a message under the form names the field and what to do), then hands
the values to ``submit`` (the pane's call of the service) and stays open until that succeeds: a
refusal of the service (unknown material, not allowed) is shown in the dialog, the input kept.
Open them with hmi.ui.dialog_tasks.open_dialog (never exec()).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDoubleSpinBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from hmi.domain.errors import one_line
from hmi.domain.orders import Material
from hmi.ui import theme
from hmi.ui.dialog_buttons import ok_cancel_row
from hmi.ui.dialog_tasks import Tasks
from hmi.ui.order_text import units

log = logging.getLogger(__name__)

MAX_QUANTITY = 10_000_000
DEFAULT_DUE_H = 8
NO_MATERIAL = "No material is known yet: receive one first (Materials tab, or hmi material receive)."
PRIORITIES = ((1, "1 – most urgent"), (2, "2"), (3, "3 – normal"), (4, "4"), (5, "5 – least urgent"))


@dataclass(frozen=True)
class NewOrder:
    """What the dialog asks the service to create (``due`` in UTC)."""

    product: str
    quantity: int
    material: str
    due: datetime
    priority: int
    material_per_unit: float = 1.0


@dataclass(frozen=True)
class Receipt:
    """Material received: what the Receive material dialog asks the service to add."""

    name: str
    quantity: float
    unit: str


def _stylesheet(p: theme.Palette) -> str:
    return f"""
    QDialog#orderDialog QLabel[role="heading"] {{ font-size: {theme.TITLE_PT + 1}pt; font-weight: bold; }}
    QDialog#orderDialog QLabel#error {{ color: {theme.ALARM_HIGH}; font-weight: bold; }}
    QDialog#orderDialog QLabel#materialNote {{ color: {p.muted}; }}
    QDialog#orderDialog QLineEdit, QDialog#orderDialog QComboBox, QDialog#orderDialog QSpinBox,
    QDialog#orderDialog QDoubleSpinBox, QDialog#orderDialog QDateTimeEdit {{ padding: 3px 6px; }}
    QDialog#orderDialog QPushButton {{ padding: 6px 16px; }}
    """


def material_label(m: Material) -> str:
    """'steel — 4,000 kg available'."""
    return f"{m.name} — {units(m.available)} {m.unit} available"


class FormDialog(QDialog):
    """A form whose OK button checks the input (``problem``), then awaits ``submit(values())``; it closes
    when that returns and stays open, the input kept, with the refusal under the form when it raises."""

    def __init__(self, title: str, heading: str, ok_text: str, failed: str,
                 submit: Callable[[Any], Awaitable[object]], parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("orderDialog")
        self.setWindowTitle(title)
        self.setModal(True)
        self.setStyleSheet(_stylesheet(theme.current()))
        self._submit = submit
        self._failed = failed
        self._tasks = Tasks()
        self.result_value: object = None  # what submit returned
        self.heading = QLabel(heading)
        self.heading.setProperty("role", "heading")
        self.heading.setWordWrap(True)
        self.form = QFormLayout()
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.ok_button, self.cancel_button, buttons = ok_cancel_row(self, ok_text, self.try_submit)
        box = QVBoxLayout(self)
        box.addWidget(self.heading)
        box.addLayout(self.form)
        box.addWidget(self.error)
        box.addLayout(buttons)
        self.setMinimumWidth(640)

    def values(self) -> Any:
        """The input as typed (each dialog)."""
        raise NotImplementedError

    def problem(self) -> str:
        """Why the input cannot be sent yet, naming the field and what to do ('' when it can)."""
        return ""

    def show_error(self, text: str) -> None:
        """Say under the form why nothing was done (the input stays)."""
        self.error.setText(f"{theme.SHAPE_BAD} {text}" if text else "")

    def try_submit(self) -> asyncio.Task | None:
        """The OK button: check the input, then submit it; stay open on a refusal."""
        problem = self.problem()
        if problem:
            self.show_error(problem)
            return None
        self.show_error("")
        self.ok_button.setEnabled(False)
        self.error.setText("sending…")
        return self._tasks.spawn(self._send(self.values()))

    async def _send(self, values: object) -> None:
        try:
            self.result_value = await self._submit(values)
        except Exception as error:  # noqa: BLE001 - the service's refusal, shown here in one line
            log.info("%s: refused: %s", self.windowTitle(), error)
            self.show_error(f"{self._failed}: {one_line(error)}")
            return
        finally:
            self.ok_button.setEnabled(True)
        self.accept()

    async def settle(self) -> None:
        """Wait for a submit in flight (tests)."""
        while len(self._tasks):
            await asyncio.sleep(0.01)


class NewOrderDialog(FormDialog):
    """Asks for a new order; ``submit(NewOrder)`` creates it (the dialog closes when it returns)."""

    def __init__(
        self,
        materials: Sequence[Material],
        submit: Callable[[NewOrder], Awaitable[object]],
        now: Callable[[], datetime],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("New order", "New production order: it is planned, not yet released to the shopfloors",
                         "Create order", "Not created", submit, parent)  # fmt: skip
        self._now = now
        self._materials = {m.name: m for m in materials}
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
        self.per_unit = QDoubleSpinBox()
        self.per_unit.setObjectName("perUnit")
        self.per_unit.setDecimals(3)
        self.per_unit.setRange(0.0, 1e6)
        self.per_unit.setValue(1.0)
        self.material_note = QLabel("")
        self.material_note.setObjectName("materialNote")
        self.material_note.setWordWrap(True)
        self.material_note.setMinimumHeight(2 * self.material_note.fontMetrics().lineSpacing() + 4)
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
        self.form.addRow("Product", self.product)
        self.form.addRow("Quantity", self.quantity)
        self.form.addRow("Material", self.material)
        self.form.addRow("Material per unit", self.per_unit)
        self.form.addRow("", self.material_note)
        self.form.addRow("Due (local time)", self.due)
        self.form.addRow("Priority", self.priority)
        for w in (self.quantity, self.per_unit):
            w.valueChanged.connect(lambda _v: self._show_need())
        self.material.currentIndexChanged.connect(lambda _i: self._show_need())
        self._show_need()
        self.product.setFocus()

    def _show_need(self) -> None:
        """Under the material: what the order will reserve at release against what is available now."""
        m = self._materials.get(self.material.currentData() or "")
        if m is None:
            self.per_unit.setSuffix("")
            self.material_note.setText(NO_MATERIAL)
            return
        self.per_unit.setSuffix(f" {m.unit} per good unit")
        need = self.quantity.value() * self.per_unit.value()
        text = f"Release reserves {units(need)} {m.unit} of {m.name}; {units(m.available)} {m.unit} available now"
        if need > m.available:
            text = f"{theme.SHAPE_WARNING} {text}: short by {units(need - m.available)}, so release will be refused"
        self.material_note.setText(text)

    def values(self) -> NewOrder:
        """The input as typed (due converted from local time to UTC)."""
        due = datetime.fromtimestamp(self.due.dateTime().toSecsSinceEpoch(), tz=timezone.utc)
        return NewOrder(self.product.text().strip(), self.quantity.value(), self.material.currentData() or "",
                        due, int(self.priority.currentData()), self.per_unit.value())  # fmt: skip

    def problem(self) -> str:
        """Why the input cannot be sent yet, naming the field and what to do ('' when it can)."""
        v = self.values()
        if not v.product:
            return "Product: type what to make"
        if v.quantity <= 0:
            return "Quantity: give at least 1 good unit"
        if not v.material:
            return "Material: none is known; receive one first (Materials tab, or hmi material receive)"
        if v.material_per_unit <= 0:
            return "Material per unit: give how much material one good unit uses (above 0)"
        if v.due <= self._now():
            return "Due: choose a time in the future"
        return ""


class ReceiveMaterialDialog(FormDialog):
    """Asks what material arrived; ``submit(Receipt)`` adds it to what is on hand (a new name is added)."""

    def __init__(self, materials: Sequence[Material], submit: Callable[[Receipt], Awaitable[object]],
                 parent: QWidget | None = None, name: str = "") -> None:  # fmt: skip
        super().__init__("Receive material", "Material received: it is added to what is on hand",
                         "Receive", "Not received", submit, parent)  # fmt: skip
        self._units = {m.name: m.unit for m in materials}
        self.name = QComboBox()
        self.name.setObjectName("materialName")
        self.name.setEditable(True)
        self.name.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.name.addItems(sorted(self._units))
        self.name.lineEdit().setPlaceholderText("a known material, or type a new name")
        self.name.setCurrentText(name)
        self.quantity = QDoubleSpinBox()
        self.quantity.setObjectName("receiveQuantity")
        self.quantity.setDecimals(3)
        self.quantity.setRange(0.0, 1e9)
        self.quantity.setGroupSeparatorShown(True)
        self.unit = QLineEdit("unit")
        self.unit.setObjectName("unit")
        self.form.addRow("Material", self.name)
        self.form.addRow("Quantity received", self.quantity)
        self.form.addRow("Unit", self.unit)
        self.name.currentTextChanged.connect(self._on_name)
        self._on_name(self.name.currentText())
        self.quantity.setFocus()

    def _on_name(self, text: str) -> None:
        """A known material keeps its unit (the field is locked); a new one asks for it."""
        known = self._units.get(text.strip())
        self.unit.setReadOnly(known is not None)
        if known is not None:
            self.unit.setText(known)

    def values(self) -> Receipt:
        """The input as typed."""
        return Receipt(self.name.currentText().strip(), self.quantity.value(), self.unit.text().strip())

    def problem(self) -> str:
        """Why the input cannot be sent yet, naming the field and what to do ('' when it can)."""
        v = self.values()
        if not v.name:
            return "Material: choose one or type the name of a new one"
        if v.quantity <= 0:
            return "Quantity received: give how much arrived (above 0)"
        if not v.unit:
            return "Unit: say what the quantity is counted in, e.g. kg"
        return ""
