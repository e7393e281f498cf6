"""Two workstations on one PostgreSQL creating orders at once never repeat an order id or a job number."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from hmi.domain.session import SessionUser
from hmi.services.commands import CommandService
from hmi.services.orders import OrderService
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from hmi.store.schema import orders

pytestmark = pytest.mark.postgres
EACH = 200


def test_two_workstations_creating_200_orders_each_at_once_get_400_distinct_ids(pg_url):
    upgrade(pg_url)
    engines = [make_engine(pg_url) for _ in range(2)]
    services = [OrderService(CommandService(e, lambda: SessionUser("pia", "production_planner"), f"ws-{i}"))
                for i, e in enumerate(engines)]  # fmt: skip
    services[0].receive_material("PET", 1000, "kg")
    due = datetime.now(timezone.utc) + timedelta(days=2)
    made: list[list] = [[], []]
    start = threading.Barrier(2)

    def work(i: int) -> None:
        start.wait()
        for _ in range(EACH):
            made[i].append(services[i].create_order("Cola", 10, "PET", due))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = made[0] + made[1]
    assert len(everything) == 2 * EACH
    assert len({o.order_id for o in everything}) == len({o.job_number for o in everything}) == 2 * EACH
    with engines[0].connect() as conn:
        assert conn.execute(select(func.count(func.distinct(orders.c.job_number)))).scalar() == 2 * EACH
    for e in engines:
        e.dispose()
