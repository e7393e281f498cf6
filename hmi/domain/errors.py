"""Errors that reach the screens and the CLI from below (the database), and the one line they are shown in."""

from __future__ import annotations


class DatabaseUnavailable(Exception):
    """The database cannot be reached, opened or written; the message names the URL and what to do."""


class UnknownTag(LookupError):
    """A query named a tag that has no history."""


def one_line(error: BaseException) -> str:
    """The first line of an error's message, without SQLAlchemy's statement and background link."""
    inner = getattr(error, "orig", None) or error
    message = str(inner).strip().splitlines()
    first = message[0] if message else type(inner).__name__
    return first[:300]
