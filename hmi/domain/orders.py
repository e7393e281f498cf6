"""Production orders, their shares on the shopfloors, shopfloors, materials: the types every layer shares.

Plain data only here; the rules (splitting by capacity, planning, job numbers) live beside them in
this module and in hmi/domain/planning.py. The store fills these from SQL, the services hand them to
the panes and the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
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


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message to a shopfloor waiting in the outbox: sent again with the same id until confirmed."""

    msg_id: str
    shopfloor_id: str
    payload: bytes  # hmi.domain.shopfloor.encode of an Instruction, Withdraw or Resume


# --- the rules ----------------------------------------------------------------------------------------

ORDER_PREFIX = "ORD"
JOB_PREFIX = "JO"
MAX_QUANTITY = 10_000_000  # good units in one order; more is a typing mistake
MAX_MATERIAL = 1e12
PRIORITIES = range(1, 6)
MAX_TEXT = 200
# Statuses each command may act on.
RELEASABLE = frozenset({OrderStatus.PLANNED})
MOVABLE = frozenset({OrderStatus.PLANNED, OrderStatus.RELEASED, OrderStatus.IN_PROGRESS})
CANCELLABLE = MOVABLE
UNFINISHED_SHARES = frozenset({ShareStatus.QUEUED, ShareStatus.SENT, ShareStatus.ACCEPTED, ShareStatus.RUNNING})
ON_THE_SHOPFLOOR = frozenset({ShareStatus.SENT, ShareStatus.ACCEPTED, ShareStatus.RUNNING})


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class OrderError(Exception):
    """A request about orders, shopfloors or materials that cannot be done; the message says why and what to do."""


class InvalidOrderValue(OrderError, ValueError):
    """A quantity, priority, due date, capacity or name that is not acceptable."""


class MaterialShortfall(OrderError):
    """Releasing would take a material's available quantity below zero."""

    def __init__(self, order_id: str, material: str, needed: float, available: float, unit: str = "unit") -> None:
        self.material, self.needed, self.available = material, needed, available
        self.shortfall = needed - available
        super().__init__(
            f"cannot release {order_id}: it needs {_num(needed)} {unit} of {material}, {_num(available)} available "
            f"(short by {_num(self.shortfall)}); receive material first (hmi material receive)"
        )


class NoShopfloorAvailable(OrderError):
    """No shopfloor is online and in dispatch to take the work."""


class OrderStateError(OrderError):
    """The order's status does not allow the command."""

    def __init__(self, order_id: str, status: OrderStatus, verb: str, allowed: frozenset[OrderStatus]) -> None:
        self.order_id, self.status = order_id, status
        names = [s.value.replace("_", "-") for s in OrderStatus if s in allowed]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        super().__init__(f"{order_id} is {status.value.replace('_', ' ')}; only {listed} orders can be {verb}")


class UnknownOrder(OrderError, LookupError):
    """No order (or instruction) with that id."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        super().__init__(f"there is no order {_cut(order_id)}; see hmi order list")


class UnknownMaterial(OrderError, LookupError):
    """A material that is not in the materials table; the message lists the known ones."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name, self.known = name, known
        listed = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "") if known else "none yet"
        super().__init__(
            f"unknown material {_cut(name)}; known materials: {listed} (add one with hmi material receive)"
        )


class UnknownShopfloor(OrderError, LookupError):
    """A shopfloor id that has never been declared or heard from."""

    def __init__(self, shopfloor_id: str, known: list[str]) -> None:
        self.shopfloor_id = shopfloor_id
        listed = ", ".join(known[:20]) if known else "none yet"
        super().__init__(f"unknown shopfloor {_cut(shopfloor_id)}; known shopfloors: {listed}")


class ReportRejected(OrderError):
    """A report (or hello, ack) that names no instruction of ours, or contradicts the one it names: logged and
    counted, it changes nothing."""


def _cut(text: str, limit: int = 64) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


def _num(value: float) -> str:
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def check_quantity(value: object) -> int:
    """A whole number of good units from 1 to MAX_QUANTITY; InvalidOrderValue otherwise."""
    number = _whole(value, "quantity")
    if not 1 <= number <= MAX_QUANTITY:
        raise InvalidOrderValue(f"quantity {_shown(value)} is out of range; give a whole number from 1 to {MAX_QUANTITY:,}")
    return number


def check_priority(value: object) -> int:
    """A priority from 1 (most urgent) to 5."""
    number = _whole(value, "priority")
    if number not in PRIORITIES:
        raise InvalidOrderValue(f"priority {_shown(value)} is out of range; give 1 (most urgent) to 5")
    return number


def check_amount(value: object, what: str, *, allow_zero: bool = False) -> float:
    """A finite number above zero (or from zero) up to MAX_MATERIAL: a material quantity, a per-unit use, a capacity."""
    try:
        number = float(value) if not isinstance(value, bool) else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidOrderValue(f"{what} {_shown(value)} is not a number; give a number like 250 or 1.5") from None
    low_ok = number >= 0 if allow_zero else number > 0
    if not (math.isfinite(number) and low_ok and number <= MAX_MATERIAL):
        floor = "from 0" if allow_zero else "above 0"
        raise InvalidOrderValue(f"{what} {_shown(value)} is out of range; give a finite number {floor} up to {MAX_MATERIAL:g}")
    return number


