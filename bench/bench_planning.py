"""Planning and dispatch of 1,000 orders over 10 shopfloors: split by capacity + expected times.

Ours: each order is split against running per-shopfloor loads (kept as orders are added) and the plan
(expected start/finish of every share) is computed once at the end. Baseline: what a naive planner does,
recomputing every shopfloor's load from all shares and re-planning everything after each order.
Also printed: the same 1,000 orders released through the store on SQLite (hmi.store.orders.release,
one transaction each, as `hmi order release` does) and dispatch_queued, for the real end-to-end cost.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hmi.domain.orders import split_by_capacity
from hmi.domain.planning import PlanItem, plan, queued_rank

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def workload(n_orders: int, n_floors: int, seed: int = 1):
    rng = random.Random(seed)
    caps = {f"sf{i:02d}": float(rng.choice([300, 600, 900, 1200, 1500])) for i in range(n_floors)}
    quantities = [rng.randint(100, 5000) for _ in range(n_orders)]
    return caps, quantities


def ours(caps: dict[str, float], quantities: list[int]) -> int:
    load = dict.fromkeys(caps, 0.0)
    items = []
    for k, q in enumerate(quantities):
        for sid, units in split_by_capacity(q, [(s, c, load[s]) for s, c in caps.items()]):
            load[sid] += units
            items.append(PlanItem(f"J{k}/{sid}/1", f"O{k}", sid, units, queued_rank(k, 1)))
    return len(plan(items, caps, T0))


def naive(caps: dict[str, float], quantities: list[int]) -> int:
    items: list[PlanItem] = []
    planned = {}
    for k, q in enumerate(quantities):
        load = {s: float(sum(i.remaining for i in items if i.shopfloor_id == s)) for s in caps}
        for sid, units in split_by_capacity(q, [(s, c, load[s]) for s, c in caps.items()]):
            items.append(PlanItem(f"J{k}/{sid}/1", f"O{k}", sid, units, queued_rank(k, 1)))
        planned = plan(items, caps, T0)
    return len(planned)


def through_the_store(caps: dict[str, float], quantities: list[int]) -> tuple[float, float, int]:
    from hmi.domain.shopfloor import Activity, Heartbeat, iso
    from hmi.store import orders as store
    from hmi.store.db import make_engine
    from hmi.store.locking import write_connection
    from hmi.store.migrate import upgrade

    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'plan.db'}"
    upgrade(url)
    engine = make_engine(url)
    ids = []
    with write_connection(engine) as conn, conn.begin():
        store.receive_material(conn, "PET", 1e9, "kg", T0)
        for sid, cap in caps.items():
            store.record_heartbeat(conn, Heartbeat(sid, cap, Activity.IDLE, 0, iso(T0), 1), T0)
        for q in quantities:
            ids.append(store.insert_order(conn, product="P", quantity=q, material="PET", due=T0 + timedelta(days=3),
                                          priority=3, material_per_unit=1.0, now=T0, user="bench").order_id)
    start = time.perf_counter()
    for oid in ids:
        with write_connection(engine) as conn, conn.begin():
            store.release(conn, oid, T0)
    released = time.perf_counter() - start
    start = time.perf_counter()
    with write_connection(engine) as conn, conn.begin():
        sent = len(store.dispatch_queued(conn, T0, 2))
    dispatched = time.perf_counter() - start
    engine.dispose()
    return released, dispatched, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--shopfloors", type=int, default=10)
    parser.add_argument("--no-store", action="store_true", help="skip the run through the store")
    args = parser.parse_args()
    caps, quantities = workload(args.orders, args.shopfloors)
    t = time.perf_counter()
    n_naive = naive(caps, quantities)
    t_naive = time.perf_counter() - t
    t = time.perf_counter()
    n_ours = ours(caps, quantities)
    t_ours = time.perf_counter() - t
    print(f"{args.orders} orders over {args.shopfloors} shopfloors: {n_ours} shares planned")
    print(f"baseline (recompute loads and plan per order): {t_naive * 1000:9.1f} ms ({n_naive} shares)")
    print(f"ours (running loads, one plan):               {t_ours * 1000:9.1f} ms   {t_naive / t_ours:.0f}x faster")
    if not args.no_store:
        released, dispatched, sent = through_the_store(caps, quantities)
        print(f"through the store, SQLite: release one by one {released * 1000:.0f} ms "
              f"({released / args.orders * 1000:.2f} ms an order), dispatch_queued {dispatched * 1000:.0f} ms ({sent} sent)")


if __name__ == "__main__":
    main()
