"""`hmi order create|release|list|show|cancel|move`: production orders, acting as `--user NAME` (audited)."""

from __future__ import annotations

import argparse
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from hmi.commands.acting import add_actor_options, command_service
from hmi.commands.database import open_database
from hmi.commands.errors import CommandError, as_command_errors
from hmi.domain.orders import OrderStatus
from hmi.domain.timespec import parse_time

if TYPE_CHECKING:
    from hmi.services.orders import OrderService

TIME_HELP = "ISO 8601 (2026-12-08T14:00, local time unless it ends in Z), 'now', or relative: -8h, -30m"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `order` and its verbs to the parser."""
    p = sub.add_parser("order", parents=[common], help="production orders: create, release, list, show, cancel, move")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, help_: str, handler) -> argparse.ArgumentParser:  # noqa: ANN001
        v = verbs.add_parser(name, parents=[common], help=help_)
        v.set_defaults(handler=handler)
        add_actor_options(v)
        return v

    create = verb("create", "create a planned order (production planners)", run_create)
    create.add_argument("--product", required=True)
    create.add_argument("--quantity", required=True, metavar="N", help="good units, a whole number")
    create.add_argument("--material", required=True, metavar="M", help="a known material (hmi material list)")
    create.add_argument("--due", required=True, metavar="T", help=f"due date: {TIME_HELP}")
    create.add_argument("--priority", default="3", metavar="1-5", help="1 most urgent .. 5 (default 3)")
    create.add_argument("--per-unit", default="1", metavar="F", help="material used per unit made (default 1)")
    verb("release", "reserve the material and send the order to the shopfloors", run_release).add_argument("order_id")
    listing = verb("list", "orders, unfinished first in queue order", run_list)
    listing.add_argument("--status", metavar="S", help="only this status: " + ", ".join(s.value for s in OrderStatus))
    verb("show", "one order with its shares, reports and reassignments", run_show).add_argument("order_id")
    cancel = verb("cancel", "cancel an order (its shares are withdrawn)", run_cancel)
    cancel.add_argument("order_id")
    cancel.add_argument("--reason", default="", help="why (for the audit trail)")
    move = verb("move", "move an order up or down the queue", run_move)
    move.add_argument("order_id")
    way = move.add_mutually_exclusive_group(required=True)
    way.add_argument("--up", type=int, metavar="N", help="N places earlier")
    way.add_argument("--down", type=int, metavar="N", help="N places later")


def refusals() -> AbstractContextManager[None]:
    """The services' refusals as one-line CommandErrors."""
    from hmi.domain.audit import AuditUnavailable
    from hmi.domain.orders import OrderError
    from hmi.domain.permissions import PermissionDenied

    return as_command_errors(OrderError, PermissionDenied, AuditUnavailable)


def order_service(args: argparse.Namespace) -> OrderService:
    """The OrderService acting as --user on the command's database."""
    from hmi.services.orders import OrderService

    return OrderService(command_service(args, open_database(args)))


def when(text: str, option: str) -> datetime:
    """A time given on the command line as an aware UTC datetime; CommandError naming the option."""
    try:
        ts = parse_time(text, datetime.now(timezone.utc).timestamp())
        return datetime.fromtimestamp(ts, tz=timezone.utc)
    except (ValueError, OverflowError, OSError) as error:
        raise CommandError(f"{option}: {error}") from None


def print_table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    for cells in (head, *rows):
        print("  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)).rstrip())


def _t(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M}Z"


def _late(seconds: float | None) -> str:
    return "" if not seconds else f"late {seconds / 3600:.1f} h"


def run_create(args: argparse.Namespace) -> int:
    due = when(args.due, "--due")
    with refusals():
        order = order_service(args).create_order(args.product, args.quantity, args.material, due, args.priority,
                                                  args.per_unit)  # fmt: skip
    print(f"created {order.order_id} (job {order.job_number}): {order.quantity} x {order.product}, due {_t(order.due)}")
    return 0


def run_release(args: argparse.Namespace) -> int:
    with refusals():
        order = order_service(args).release_order(args.order_id)
    shares = ", ".join(f"{s.shopfloor_id} {s.quantity}" for s in order.shares)
    print(f"released {order.order_id}: {shares}; expected finish {_t(order.expected_finish)} {_late(order.late_by_s)}".rstrip())
    return 0


def run_list(args: argparse.Namespace) -> int:
    statuses = None
    if args.status:
        try:
            statuses = [OrderStatus(args.status.strip().lower().replace("-", "_"))]
        except ValueError:
            raise CommandError(f"unknown status {args.status[:40]!r}; statuses: "
                               + ", ".join(s.value for s in OrderStatus)) from None  # fmt: skip
    with refusals():
        found = order_service(args).list_orders(statuses)
    rows = [(o.order_id, o.job_number, o.status.value, str(o.priority), f"{o.produced}/{o.quantity}", o.product,
             _t(o.due), _t(o.expected_finish), _late(o.late_by_s)) for o in found]  # fmt: skip
    print_table(("order", "job", "status", "prio", "made", "product", "due", "expected", "late"), rows)
    return 0


def run_show(args: argparse.Namespace) -> int:
    with refusals():
        detail = order_service(args).order_detail(args.order_id)
    o = detail.order
    print(f"{o.order_id}  job {o.job_number}  {o.status.value}  {o.quantity} x {o.product}  priority {o.priority}")
    print(f"material {o.material} x{o.material_per_unit:g}/unit  due {_t(o.due)}  expected {_t(o.expected_finish)} "
          f"{_late(o.late_by_s)}".rstrip())  # fmt: skip
    print(f"made {o.produced} good, {o.defective} rejected")
    print_table(("instruction", "shopfloor", "status", "made", "start", "finish"),
                [(s.instruction_id, s.shopfloor_id, s.status.value, f"{s.produced}/{s.quantity}", _t(s.expected_start),
                  _t(s.expected_finish)) for s in o.shares])  # fmt: skip
    for r in detail.reassignments:
        moved = ", ".join(f"{sid} {units}" for sid, units in r.to)
        print(f"{_t(r.at)} {r.quantity} moved from {r.from_shopfloor} to {moved} by {r.by}: {r.reason}")
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    with refusals():
        order = order_service(args).cancel_order(args.order_id, args.reason)
    print(f"cancelled {order.order_id}")
    return 0


def run_move(args: argparse.Namespace) -> int:
    places = args.up if args.up is not None else args.down
    if places < 1:
        raise CommandError(f"--up and --down take a number of places from 1, not {places}")
    steps = -places if args.up is not None else places
    with refusals():
        order = order_service(args).move_order(args.order_id, steps)
    print(f"moved {order.order_id} to queue position {order.queue_position}")
    return 0
