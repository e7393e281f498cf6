"""The engine side of the orders store as the dispatcher uses it: hmi.store.orders' engine functions, and
the few reads and writes of the dispatcher's own (the heartbeats to judge, the judged health, the outbox's size).

Every function takes a Connection inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from hmi.domain.orders import ShopfloorHealth
from hmi.store.orders import (  # the dispatcher's store is this module: these are part of it
    answer_hello,
    apply_ack,
    apply_report,
    count_invalid,
    dispatch_queued,
    ensure_shopfloors,
    from_us,
    mark_sent,
    outbox_due,
    reassign_offline,
    record_heartbeat,
)
from hmi.store.schema import outbox, shopfloors

__all__ = [
    "answer_hello", "apply_ack", "apply_report", "count_invalid", "dispatch_queued", "ensure_shopfloors",
    "last_heartbeats", "mark_sent", "outbox_due", "outbox_pending", "reassign_offline", "record_heartbeat",
    "save_health",
]  # fmt: skip


def last_heartbeats(conn: Connection) -> dict[str, datetime | None]:
    """Every known shopfloor with the time its last heartbeat was received (None: never)."""
    rows = conn.execute(select(shopfloors.c.shopfloor_id, shopfloors.c.last_heartbeat_us)).all()
    return {r.shopfloor_id: from_us(r.last_heartbeat_us) for r in rows}


def save_health(conn: Connection, health: Mapping[str, ShopfloorHealth]) -> list[tuple[str, ShopfloorHealth]]:
    """Store each shopfloor's judged health where it changed; the changes (id, health before)."""
    rows = conn.execute(select(shopfloors.c.shopfloor_id, shopfloors.c.health)).all()
    changed = []
    for r in rows:
        after = health.get(r.shopfloor_id)
        if after is not None and after.value != r.health:
            conn.execute(update(shopfloors).where(shopfloors.c.shopfloor_id == r.shopfloor_id).values(health=after.value))
            changed.append((r.shopfloor_id, ShopfloorHealth(r.health)))
    return changed


def outbox_pending(conn: Connection) -> int:
    """Messages to shopfloors not yet confirmed by them."""
    return int(conn.execute(select(func.count()).select_from(outbox).where(outbox.c.acked_us.is_(None))).scalar() or 0)
