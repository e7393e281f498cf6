"""Orders, shopfloors, materials and production as commands: what the panes and `hmi order|shopfloor|material|
production` call (synchronously; the GUI runs them in an executor).

Every change goes through CommandService.run: the role's permission (create_order; release_order for release,
cancel, move and receiving material; manage_capacity for capacities and dispatch), the change and its audit
record in one transaction. A request that cannot be done (a bad value, an unknown order or material, a
shortfall, no shopfloor, a wrong status) is audited as refused and raised as its OrderError. Reads need view.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import exc
from sqlalchemy.engine import Connection

from hmi.domain.orders import (
    InvalidOrderValue, Material, Order, OrderDetail, OrderError, OrderStatus, ProductionRow, Share, Shopfloor,
    check_amount, check_due, check_name, check_priority, check_quantity, utc_now,
)  # fmt: skip
from hmi.domain.permissions import Action
from hmi.services.commands import Change, CommandService
from hmi.store import orders as store
from hmi.store.db import unavailable

REFUSALS = (OrderError,)
REPORT_KINDS = ("shopfloor", "order", "hour")
MAX_REASON = 200


class OrderService:
    """The production planner's, the MES manager's and everyone's view of orders and shopfloors."""

    def __init__(self, commands: CommandService, clock: Callable[[], datetime] = utc_now) -> None:
        self.commands = commands
        self.clock = clock

    # --- reading -------------------------------------------------------------------------------------

    @contextmanager
    def _read(self, what: str) -> Iterator[Connection]:
        self.commands.authorize(Action.VIEW, what)
        engine = self.commands.engine
        try:
            with engine.connect() as conn:
                yield conn
        except exc.DBAPIError as error:
            raise unavailable(engine, error) from None

    def list_orders(self, statuses: Collection[OrderStatus] | None = None, limit: int = 1000) -> list[Order]:
        """Orders, unfinished first in queue order, with their shares, expected finish and lateness."""
        with self._read("orders") as conn:
            return store.load_orders(conn, self.clock(), statuses, limit)

    def order_detail(self, order_id: str) -> OrderDetail:
        """One order with its shares, reports, reassignments and history; UnknownOrder."""
        with self._read(store.order_target(order_id)) as conn:
            return store.order_detail(conn, order_id, self.clock())

    def timeline(self) -> dict[str, list[Share]]:
        """Per shopfloor, its queued and running shares with expected start and finish, in working order."""
        with self._read("timeline") as conn:
            return store.timeline(conn, self.clock())

    def list_shopfloors(self) -> list[Shopfloor]:
        """Every shopfloor with its health, capacity and load."""
        with self._read("shopfloors") as conn:
            return store.list_shopfloors(conn)

    def list_materials(self) -> list[Material]:
        """Every material with on-hand, reserved and available quantities."""
        with self._read("materials") as conn:
            return store.list_materials(conn)

    def production_report(self, start: datetime, end: datetime, by: str = "shopfloor") -> list[ProductionRow]:
        """Produced against planned in [start, end) by shopfloor, order or hour; InvalidOrderValue for a bad period."""
        if by not in REPORT_KINDS:
            raise InvalidOrderValue(f"cannot report by {by[:40]!r}; give one of: {', '.join(REPORT_KINDS)}")
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            raise InvalidOrderValue("the report's end must be after its start (both with a time zone)")
        with self._read("production") as conn:
            return store.production_report(conn, start, end, by, self.clock())

    # --- the production planner ----------------------------------------------------------------------

    def create_order(self, product: str, quantity: int, material: str, due: datetime, priority: int = 3,
                     material_per_unit: float = 1.0) -> Order:  # fmt: skip
        """A new planned order (ORD-/JO- ids of the UTC day); InvalidOrderValue, UnknownMaterial."""
        asked = f"{product!s:.60} x{quantity!s:.20} of {material!s:.60}"
        user = self.commands.authorize(Action.CREATE_ORDER, "orders").name

        def do(conn: Connection, change: Change) -> Order:
            change.new = asked
            now = self.clock()
            order = store.insert_order(
                conn, product=check_name(product, "product"), quantity=check_quantity(quantity),
                material=check_name(material, "material"), due=check_due(due, now), priority=check_priority(priority),
                material_per_unit=check_amount(material_per_unit, "material per unit"), now=now,
                user=user,
            )  # fmt: skip
            change.new = (f"{order.order_id} {order.job_number}: {order.quantity} x {order.product}, "
                          f"{order.material} x{order.material_per_unit:g}, due {order.due:%Y-%m-%d %H:%M}Z, "
                          f"priority {order.priority}")  # fmt: skip
            return order

        return self.commands.run(Action.CREATE_ORDER, "orders", do, refusals=REFUSALS)

    def release_order(self, order_id: str) -> Order:
        """Reserve its material and split it over the shopfloors; MaterialShortfall, NoShopfloorAvailable,
        OrderStateError, UnknownOrder (each audited as refused)."""

        def do(conn: Connection, change: Change) -> Order:
            change.old = "planned"
            order, split = store.release(conn, order_id, self.clock())
            change.new = "released: " + ", ".join(f"{sid} {units}" for sid, units in split)
            return order

        return self.commands.run(Action.RELEASE_ORDER, store.order_target(order_id), do, refusals=REFUSALS)

    def cancel_order(self, order_id: str, reason: str) -> Order:
        """Cancel an order: its shares withdrawn, its reservation freed; OrderStateError, UnknownOrder."""

        def do(conn: Connection, change: Change) -> Order:
            why = check_name(reason, "the reason") if reason else "no reason given"
            change.detail = why[:MAX_REASON]
            order = store.cancel(conn, order_id, why, self.clock())
            change.new = "cancelled"
            return order

        return self.commands.run(Action.RELEASE_ORDER, store.order_target(order_id), do, refusals=REFUSALS)

    def move_order(self, order_id: str, steps: int) -> Order:
        """Move an order ``steps`` places in the queue (< 0: earlier); OrderStateError, UnknownOrder."""

        def do(conn: Connection, change: Change) -> Order:
            if isinstance(steps, bool) or not isinstance(steps, int) or not -100_000 <= steps <= 100_000:
                raise InvalidOrderValue(f"cannot move by {str(steps)[:20]} places; give a whole number of places")
            old, order = store.move(conn, order_id, steps, self.clock())
            change.old, change.new = f"place {old}", f"moved {steps:+d}"
            return order

        return self.commands.run(Action.RELEASE_ORDER, store.order_target(order_id), do, refusals=REFUSALS)

    # --- the MES manager -----------------------------------------------------------------------------

    def set_capacity(self, shopfloor_id: str, capacity: float) -> Shopfloor:
        """Set a shopfloor's capacity in good units per hour; InvalidOrderValue, UnknownShopfloor."""

        def do(conn: Connection, change: Change) -> Shopfloor:
            change.new = f"{capacity!s:.20} units/h"
            value = check_amount(capacity, "capacity")
            before, after = store.set_capacity(conn, shopfloor_id, value, self.clock())
            change.old, change.new = f"{before.capacity:g} units/h", f"{after.capacity:g} units/h"
            return after

        return self.commands.run(Action.MANAGE_CAPACITY, f"shopfloor {shopfloor_id:.64}", do, refusals=REFUSALS)

    def set_dispatch(self, shopfloor_id: str, on: bool) -> Shopfloor:
        """Take a shopfloor into dispatch (on) or out of it; UnknownShopfloor."""

        def do(conn: Connection, change: Change) -> Shopfloor:
            before, after = store.set_dispatch(conn, shopfloor_id, bool(on), self.clock())
            change.old, change.new = (f"dispatch {'on' if s.in_dispatch else 'off'}" for s in (before, after))
            return after

        return self.commands.run(Action.MANAGE_CAPACITY, f"shopfloor {shopfloor_id:.64}", do, refusals=REFUSALS)

    # --- materials -----------------------------------------------------------------------------------

    def receive_material(self, name: str, quantity: float, unit: str = "unit") -> Material:
        """Add received material to what is on hand (a new name is added); InvalidOrderValue."""

        def do(conn: Connection, change: Change) -> Material:
            change.new = f"+{quantity!s:.20}"
            amount = check_amount(quantity, "quantity")
            before, after = store.receive_material(conn, check_name(name, "material"), amount,
                                                   check_name(unit, "unit"), self.clock())  # fmt: skip
            change.old = None if before is None else f"{before.on_hand:g} {before.unit}"
            change.new = f"{after.on_hand:g} {after.unit} (+{amount:g})"
            return after

        return self.commands.run(Action.RELEASE_ORDER, f"material {name!s:.64}", do, refusals=REFUSALS)
