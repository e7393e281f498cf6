"""Qt fixtures for end-to-end tests: a qasync loop over pytest-qt's QApplication."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest


@pytest.fixture
def qasync_loop(qapp) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync QEventLoop on the test's QApplication, set as the current loop and closed at teardown.

    pytest-qt does not drive a qasync loop by itself: run coroutines with ``loop.run_until_complete``.
    """
    import qasync

    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        # Free Qt objects caught in reference cycles here, on the GUI thread: a collection set off
        # later on a worker thread would delete their timers there and crash the process.
        gc.collect()
