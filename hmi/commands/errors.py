"""The error a command raises for a user's mistake: printed as one line, never as a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class CommandError(Exception):
    """A user-facing failure: the message says what is wrong and what to do."""


@contextmanager
def as_command_errors(*kinds: type[Exception]) -> Iterator[None]:
    """Turn the given refusals of a service or the domain (their messages are one line) into CommandErrors."""
    try:
        yield
    except kinds as exc:
        raise CommandError(str(exc)) from None
