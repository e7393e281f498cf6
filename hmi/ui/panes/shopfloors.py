"""Shopfloors pane: a tile per shopfloor (heartbeat state, capacity, load, activity, last report), and for the
MES manager a capacity control and the in-dispatch switch on each.

Reads the OrdersSource every POLL_MS while on screen; a change of capacity or dispatch is a command
as the session's user, and the tiles are read again at once after it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from hmi.domain.orders import Shopfloor, ShopfloorHealth
from hmi.domain.permissions import Action
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.order_polling import PollingPane, message_style, utc_now
from hmi.ui.order_text import health_text, units
from hmi.ui.orders_source import OrdersSource
from hmi.ui.pane_registry import PaneSpec, register_pane
from hmi.ui.panes.alarms import who_may
from hmi.ui.report_widgets import refusal_or_content, refusal_style
from hmi.ui.shopfloor_tile import ShopfloorTile, tile_style

TILE_W = 340
NONE_YET = "No shopfloor has been heard from yet, and none is declared in the plant's config ([[shopfloors.known]])."


def stylesheet(p: theme.Palette) -> str:
    """The tiles' look, the summary line muted."""
    return f"""
    {refusal_style(p, "shopfloorsRefusal")}
    {message_style(p, "shopfloorsMessage")}
    {tile_style(p)}
    QLabel#shopfloorsSummary {{ color: {p.text}; font-size: {theme.TITLE_PT}pt; }}
    """


class ShopfloorsPane(PollingPane):
    """The shopfloor tiles."""

    def __init__(self, ctx: AppContext, source: OrdersSource | None = None,
                 clock: Callable[[], datetime] = utc_now, parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(ctx, source, "shopfloors", stylesheet, clock, parent)
        self.tiles: dict[str, ShopfloorTile] = {}
        self.summary = QLabel("")
        self.summary.setObjectName("shopfloorsSummary")
        self.summary.setWordWrap(True)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(8)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.grid_host)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        self.content = QWidget()
        v = QVBoxLayout(self.content)
        v.setContentsMargins(4, 4, 4, 4)
        v.addLayout(top)
        v.addWidget(scroll, 1)
        v.addWidget(self.message)
        self.content.setMinimumWidth(TILE_W + 20)
        self.stack = refusal_or_content(self, self.refusal, self.content)
        self.stack.setCurrentWidget(self.content if self.has_data else self.refusal)
        self._columns = 0
        self.follow()

    async def load(self) -> None:
        """Read the shopfloors and show a tile each."""
        shopfloors = await self.source.list_shopfloors()
        self.show_shopfloors(shopfloors)

    def show_shopfloors(self, shopfloors: list[Shopfloor]) -> None:
        """A tile per shopfloor in the order given; tiles of ones gone are removed."""
        ids = [s.shopfloor_id for s in shopfloors]
        for gone in set(self.tiles) - set(ids):
            self.tiles.pop(gone).deleteLater()
        for s in shopfloors:
            tile = self.tiles.get(s.shopfloor_id)
            if tile is None:
                tile = ShopfloorTile(s.shopfloor_id, self.now)
                tile.capacity_requested.connect(self._on_capacity)
                tile.dispatch_requested.connect(self._on_dispatch)
                self.tiles[s.shopfloor_id] = tile
            tile.show_shopfloor(s)
        self._order = ids
        self._place(force=True)
        self.update_actions()
        self._summarise(shopfloors)

    def _summarise(self, shopfloors: list[Shopfloor]) -> None:
        if not shopfloors:
            self.summary.setText(NONE_YET)
            return
        counts = {h: sum(1 for s in shopfloors if s.health is h) for h in ShopfloorHealth}
        parts = [f"{health_text(h)} {n}" for h, n in counts.items() if n]
        capacity = sum(s.capacity for s in shopfloors if s.in_dispatch and s.health is ShopfloorHealth.ONLINE)
        self.summary.setText(f"{'   '.join(parts)}   ·   {units(capacity)} units/h online in dispatch")

    def _place(self, force: bool = False) -> None:
        columns = max(1, (self.grid_host.width() or self.width()) // TILE_W)
        if columns == self._columns and not force:
            return
        self._columns = columns
        for tile in self.tiles.values():
            self.grid.removeWidget(tile)
        for i, sf in enumerate(getattr(self, "_order", [])):
            self.grid.addWidget(self.tiles[sf], i // columns, i % columns)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place()

    def update_actions(self) -> None:
        """The capacity controls for who may manage capacity."""
        allowed = self.ctx.may(Action.MANAGE_CAPACITY)
        user = self.ctx.session.user
        rule = f"{who_may(Action.MANAGE_CAPACITY)} may set capacities and dispatch"
        why = f"{rule}: log in first" if user is None or self.ctx.session.locked else f"{rule} (you are {user.name}, {user.role})"
        for tile in self.tiles.values():
            tile.set_manager(allowed, why)

    def _on_capacity(self, shopfloor_id: str, capacity: float) -> None:
        self._spawn(self.set_capacity(shopfloor_id, capacity))

    def _on_dispatch(self, shopfloor_id: str, on: bool) -> None:
        self._spawn(self.set_dispatch(shopfloor_id, on))

    async def set_capacity(self, shopfloor_id: str, capacity: float) -> Shopfloor | None:
        """Set a shopfloor's capacity (the tile's Apply)."""
        return await self.run(f"{shopfloor_id}: capacity {units(capacity)} units/h",
                              lambda: self.source.set_capacity(shopfloor_id, capacity))  # fmt: skip

    async def set_dispatch(self, shopfloor_id: str, on: bool) -> Shopfloor | None:
        """Take a shopfloor into or out of dispatch (the tile's switch)."""
        done = f"{shopfloor_id}: {'in' if on else 'out of'} dispatch"
        return await self.run(done, lambda: self.source.set_dispatch(shopfloor_id, on))


register_pane(
    PaneSpec(
        object_name="shopfloors",
        title="Shopfloors",
        create=ShopfloorsPane,
        area=Qt.DockWidgetArea.RightDockWidgetArea,
        tab_with="trends",
        order=44,
    )
)
