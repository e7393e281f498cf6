"""Orders pane: the production orders with status and progress, a New order dialog, release, cancel, move;
beside the table the selected order's shares, reports and reassignments, and a Materials tab (on hand,
reserved, available, the short ones marked) with Receive material.

Reads go through the OrdersSource every POLL_MS while the pane is on screen and at once after a
command; commands run as the session's user, enabled by the permission matrix (the service checks
again). A late order says so in words and a clock shape ('◷ +2 h 10 min'), on red.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from hmi.domain.orders import FINISHED, Material, Order, OrderStatus, planned_demand
from hmi.domain.permissions import Action
from hmi.ui import theme
from hmi.ui.alarm_dialogs import CommentDialog
from hmi.ui.context import AppContext
from hmi.ui.dialog_tasks import run_dialog
from hmi.ui.order_detail import OrderDetailView
from hmi.ui.order_dialogs import NewOrder, NewOrderDialog, Receipt, ReceiveMaterialDialog
from hmi.ui.order_materials import MaterialsView
from hmi.ui.order_model import OrderFilterProxy, ProgressDelegate, RecordTableModel, order_columns
from hmi.ui.order_polling import PollingPane, message_style, utc_now
from hmi.ui.order_text import late_text, status_text, units
from hmi.ui.orders_source import OrdersSource
from hmi.ui.pane_registry import PaneSpec, register_pane
from hmi.ui.panes.alarms import who_may
from hmi.ui.report_widgets import refusal_or_content, refusal_style

OPEN = frozenset({OrderStatus.PLANNED, OrderStatus.RELEASED, OrderStatus.IN_PROGRESS})
STATUS_FILTERS: tuple[tuple[str, frozenset[OrderStatus] | None], ...] = (
    ("open orders", OPEN), ("every order", None),
    *((status_text(s), frozenset({s})) for s in OrderStatus),
)  # fmt: skip
MOVABLE = OPEN
SIDE_MIN_W = 575  # the detail's share columns and tab titles whole beside the whole table at 1600 px


def stylesheet(p: theme.Palette) -> str:
    """Calm greys, a larger table font; the detail's title bold."""
    return f"""
    {refusal_style(p, "ordersRefusal")}
    {message_style(p, "ordersMessage")}
    QTableView#ordersTable {{ font-size: {theme.TITLE_PT}pt; }}
    QLabel#orderDetailTitle {{ font-size: {theme.TITLE_PT}pt; font-weight: bold; padding: 2px 0px 6px 0px; }}
    QLabel[role="section"] {{ color: {p.muted}; font-weight: bold; padding-top: 4px; }}
    QLabel#ordersCount {{ color: {p.muted}; }}
    QPushButton {{ padding: 5px 12px; }}
    """


