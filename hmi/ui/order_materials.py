"""The orders pane's Materials tab: on hand, reserved and available of each material, what the planned
orders will still reserve, and the short ones marked (a shape and a word, amber behind them).

A material is short when its available quantity does not cover what the planned orders need at release
(so at least one release will be refused) or when nothing is available at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTableView, QVBoxLayout, QWidget

from hmi.domain.orders import Material
from hmi.ui import theme
from hmi.ui.order_model import Column, RecordTableModel
from hmi.ui.report_widgets import report_table
from hmi.ui.table_sorting import sort_proxy

Row = tuple[Material, float]  # a material and what the planned orders need of it


def shortfall(r: Row) -> float:
    """How much the available quantity falls short of the planned orders' need (0: it covers it)."""
    m, need = r
    return max(0.0, need - m.available)


def is_short(r: Row) -> bool:
    """Short: the planned orders cannot all be released, or nothing is available."""
    return shortfall(r) > 1e-9 or r[0].available <= 0


def state_text(r: Row) -> str:
    """'ok', '▲ short by 1,200 kg', '▲ none available'."""
    m = r[0]
    if shortfall(r) > 1e-9:
        return f"{theme.SHAPE_WARNING} short by {amount_text(shortfall(r), m.unit)}"
    if m.available <= 0:
        return f"{theme.SHAPE_WARNING} none available"
    return "ok"


def amount_text(value: float, unit: str) -> str:
    """'8,896 kg', '33.1 kg': a material quantity to a tenth, without a trailing '.0'."""
    text = f"{value:,.1f}"
    return f"{text[:-2] if text.endswith('.0') else text} {unit}"


def material_columns() -> tuple[Column[Row], ...]:
    """Material, state, available, reserved, on hand, needed by planned orders (what matters first)."""
    amount = lambda value: (lambda r: amount_text(value(r), r[0].unit))  # noqa: E731
    short = lambda r: theme.WARNING if is_short(r) else None  # noqa: E731
    return (
        Column("name", "Material", lambda r: r[0].name, tip=lambda r: r[0].name),
        Column("state", "State", state_text, lambda r: -shortfall(r), abnormal=short),
        Column("available", "Available", amount(lambda r: r[0].available), lambda r: r[0].available, right=True,
               tip=lambda r: "on hand less reserved: what a release may still reserve"),
        Column("reserved", "Reserved", amount(lambda r: r[0].reserved), lambda r: r[0].reserved, right=True,
               tip=lambda r: "held by released orders until they use it"),
        Column("on_hand", "On hand", amount(lambda r: r[0].on_hand), lambda r: r[0].on_hand, right=True),
        Column("planned", "Planned need", amount(lambda r: r[1]), lambda r: r[1], right=True,
               tip=lambda r: "what the planned orders will reserve when they are released"),
    )  # fmt: skip


class MaterialsView(QWidget):
    """The materials table and the Receive material… button (the pane enables it and runs the dialog)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("orderMaterials")
        self.model: RecordTableModel[Row] = RecordTableModel(material_columns(), lambda r: r[0].name, self)
        self.table: QTableView = report_table("materialsTable", sort_proxy(self.model, self.model), 0,
                                              {0: 125, 1: 180, 2: 105, 3: 95, 4: 105})  # fmt: skip
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().setDefaultSectionSize(28)
        self.summary = QLabel("")
        self.summary.setObjectName("materialsSummary")
        self.summary.setWordWrap(True)
        self.receive_button = QPushButton("+ Receive material…")
        self.receive_button.setObjectName("order_receive")
        self.receive_button.setAutoDefault(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.receive_button)
        buttons.addStretch(1)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 4, 0, 0)
        v.addWidget(self.summary)
        v.addWidget(self.table, 1)
        v.addLayout(buttons)

    def show_materials(self, materials: Sequence[Material], need: Mapping[str, float]) -> int:
        """Show the materials with the planned orders' need of each; the number that are short."""
        rows = [(m, float(need.get(m.name, 0.0))) for m in materials]
        self.model.set_rows(rows)
        short = [r[0].name for r in rows if is_short(r)]
        if not rows:
            self.summary.setText("No material yet: receive one to create orders for it.")
        elif short:
            self.summary.setText(f"{theme.SHAPE_WARNING} {len(short)} short: {', '.join(short)} — receive material "
                                 "before releasing the planned orders that need it")  # fmt: skip
        else:
            self.summary.setText(f"{len(rows)} materials; every planned order can be released")
        return len(short)
