"""`hmi oee`: OEE (ISO 22400-2) per line and shift, day or week over a period, or plant-wide with --combined."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from hmi.commands.andon import TIME_HELP, refusals, utc
from hmi.commands.database import open_database
from hmi.commands.downtime import time_range
from hmi.commands.tabular import add_format_option, emit, plain
from hmi.domain.oee import Period

if TYPE_CHECKING:
    from hmi.domain.oee import OeeFigures
    from hmi.services.oee import OeeService

HEAD = ("period", "line", "planned min", "run min", "down min", "micro-stops", "produced", "good", "availability %",
        "performance %", "quality %", "OEE %", "note")  # fmt: skip


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `oee` to the parser."""
    p = sub.add_parser("oee", parents=[common], help="OEE per line and shift, day or week (ISO 22400-2)")
    p.add_argument("--from", dest="start", metavar="T", required=True, help=TIME_HELP)
    p.add_argument("--to", dest="end", metavar="T", default="now", help="until T (default now)")
    p.add_argument("--by", choices=[x.value for x in Period], default=Period.SHIFT.value,
                   help="one row per shift (default), local day or ISO week of the [shifts] calendar")  # fmt: skip
    p.add_argument("--line", metavar="L", help="only this line or shopfloor")
    p.add_argument("--combined", action="store_true",
                   help="one plant-wide row per period: the lines' times and counts summed (not their ratios averaged)")
    add_format_option(p)
    p.set_defaults(handler=run)


def oee_service(args: argparse.Namespace) -> OeeService:
    """The OeeService on the command's config and database."""
    from hmi.config import load_config
    from hmi.services.oee import OeeService

    config = load_config(args.config)
    return OeeService(open_database(args, config), config)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def cells(f: OeeFigures) -> tuple[str, ...]:
    """One row of the table (and of the CSV)."""
    return (f.label, f.line, _minutes(f.planned_s), _minutes(f.run_s), _minutes(f.unplanned_down_s), str(f.micro_stops),
            str(f.produced), str(f.good), _percent(f.availability), _percent(f.performance), _percent(f.quality),
            _percent(f.oee), f.missing)  # fmt: skip


def record(f: OeeFigures) -> dict[str, Any]:
    """One figure as JSON has it: every field, the losses by name (seconds), the times also as UTC text."""
    out = {k: plain(v) for k, v in asdict(f).items() if k != "losses"}
    out["start"], out["end"] = utc(f.start_us), utc(f.end_us)
    out["losses"] = {plain(k): round(v, 3) for k, v in f.losses.items()}
    return out


def run(args: argparse.Namespace) -> int:
    start, end = time_range(args)
    service = oee_service(args)
    with refusals():
        rows = service.figures(start, end, by=Period(args.by), line=args.line, combined=args.combined)
    emit(args.format, HEAD, [cells(f) for f in rows], [record(f) for f in rows])
    return 0
