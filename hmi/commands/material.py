"""`hmi material list|receive`: materials on hand and reserved; receiving is audited."""

from __future__ import annotations

import argparse

from hmi.commands.acting import add_actor_options
from hmi.commands.order import order_service, print_table, refusals


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `material` and its verbs to the parser."""
    p = sub.add_parser("material", parents=[common], help="materials: list, receive")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    listing = verbs.add_parser("list", parents=[common], help="on hand, reserved and available")
    listing.set_defaults(handler=run_list)
    receive = verbs.add_parser("receive", parents=[common], help="add received material (a new name is added)")
    receive.add_argument("name")
    receive.add_argument("quantity")
    receive.add_argument("--unit", default="unit", help="its unit when new (default: unit)")
    receive.set_defaults(handler=run_receive)
    for v in (listing, receive):
        add_actor_options(v)


def run_list(args: argparse.Namespace) -> int:
    with refusals():
        found = order_service(args).list_materials()
    rows = [(m.name, f"{m.on_hand:g}", f"{m.reserved:g}", f"{m.available:g}", m.unit) for m in found]
    print_table(("material", "on hand", "reserved", "available", "unit"), rows)
    return 0


def run_receive(args: argparse.Namespace) -> int:
    with refusals():
        m = order_service(args).receive_material(args.name, args.quantity, args.unit)
    print(f"{m.name}: {m.on_hand:g} {m.unit} on hand, {m.available:g} available")
    return 0
