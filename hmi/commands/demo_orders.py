"""The demo's MES half: three simulated shopfloors on the embedded broker, materials, and orders that flow.

The orders are created and released through the OrderService as the demo's production planner, like
a planner in the window would, and audited as such. Once the shopfloors report online the feeder
keeps a few orders released, creating the next ones as the earlier ones complete, so the Orders,
Planning, Shopfloors and Production panes always have live data.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from hmi.domain.orders import Order, OrderStatus, ShopfloorHealth
from hmi.domain.session import SessionUser

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from hmi.services.orders import OrderService

log = logging.getLogger(__name__)

# (id, capacity in good units per hour at speed 1): the shopfloors run at the demo's --speed.
SHOPFLOORS = (("sf1", 1200.0), ("sf2", 900.0), ("sf3", 600.0))
MATERIALS = (("PET Plastic", 60_000.0, "kg"), ("Aluminium Sheet", 40_000.0, "kg"), ("Glass Cullet", 30_000.0, "kg"))
# (product, quantity, material, material per unit, priority, due in hours)
PRODUCTS = (
    ("Cola Bottles 500ml", 3000, "PET Plastic", 0.02, 2, 6),
    ("Soda Cans 330ml", 2400, "Aluminium Sheet", 0.015, 3, 8),
    ("Juice Jars 250ml", 1500, "Glass Cullet", 0.2, 3, 12),
    ("Water Bottles 1.5l", 4000, "PET Plastic", 0.035, 4, 24),
    ("Energy Cans 250ml", 1800, "Aluminium Sheet", 0.012, 1, 4),
)
PLANNER = "production_planner"
RUNNING = 3  # released orders the feeder keeps going
ONLINE_WAIT_S = 60.0
FEED_EVERY_S = 5.0


def order_service(engine: Engine) -> OrderService:
    """The OrderService acting as the demo's production planner (the demo user of that role)."""
    from hmi.services.commands import CommandService, workstation_name
    from hmi.services.orders import OrderService

    planner = SessionUser(PLANNER, PLANNER)
    return OrderService(CommandService(engine, lambda: planner, workstation_name()))


class OrderFeeder:
    """A thread that stocks the materials and keeps RUNNING orders released while the demo runs (its own
    engine on the demo's database: it waits for the window to have created the schema and the shopfloors
    to report online)."""

    def __init__(self, url: str, before: Callable[[], bool] = lambda: True) -> None:
        self.url = url
        self._before = before  # blocking, on the feeder's thread: False ends the feeder at once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-orders", daemon=True)
        self._next = 0

    def start(self) -> None:
        """Start feeding (returns at once)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop feeding and wait for the thread (a call in progress finishes)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        if not self._before():
            return
        from hmi.services.db import make_engine

        engine = make_engine(self.url, check=False)
        try:
            service = order_service(engine)
            if not self._wait_online(service):
                log.warning("demo orders: no shopfloor came online within %.0f s; none released", ONLINE_WAIT_S)
                return
            self._stock(service)
            while not self._stop.is_set():
                self.feed(service)
                self._stop.wait(FEED_EVERY_S)
        except Exception:  # the demo goes on without live orders, and the log says why
            log.exception("demo orders: the feeder stopped")
        finally:
            engine.dispose()

    def _wait_online(self, service: OrderService) -> bool:
        waited = 0.0
        while not self._stop.is_set() and waited < ONLINE_WAIT_S:
            try:
                if any(s.health is ShopfloorHealth.ONLINE for s in service.list_shopfloors()):
                    return True
            except Exception as error:  # noqa: BLE001 - the window may still be creating the schema
                log.debug("demo orders: waiting for the database: %s", error)
            self._stop.wait(0.5)
            waited += 0.5
        return False

    def _stock(self, service: OrderService) -> None:
        """Receive what each material needs to stay above what the orders reserve."""
        have = {m.name: m for m in service.list_materials()}
        for name, quantity, unit in MATERIALS:
            material = have.get(name)
            if material is None or material.available < quantity / 2:
                service.receive_material(name, quantity, unit)

    def feed(self, service: OrderService) -> None:
        """Keep RUNNING orders released: release planned ones first, else create the next product's order."""
        orders = service.list_orders()
        running = [o for o in orders if o.status in (OrderStatus.RELEASED, OrderStatus.IN_PROGRESS)]
        planned = [o for o in orders if o.status is OrderStatus.PLANNED]
        if len(planned) < 2:
            planned.append(self._create(service))
        if len(running) >= RUNNING or not planned:
            return
        self._stock(service)
        order = planned[0]
        from hmi.domain.orders import OrderError

        try:
            service.release_order(order.order_id)
            log.info("demo orders: released %s (%s, %d)", order.order_id, order.product, order.quantity)
        except OrderError as error:
            log.info("demo orders: %s not released: %s", order.order_id, error)

    def _create(self, service: OrderService) -> Order:
        product, quantity, material, per_unit, priority, due_h = PRODUCTS[self._next % len(PRODUCTS)]
        self._next += 1
        due = datetime.now(timezone.utc) + timedelta(hours=due_h)
        return service.create_order(product, quantity, material, due, priority=priority, material_per_unit=per_unit)
