"""`hmi setpoint write|show`: write a twin's setpoint to its PLC (engineers and admins, audited), or read it.

`write` acts as `--user NAME` through the same service as the GUI's setpoint dialog: the permission
is checked before the PLC is contacted, a value outside the tag's range is refused (and audited) without
contacting it, and the write itself is audited as requested, then ok or failed. It opens one connection
to the tag's endpoint (with the endpoint's security and user), reads the current value for the record,
writes, and disconnects.
"""

from __future__ import annotations

import argparse
import asyncio
from contextlib import AbstractContextManager

from hmi.commands.acting import add_actor_options, command_service
from hmi.commands.database import open_database
from hmi.commands.errors import CommandError, as_command_errors
from hmi.config import PlantConfig, load_config
from hmi.domain.permissions import Action, PermissionDenied
from hmi.domain.plant import TagKind, TagSpec
from hmi.domain.setpoints import SetpointRejected, SetpointWriteError, format_setpoint, range_text, requested_setpoint

WRITE_TIMEOUT_S = 10.0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `setpoint` and its verbs to the parser."""
    p = sub.add_parser("setpoint", parents=[common], help="write or read a twin's setpoint on its PLC")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    write = verbs.add_parser(
        "write", parents=[common], help="write a setpoint to the PLC (engineers and admins; audited)"
    )
    write.add_argument("tag", metavar="TAG", help="a setpoint tag, e.g. drillrig1.setpoint")
    write.add_argument("value", metavar="VALUE", help="the new value within the tag's range: 45, 45.5 or 45,5")
    add_actor_options(write)
    write.set_defaults(handler=run_write)
    show = verbs.add_parser("show", parents=[common], help="read a setpoint's value from the PLC (no login needed)")
    show.add_argument("tag", metavar="TAG", help="a setpoint tag, e.g. drillrig1.setpoint")
    show.set_defaults(handler=run_show)


def _refusals() -> AbstractContextManager[None]:
    """The service's and the PLC's refusals as one-line CommandErrors."""
    from hmi.domain.audit import AuditUnavailable

    return as_command_errors(PermissionDenied, SetpointRejected, SetpointWriteError, AuditUnavailable)


def _setpoint_spec(config: PlantConfig, tag_id: str) -> TagSpec | None:
    """The tag if it is a setpoint of the plant; None otherwise (the service says why)."""
    try:
        spec = config.plant().tag(tag_id)
    except KeyError:
        return None
    return spec if spec.kind is TagKind.SETPOINT else None


def _password(config: PlantConfig, spec: TagSpec) -> str | None:
    from hmi.runtime import endpoint_password

    return endpoint_password(config.endpoint(spec.endpoint))


def _never(tag_id: str, value: float) -> None:
    raise SetpointWriteError(f"{tag_id}: nothing is sent for a refused request")


async def _write_on_plc(commands, config: PlantConfig, spec: TagSpec, text: str):  # noqa: ANN001, ANN202
    """Connect, read the current value, run the service in a worker thread with a writer on this connection."""
    from hmi.services.setpoints import plc_connection, write_setpoint

    loop = asyncio.get_running_loop()
    connection = plc_connection(config.endpoint(spec.endpoint), _password(config, spec))
    unreachable: SetpointWriteError | None = None
    try:
        await connection.open()
    except SetpointWriteError as exc:
        unreachable = exc  # still a request the user made: audited as requested, then failed
    try:
        current = None if unreachable else await connection.read(spec)

        def writer(tag_id: str, value: float) -> None:
            if unreachable is not None:
                raise unreachable
            future = asyncio.run_coroutine_threadsafe(connection.write(spec, value), loop)
            try:
                future.result(WRITE_TIMEOUT_S)
            except TimeoutError:
                future.cancel()
                raise SetpointWriteError(
                    f"{spec.endpoint} did not answer the write of {tag_id} within {WRITE_TIMEOUT_S:g} s; "
                    f"check on the PLC whether the setpoint changed"
                ) from None

        return await loop.run_in_executor(None, write_setpoint, commands, config.plant(), writer, spec.tag_id, text,
                                          current)
    finally:
        await connection.close()


def run_write(args: argparse.Namespace) -> int:
    """Write TAG := VALUE as --user, audited; prints old -> new."""
    from hmi.services.commands import Change
    from hmi.services.setpoints import write_setpoint

    config = load_config(args.config)
    engine = open_database(args, config)
    with _refusals():
        commands = command_service(args, engine)
        # Refused roles are audited and stopped before the PLC is contacted.
        commands.authorize(Action.WRITE_SETPOINT, args.tag, Change(new=args.value))
        spec = _setpoint_spec(config, args.tag)
        valid = True
        if spec is not None:
            try:
                requested_setpoint(spec, args.value)
            except SetpointRejected:
                valid = False
        if spec is None or not valid:  # the service refuses it, audited, without a connection
            write_setpoint(commands, config.plant(), _never, args.tag, args.value)
            raise CommandError(f"{args.tag}: refused")  # not reached: the service raised
        written = asyncio.run(_write_on_plc(commands, config, spec, args.value))
    print(f"{written.tag_id}: {written.old} -> {written.new} written to {spec.endpoint}")
    return 0


async def _read(config: PlantConfig, spec: TagSpec) -> float | None:
    from hmi.services.setpoints import plc_connection

    connection = plc_connection(config.endpoint(spec.endpoint), _password(config, spec))
    try:
        await connection.open()
        return await connection.read(spec)
    finally:
        await connection.close()


def run_show(args: argparse.Namespace) -> int:
    """Print TAG's value as the PLC has it, with its range."""
    config = load_config(args.config)
    spec = _setpoint_spec(config, args.tag)
    if spec is None:
        raise CommandError(f"{args.tag} is not a setpoint tag of the plant configuration")
    with _refusals():
        value = asyncio.run(_read(config, spec))
    print(f"{spec.tag_id}: {format_setpoint(spec, value)} (range {range_text(spec)}) on {spec.endpoint}")
    return 0
