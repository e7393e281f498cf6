"""Times as users type them on the command line: ISO 8601, 'now', or relative like '-15m'."""

from __future__ import annotations

import re
from datetime import datetime, timezone

_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, now: float) -> float:
    """UTC epoch seconds for '2026-11-23T08:00:00Z', '2026-11-23 08:00' (local time), 'now' or '-2h'."""
    text = text.strip()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read the time {text!r}: give ISO 8601 like 2026-11-23T08:00:00Z, 'now', or '-15m', '-2h', '-1d'"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a time without zone is the workstation's local time
    return moment.timestamp()


def format_utc(ts: float) -> str:
    """ISO 8601 in UTC with milliseconds, as exports and logs write times."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
