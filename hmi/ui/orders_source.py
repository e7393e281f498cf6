"""Where the order panes get their data and send their commands: the OrderService, behind one small interface.

The panes await an ``OrdersSource``; the one the application uses, ``ServiceOrdersSource``, runs each
OrderService call in an executor (never on the GUI thread). A command runs as the session's user
(``ctx.command``: a locked station asks for a login first). A read is a view, not a command: on a
locked station it runs as a read-only principal, so a wall display keeps showing the shopfloors
without popping up a login every poll. Tests give the panes an in-memory fake of the Protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from hmi.domain.orders import Material, Order, OrderDetail, OrderStatus, ProductionRow, Share, Shopfloor
from hmi.domain.session import SessionUser
from hmi.services.commands import CommandService
from hmi.ui.context import AppContext, NoCommands

if TYPE_CHECKING:
    from hmi.services.orders import OrderService

T = TypeVar("T")
LOCKED_READER_ROLE = "viewer"  # reads on a locked station: VIEW and nothing else


class OrdersSource(Protocol):
    """What the order, planning, shopfloor and production panes read and do (the OrderService's names)."""

    async def list_orders(self, statuses: Collection[OrderStatus] | None = None) -> list[Order]: ...
    async def order_detail(self, order_id: str) -> OrderDetail: ...
    async def timeline(self) -> dict[str, list[Share]]: ...
    async def list_shopfloors(self) -> list[Shopfloor]: ...
    async def list_materials(self) -> list[Material]: ...
    async def production_report(self, start: datetime, end: datetime, by: str = "shopfloor") -> list[ProductionRow]: ...
    async def create_order(self, product: str, quantity: int, material: str, due: datetime,
                           priority: int = 3, material_per_unit: float = 1.0) -> Order: ...  # fmt: skip
    async def receive_material(self, name: str, quantity: float, unit: str = "unit") -> Material: ...
    async def release_order(self, order_id: str) -> Order: ...
    async def cancel_order(self, order_id: str, reason: str) -> Order: ...
    async def move_order(self, order_id: str, steps: int) -> Order: ...
    async def set_capacity(self, shopfloor_id: str, capacity: float) -> Shopfloor: ...
    async def set_dispatch(self, shopfloor_id: str, on: bool) -> Shopfloor: ...


def _service(commands: CommandService) -> OrderService:
    from hmi.services.orders import OrderService  # here, not at the top: the panes import before the service exists

    return OrderService(commands)


class ServiceOrdersSource:
    """The OrdersSource of the application: the OrderService in an executor, as the session's user."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def _read(self, call: Callable[[OrderService], T]) -> T:
        ctx = self.ctx
        if ctx.commands is None:
            raise NoCommands("this window has no database, so there are no orders to show")
        if not ctx.session.locked:
            return await ctx.command(lambda c: call(_service(c)))
        reader = SessionUser(f"{ctx.commands.workstation} (locked)", LOCKED_READER_ROLE)
        commands = CommandService(ctx.commands.engine, lambda: reader, ctx.commands.workstation)
        return await asyncio.get_running_loop().run_in_executor(None, call, _service(commands))

    async def _do(self, call: Callable[[OrderService], T]) -> T:
        return await self.ctx.command(lambda c: call(_service(c)))

    async def list_orders(self, statuses: Collection[OrderStatus] | None = None) -> list[Order]:
        """Orders, newest and open ones first as the service orders them."""
        return await self._read(lambda s: s.list_orders(statuses))

    async def order_detail(self, order_id: str) -> OrderDetail:
        """An order with its shares, reports and reassignments."""
        return await self._read(lambda s: s.order_detail(order_id))

    async def timeline(self) -> dict[str, list[Share]]:
        """Queued and running shares per shopfloor with their expected start and finish."""
        return await self._read(lambda s: s.timeline())

    async def list_shopfloors(self) -> list[Shopfloor]:
        """Every shopfloor with its health, capacity and load."""
        return await self._read(lambda s: s.list_shopfloors())

    async def list_materials(self) -> list[Material]:
        """Every material with on hand and reserved."""
        return await self._read(lambda s: s.list_materials())

    async def production_report(self, start: datetime, end: datetime, by: str = "shopfloor") -> list[ProductionRow]:
        """Produced against planned over [start, end) by shopfloor, order or hour."""
        return await self._read(lambda s: s.production_report(start, end, by))

    async def create_order(self, product: str, quantity: int, material: str, due: datetime,
                           priority: int = 3, material_per_unit: float = 1.0) -> Order:  # fmt: skip
        """Create a planned order as the session's user."""
        return await self._do(lambda s: s.create_order(product, quantity, material, due, priority, material_per_unit))

    async def receive_material(self, name: str, quantity: float, unit: str = "unit") -> Material:
        """Add received material to what is on hand (a new name is added)."""
        return await self._do(lambda s: s.receive_material(name, quantity, unit))

    async def release_order(self, order_id: str) -> Order:
        """Release an order: reserve its material and split it over the shopfloors."""
        return await self._do(lambda s: s.release_order(order_id))

    async def cancel_order(self, order_id: str, reason: str) -> Order:
        """Cancel an order with a reason."""
        return await self._do(lambda s: s.cancel_order(order_id, reason))

    async def move_order(self, order_id: str, steps: int) -> Order:
        """Move an order up (steps < 0) or down the queue."""
        return await self._do(lambda s: s.move_order(order_id, steps))

    async def set_capacity(self, shopfloor_id: str, capacity: float) -> Shopfloor:
        """Set a shopfloor's capacity in good units per hour."""
        return await self._do(lambda s: s.set_capacity(shopfloor_id, capacity))

    async def set_dispatch(self, shopfloor_id: str, on: bool) -> Shopfloor:
        """Take a shopfloor into or out of dispatch."""
        return await self._do(lambda s: s.set_dispatch(shopfloor_id, on))


def source_for(ctx: AppContext, source: OrdersSource | None = None) -> OrdersSource:
    """The source a pane uses: the one given, else one set on the context (``ctx.orders_source``), else the service."""
    if source is not None:
        return source
    given: Any = getattr(ctx, "orders_source", None)
    return given if given is not None else ServiceOrdersSource(ctx)