def check_due(due: datetime, now: datetime) -> datetime:
    """A timezone-aware due date that is not in the past, as UTC."""
    if not isinstance(due, datetime) or due.tzinfo is None:
        raise InvalidOrderValue("the due date needs a time zone (end it in Z for UTC)")
    if due < now:
        raise InvalidOrderValue(f"due date {due.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC is in the past; give a later one")
    return due.astimezone(timezone.utc)


def check_name(value: object, what: str) -> str:
    """A product or material name: 1 to 200 printable characters, trimmed."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_TEXT or not text.isprintable():
        raise InvalidOrderValue(f"{what} must be 1 to {MAX_TEXT} printable characters")
    return text


def _whole(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidOrderValue(f"{what} must be a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise InvalidOrderValue(f"{what} {_shown(value)} is not a whole number; give one like 1000")


def _shown(value: object) -> str:
    return _cut(value, 40) if isinstance(value, str) else str(value)[:40]


def order_id_for(day: date, n: int) -> str:
    """``ORD-YYYYMMDD-XXXX``: the n-th order of a UTC day (4 digits, more past 9,999)."""
    return f"{ORDER_PREFIX}-{day:%Y%m%d}-{n:04d}"


def job_number_for(day: date, n: int) -> str:
    """``JO-YYYYMMDD-XXXX``: the job number of the n-th order of a UTC day."""
    return f"{JOB_PREFIX}-{day:%Y%m%d}-{n:04d}"


def instruction_id_for(job_number: str, shopfloor_id: str, n: int) -> str:
    """``<jobNumber>/<shopfloorId>/<n>``: the n-th share of an order on one shopfloor."""
    return f"{job_number}/{shopfloor_id}/{n}"


def split_by_capacity(quantity: int, shopfloors: Sequence[tuple[str, float, float]]) -> list[tuple[str, int]]:
    """Split ``quantity`` over (id, capacity per hour, units queued ahead) so the shares finish together.

    Water-filling: each shopfloor is busy for queued/capacity hours first; the finish time T is the
    one where the free capacity up to T holds the quantity, and each share is capacity*T - queued.
    A shopfloor whose queue alone ends after T gets nothing. Integers summing exactly to ``quantity``
    (largest remainder; ties to the earlier shopfloor in the list); shares of 0 are left out; the
    result keeps the input's order. NoShopfloorAvailable when none has capacity.
    """
    usable = [(sid, float(cap), max(0.0, float(q))) for sid, cap, q in shopfloors if cap > 0 and math.isfinite(cap)]
    if not usable:
        raise NoShopfloorAvailable(
            "no shopfloor is online and in dispatch with a capacity; take one into dispatch (hmi shopfloor dispatch ID on)"
        )
    if quantity <= 0:
        return []
    by_free_at = sorted(range(len(usable)), key=lambda i: (usable[i][2] / usable[i][1], i))
    cap_sum = queued_sum = 0.0
    finish = 0.0
    for k, i in enumerate(by_free_at):
        cap_sum += usable[i][1]
        queued_sum += usable[i][2]
        finish = (quantity + queued_sum) / cap_sum
        nxt = by_free_at[k + 1] if k + 1 < len(by_free_at) else None
        if nxt is None or finish <= usable[nxt][2] / usable[nxt][1]:
            break
    exact = [max(0.0, cap * finish - q) for _, cap, q in usable]
    total = sum(exact)
    exact = [e * quantity / total for e in exact]  # rounding noise of the float sums away
    units = [math.floor(e) for e in exact]
    left = quantity - sum(units)
    for i in sorted(range(len(usable)), key=lambda i: (-(exact[i] - units[i]), i))[:left]:
        units[i] += 1
    return [(usable[i][0], units[i]) for i in range(len(usable)) if units[i] > 0]


def planned_demand(orders: Sequence[Order]) -> dict[str, float]:
    """Per material, what the planned (not yet released) orders will reserve when they are released."""
    demand: dict[str, float] = {}
    for o in orders:
        if o.status is OrderStatus.PLANNED:
            demand[o.material] = demand.get(o.material, 0.0) + o.quantity * o.material_per_unit
    return demand


def heartbeat_health(last: datetime | None, now: datetime, late_after_s: float, offline_after_s: float,
                     link_up: bool = True) -> ShopfloorHealth:  # fmt: skip
    """A shopfloor's health from its last heartbeat's age; UNKNOWN before the first or while our link is down."""
    if last is None or not link_up:
        return ShopfloorHealth.UNKNOWN
    age = (now - last).total_seconds()
    if age <= late_after_s:
        return ShopfloorHealth.ONLINE
    return ShopfloorHealth.LATE if age <= offline_after_s else ShopfloorHealth.OFFLINE


def order_status_after(quantity: int, produced: int, shares: Sequence[ShareStatus], status: OrderStatus) -> OrderStatus:
    """An order's status once its shares changed: completed at the quantity, short when every share is
    final below it, in progress once anything was reported."""
    if status in FINISHED or status is OrderStatus.PLANNED:
        return status
    if produced >= quantity:
        return OrderStatus.COMPLETED
    if shares and all(s in (ShareStatus.DONE, ShareStatus.WITHDRAWN) for s in shares):
        return OrderStatus.SHORT
    touched = any(s not in (ShareStatus.QUEUED, ShareStatus.SENT, ShareStatus.ACCEPTED) for s in shares)
    return OrderStatus.IN_PROGRESS if touched or produced else status
