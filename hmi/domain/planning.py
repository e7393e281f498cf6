"""Planning: where an order goes in the queue, when each share is expected to start and finish, who is late.

Each shopfloor works its shares one after the other: first those already sent to it (in the order it
got them), then the HMI's queued ones in queue order. The queue order is the orders' queue position:
a release inserts the order by priority (1 first), then due date, and the planner may move it from
there. A share's expected start is when the work ahead of it on its shopfloor is done at the
shopfloor's capacity; its finish adds its own remaining units. An order is expected to finish with
its last share, and is late by how far that passes its due date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class PlanItem:
    """A share to plan: its shopfloor, the good units still to make, and its rank in that shopfloor's queue."""

    instruction_id: str
    order_id: str
    shopfloor_id: str
    remaining: int
    rank: tuple  # sorts the shopfloor's work: (0, sent position) for sent shares, (1, queue position, n) for queued


@dataclass(frozen=True, slots=True)
class Planned:
    """A share's expected start and finish (None on a shopfloor without capacity)."""

    start: datetime | None
    finish: datetime | None


def sent_rank(position: int) -> tuple:
    """The rank of a share already on its shopfloor: worked in the order it was sent."""
    return (0, position)


def queued_rank(queue_position: int, n: int) -> tuple:
    """The rank of a share still in the HMI's queue: after every sent one, in queue order."""
    return (1, queue_position, n)


def plan(items: Iterable[PlanItem], capacities: Mapping[str, float], now: datetime) -> dict[str, Planned]:
    """Expected start and finish of every item, per shopfloor by rank at that shopfloor's capacity."""
    lanes: dict[str, list[PlanItem]] = defaultdict(list)
    for item in items:
        lanes[item.shopfloor_id].append(item)
    out: dict[str, Planned] = {}
    for shopfloor_id, lane in lanes.items():
        capacity = capacities.get(shopfloor_id, 0.0)
        lane.sort(key=lambda i: i.rank)
        if capacity <= 0:
            out.update((i.instruction_id, Planned(None, None)) for i in lane)
            continue
        ahead = 0.0
        for item in lane:
            start = now + timedelta(seconds=ahead / capacity * HOUR_S)
            ahead += max(0, item.remaining)
            out[item.instruction_id] = Planned(start, now + timedelta(seconds=ahead / capacity * HOUR_S))
    return out


def lateness(due: datetime, finishes: Iterable[datetime | None]) -> tuple[datetime | None, float | None]:
    """(expected finish, seconds late) of an order from its shares' finishes; (None, None) when unknown.

    The lateness is 0.0 for an order expected on time and above 0 for a late one.
    """
    known = list(finishes)
    if not known or any(f is None for f in known):
        return None, None
    finish = max(f for f in known if f is not None)
    return finish, max(0.0, (finish - due).total_seconds())


def insert_position(queue: Sequence[tuple[int, datetime, int]], priority: int, due: datetime) -> int:
    """The queue position for an order released now among (priority, due, position) of the queued ones:
    before the first one that is less urgent (a higher priority number, or the same and due later)."""
    later = [pos for p, d, pos in queue if (p, d) > (priority, due)]
    if later:
        return min(later)
    return max((pos for _, _, pos in queue), default=0) + 1


def moved(queue: Sequence[str], order_id: str, steps: int) -> list[str]:
    """The queue (order ids, first first) with ``order_id`` moved ``steps`` places (< 0: earlier), clamped at the ends."""
    ids = list(queue)
    at = ids.index(order_id)
    ids.pop(at)
    ids.insert(min(max(at + steps, 0), len(ids)), order_id)
    return ids
