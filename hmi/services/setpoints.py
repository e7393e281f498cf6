"""Writing a twin's setpoint to its PLC as a command: permission, validation, audit, then the write.

The GUI's setpoint dialog and `hmi setpoint write` call ``write_setpoint``. The order matters:

1. the role must allow write_setpoint (an operator is refused, and the refusal is audited as denied);
2. the value must be a number within the tag's range, and the tag a setpoint: otherwise the request is
   audited as refused and nothing is sent (an out-of-range value never reaches the PLC);
3. the write is audited as requested before it is sent (no record, no write), then as ok, or as
   failed with the reason the writer gave (link down, the PLC refused it, no answer in time).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hmi.domain.permissions import Action
from hmi.domain.plant import Plant, TagSpec
from hmi.domain.setpoints import SetpointRejected, format_setpoint, requested_setpoint
from hmi.services.commands import Change, CommandService

if TYPE_CHECKING:
    from hmi.config import EndpointConfig
    from hmi.io.opcua import OneOffConnection

# Writes one value to a setpoint tag's PLC; blocks until the PLC answered; raises SetpointWriteError.
SetpointWriter = Callable[[str, float], None]


@dataclass(frozen=True, slots=True)
class SetpointWritten:
    """A setpoint the PLC accepted: the tag, the value sent, and old and new as recorded."""

    tag_id: str
    value: float
    old: str
    new: str


def write_setpoint(
    commands: CommandService,
    plant: Plant,
    writer: SetpointWriter,
    tag_id: str,
    value: float | str,
    current: float | None = None,
) -> SetpointWritten:
    """Write ``value`` (a number, or text as typed) to setpoint ``tag_id``, audited; ``current`` is the old value.

    Raises PermissionDenied (audited as denied), SetpointRejected (audited as refused, nothing sent),
    AuditUnavailable (nothing sent), or the writer's error (audited as failed).
    """
    commands.authorize(Action.WRITE_SETPOINT, tag_id, Change(new=str(value)))
    try:
        spec: TagSpec = plant.tag(tag_id)
    except KeyError:
        rejected = SetpointRejected(f"there is no tag {tag_id!r} in the plant configuration")
        commands.refuse(Action.WRITE_SETPOINT, tag_id, Change(new=str(value)), rejected)
        raise rejected from None
    old = format_setpoint(spec, current) if current is not None else None  # None: not known, none recorded
    try:
        number = requested_setpoint(spec, value)
    except SetpointRejected as rejected:
        finite = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        shown = format_setpoint(spec, float(value)) if finite else str(value)
        commands.refuse(Action.WRITE_SETPOINT, tag_id, Change(old, shown), rejected)
        raise
    change = Change(old, format_setpoint(spec, number))
    commands.run_external(Action.WRITE_SETPOINT, tag_id, change, lambda: writer(tag_id, number))
    return SetpointWritten(tag_id, number, format_setpoint(spec, current), format_setpoint(spec, number))


def plc_connection(endpoint: EndpointConfig, password: str | None = None) -> OneOffConnection:
    """A connection of its own to one PLC (open, read, write, close) for a command given outside the window."""
    from hmi.io.opcua import OneOffConnection  # asyncua only for the command that talks to a PLC

    return OneOffConnection(endpoint, password)
