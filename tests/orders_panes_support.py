"""Shared set-up of the order pane tests: a context without a database, a session, waiting on the loop."""

from __future__ import annotations

import asyncio
import time

from hmi.config import load_config
from hmi.domain.session import Session, SessionUser
from hmi.domain.tag_bus import TagBus
from hmi.ui.context import AppContext

PIA = SessionUser("pia", "production_planner")
MIA = SessionUser("mia", "mes_manager")
OLAF = SessionUser("olaf", "operator")


def context(user: SessionUser | None) -> AppContext:
    """A context with no database (the panes get a fake source) and ``user`` logged in (None: nobody)."""
    session = Session("ws-test")
    if user is not None:
        session.login(user)
    return AppContext(load_config().plant(), TagBus(), "sqlite://", session=session)


def until(loop: asyncio.AbstractEventLoop, condition, what: str, timeout: float = 15.0) -> None:
    """Run the event loop until ``condition()`` holds (a generous bound, not a timing assertion)."""

    async def wait() -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"never happened: {what}"
            await asyncio.sleep(0.02)

    loop.run_until_complete(wait())
