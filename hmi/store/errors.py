"""Errors the historian raises to its callers (the GUI, the CLI and the app)."""

from __future__ import annotations


class DatabaseUnavailable(Exception):
    """The database cannot be reached, opened or written; the message names the URL and what to do."""


class UnknownTag(LookupError):
    """A query named a tag that has no history."""


class SpoolUnavailable(Exception):
    """The local spool file cannot be opened; the message names the path and what to do."""
