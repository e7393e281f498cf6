"""The tag picker of the trends: stream → twin → parameter, a checkbox per parameter."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from hmi.domain.plant import Plant

TAG_ROLE = Qt.ItemDataRole.UserRole + 1


class TagTree(QTreeWidget):
    """Every twin's parameters with checkboxes; ``toggled(tag, checked)`` when the user ticks one."""

    toggled = Signal(str, bool)

    def __init__(self, plant: Plant, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.setObjectName("trendTagTree")
        self.setHeaderLabels(["Tag", "Unit"])
        self.setColumnCount(2)
        self.setUniformRowHeights(True)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._quiet = False
        for stream, twins in plant.by_stream().items():
            if not twins:
                continue
            s_item = QTreeWidgetItem(self, [stream.value.capitalize(), ""])
            for twin in twins:
                t_item = QTreeWidgetItem(s_item, [twin.name, ""])
                for spec in twin.tags:
                    item = QTreeWidgetItem(t_item, [spec.parameter, spec.unit])
                    item.setData(0, TAG_ROLE, spec.tag_id)
                    item.setToolTip(0, f"{spec.tag_id} ({spec.kind.value})")
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(0, Qt.CheckState.Unchecked)
                    self._items[spec.tag_id] = item
            s_item.setExpanded(True)
        self.resizeColumnToContents(0)
        self.itemChanged.connect(self._on_item_changed)

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        tag = item.data(0, TAG_ROLE)
        if self._quiet or column != 0 or not tag:
            return
        self.toggled.emit(tag, item.checkState(0) == Qt.CheckState.Checked)

    def set_checked(self, tags: Iterable[str]) -> None:
        """Tick exactly these tags (no ``toggled`` signal) and show them."""
        wanted = set(tags)
        self._quiet = True
        try:
            for tag, item in self._items.items():
                on = tag in wanted
                item.setCheckState(0, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
                if on:
                    item.parent().setExpanded(True)
        finally:
            self._quiet = False

    def checked(self) -> list[str]:
        """The ticked tags, in tree order."""
        return [t for t, i in self._items.items() if i.checkState(0) == Qt.CheckState.Checked]

    def item_for(self, tag: str) -> QTreeWidgetItem | None:
        """The tree item of a tag (tests tick it like a user would)."""
        return self._items.get(tag)
