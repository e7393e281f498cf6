"""Errors the historian raises to its callers (the GUI, the CLI and the app)."""

from __future__ import annotations

from hmi.domain.errors import DatabaseUnavailable, UnknownTag  # defined in the domain, for callers above the store

__all__ = ["DatabaseUnavailable", "SpoolUnavailable", "UnknownTag"]


class SpoolUnavailable(Exception):
    """The local spool file cannot be opened; the message names the path and what to do."""
