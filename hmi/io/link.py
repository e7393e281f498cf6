"""The link status types, defined in hmi.domain.links; imported here for the io code that reports them."""

from __future__ import annotations

from hmi.domain.links import LinkState, LinkStatus

__all__ = ["LinkState", "LinkStatus"]
