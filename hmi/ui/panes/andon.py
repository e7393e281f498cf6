"""Andon board: one large tile per line (a twin with a status tag, or a shopfloor), in a grid that reflows to
the pane's size, readable from across the room.

While on screen it polls cheaply: the source's version() every POLL_MS, the whole board only when that
changed. The time since each call ticks every second without a read. Supervisors acknowledge and
resolve (with a reason code) from a tile, operators raise a call; each step runs as the session's user
(a locked station, the wall display, asks for a login first) and a refusal is shown as its message.
A new call plays the alarm tone once (hmi.ui.alarm_sounds' player).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from hmi.domain.andon import AndonCall, CallState, EscalationTier, Reason
from hmi.domain.errors import one_line
from hmi.domain.permissions import Action
from hmi.ui import theme
from hmi.ui.alarm_sounds import BeepPlayer
from hmi.ui.alarm_tones import os_player
from hmi.ui.andon_dialogs import NewCall, RaiseDialog, ResolveDialog, Resolution
from hmi.ui.andon_source import AndonSource, andon_for
from hmi.ui.andon_tile import ACKED, CLEARED, OPEN, RUNNING, TILE_MIN_W, AndonTile, fit_scale, tile_style
from hmi.ui.context import AppContext
from hmi.ui.dialog_tasks import run_dialog
from hmi.ui.order_polling import message_style
from hmi.ui.pane_registry import PaneSpec, register_pane
from hmi.ui.panes.alarms import who_may
from hmi.ui.report_widgets import (
    ReportPane, note_label, refusal_label, refusal_or_content, refusal_style, set_note,
)

log = logging.getLogger(__name__)

POLL_MS = 400  # version() only; a new call is on the board well within a second
TICK_MS = 1000
LINES_EVERY = 12  # polls between reads of the lines (~5 s: a new shopfloor appears without a call)
CUE_PRIORITY = 2  # the alarm tone a new call plays (once)
NO_DATABASE = "This window has no database, so there are no andon calls to show."
NO_LINES = "No line to show: no twin has a status tag and no shopfloor is known yet."
SUMMARY = ((OPEN, "open"), (ACKED, "acknowledged"), (CLEARED, "cleared"), (RUNNING, "running"))


def stylesheet(p: theme.Palette, scale: float = 1.0) -> str:
    """The board's look at a font scale: the tiles, a large summary line, the message line."""
    return f"""
    {refusal_style(p, "andonRefusal")}
    {message_style(p, "andonMessage")}
    {tile_style(p, scale)}
    QLabel#andonMessage {{ font-size: {theme.TITLE_PT + 2}pt; }}
    QLabel#andonSummary {{ color: {p.text}; font-size: {theme.VALUE_PT}pt; font-weight: bold; padding: 2px 4px; }}
    """


