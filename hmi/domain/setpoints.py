"""Setpoints a user asks to write: parse the typed text, check it against the tag, format old and new.

Pure rules shared by the GUI's setpoint dialog, the `hmi setpoint` command and the service that
audits the write. A value that fails here never reaches the PLC.

Typed input: digits with an optional sign and one decimal separator, a point or a comma
("45", "45.5", "45,5", "-3", ".5"), optionally followed by the tag's unit ("45.5 bar"). A comma
followed by exactly three digits ("1,234") is refused as ambiguous (a thousands separator to some,
a decimal comma to others); so are thousands separators, exponents and words such as "nan".
"""

from __future__ import annotations

import math
import re

from hmi.domain.plant import TagKind, TagSpec

MAX_DECIMALS = 6
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)$")


class SetpointRejected(ValueError):
    """A requested setpoint that may not be written; the message says why and what is allowed."""


class SetpointWriteError(Exception):
    """A permitted setpoint write that did not happen (link down, the PLC refused, no answer); in words."""


def decimals(spec: TagSpec) -> int:
    """Decimals that suit the tag's range, as the tiles show it: 0 from a span of 1000, 1 from 10, else 2."""
    span = abs(spec.eng_high - spec.eng_low)
    return 0 if span >= 1000 else 1 if span >= 10 else 2


def format_number(spec: TagSpec, value: float) -> str:
    """The value with the tag's decimals, or more when they would hide digits the user typed (45.55)."""
    d = decimals(spec)
    text = f"{value:.{d}f}"
    while d < MAX_DECIMALS and float(text) != value:
        d += 1
        text = f"{value:.{d}f}"
    return text


def format_setpoint(spec: TagSpec, value: float | None) -> str:
    """A value with its unit for the confirmation and the audit trail, e.g. "42.0 bar"; "unknown" for None."""
    if value is None or not math.isfinite(value):
        return "unknown"
    return f"{format_number(spec, value)} {spec.unit}".rstrip()


def range_text(spec: TagSpec) -> str:
    """The range a setpoint may take, e.g. "0.0 – 200.0 Nm"."""
    return f"{format_number(spec, spec.eng_low)} – {format_number(spec, spec.eng_high)} {spec.unit}".rstrip()


def parse_setpoint(spec: TagSpec, text: str) -> float:
    """The number a user typed (see the module's rules); SetpointRejected saying what to type otherwise."""
    raw = text.strip()
    if spec.unit and raw.endswith(spec.unit):
        raw = raw[: -len(spec.unit)].rstrip()
    if not raw:
        raise SetpointRejected(f"type a number for {spec.tag_id}, within {range_text(spec)}")
    if not _NUMBER.match(raw):
        raise SetpointRejected(
            f"{text.strip()!r} is not a number: type digits with at most one decimal point or comma, "
            f"e.g. {format_number(spec, spec.eng_low)}"
        )
    if "," in raw:
        whole, _, frac = raw.partition(",")
        if len(frac) == 3 and whole.lstrip("+-") not in ("", "0"):
            raise SetpointRejected(
                f"{raw!r} is ambiguous (a thousands separator or a decimal comma?): "
                f"type {whole}.{frac} or {whole}{frac}"
            )
        raw = f"{whole}.{frac}"
    return float(raw)


def validate_setpoint(spec: TagSpec, value: float) -> float:
    """The value as a float if the tag is a setpoint and the value a finite number within its range."""
    if spec.kind is not TagKind.SETPOINT:
        raise SetpointRejected(f"{spec.tag_id} is a {spec.kind.value} tag, not a setpoint: only setpoints are written")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SetpointRejected(f"{value!r} is not a number")
    value = float(value)
    if not math.isfinite(value):
        raise SetpointRejected(f"{value} is not a finite number; {spec.tag_id} takes {range_text(spec)}")
    if not spec.eng_low <= value <= spec.eng_high:
        raise SetpointRejected(
            f"{format_setpoint(spec, value)} is outside the range of {spec.tag_id}: {range_text(spec)}"
        )
    return value


def requested_setpoint(spec: TagSpec, value: float | str) -> float:
    """A typed text or a number, parsed and validated: the float to write, or SetpointRejected."""
    number = parse_setpoint(spec, value) if isinstance(value, str) else value
    return validate_setpoint(spec, number)
