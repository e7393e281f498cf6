"""An in-memory OrdersSource for the unit tests of the order panes (the panes are the piece under test).

It keeps orders, shopfloors and materials in lists, records every command it was given, and can be
told to refuse the next command with an error, as the OrderService would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import datetime, timedelta, timezone

from hmi.domain.orders import (
    Material,
    Order,
    OrderDetail,
    OrderStatus,
    ProductionRow,
    Reassignment,
    Share,
    ShareStatus,
    Shopfloor,
    ShopfloorHealth,
)

NOW = datetime(2024, 5, 6, 10, 0, tzinfo=timezone.utc)


class Refused(Exception):
    """What the fake raises when told to refuse (stands for an OrderError of the service)."""


class FakeOrders:
    """OrdersSource over lists; ``calls`` records (method, args) of every command."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now
        self.orders: list[Order] = []
        self.details: dict[str, OrderDetail] = {}
        self.shopfloors: list[Shopfloor] = []
        self.materials: list[Material] = [Material("steel", 10_000, 2_500, "kg"), Material("alu", 800, 0, "kg")]
        self.shares: dict[str, list[Share]] = {}
        self.rows: dict[str, list[ProductionRow]] = {}
        self.calls: list[tuple[str, tuple]] = []
        self.refuse: str | None = None  # the message of the next command's refusal
        self.reads = 0

    # --- reads ---

    async def list_orders(self, statuses: Collection[OrderStatus] | None = None) -> list[Order]:
        self.reads += 1
        return [o for o in self.orders if statuses is None or o.status in statuses]

    async def order_detail(self, order_id: str) -> OrderDetail:
        o = next(o for o in self.orders if o.order_id == order_id)
        d = self.details.get(order_id)
        return dataclasses.replace(d, order=o) if d is not None else OrderDetail(o)

    async def timeline(self) -> dict[str, list[Share]]:
        return {k: list(v) for k, v in self.shares.items()}

    async def list_shopfloors(self) -> list[Shopfloor]:
        return list(self.shopfloors)

    async def list_materials(self) -> list[Material]:
        return list(self.materials)

    async def production_report(self, start: datetime, end: datetime, by: str = "shopfloor") -> list[ProductionRow]:
        self.calls.append(("production_report", (start, end, by)))
        return list(self.rows.get(by, []))

    # --- commands ---

    def _command(self, name: str, *args: object) -> None:
        self.calls.append((name, args))
        if self.refuse is not None:
            message, self.refuse = self.refuse, None
            raise Refused(message)

    def _replace(self, order_id: str, **changes: object) -> Order:
        i = next(i for i, o in enumerate(self.orders) if o.order_id == order_id)
        self.orders[i] = dataclasses.replace(self.orders[i], **changes)
        return self.orders[i]

    async def create_order(self, product: str, quantity: int, material: str, due: datetime,
                           priority: int = 3, material_per_unit: float = 1.0) -> Order:  # fmt: skip
        self._command("create_order", product, quantity, material, due, priority, material_per_unit)
        n = len(self.orders) + 1
        o = Order(f"ORD-20240506-{n:04d}", f"JO-20240506-{n:04d}", product, quantity, material, due,
                  priority, OrderStatus.PLANNED, self.now, "pia", material_per_unit=material_per_unit)  # fmt: skip
        self.orders.append(o)
        return o

    async def receive_material(self, name: str, quantity: float, unit: str = "unit") -> Material:
        self._command("receive_material", name, quantity, unit)
        i = next((i for i, m in enumerate(self.materials) if m.name == name), None)
        if i is None:
            self.materials.append(Material(name, quantity, 0.0, unit))
            return self.materials[-1]
        self.materials[i] = dataclasses.replace(self.materials[i], on_hand=self.materials[i].on_hand + quantity)
        return self.materials[i]

    async def release_order(self, order_id: str) -> Order:
        self._command("release_order", order_id)
        return self._replace(order_id, status=OrderStatus.RELEASED)

    async def cancel_order(self, order_id: str, reason: str) -> Order:
        self._command("cancel_order", order_id, reason)
        return self._replace(order_id, status=OrderStatus.CANCELLED)

    async def move_order(self, order_id: str, steps: int) -> Order:
        self._command("move_order", order_id, steps)
        return next(o for o in self.orders if o.order_id == order_id)

    async def set_capacity(self, shopfloor_id: str, capacity: float) -> Shopfloor:
        self._command("set_capacity", shopfloor_id, capacity)
        i = next(i for i, s in enumerate(self.shopfloors) if s.shopfloor_id == shopfloor_id)
        self.shopfloors[i] = dataclasses.replace(self.shopfloors[i], capacity=capacity)
        return self.shopfloors[i]

    async def set_dispatch(self, shopfloor_id: str, on: bool) -> Shopfloor:
        self._command("set_dispatch", shopfloor_id, on)
        i = next(i for i, s in enumerate(self.shopfloors) if s.shopfloor_id == shopfloor_id)
        self.shopfloors[i] = dataclasses.replace(self.shopfloors[i], in_dispatch=on)
        return self.shopfloors[i]


def order(n: int, status: OrderStatus, quantity: int = 1000, produced: int = 0, defective: int = 0,
          due_h: float = 8, finish_h: float | None = None, product: str = "bracket-A", priority: int = 3,
          now: datetime = NOW) -> Order:  # fmt: skip
    """An order due ``due_h`` from now, expected to finish ``finish_h`` from now (late when after the due time)."""
    due = now + timedelta(hours=due_h)
    finish = now + timedelta(hours=finish_h) if finish_h is not None else None
    late = (finish - due).total_seconds() if finish is not None and finish > due else None
    return Order(f"ORD-20240506-{n:04d}", f"JO-20240506-{n:04d}", product, quantity, "steel", due, priority,
                 status, now - timedelta(hours=2), "pia", produced, defective, expected_finish=finish,
                 late_by_s=late)  # fmt: skip


