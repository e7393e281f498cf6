"""Production orders, their shares on the shopfloors, shopfloors, materials: the types every layer shares.

Plain data only here; the rules (splitting by capacity, planning, job numbers) live beside them in
this module and in hmi/domain/planning.py. The store fills these from SQL, the services hand them to
the panes and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class OrderStatus(str, Enum):
    """An order's life: planned -> released -> in_progress -> completed | short | cancelled."""

    PLANNED = "planned"  # created, not yet released: nothing reserved, nothing sent
    RELEASED = "released"  # material reserved, shares assigned; no unit reported yet
    IN_PROGRESS = "in_progress"  # at least one report arrived
    COMPLETED = "completed"  # every share final and the good units reach the quantity
    SHORT = "short"  # every share final, fewer good units than ordered (and nobody left to make them)
    CANCELLED = "cancelled"


FINISHED = frozenset({OrderStatus.COMPLETED, OrderStatus.SHORT, OrderStatus.CANCELLED})


class ShareStatus(str, Enum):
    """One share of an order on one shopfloor."""

    QUEUED = "queued"  # assigned, its instruction not yet sent (the HMI holds the queue)
    SENT = "sent"  # instruction in the outbox / on the wire, not yet confirmed by the shopfloor
    ACCEPTED = "accepted"  # the shopfloor confirmed the instruction
    RUNNING = "running"  # reports are arriving
    DONE = "done"  # final report: the share's quantity is made
    WITHDRAWING = "withdrawing"  # withdraw sent, waiting for the shopfloor's final withdrawn report
    WITHDRAWN = "withdrawn"  # the shopfloor confirmed; its remainder went elsewhere


class ShopfloorHealth(str, Enum):
    """A shopfloor by the age of its last heartbeat."""

    ONLINE = "online"
    LATE = "late"
    OFFLINE = "offline"
    UNKNOWN = "unknown"  # never heard from, or the HMI's own broker link is down


@dataclass(frozen=True, slots=True)
class Share:
    """The part of an order one shopfloor makes, with its planned times and its progress."""

    instruction_id: str  # also the msgId of its instruction
    order_id: str
    shopfloor_id: str
    quantity: int  # good units asked of this shopfloor
    status: ShareStatus
    produced: int = 0  # good units reported (running total)
    defective: int = 0
    position: int = 0  # place in the shopfloor's queue
    expected_start: datetime | None = None
    expected_finish: datetime | None = None
    sent_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """A production order as the planner sees it."""

    order_id: str  # ORD-YYYYMMDD-XXXX
    job_number: str  # JO-YYYYMMDD-XXXX, daily sequence, never repeats
    product: str
    quantity: int  # good units
    material: str
    due: datetime
    priority: int  # 1 (most urgent) .. 5
    status: OrderStatus
    created_at: datetime
    created_by: str
    produced: int = 0
    defective: int = 0
    material_per_unit: float = 1.0
    queue_position: int = 0  # the planner's order among released ones
    expected_finish: datetime | None = None
    late_by_s: float | None = None  # > 0 when the expected finish passes the due date
    shares: tuple[Share, ...] = ()

    @property
    def progress(self) -> float:
        """Good units made as a fraction of the quantity (0..1)."""
        return min(1.0, self.produced / self.quantity) if self.quantity else 0.0


@dataclass(frozen=True, slots=True)
class Shopfloor:
    """A shopfloor as the MES manager sees it."""

    shopfloor_id: str
    capacity: float  # good units per hour, as the MES manager set it (or as it announced)
    in_dispatch: bool
    health: ShopfloorHealth
    last_heartbeat: datetime | None = None
    activity: str = ""  # from its heartbeat: producing, idle, stopped
    load: int = 0  # good units assigned and not yet made
    last_report: datetime | None = None


@dataclass(frozen=True, slots=True)
class Material:
    """A material with what is on hand and what released orders have reserved."""

    name: str
    on_hand: float
    reserved: float
    unit: str = "unit"

    @property
    def available(self) -> float:
        """What a new release may still reserve."""
        return self.on_hand - self.reserved


@dataclass(frozen=True, slots=True)
class Reassignment:
    """Work moved away from a shopfloor: when, why, how much and where to."""

    at: datetime
    order_id: str
    from_shopfloor: str
    quantity: int
    to: tuple[tuple[str, int], ...]  # (shopfloor id, units)
    reason: str  # "sf1 offline: no heartbeat for 10 s"
    by: str = "system"


@dataclass(frozen=True, slots=True)
class ProductionRow:
    """One row of the production report: produced against planned, by shopfloor, order or hour."""

    key: str  # the shopfloor id, the order id, or the hour (ISO) the row is about
    planned: int
    produced: int
    defective: int
    hours: float = 0.0  # the time the throughput is measured over

    @property
    def defect_rate(self) -> float:
        """Rejected as a fraction of all units made."""
        made = self.produced + self.defective
        return self.defective / made if made else 0.0

    @property
    def first_pass_yield(self) -> float:
        """Good units as a fraction of all units made."""
        made = self.produced + self.defective
        return self.produced / made if made else 0.0

    @property
    def throughput_per_hour(self) -> float:
        """Good units per hour over ``hours``."""
        return self.produced / self.hours if self.hours > 0 else 0.0


@dataclass(frozen=True, slots=True)
class OrderDetail:
    """An order with everything the detail view shows."""

    order: Order
    reports: tuple[tuple[datetime, str, int, int], ...] = ()  # (received, shopfloor, produced, defective)
    reassignments: tuple[Reassignment, ...] = ()
    history: tuple[tuple[datetime, str, str], ...] = field(default=())  # (when, who, what) from the audit
