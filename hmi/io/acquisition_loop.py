"""An asyncio loop on its own thread for the PLC and broker clients, off the GUI thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class AcquisitionLoop:
    """Runs coroutines on a private event loop in a daemon thread.

    asyncua decodes every publish response in the loop that owns the client: with 1,000 tags at
    10 Hz that is about a quarter of a core in bursts of tens of milliseconds, which on the GUI
    thread shows as a late timer. Here it costs the GUI nothing but the hand-over of each batch.
    """

    def __init__(self, name: str = "acquisition") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread and its loop."""
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the acquisition loop; the future resolves in any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what still runs, stop the loop and join the thread."""
        if not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._cancel_all)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("acquisition loop did not stop within %.1f s", timeout)

    def _cancel_all(self) -> None:
        tasks = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
        for task in tasks:
            task.cancel()
        done = asyncio.gather(*tasks, return_exceptions=True)
        done.add_done_callback(lambda _f: self._loop.stop())

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()