class AndonPane(ReportPane):
    """The andon board (also the whole window in wall mode)."""

    def __init__(self, ctx: AppContext, source: AndonSource | None = None, clock: Callable[[], float] = time.time,
                 player: Callable[[int], None] | None = None, parent: QWidget | None = None) -> None:  # fmt: skip
        self.scale = 1.0  # the tiles' font scale: smaller when they would not all fit the pane
        super().__init__(ctx, clock, "andon", lambda p: stylesheet(p, self.scale), parent)
        self.source = andon_for(ctx, source)
        self.player = player if player is not None else (os_player() or BeepPlayer(self))
        self.tiles: dict[str, AndonTile] = {}
        self.calls: list[AndonCall] = []
        self.tiers: tuple[EscalationTier, ...] = ()
        self.reasons: list[Reason] = []
        self.dialog: QDialog | None = None  # the dialog open now (tests fill it in)
        self.cues: list[int] = []  # the calls the tone played for, oldest first
        self.polls = 0  # version reads finished
        self.loads = 0  # board reads shown (tests wait on it)
        self._version: int | None = None
        self._order: list[str] = []
        self._seen: set[int] | None = None  # call ids on the board at the last read (None: before the first)
        self._reading = False
        self._columns = 0
        self.refusal = refusal_label(NO_DATABASE, "andonRefusal")
        self.message = note_label("andonMessage")
        self.summary = QLabel("")
        self.summary.setObjectName("andonSummary")
        self.summary.setWordWrap(True)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(10)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setWidget(self.grid_host)
        self.content = QWidget()
        v = QVBoxLayout(self.content)
        v.setContentsMargins(6, 6, 6, 6)
        v.addWidget(self.summary)
        v.addWidget(self.scroll, 1)
        v.addWidget(self.message)
        self.content.setMinimumWidth(TILE_MIN_W + 30)
        self.stack = refusal_or_content(self, self.refusal, self.content)
        self.stack.setCurrentWidget(self.content if self.source is not None else self.refusal)
        self._poll = self.while_visible(POLL_MS, self.poll_now)
        self._tick = self.while_visible(TICK_MS, self.tick)
        self.follow()

    # --- reading ---------------------------------------------------------------------------------

    def now_us(self) -> int:
        """Now by the pane's clock, UTC microseconds."""
        return int(self._clock() * 1_000_000)

    def poll_now(self) -> None:
        """Ask the version now (in the background); the board is read when it changed. One read at a time."""
        if self.source is None or self._reading:
            return
        self._spawn(self._poll_once())

    async def _poll_once(self, force: bool = False) -> None:
        source = self.source
        if source is None:
            return
        self._reading = True
        try:
            version = await source.version()
            if force or version != self._version or self.polls % LINES_EVERY == 0:
                if not self.tiers and not self.reasons:
                    self.tiers, self.reasons = await source.tiers(), await source.reasons()
                lines = await source.lines() if force or not self._order or self.polls % LINES_EVERY == 0 else None
                calls = await source.board()
                self._version = version
                self.show_board(calls, lines)
                self.loads += 1
            if self.message.property("kind") == "readfail":
                self.say("")
        except Exception as error:  # noqa: BLE001 - shown in one line; the next poll tries again
            log.warning("andon board: read failed: %s", error)
            self.say(f"{theme.SHAPE_WARNING} could not read the andon board: {one_line(error)}", "problem")
            self.message.setProperty("kind", "readfail")
        finally:
            self.polls += 1
            self._reading = False

    async def read_now(self) -> None:
        """Read the whole board now (after a step of this pane), waiting for a read in flight first."""
        while self._reading:
            await asyncio.sleep(0.01)
        await self._poll_once(force=True)

    def show_board(self, calls: list[AndonCall], lines: list[Any] | None = None) -> None:
        """Show the calls; ``lines`` (AndonLine) gives the tiles and their order when it was read."""
        if lines is not None:
            self._set_lines([(ln.line, ln.name, ln.kind.value) for ln in lines])
        by_line: dict[str, list[AndonCall]] = {}
        for call in calls:
            by_line.setdefault(call.line, []).append(call)
        extra = [(line, line, group[0].line_kind.value) for line, group in by_line.items() if line not in self.tiles]
        if extra:  # a call on a line the lines did not name (yet): it gets a tile all the same
            self._set_lines([(t.line, t.name.text(), t.kind.text()) for t in (self.tiles[k] for k in self._order)]
                            + extra)  # fmt: skip
        now = self.now_us()
        for line, tile in self.tiles.items():
            tile.show_calls(by_line.get(line, []), self.tiers, now)
        self._cue(calls)
        self.calls = calls
        self._summarise()

    def _set_lines(self, lines: list[tuple[str, str, str]]) -> None:
        order = [line for line, _, _ in lines]
        if order == self._order:
            return
        for gone in set(self.tiles) - set(order):
            self.tiles.pop(gone).deleteLater()
        for line, name, kind in lines:
            if line not in self.tiles:
                tile = AndonTile(line, name, kind)
                tile.ack_requested.connect(self._on_ack)
                tile.resolve_requested.connect(self._on_resolve)
                tile.raise_requested.connect(self._on_raise)
                tile.set_scale(self.scale)
                self.tiles[line] = tile
        self._order = order
        self.update_actions()
        self._place(force=True)

    def _cue(self, calls: list[AndonCall]) -> None:
        """Play the tone once for calls that are new since the last read (not for those there at the first)."""
        ids = {c.call_id for c in calls}
        seen, self._seen = self._seen, ids
        if seen is None:
            return
        new = [c.call_id for c in calls if c.call_id not in seen and c.state is CallState.OPEN]
        if not new:
            return
        self.cues.extend(new)
        try:
            self.player(CUE_PRIORITY)
        except Exception:  # a broken sound device must not stop the board
            log.exception("andon board: could not play the tone of a new call")

    def _summarise(self) -> None:
        if not self.tiles:
            self.summary.setText(NO_LINES)
            return
        counts = {state: 0 for state, _ in SUMMARY}
        for tile in self.tiles.values():
            counts[tile.state] += 1
        self.summary.setText("    ".join(f"{words} {counts[state]}" for state, words in SUMMARY))

    def tick(self) -> None:
        """Move every tile's clock on (no read)."""
        now = self.now_us()
        for tile in self.tiles.values():
            tile.tick(self.tiers, now)

    # --- the grid --------------------------------------------------------------------------------

    def _place(self, force: bool = False) -> None:
        viewport = self.scroll.viewport()
        scale, columns = fit_scale(len(self._order), viewport.width() or self.width(), viewport.height() or self.height(),
                                   self.grid.spacing())  # fmt: skip
        if scale != self.scale:
            self.scale = scale
            self._on_theme(theme.current())
            for tile in self.tiles.values():
                tile.set_scale(scale)
        if columns == self._columns and not force:
            return
        self._columns = columns
        for tile in self.tiles.values():
            self.grid.removeWidget(tile)
        for i, line in enumerate(self._order):
            self.grid.addWidget(self.tiles[line], i // columns, i % columns)
        for c in range(self.grid.columnCount()):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.source is not None:
            self._poll.start()
            self._tick.start()
            self.poll_now()

    # --- steps -----------------------------------------------------------------------------------

    def recheck(self) -> None:
        """The session changed: enable the steps for who is at the station now."""
        self.update_actions()

    def update_actions(self) -> None:
        """Each tile's buttons for the session: a locked station asks for a login at the click."""
        allowed = tuple(self._allowed(a) for a in (Action.ACK_ANDON, Action.RESOLVE_ANDON, Action.RAISE_ANDON))
        for tile in self.tiles.values():
            tile.set_allowed(*allowed)

    def _allowed(self, action: Action) -> tuple[bool, str]:
        verb = {Action.ACK_ANDON: "acknowledge", Action.RESOLVE_ANDON: "resolve",
                Action.RAISE_ANDON: "raise"}[action]  # fmt: skip
        rule = f"{who_may(action)} may {verb} andon calls"
        session = self.ctx.session
        if session.locked:
            return True, f"{rule}: you are asked to log in first"
        if self.ctx.may(action):
            return True, rule
        user = session.user
        return False, f"{rule} (you are {user.name}, {user.role})" if user else rule

    def _call(self, call_id: int) -> AndonCall | None:
        return next((c for c in self.calls if c.call_id == call_id), None)

    def _on_ack(self, call_id: int) -> None:
        self._spawn(self.acknowledge(call_id))

    def _on_resolve(self, call_id: int) -> None:
        self._spawn(self.resolve(call_id))

    def _on_raise(self, line: str) -> None:
        self._spawn(self.raise_call(line))

    async def acknowledge(self, call_id: int) -> AndonCall | None:
        """Acknowledge a call (the tile's button)."""
        call = self._call(call_id)
        where = f" on {call.line}" if call else ""
        return await self.run(f"call {call_id}{where} acknowledged", lambda: self.source.acknowledge(call_id))

    async def resolve(self, call_id: int) -> AndonCall | None:
        """Ask for the reason code (and a note), then resolve the call."""
        call = self._call(call_id)
        if call is None or self.source is None:
            return None

        async def submit(r: Resolution) -> AndonCall:
            return await self.source.resolve(r.call_id, r.reason_code, r.note)

        dialog = ResolveDialog(call, self.reasons, submit, self)
        done = await self._dialog(dialog)
        if isinstance(done, AndonCall):
            self.say(f"✔ call {done.call_id} on {done.line} resolved: {done.reason_code}")
            await self.read_now()
        return done if isinstance(done, AndonCall) else None

    async def raise_call(self, line: str) -> AndonCall | None:
        """Ask for the category (and a note), then raise a call on the line."""
        if self.source is None:
            return None

        async def submit(c: NewCall) -> AndonCall:
            return await self.source.raise_call(c.line, c.category, c.note)

        done = await self._dialog(RaiseDialog(line, submit, self))
        if isinstance(done, AndonCall):
            self.say(f"✔ call {done.call_id} raised on {done.line}: {done.category.value}")
            await self.read_now()
        return done if isinstance(done, AndonCall) else None

    async def _dialog(self, dialog: Any) -> object:
        code = await run_dialog(self, dialog)
        return dialog.result_value if code == QDialog.DialogCode.Accepted else None

    async def run(self, done: str, call: Callable[[], Awaitable[AndonCall]]) -> AndonCall | None:
        """Take a step (``call`` awaits the source); say ``done`` or the refusal in its own words; read again."""
        self.say("…")
        try:
            result = await call()
        except Exception as error:  # noqa: BLE001 - the refusal (CallTaken, permission, lock) as its message
            log.info("andon board: step refused: %s", error)
            self.update_actions()
            self.say(f"{theme.SHAPE_WARNING} Not done: {one_line(error)}", "problem")
            await self.read_now()
            return None
        self.say(f"✔ {done}")
        await self.read_now()
        return result

    def say(self, text: str, kind: str = "ok") -> None:
        """Put ``text`` in the message line (kind 'problem': amber, with the shape the text starts with)."""
        set_note(self.message, text, kind)


SPEC = register_pane(
    PaneSpec(
        object_name="andon",
        title="Andon board",
        create=AndonPane,
        area=Qt.DockWidgetArea.RightDockWidgetArea,
        tab_with="trends",
        order=46,
    )
)
