"""`hmi shopfloor list|capacity|dispatch`: the shopfloors, their capacity and dispatch (MES managers)."""

from __future__ import annotations

import argparse

from hmi.commands.acting import add_actor_options
from hmi.commands.order import order_service, print_table, refusals


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `shopfloor` and its verbs to the parser."""
    p = sub.add_parser("shopfloor", parents=[common], help="shopfloors: list, capacity, dispatch on|off")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    listing = verbs.add_parser("list", parents=[common], help="every shopfloor with its health, capacity and load")
    listing.set_defaults(handler=run_list)
    capacity = verbs.add_parser("capacity", parents=[common], help="set a shopfloor's capacity (MES managers)")
    capacity.add_argument("shopfloor_id")
    capacity.add_argument("units_per_hour", metavar="UNITS_PER_HOUR")
    capacity.set_defaults(handler=run_capacity)
    dispatch = verbs.add_parser("dispatch", parents=[common], help="take a shopfloor into dispatch or out of it")
    dispatch.add_argument("shopfloor_id")
    dispatch.add_argument("state", choices=("on", "off"))
    dispatch.set_defaults(handler=run_dispatch)
    for v in (listing, capacity, dispatch):
        add_actor_options(v)


def run_list(args: argparse.Namespace) -> int:
    with refusals():
        found = order_service(args).list_shopfloors()
    rows = [(s.shopfloor_id, s.health.value, f"{s.capacity:g}", "on" if s.in_dispatch else "off", str(s.load),
             s.activity, "" if s.last_heartbeat is None else f"{s.last_heartbeat:%Y-%m-%d %H:%M:%S}Z") for s in found]
    print_table(("shopfloor", "health", "units/h", "dispatch", "load", "activity", "last heartbeat"), rows)
    return 0


def run_capacity(args: argparse.Namespace) -> int:
    with refusals():
        s = order_service(args).set_capacity(args.shopfloor_id, args.units_per_hour)
    print(f"{s.shopfloor_id}: capacity {s.capacity:g} units/h")
    return 0


def run_dispatch(args: argparse.Namespace) -> int:
    with refusals():
        s = order_service(args).set_dispatch(args.shopfloor_id, args.state == "on")
    print(f"{s.shopfloor_id}: dispatch {'on' if s.in_dispatch else 'off'}")
    return 0
