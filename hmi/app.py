"""Composition root of the GUI: builds the runtime, the context and the window on a qasync loop, shuts down in order."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QTimer
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QDialog

from hmi.config import PlantConfig
from hmi.domain.session import DEFAULT_IDLE_LOCK_S, Session
from hmi.runtime import Runtime
from hmi.services.commands import CommandService, workstation_name
from hmi.store.db import make_engine
from hmi.store.migrate import upgrade
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.login_dialog import refusal_text
from hmi.ui.main_window import MainWindow
from hmi.ui.oee_source import ServiceOeeSource
from hmi.ui.pane_registry import PaneSpec, registered_panes
from hmi.ui.panes import load_panes

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

_IMPORTED = time.monotonic()


def process_age() -> float:
    """Seconds since this process was launched (Linux: from /proc; elsewhere: since this module was imported)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED


def qapplication() -> QApplication:
    """The QApplication, created once, named for QSettings."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName("hmi")
    app.setOrganizationName("hmi")
    # The loop ends when run_gui's coroutine ends, after the orderly shutdown, not when the window goes.
    app.setQuitOnLastWindowClosed(False)
    return app


def run_gui(
    config: PlantConfig,
    db_url: str | None,
    *,
    screenshot: Path | str | None = None,
    run_for: float | None = None,
    title_suffix: str = "",
    panes: Sequence[PaneSpec] | None = None,
    on_window: Callable[[MainWindow], None] | None = None,
    before_start: Callable[[], None] | None = None,
    initial_trends: Sequence[str] = (),
    idle_lock_s: float = DEFAULT_IDLE_LOCK_S,
    greet: bool = True,
    prepare_users: Callable[[Engine], None] | None = None,
    login_as: Callable[[], tuple[str, str]] | None = None,
    migrate: bool = False,
    after_first_value: Callable[[], None] | None = None,
) -> int:
    """Open the main window on a plant and run until it is closed (or ``run_for`` elapses); the exit code.

    ``before_start`` (blocking, run in an executor while the window is already up) is waited for before
    the links connect: the demo waits there for its simulator. ``initial_trends`` are tag ids shown
    in the trends pane once the links are started.

    Users: once the window is up, ``greet`` shows the login dialog (the first-run dialog on a database
    without users); cancelled, the station is view only. ``prepare_users(engine)`` (blocking, in an
    executor) runs first: the demo creates its users there. ``login_as()`` (blocking, in an executor)
    gives a (name, password) to log in with instead of the dialog. ``idle_lock_s``: the idle lock.

    The database may be down, locked or without the schema: the window opens all the same, the
    status bar says why the history is not written, and samples are spooled until it can be. Only
    with ``migrate`` (the demo, which owns its database) is the schema created or migrated here.

    ``after_first_value()`` runs on the GUI thread once the first live value is on screen: the demo
    starts its shopfloors there, so they do not slow the window's start-up.
    """
    import qasync

    url = db_url or config.database_url
    app = qapplication()
    theme.apply(app, "day")
    if migrate:
        print(f"hmi: {upgrade(url).line()}", file=sys.stderr, flush=True)
    if panes is None:
        load_panes()
        panes = registered_panes()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            return loop.run_until_complete(
                _run(config, url, list(panes), screenshot, run_for, title_suffix, on_window, before_start,
                     list(initial_trends), _Users(idle_lock_s, greet, prepare_users, login_as), after_first_value)
            )
    finally:
        asyncio.set_event_loop(None)
        del loop
        # Free the cycles of Qt objects (the loop's timer object, closed dialogs) here, on the GUI thread:
        # left to the collector, they may be freed on a worker thread, where Qt cannot unregister their
        # timers, and a timer that fires later on a freed object crashes the process.
        gc.collect()


class _Users:
    """How the window starts for users (see run_gui)."""

    def __init__(
        self,
        idle_lock_s: float = DEFAULT_IDLE_LOCK_S,
        greet: bool = True,
        prepare: Callable[[Engine], None] | None = None,
        login_as: Callable[[], tuple[str, str]] | None = None,
    ) -> None:
        self.idle_lock_s = idle_lock_s
        self.greet = greet
        self.prepare = prepare
        self.login_as = login_as


async def _run(
    config: PlantConfig,
    url: str,
    panes: list[PaneSpec],
    screenshot: Path | str | None,
    run_for: float | None,
    title_suffix: str,
    on_window: Callable[[MainWindow], None] | None,
    before_start: Callable[[], None] | None,
    initial_trends: list[str],
    users: _Users | None = None,
    after_first_value: Callable[[], None] | None = None,
) -> int:
    users = users or _Users()
    workstation = workstation_name()
    runtime = Runtime(config, url, workstation)
    session = Session(workstation, users.idle_lock_s)
    # No connection yet (check=False): the engine connects in an executor, at the first login.
    engine = make_engine(url, check=False, settings=config.database)
    ctx = AppContext(
        runtime.plant, runtime.bus, url,
        links=runtime.links,
        historian=runtime.writer.stats,
        session=session,
        commands=CommandService(engine, session.actor, workstation),
    )
    ctx.setpoint_writer = lambda tag, value: runtime.write_setpoint(tag, value)
    ctx.alarms = runtime.alarms
    ctx.andon = _andon(ctx, engine, config, workstation)
    ctx.oee = ServiceOeeSource(ctx, config)  # the downtime and OEE panes' reads and reason entry
    window = MainWindow(ctx, panes, title_suffix=title_suffix)
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    result = {"code": 0}
    restore_signals = _close_on_signals(window)
    _report_first_value(ctx, window, after_first_value)
    started = False
    greeting: asyncio.Task[None] | None = None
    try:
        window.show()
        if on_window is not None:
            on_window(window)
        ctx.start()
        greeting = asyncio.ensure_future(_greet(window, engine, users))
        if run_for is not None:
            QTimer.singleShot(int(run_for * 1000), lambda: _finish(window, screenshot, result))
        if before_start is not None and not await _unless_closed(closed, before_start):
            return result["code"]
        await runtime.start()
        started = True
        if initial_trends:
            ctx.open_trends.emit(initial_trends)
        _settle_gc()
        await closed.wait()
    finally:
        restore_signals()
        if greeting is not None:
            greeting.cancel()
        await window.sessions.shutdown()
        ctx.stop()
        if started:
            await runtime.stop()
            log.info("stopped; %s", runtime.status().line())
        window.close()
        engine.dispose()
    return result["code"]


def _andon(ctx: AppContext, engine: Engine, config: PlantConfig, workstation: str) -> object:
    """The andon board's source: the AndonService on the window's database, in an executor."""
    from hmi.services.andon import AndonService
    from hmi.ui.andon_source import ServiceAndonSource

    return ServiceAndonSource(ctx, AndonService(engine, config, workstation=workstation))


async def _greet(window: MainWindow, engine: Engine, users: _Users) -> None:
    """Over the live window: the demo's users, then a login as asked, or the login (first-run) dialog."""
    loop = asyncio.get_running_loop()
    sessions = window.sessions
    try:
        if users.prepare is not None:
            await loop.run_in_executor(None, users.prepare, engine)
        if users.login_as is not None:
            name, password = await loop.run_in_executor(None, users.login_as)
            try:
                await sessions.log_in_as(name, password)
            except Exception as error:
                text = f"log-in as {name} refused: {refusal_text(error)}; the station is view only"
                print(f"hmi: {text}", file=sys.stderr, flush=True)
                window.status.showMessage(text, 30_000)
                return
            print(f"hmi: logged in as {name}", file=sys.stderr, flush=True)
            return
        await sessions.greet(show_dialog=users.greet)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # the window stays up, view only, and says why
        log.exception("the start-up login failed")
        print(f"hmi: the start-up login failed: {error}; the station is view only", file=sys.stderr, flush=True)