class OrdersPane(PollingPane):
    """The orders table, its commands, and the detail of the selected order."""

    def __init__(self, ctx: AppContext, source: OrdersSource | None = None,
                 clock: Callable[[], datetime] = utc_now, parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(ctx, source, "orders", stylesheet, clock, parent)
        self.dialog: QDialog | None = None  # the dialog open now (tests fill it in)
        self.model: RecordTableModel[Order] = RecordTableModel(order_columns(clock), lambda o: o.order_id, self)
        self.proxy = OrderFilterProxy(self.model, self)
        self.proxy.set_statuses(OPEN)
        self._build()
        self.follow()
        self.update_actions()

    # --- building ----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.status_box = QComboBox()
        self.status_box.setObjectName("ordersStatus")
        for label, statuses in STATUS_FILTERS:
            self.status_box.addItem(label, statuses)
        self.status_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.status_box.currentIndexChanged.connect(lambda _i: self._on_filter())
        self.count = QLabel("")
        self.count.setObjectName("ordersCount")
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.status_box)
        filters.addStretch(1)
        filters.addWidget(self.count)

        self.table = QTableView()
        self.table.setObjectName("ordersTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(self.model.col["due"], Qt.SortOrder.AscendingOrder)
        self.table.setItemDelegateForColumn(self.model.col["produced"], ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(34)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for name, width in (("job", 200), ("product", 115), ("quantity", 75), ("produced", 125), ("status", 115),
                            ("priority", 50), ("due", 110), ("finish", 100), ("late", 110)):  # fmt: skip
            self.table.setColumnWidth(self.model.col[name], width)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_select())
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)

        self.detail = OrderDetailView(self.now)
        self.materials = MaterialsView()
        self.materials.receive_button.clicked.connect(lambda: self._spawn(self.receive()))
        self.side = QTabWidget()
        self.side.setObjectName("ordersSide")
        self.side.addTab(self.detail, "Selected order")
        self.side.addTab(self.materials, "Materials")
        self.side.setMinimumWidth(SIDE_MIN_W)
        self.splitter = splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([1025, SIDE_MIN_W])
        splitter.setChildrenCollapsible(False)

        self.actions: dict[str, QAction] = {}
        self.buttons: dict[str, QPushButton] = {}
        commands = QHBoxLayout()
        for key, label, slot in (
            ("new", "+ New order…", self._on_new), ("release", "Release", lambda: self._spawn(self.release())),
            ("cancel", "Cancel order…", lambda: self._spawn(self.cancel())),
            ("up", "▲ Move up", lambda: self._spawn(self.move(-1))),
            ("down", "▼ Move down", lambda: self._spawn(self.move(1))),
        ):  # fmt: skip
            action = QAction(label, self)
            action.setObjectName(f"order_{key}")
            action.triggered.connect(lambda _c=False, s=slot: s())
            self.actions[key] = action
            b = QPushButton(label)
            b.setObjectName(f"order_{key}")
            b.setAutoDefault(False)
            b.clicked.connect(action.trigger)
            self.buttons[key] = b
            if key in ("cancel", "up"):
                commands.addSpacing(16)
            commands.addWidget(b)
        commands.addStretch(1)

        self.content = QWidget()
        v = QVBoxLayout(self.content)
        v.setContentsMargins(4, 4, 4, 4)
        v.addLayout(filters)
        v.addWidget(splitter, 1)
        v.addLayout(commands)
        v.addWidget(self.message)
        self.content.setMinimumWidth(480)
        self.stack = refusal_or_content(self, self.refusal, self.content)
        self.stack.setCurrentWidget(self.content if self.has_data else self.refusal)

    # --- reading -----------------------------------------------------------------------------------

    async def load(self) -> None:
        """Read every order (the filter is applied here, so counting stays honest) and the selected one's detail."""
        orders = await self.source.list_orders(None)
        materials = await self.source.list_materials()
        self._show_materials(materials, orders)
        keep = self.selected_id()
        self.model.set_rows(orders)
        if keep is not None and self.selected_id() != keep:
            self.select(keep)
        self._show_count()
        self.update_actions()
        current = self.selected_id()
        if current is not None:
            detail = await self.source.order_detail(current)
            if self.selected_id() == current:
                self.detail.show_detail(detail)
        else:
            self.detail.clear()

    def _show_materials(self, materials: list[Material], orders: list[Order]) -> None:
        short = self.materials.show_materials(materials, planned_demand(orders))
        self.side.setTabText(1, f"{theme.SHAPE_WARNING} Materials ({short} short)" if short else "Materials")

    def _show_count(self) -> None:
        rows = self.model.rows()
        late = sum(1 for o in rows if late_text(o.late_by_s) and o.status not in FINISHED)
        text = f"{self.proxy.rowCount()} shown of {len(rows)}"
        self.count.setText(text + (f" · {late} late" if late else ""))

    def _on_filter(self) -> None:
        self.proxy.set_statuses(self.status_box.currentData())
        self._show_count()
        self.update_actions()

    def set_filter(self, label: str) -> None:
        """Choose a status filter by its label ('open orders', 'every order', 'completed', ...)."""
        self.status_box.setCurrentIndex(self.status_box.findText(label))

    def visible_orders(self) -> list[Order]:
        """The orders the filter lets through, top to bottom."""
        return [self.proxy.order(r) for r in range(self.proxy.rowCount())]

    def row_texts(self, order_id: str) -> dict[str, str]:
        """What the table shows of an order, by column key (as the user reads it)."""
        row = self.model.row_of(order_id)
        if row is None:
            return {}
        return {c.key: self.model.text(row, c.key) for c in self.model.columns}

    # --- selection ---------------------------------------------------------------------------------

    def selected(self) -> Order | None:
        """The selected order (as last read)."""
        rows = self.table.selectionModel().selectedRows()
        return self.proxy.order(rows[0].row()) if rows else None

    def selected_id(self) -> str | None:
        """The selected order's id."""
        o = self.selected()
        return o.order_id if o is not None else None

    def select(self, order_id: str) -> bool:
        """Select an order (widening the filter when it hides it); False when it is not listed."""
        row = self.model.row_of(order_id)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            self.set_filter("every order")
            index = self.proxy.mapFromSource(self.model.index(row, 0))
        flags = QItemSelectionModel.SelectionFlag
        self.table.selectionModel().select(index, flags.ClearAndSelect | flags.Rows)
        self.table.scrollTo(index)
        return True

    def _on_select(self) -> None:
        self.update_actions()
        if self.selected_id() != self.detail.order_id:
            self.detail.clear()
            self.refresh_now()

    # --- commands: enabling ------------------------------------------------------------------------

    def _why_not(self, action: Action, doing: str = "") -> str:
        doing = doing or f"{action.value.replace('_order', '').replace('_', ' ')} orders"
        rule = f"{who_may(action)} may {doing}"
        user = self.ctx.session.user
        if user is None or self.ctx.session.locked:
            return f"{rule}: log in first"
        return f"{rule} (you are {user.name}, {user.role})"

    def update_actions(self) -> None:
        """Enable each command for a user who may give it and an order it applies to; say why not otherwise."""
        o = self.selected()
        checks = {
            "new": (Action.CREATE_ORDER, True, "Create a planned order"),
            "release": (Action.RELEASE_ORDER, o is not None and o.status is OrderStatus.PLANNED,
                        "Reserve the material and split the selected planned order over the shopfloors"),
            "cancel": (Action.RELEASE_ORDER, o is not None and o.status not in FINISHED,
                       "Cancel the selected order, with a reason; unsent work is withdrawn"),
            "up": (Action.RELEASE_ORDER, o is not None and o.status in MOVABLE, "Earlier in the queue"),
            "down": (Action.RELEASE_ORDER, o is not None and o.status in MOVABLE, "Later in the queue"),
        }  # fmt: skip
        for key, (action, applies, what) in checks.items():
            if not self.ctx.may(action):
                enabled, tip = False, self._why_not(action)
            else:
                enabled, tip = applies, what if applies else f"{what}: select an order it applies to"
            for w in (self.actions[key], self.buttons[key]):
                w.setEnabled(enabled and self.has_data)
                w.setToolTip(tip)
        receive = self.ctx.may(Action.RELEASE_ORDER)
        self.materials.receive_button.setEnabled(receive and self.has_data)
        self.materials.receive_button.setToolTip("Add material that arrived to what is on hand" if receive
                                                 else self._why_not(Action.RELEASE_ORDER, "receive material"))

    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for key in ("release", "cancel", "up", "down"):
            if key == "up":
                menu.addSeparator()
            menu.addAction(self.actions[key])
        menu.addSeparator()
        menu.addAction(self.actions["new"])
        menu.popup(self.table.viewport().mapToGlobal(pos))  # popup, not exec: no nested event loop

    # --- commands: running -------------------------------------------------------------------------

    def _on_new(self) -> None:
        self._spawn(self.new_order())

    async def new_order(self) -> Order | None:
        """Open the New order dialog (materials read first); the order it created, or None."""
        try:
            materials = await self.source.list_materials()
        except Exception as error:  # noqa: BLE001 - the dialog still opens; it says none are known
            self.say(f"{theme.SHAPE_WARNING} could not read the materials: {error}", "problem")
            materials = []

        async def submit(v: NewOrder) -> Order:
            return await self.source.create_order(v.product, v.quantity, v.material, v.due, v.priority,
                                                  v.material_per_unit)

        dialog = NewOrderDialog(materials, submit, self.now, self)
        code = await run_dialog(self, dialog)
        order = dialog.result_value
        if code != QDialog.DialogCode.Accepted or not isinstance(order, Order):
            return None
        self.say(f"✔ Created {order.job_number}: {units(order.quantity)} × {order.product} (planned)")
        await self._read_and_select(order.order_id)
        return order

    async def receive(self) -> Material | None:
        """Open the Receive material dialog (on the material selected in the Materials tab); what it received."""
        rows = self.materials.model.rows()
        picked = self.materials.table.selectionModel().selectedRows()
        name = self.materials.table.model().index(picked[0].row(), 0).data() if picked else ""

        async def submit(r: Receipt) -> Material:
            return await self.source.receive_material(r.name, r.quantity, r.unit)

        dialog = ReceiveMaterialDialog([m for m, _ in rows], submit, self, name=name)
        code = await run_dialog(self, dialog)
        m = dialog.result_value
        if code != QDialog.DialogCode.Accepted or not isinstance(m, Material):
            return None
        got = dialog.values()
        self.say(f"✔ Received {units(got.quantity)} {m.unit} of {m.name}: {units(m.available)} {m.unit} available")
        await self.read_fresh()
        return m

    async def _read_and_select(self, order_id: str) -> None:
        await self.read_fresh()
        self.select(order_id)

    async def release(self) -> Order | None:
        """Release the selected order."""
        o = self.selected()
        if o is None:
            return None
        return await self.run(f"Released {o.job_number}", lambda: self.source.release_order(o.order_id))

    async def cancel(self) -> Order | None:
        """Ask for a reason, then cancel the selected order."""
        o = self.selected()
        if o is None:
            return None
        dialog = CommentDialog("Cancel order", f"Cancel order {o.job_number}?",
                               [f"{o.product}: {units(o.produced)} of {units(o.quantity)} made, {status_text(o.status)}"],
                               "Cancel the order", required=True, parent=self)  # fmt: skip
        dialog.cancel_button.setText("Keep the order")
        code = await run_dialog(self, dialog)
        if code != QDialog.DialogCode.Accepted:
            return None
        reason = dialog.comment()
        return await self.run(f"Cancelled {o.job_number}", lambda: self.source.cancel_order(o.order_id, reason))

    async def move(self, steps: int) -> Order | None:
        """Move the selected order earlier (steps < 0) or later in the queue."""
        o = self.selected()
        if o is None:
            return None
        where = "up" if steps < 0 else "down"
        return await self.run(f"Moved {o.job_number} {where}", lambda: self.source.move_order(o.order_id, steps))


register_pane(
    PaneSpec(
        object_name="orders",
        title="Orders",
        create=OrdersPane,
        area=Qt.DockWidgetArea.BottomDockWidgetArea,
        tab_with="alarms",  # across the whole width like the alarm list; the alarm list stays in front
        order=40,
    )
)
