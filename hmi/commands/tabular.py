"""`--format table|csv|json` for the listings of `hmi andon` and `hmi downtime`: one helper prints all three."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from typing import Any

FORMATS = ("table", "csv", "json")


def add_format_option(parser: argparse.ArgumentParser) -> None:
    """Add --format table|csv|json (default table)."""
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (for people), csv or json (for programs); default table")  # fmt: skip


def emit(fmt: str, head: Sequence[str], rows: Sequence[Sequence[str]], records: Sequence[dict[str, Any]]) -> None:
    """Print ``rows`` under ``head`` as a padded table or CSV, or ``records`` as a JSON array."""
    if fmt == "json":
        json.dump(list(records), sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(head)
        writer.writerows(rows)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    for cells in (head, *rows):
        print("  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)).rstrip())


def plain(value: Any) -> Any:
    """A dataclass field as JSON has it: enums as their value, the rest as it is."""
    return getattr(value, "value", value)