async def _unless_closed(closed: asyncio.Event, blocking: Callable[[], None]) -> bool:
    """Run a blocking call in an executor; False when the window was closed first (the call runs on)."""
    work = asyncio.get_running_loop().run_in_executor(None, blocking)
    closing = asyncio.ensure_future(closed.wait())
    await asyncio.wait({work, closing}, return_when=asyncio.FIRST_COMPLETED)
    closing.cancel()
    if work.done():
        work.result()  # raises what the call raised
        return True
    return False


def _settle_gc() -> None:
    """Move what start-up built (widgets, plant, modules) out of the collector's sight.

    A full collection walks every tracked object: with 1,000 tags that is ~100 ms with the GIL
    held, every second or two, whichever thread set it off. Frozen objects are never walked again.
    """
    gc.collect()
    gc.freeze()


def _finish(window: MainWindow, screenshot: Path | str | None, result: dict[str, int]) -> None:
    """run_for elapsed: save the screenshot (if asked) and close the window."""
    if screenshot is not None:
        path = Path(screenshot)
        path.parent.mkdir(parents=True, exist_ok=True)
        if _grab_with_dialogs(window).save(str(path)):
            print(f"hmi: screenshot saved to {path}", file=sys.stderr, flush=True)
        else:
            print(f"hmi: could not save the screenshot to {path}", file=sys.stderr, flush=True)
            result["code"] = 1
    window.close()


def _grab_with_dialogs(window: MainWindow) -> QPixmap:
    """The window as on screen, with the dialogs open over it (a login dialog) painted where they are."""
    picture = window.grab()
    dialogs = [d for d in window.findChildren(QDialog) if d.isVisible() and d.isWindow()]
    if dialogs:
        painter = QPainter(picture)
        painter.setPen(QPen(QColor(theme.current().text), 2))
        for dialog in dialogs:
            at = dialog.geometry().topLeft() - window.geometry().topLeft()
            painter.drawPixmap(at, dialog.grab())
            painter.drawRect(QRect(at, dialog.size()).adjusted(-1, -1, 1, 1))  # the frame a window manager draws
        painter.end()
    return picture


def _report_first_value(ctx: AppContext, window: MainWindow, then: Callable[[], None] | None = None) -> None:
    """Print once when the first tick with data has been painted (connected after the panes: they go first),
    then call ``then``."""

    def on_tick(changed: set[str]) -> None:
        if not changed:
            return
        ctx.tick.disconnect(on_tick)
        window.repaint()  # paint now, so the figure includes the panes' drawing of the value
        print(f"hmi: first live value on screen after {process_age():.2f} s", file=sys.stderr, flush=True)
        if then is not None:
            try:
                then()
            except Exception:  # the window stays up; the log says what did not start
                log.exception("what was to start after the first live value failed")

    ctx.tick.connect(on_tick)


def _close_on_signals(window: MainWindow) -> Callable[[], None]:
    """SIGTERM and SIGINT close the window (and so shut down in order); returns what restores the old handlers."""
    # Python runs the handler at its next bytecode: the refresh timer guarantees there is one.
    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: closing the window", signum)
        QTimer.singleShot(0, window.close)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, previous in old.items():
            signal.signal(sig, previous)

    return restore