def plant(now: datetime = NOW) -> FakeOrders:
    """A realistic plant: three shopfloors (one offline), six orders (one late, one short), shares, reports."""
    f = FakeOrders(now)
    h = timedelta(hours=1)
    f.orders = [
        order(1, OrderStatus.IN_PROGRESS, 3000, 1240, 31, due_h=6, finish_h=4.5, now=now),
        order(2, OrderStatus.IN_PROGRESS, 1200, 300, 9, due_h=3, finish_h=5 + 1 / 6, product="housing-B", priority=2, now=now),
        order(3, OrderStatus.RELEASED, 800, 0, 0, due_h=12, finish_h=7, product="cover-C", now=now),
        order(4, OrderStatus.PLANNED, 500, due_h=30, product="bracket-A", priority=4, now=now),
        order(5, OrderStatus.COMPLETED, 400, 400, 6, due_h=-2, product="shaft-D", now=now),
        order(6, OrderStatus.SHORT, 600, 560, 44, due_h=-1, product="housing-B", now=now),
    ]  # fmt: skip
    o1, o2, o3 = f.orders[0], f.orders[1], f.orders[2]
    sh = [
        Share("JO-20240506-0001/sf1/1", o1.order_id, "sf1", 1500, ShareStatus.RUNNING, 820, 20, 0, now - 2 * h, now + 2 * h),
        Share("JO-20240506-0001/sf2/1", o1.order_id, "sf2", 900, ShareStatus.RUNNING, 420, 11, 0, now - 2 * h, now + 4.5 * h),
        Share("JO-20240506-0001/sf3/1", o1.order_id, "sf3", 600, ShareStatus.WITHDRAWN, 0, 0, 0, now - 2 * h, None),
        Share("JO-20240506-0001/sf2/2", o1.order_id, "sf2", 600, ShareStatus.QUEUED, 0, 0, 1, None, None),
        Share("JO-20240506-0002/sf1/1", o2.order_id, "sf1", 700, ShareStatus.QUEUED, 0, 0, 1, now + 2 * h, now + 5.2 * h),
        Share("JO-20240506-0002/sf2/1", o2.order_id, "sf2", 500, ShareStatus.SENT, 300, 9, 1, now + 4.5 * h, now + 5.1 * h),
        Share("JO-20240506-0003/sf1/1", o3.order_id, "sf1", 450, ShareStatus.QUEUED, 0, 0, 2, now + 5.2 * h, now + 7 * h),
        Share("JO-20240506-0003/sf2/1", o3.order_id, "sf2", 350, ShareStatus.QUEUED, 0, 0, 2, now + 5.1 * h, now + 6.8 * h),
    ]  # fmt: skip
    f.orders[0] = dataclasses.replace(o1, shares=tuple(s for s in sh if s.order_id == o1.order_id))
    f.orders[1] = dataclasses.replace(o2, shares=tuple(s for s in sh if s.order_id == o2.order_id))
    f.orders[2] = dataclasses.replace(o3, shares=tuple(s for s in sh if s.order_id == o3.order_id))
    f.details[o1.order_id] = OrderDetail(
        f.orders[0],
        reports=((now - 5 * timedelta(minutes=1), "sf1", 820, 20), (now - timedelta(minutes=1), "sf2", 420, 11),
                 (now - 40 * timedelta(minutes=1), "sf3", 0, 0)),
        reassignments=(Reassignment(now - 30 * timedelta(minutes=1), o1.order_id, "sf3", 600, (("sf2", 600),),
                                    "sf3 offline: no heartbeat for 10 s"),),
    )  # fmt: skip
    f.shares = {
        "sf1": [s for s in sh if s.shopfloor_id == "sf1" and s.expected_finish is not None],
        "sf2": [s for s in sh if s.shopfloor_id == "sf2" and s.expected_finish is not None],
        "sf3": [],
    }
    f.shopfloors = [
        Shopfloor("sf1", 400.0, True, ShopfloorHealth.ONLINE, now - timedelta(seconds=1), "producing", 1830,
                  now - timedelta(seconds=20)),
        Shopfloor("sf2", 250.0, True, ShopfloorHealth.LATE, now - timedelta(seconds=7), "producing", 1430,
                  now - timedelta(minutes=1)),
        Shopfloor("sf3", 300.0, True, ShopfloorHealth.OFFLINE, now - timedelta(minutes=31), "producing", 0,
                  now - timedelta(minutes=40)),
        Shopfloor("sf4", 200.0, False, ShopfloorHealth.UNKNOWN, None, "", 0, None),
    ]  # fmt: skip
    f.rows = {
        "shopfloor": [ProductionRow("sf1", 2000, 1780, 42, 8.0), ProductionRow("sf2", 1400, 1020, 35, 8.0),
                      ProductionRow("sf3", 600, 0, 0, 8.0)],
        "order": [ProductionRow(o.order_id, o.quantity, o.produced, o.defective, 8.0) for o in f.orders],
        "hour": [ProductionRow(f"2024-05-06T{2 + i:02d}:00:00+00:00", 400, 300 + 20 * i, 8 + i, 1.0) for i in range(8)],
    }  # fmt: skip
    return f
