"""Dialogs and background work on the qasync loop without nesting an event loop.

``QDialog.exec()`` runs a second event loop inside the first: qasync's loop is then re-entered from
inside a callback, and timers, executor results and other tasks run at the wrong nesting level.
So a dialog here is opened with ``open()`` (window-modal, returns at once) and awaited through a
future that its ``finished`` signal completes; the main loop goes on running everything else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from PySide6.QtWidgets import QDialog

log = logging.getLogger(__name__)
T = TypeVar("T")


async def run_dialog(owner: Any, dialog: QDialog) -> int:
    """Open ``dialog`` as ``owner.dialog`` (where tests reach it) until it closes, then drop it; its result code."""
    owner.dialog = dialog
    try:
        return await open_dialog(dialog)
    finally:
        owner.dialog = None
        dialog.deleteLater()


def open_dialog(dialog: QDialog) -> asyncio.Future[int]:
    """Open ``dialog`` window-modal and return a future of its result code (QDialog.DialogCode)."""
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finished(code: int) -> None:
        dialog.finished.disconnect(finished)
        if not future.done():
            future.set_result(code)

    dialog.finished.connect(finished)
    dialog.open()
    return future


async def in_executor(call: Callable[..., T], *args: Any) -> T:
    """Run a blocking call (the database, bcrypt) in the loop's executor and await its result."""
    return await asyncio.get_running_loop().run_in_executor(None, call, *args)


class Tasks:
    """Coroutines started from Qt slots: kept referenced until done, errors logged, cancellable together."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Schedule ``coro`` on the running loop; a failure is logged (the coroutine shows its own errors)."""
        task = asyncio.ensure_future(coro)
        self._running.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a background task failed", exc_info=task.exception())

    def cancel(self) -> None:
        """Cancel everything still running (the window is closing)."""
        for task in list(self._running):
            task.cancel()

    def __len__(self) -> int:
        return len(self._running)
