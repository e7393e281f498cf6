"""Force a simulated tag to a value and release it again, as one forces an input on a real PLC.

The simulator serves a writable Double ``ns=2;s=sim.force.<tag_id>`` for each of the plant's
non-setpoint tags: a finite number forces the tag, NaN releases it. From the shell::

    python -m plc_sim.force --url opc.tcp://127.0.0.1:4840/hmi/plc drillrig1.pressure 75
    python -m plc_sim.force drillrig1.pressure release
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from asyncua import Client, ua

from hmi.commands.errors import OneLineParser
from plc_sim.plant import endpoint_url, force_node_id

DEFAULT_URL = endpoint_url("127.0.0.1", 4840)
T = TypeVar("T")


class ForceError(Exception):
    """Forcing failed: an unknown tag, an unreachable server or a refused session or write (one line)."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _checked(value: float | None) -> float:
    """The number to write: NaN for a release; ValueError for an infinite value."""
    if value is None:
        return math.nan
    value = float(value)
    if math.isinf(value):
        raise ValueError(f"cannot force to {value}: a forced value is a finite number (None or NaN releases)")
    return value


class ForceClient:
    """One session to a simulator for many forces, e.g. a value oscillating around a limit."""

    def __init__(self, url: str = DEFAULT_URL, *, user: str | None = None, password: str | None = None,
                 timeout: float = 5.0) -> None:
        self.url = url
        self._client = Client(url, timeout=timeout)
        if user is not None:
            self._client.set_user(user)
            self._client.set_password(password or "")

    async def __aenter__(self) -> ForceClient:
        try:
            await self._client.connect()
        except ua.UaStatusCodeError as exc:
            raise ForceError(f"{self.url} refused the session: {_one_line(exc)}") from None
        except (OSError, asyncio.TimeoutError) as exc:
            raise ForceError(f"cannot reach {self.url}: {_one_line(exc)}") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._client.disconnect()
        except (OSError, asyncio.TimeoutError, ua.UaError):
            pass  # the server went away first; nothing is left to release on our side

    async def force(self, tag_id: str, value: float | None) -> None:
        """Force `tag_id` to `value` (served within a tick, usually at once); None or NaN releases it."""
        number = _checked(value)
        node = self._client.get_node(force_node_id(tag_id))
        try:
            await node.write_value(ua.DataValue(ua.Variant(number, ua.VariantType.Double)))
        except ua.UaStatusCodeError as exc:
            raise await self._error(tag_id, exc) from None
        except (OSError, asyncio.TimeoutError) as exc:
            raise ForceError(f"lost {self.url}: {_one_line(exc)}") from None

    async def forced(self, tag_id: str) -> float | None:
        """The value `tag_id` is forced to, or None when it is not forced."""
        try:
            value = await self._client.get_node(force_node_id(tag_id)).read_value()
        except ua.UaStatusCodeError as exc:
            raise await self._error(tag_id, exc) from None
        except (OSError, asyncio.TimeoutError) as exc:
            raise ForceError(f"lost {self.url}: {_one_line(exc)}") from None
        return None if value is None or math.isnan(value) else float(value)

    async def _error(self, tag_id: str, exc: ua.UaStatusCodeError) -> ForceError:
        """The refusal in words; an unknown node is refused as BadUserAccessDenied on a write, so ask."""
        unknown = exc.code == ua.StatusCodes.BadNodeIdUnknown
        if not unknown:
            try:
                await self._client.get_node(force_node_id(tag_id)).read_node_class()
            except ua.UaStatusCodeError as probe:
                unknown = probe.code == ua.StatusCodes.BadNodeIdUnknown
        if unknown:
            return ForceError(
                f"unknown tag {tag_id!r}: {self.url} has no {force_node_id(tag_id)} "
                "(only the plant's measured tags can be forced; setpoints are written directly)"
            )
        return ForceError(f"{tag_id}: {self.url} refused: {_one_line(exc)}")


async def force(url: str, tag_id: str, value: float | None, *, user: str | None = None,
                password: str | None = None, timeout: float = 5.0) -> None:
    """Force `tag_id` on the simulator at `url` to `value`; None releases it. ForceError when it cannot."""
    async with ForceClient(url, user=user, password=password, timeout=timeout) as client:
        await client.force(tag_id, value)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion, also from a thread whose event loop is running (e.g. a Qt test)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def force_sync(url: str, tag_id: str, value: float | None, *, user: str | None = None,
               password: str | None = None, timeout: float = 5.0) -> None:
    """`force` for synchronous code such as tests."""
    _run(force(url, tag_id, value, user=user, password=password, timeout=timeout))


@contextmanager
def forcing(url: str, tag_id: str, value: float, *, user: str | None = None,
            password: str | None = None) -> Iterator[None]:
    """Hold `tag_id` at `value` for the body of a with statement, then release it (also on an error)."""
    force_sync(url, tag_id, value, user=user, password=password)
    try:
        yield
    finally:
        force_sync(url, tag_id, None, user=user, password=password)


async def _command(args: argparse.Namespace, target: float | None, password: str | None) -> str:
    """The CLI's one request (force to target, release with None, or show); its answer as one line."""
    async with ForceClient(args.url, user=args.user, password=password, timeout=args.timeout) as client:
        if args.value is None:
            value = await client.forced(args.tag)
            return f"{args.tag}: " + ("not forced" if value is None else f"forced to {value!r}")
        await client.force(args.tag, target)
        return f"{args.tag}: " + ("released" if target is None else f"forced to {target!r}")


def _parse_value(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ForceError(f"VALUE must be a number or 'release', got {text!r}") from None
    if not math.isfinite(value):
        raise ForceError(f"VALUE must be a finite number or 'release', got {text!r}")
    return value


def build_parser(prog: str = "python -m plc_sim.force") -> argparse.ArgumentParser:
    """The command line."""
    p = OneLineParser(
        prog=prog,
        description="Force a tag of a running plc-sim to a value, release it, or show whether it is forced.",
        epilog="The tag is served at the forced value, with a fresh timestamp and good quality, at its "
        "normal update rate until it is released; the model keeps running underneath.",
    )
    p.add_argument("--url", default=DEFAULT_URL, help=f"the simulator's endpoint (default {DEFAULT_URL})")
    p.add_argument("--user", metavar="NAME", help="user name, for a simulator started with --user")
    p.add_argument("--password-env", metavar="VAR", help="environment variable that holds --user's password")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the server (default 5)")
    p.add_argument("tag", metavar="TAG", help="tag id, e.g. drillrig1.pressure")
    p.add_argument("value", metavar="VALUE", nargs="?",
                   help="a number to force the tag to, or 'release'; leave out to show the tag's force")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m plc_sim.force") -> int:
    """Run the force command line; returns the exit code."""
    args = build_parser(prog).parse_args(argv)
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)  # we print one line ourselves
    password = None
    if args.user is not None:
        password = os.environ.get(args.password_env or "")
        if not password:
            print(f"{prog}: --user needs --password-env VAR naming a set, non-empty environment variable",
                  file=sys.stderr)
            return 2
    try:
        if not args.url.startswith("opc.tcp://"):
            raise ForceError(f"--url must be an opc.tcp:// endpoint, got {args.url[:100]!r}")
        if not 0 < args.timeout <= 600:
            raise ForceError(f"--timeout must be 0 to 600 seconds, got {args.timeout}")
        target = None if args.value is None or args.value.lower() == "release" else _parse_value(args.value)
        print(asyncio.run(_command(args, target, password)))
    except ForceError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
