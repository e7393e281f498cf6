"""The error a command raises for a user's mistake: printed as one line, never as a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

MAX_ERROR_CHARS = 300  # a 1 MB argument is not echoed back whole


class CommandError(Exception):
    """A user-facing failure: the message says what is wrong and what to do."""


@contextmanager
def as_command_errors(*kinds: type[Exception]) -> Iterator[None]:
    """Turn the given refusals of a service or the domain (their messages are one line) into CommandErrors."""
    try:
        yield
    except kinds as exc:
        raise CommandError(str(exc)) from None


def shorten(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """The text on one line, cut at ``limit`` characters (an echoed 1 MB argument would flood the terminal)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose refusal is one line on stderr (the usage is what --help is for)."""

    def error(self, message: str) -> NoReturn:
        """Print one line naming the command and the problem, then exit 2."""
        self.exit(2, f"{self.prog}: {shorten(message)} (see {self.prog} --help)\n")


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {shorten(text, 40)!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value
