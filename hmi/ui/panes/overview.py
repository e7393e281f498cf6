"""Twin overview pane: every twin of the plant as a tile, grouped by stream; a click opens its trends."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from hmi.domain.permissions import Action
from hmi.domain.plant import Stream
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.pane_registry import PaneSpec, register_pane
from hmi.ui.setpoint_dialog import SetpointDialog
from hmi.ui.twin_tile import TagRow, TwinTile

AGE_INTERVAL_MS = 1000


@dataclass(frozen=True, slots=True)
class Density:
    """Font sizes of one density; the pane takes the largest with which the whole plant fits."""

    name: str
    value_pt: int
    title_pt: int
    small_pt: int  # names, units, ages, flags
    setpoint_pt: int


DENSITIES = (
    Density("roomy", theme.VALUE_PT, theme.TITLE_PT, 11, 14),
    Density("normal", 20, 13, 11, 13),
    Density("compact", 18, 12, 10, 12),
    Density("small", 16, 11, 9, 11),
)
VALUE_FAMILY = "DejaVu Sans Condensed"  # narrower digits; Qt falls back to the default font without it


def stylesheet(p: theme.Palette, d: Density = DENSITIES[0]) -> str:
    """The pane's QSS: neutral greys from the palette, saturated colour only on abnormal states."""
    t = 'QFrame[role="tile"]'
    return f"""
    QScrollArea#overviewScroll, QWidget#overviewContent {{ background: {p.background}; border: none; }}
    QLabel[role="stream"] {{ background: transparent; color: {p.text}; font-size: {d.small_pt + 1}pt;
        font-weight: bold; border-bottom: 2px solid {p.border}; padding: 0px 2px; }}
    {t} {{ background: {p.panel}; border: 2px solid {p.border}; }}
    {t}:focus {{ border: 2px solid {p.text}; }}
    {t}[tileState="out_of_band"] {{ border: 4px solid {theme.WARNING}; }}
    {t}[tileState="bad"] {{ border: 4px solid {theme.BAD_QUALITY}; }}
    {t}[tileState="stale"], {t}[tileState="uncertain"] {{ border: 4px dashed {theme.STALE}; }}
    {t} QLabel {{ background: transparent; color: {p.text}; font-size: {d.small_pt}pt; }}
    {t} QLabel[role="title"] {{ font-size: {d.title_pt}pt; font-weight: bold; }}
    {t} QLabel[role="name"] {{ color: {p.muted}; }}
    {t} QLabel[role="value"] {{ font-family: "{VALUE_FAMILY}"; font-size: {d.value_pt}pt; font-weight: bold; }}
    {t} QLabel[role="value"][kind="setpoint"] {{ font-size: {d.setpoint_pt}pt; font-weight: normal; }}
    {t} QLabel[role="value"][kind="status"] {{ font-size: {d.title_pt}pt; }}
    {t} QLabel[role="value"][state="waiting"] {{ color: {p.muted}; font-weight: normal; }}
    {t} QLabel[role="value"][struck="true"] {{ color: {p.muted}; text-decoration: line-through; }}
    {t} QLabel[role="unit"], {t} QLabel[role="age"] {{ color: {p.muted}; }}
    {t} QLabel[role="flag"], {t} QLabel[role="badge"] {{ font-weight: bold; padding: 1px 4px; }}
    {t} QLabel[role="flag"][state="out_of_band"], {t} QLabel[role="badge"][state="out_of_band"]
        {{ background: {theme.WARNING}; color: #000000; }}
    {t} QLabel[role="flag"][state="bad"], {t} QLabel[role="badge"][state="bad"]
        {{ background: {theme.BAD_QUALITY}; color: #FFFFFF; }}
    {t} QPushButton[role="setpoint"] {{ font-size: {d.small_pt}pt; padding: 0px 4px; color: {p.text};
        background: {p.background}; border: 1px solid {p.muted}; border-radius: 3px; }}
    {t} QPushButton[role="setpoint"]:hover, {t} QPushButton[role="setpoint"]:focus {{ border: 2px solid {p.text}; }}
    {t} QPushButton[role="setpoint"]:disabled {{ color: {p.muted}; background: transparent; border: 1px dotted {p.border}; }}
    {t} QLabel[role="flag"][state="stale"], {t} QLabel[role="badge"][state="stale"],
    {t} QLabel[role="flag"][state="uncertain"], {t} QLabel[role="badge"][state="uncertain"]
        {{ background: {theme.STALE}; color: #FFFFFF; }}
    """


@dataclass(frozen=True, slots=True)
class _Metrics:
    """What the tiles need at one density: the narrowest tile, each tile's height, a header's height."""

    tile_width: int
    tile_height: dict[str, int]
    header_height: int


class OverviewPane(QWidget):
    """The 8 twins at a glance, updated on the context's tick for the changed tags only.

    ``clock`` gives the current UTC epoch seconds (tests inject their own to make values stale).
    """

    def __init__(self, ctx: AppContext, clock: Callable[[], float] = time.time, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overviewPane")
        self.ctx = ctx
        self._clock = clock
        self._tiles: dict[str, TwinTile] = {}
        self._rows: dict[str, TagRow] = {}
        self._stream_labels: dict[Stream, QLabel] = {}
        self._groups: list[tuple[Stream, list[TwinTile]]] = []
        self._columns = 0
        self._metrics: dict[str, _Metrics] = {}
        self._shown = False
        # Only what the operator can see is repainted, once a tick: with 1,000 tags most rows are
        # off screen. A tile out of view (scrolled away, or the pane hidden) is not touched at all:
        # its tags wait in _pending until it comes into view. A tile in view keeps every row's state
        # up to date (its header counts them), but paints only the rows inside the viewport; the
        # others are painted when they are scrolled in.
        self._pending: set[str] = set()  # tag ids with a value not yet taken by their row
        self._visible: set[TwinTile] = set()  # tiles at least partly in view
        self._in_view: set[TagRow] = set()  # rows of those tiles inside the viewport
        self._sync_timer = QTimer(self)
        self._sync_timer.setSingleShot(True)
        self._sync_timer.setInterval(0)
        self._sync_timer.timeout.connect(self._sync_visible)
        self._remeasure_timer = QTimer(self)
        self._remeasure_timer.setSingleShot(True)
        self._remeasure_timer.setInterval(0)
        self._remeasure_timer.timeout.connect(self._remeasured)

        scroll = QScrollArea(self)
        scroll.setObjectName("overviewScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._content = QWidget()
        self._content.setObjectName("overviewContent")
        self._grid = QGridLayout(self._content)
        self._grid.setContentsMargins(6, 4, 6, 6)
        self._grid.setHorizontalSpacing(8)
        self._grid.setVerticalSpacing(4)
        scroll.setWidget(self._content)
        self._scroll = scroll
        scroll.verticalScrollBar().valueChanged.connect(lambda _v: self._sync_timer.start())
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        for stream, twins in ctx.plant.by_stream().items():
            if not twins:
                continue
            label = QLabel(stream.value.upper(), self._content)
            label.setObjectName(f"stream:{stream.value}")
            label.setProperty("role", "stream")
            self._stream_labels[stream] = label
            tiles = []
            for twin in twins:
                tile = TwinTile(twin, self._content)
                tile.activated.connect(self._open_trends)
                tile.setpoint_requested.connect(self.open_setpoint)
                self._tiles[twin.twin_id] = tile
                self._rows.update(tile.rows)
                tiles.append(tile)
            self._groups.append((stream, tiles))

        self._density = DENSITIES[0]
        self._visible = set(self._tiles.values())
        self._in_view = set(self._rows.values())
        self._show(self._rows, self._clock())
        self._apply_style(theme.current())
        theme.signals().changed.connect(self._apply_style)

        self.setpoint_dialog: SetpointDialog | None = None
        self.refresh_setpoint_controls()
        ctx.session_changed.connect(self.refresh_setpoint_controls)

        ctx.tick.connect(self._on_tick)
        self._age_timer = QTimer(self)
        self._age_timer.setInterval(AGE_INTERVAL_MS)
        self._age_timer.timeout.connect(self.tick_ages)
        self._age_timer.start()

    # -- what the operator sees (for tests and other panes) ---------------------------------------

    def value_text(self, tag_id: str) -> str:
        """The value as shown, e.g. "153.2", "RUNNING", "SP 120.0", "—"."""
        return self._synced(tag_id).value.text()

    def unit_text(self, tag_id: str) -> str:
        """The unit shown next to the value."""
        return self._synced(tag_id).unit.text()

    def flag_text(self, tag_id: str) -> str:
        """The word next to the value: "▲ HIGH", "▼ LOW", "BAD", "? UNCERTAIN", "STALE" or ""."""
        return self._synced(tag_id).flag.text()

    def age_text(self, tag_id: str) -> str:
        """The age of the value as shown: "3 s", "2 min"; "" before the first value."""
        return self._synced(tag_id).age.text()

    def tooltip(self, tag_id: str) -> str:
        """The tooltip of a tag's row."""
        return self._synced(tag_id).value.toolTip()

    def row_state(self, tag_id: str) -> str:
        """"waiting", "normal", "stale", "uncertain", "out_of_band" or "bad"."""
        return self._synced(tag_id).state.value

    def tile_state(self, twin_id: str) -> str:
        """The worst state of a tile's rows: "normal", "out_of_band", "bad", "stale", "uncertain" or "waiting"."""
        return self._synced_tile(self._tiles[twin_id]).state().value

    def tile(self, twin_id: str) -> TwinTile:
        """A twin's tile widget (brought up to date, even when it is out of view)."""
        return self._synced_tile(self._tiles[twin_id])

    def groups(self) -> list[tuple[str, list[str]]]:
        """The streams in display order with their twins' ids."""
        return [(s.value, [t.twin.twin_id for t in tiles]) for s, tiles in self._groups]

    # -- updates ---------------------------------------------------------------------------------

    def _synced(self, tag_id: str) -> TagRow:
        row = self._rows[tag_id]
        self._synced_tile(row.tile)
        if row.unpainted:
            row.paint()
        return row

    def _synced_tile(self, tile: TwinTile) -> TwinTile:
        """Bring a tile's rows up to date now, whether it is in view or not."""
        if tile not in self._visible:
            self._catch_up([tile], self._clock(), paint_all=True)
        return tile

    def _catch_up(self, tiles: Iterable[TwinTile], now: float, paint_all: bool = False) -> None:
        """Give the rows of tiles that come into view their pending values and ages; paint those in view."""
        pending, latest, in_view = self._pending, self.ctx.latest, self._in_view
        for tile in tiles:
            changed = False
            for tag_id, row in tile.rows.items():
                paint = paint_all or row in in_view
                if tag_id in pending:
                    pending.discard(tag_id)
                    changed |= row.show(latest(tag_id), now, paint)
                else:
                    changed |= row.tick_age(now, paint)
            if changed:
                tile.refresh_state()

    def _visible_tiles(self) -> set[TwinTile]:
        """The tiles at least partly inside the scroll area's viewport (none while the pane is hidden)."""
        if not self.isVisible():
            return set()
        viewport = self._scroll.viewport()
        seen = viewport.rect().translated(-self._content.pos())
        return {t for t in self._tiles.values() if t.isVisibleTo(self._content) and t.geometry().intersects(seen)}

    def _rows_in_view(self, tiles: Iterable[TwinTile]) -> set[TagRow]:
        """The rows of these tiles whose value is inside the viewport."""
        seen = self._scroll.viewport().rect().translated(-self._content.pos())
        top, bottom = seen.top(), seen.bottom()
        rows = set()
        for tile in tiles:
            y0 = tile.y()
            if y0 >= top and y0 + tile.height() <= bottom:
                rows.update(tile.rows.values())  # the whole tile is in view
                continue
            for row in tile.rows.values():
                y = y0 + row.value.y()
                if y <= bottom and y + row.value.height() >= top:
                    rows.add(row)
        return rows

    def _sync_visible(self) -> None:
        """After a scroll, a resize, a new layout or a show: catch up the tiles and rows that came into view."""
        visible = self._visible_tiles()
        came = visible - self._visible
        in_view = self._rows_in_view(visible)
        # Rows scrolled into view inside a tile that was already in view: paint what they missed.
        for row in in_view - self._in_view:
            if row.tile not in came:
                row.paint()
        self._visible, self._in_view = visible, in_view
        if came:
            self._catch_up(came, self._clock())

    def _on_tick(self, changed: set[str]) -> None:
        """One update a tick (the tick is the display's pace): rows in view are painted, the others only noted."""
        if not self._visible:  # nothing in view (the pane hidden): only remember what to catch up
            self._pending |= changed
            return
        if len(self._visible) == len(self._tiles):
            self._sync_visible()  # all were in view (as at start): check once a tick it is still so
        rows, visible, in_view, pending = self._rows, self._visible, self._in_view, self._pending
        now, latest = self._clock(), self.ctx.latest
        dirty: set[TwinTile] = set()
        for t in changed:
            row = rows.get(t)
            if row is None:
                continue
            if row.tile in visible:
                if row.show(latest(t), now, row in in_view):
                    dirty.add(row.tile)
            else:
                pending.add(t)
        for tile in dirty:
            tile.refresh_state()

    def _show(self, rows: Iterable[TagRow] | dict[str, TagRow], now: float) -> None:
        if isinstance(rows, dict):
            rows = rows.values()
        latest = self.ctx.latest
        dirty: set[TwinTile] = set()
        for row in rows:
            if row.show(latest(row.spec.tag_id), now):
                dirty.add(row.tile)
        for tile in dirty:
            tile.refresh_state()

    def tick_ages(self) -> None:
        """Redo the ages and the stale cues of the tiles in view (the 1 s timer calls this; tests may too)."""
        now = self._clock()
        in_view = self._in_view
        dirty = {tile for tile in self._visible for row in tile.rows.values() if row.tick_age(now, row in in_view)}
        for tile in dirty:
            tile.refresh_state()

    # -- setpoints ---------------------------------------------------------------------------------

    def setpoint_tooltip(self) -> str:
        """Why the "setpoint…" buttons are enabled or not, for the session as it is now."""
        session = self.ctx.session
        if self.ctx.may(Action.WRITE_SETPOINT):
            return "Write a new setpoint to the PLC (you confirm old → new first)"
        rule = "engineers and admins may write setpoints"
        user = session.user
        if user is None or session.locked:
            return f"{rule}: log in first"
        return f"{rule} (you are {user.name}, {user.role})"

    def refresh_setpoint_controls(self) -> None:
        """Enable the "setpoint…" buttons for a user who may write setpoints (on every change of session)."""
        allowed, tooltip = self.ctx.may(Action.WRITE_SETPOINT), self.setpoint_tooltip()
        for tile in self._tiles.values():
            tile.set_setpoint_allowed(allowed, tooltip)

    def setpoint_button(self, tag_id: str) -> QPushButton:
        """The "setpoint…" button of a setpoint tag's row."""
        button = self._rows[tag_id].set_button
        if button is None:
            raise KeyError(f"{tag_id} is not a setpoint")
        return button

    def open_setpoint(self, tag_id: str) -> SetpointDialog:
        """Open the setpoint dialog for a setpoint tag (its "setpoint…" button does this)."""
        open_dialog = self.setpoint_dialog
        if open_dialog is not None:
            if open_dialog.write_task is not None and not open_dialog.write_task.done():
                open_dialog.raise_()  # a write under way: its outcome must be seen first
                return open_dialog
            open_dialog.close()
        row = self._rows[tag_id]
        dialog = SetpointDialog(self.ctx, row.spec, row.tile.twin.name, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _obj=None, d=dialog: self._dialog_gone(d))
        self.setpoint_dialog = dialog
        dialog.open()
        return dialog

    def _dialog_gone(self, dialog: SetpointDialog) -> None:
        if self.setpoint_dialog is dialog:
            self.setpoint_dialog = None

    def _open_trends(self, twin_id: str) -> None:
        self.ctx.open_trends.emit(self._tiles[twin_id].trend_tags)

    # -- look and layout -------------------------------------------------------------------------

    @property
    def density(self) -> str:
        """The density in use: "roomy", "normal" or "compact"."""
        return self._density.name

    def _apply_style(self, palette: theme.Palette) -> None:
        """Use a palette; the tiles are measured again, lazily, one density at a time."""
        self._palette = palette
        self._metrics = {}
        self._set_density(self._density)
        if self._shown:
            self._remeasure()

    def _set_density(self, d: Density) -> None:
        self._density = d
        self.setStyleSheet(stylesheet(self._palette, d))
        status_font = QFont(self.font())
        status_font.setPointSize(d.small_pt)
        status_font.setBold(True)
        for tile in self._tiles.values():
            tile.fix_widths(status_font)

    def _measure(self, d: Density) -> _Metrics:
        """The tiles' sizes at a density (applying it); cached until the palette changes."""
        metrics = self._metrics.get(d.name)
        if metrics is None:
            if d is not self._density:
                self._set_density(d)
            tiles = self._tiles.values()
            metrics = self._metrics[d.name] = _Metrics(
                tile_width=max((t.minimumSizeHint().width() for t in tiles), default=300),
                tile_height={t.twin.twin_id: t.sizeHint().height() for t in tiles},
                header_height=max((label.sizeHint().height() for label in self._stream_labels.values()), default=0),
            )
        return metrics

    def _fit(self, width: int, height: int) -> tuple[Density, int]:
        """The largest density (and its tile columns) at which every tile fits without scrolling."""
        m = self._grid.contentsMargins()
        spacing = self._grid.horizontalSpacing()
        usable_w = width - m.left() - m.right()
        usable_h = height - m.top() - m.bottom()

        def columns_if_fits(d: Density) -> tuple[int, bool]:
            metrics = self._measure(d)
            columns = max(1, (usable_w + spacing) // (metrics.tile_width + spacing))
            return columns, self._content_height(metrics, columns) <= usable_h

        # Measuring a density restyles every label (about a second for 1,000 tags): when even the
        # smallest cannot fit the plant, it is the answer and the others are not measured. The
        # density in use is tried first, so a plant that fits at none is restyled once, not four times.
        smallest = DENSITIES[-1]
        if self._density is smallest:
            columns, fits = columns_if_fits(smallest)
            if not fits:
                return smallest, columns
        fallback: tuple[Density, int] | None = None
        for d in DENSITIES:
            columns, fits = columns_if_fits(d)
            if fits:
                return d, columns
            if fallback is None or columns > fallback[1]:
                fallback = (d, columns)
            if d is DENSITIES[0] and d is not smallest:
                columns, fits = columns_if_fits(smallest)
                if not fits:
                    return smallest, columns
        assert fallback is not None
        return fallback

    def _arrangement(self, columns: int) -> tuple[int, int]:
        """Tiles per stream row and stream groups per row for a number of tile columns."""
        widest = max((len(tiles) for _, tiles in self._groups), default=1)
        per_group = min(widest, columns)
        return per_group, max(1, columns // per_group)

    def _content_height(self, metrics: _Metrics, columns: int) -> int:
        per_group, groups_per_row = self._arrangement(columns)
        spacing = self._grid.verticalSpacing()
        total = 0
        for first in range(0, len(self._groups), groups_per_row):
            band = 0
            for _, tiles in self._groups[first:first + groups_per_row]:
                height = metrics.header_height
                for r in range(math.ceil(len(tiles) / per_group)):
                    row = tiles[r * per_group:(r + 1) * per_group]
                    height += spacing + max(metrics.tile_height[t.twin.twin_id] for t in row)
                band = max(band, height)
            total += band + spacing
        return total

    def _place(self, columns: int) -> None:
        """Lay the stream groups out with tiles `columns` wide (a group keeps its tiles together)."""
        self._columns = columns
        grid = self._grid
        while grid.count():
            grid.takeAt(0)
        for r in range(grid.rowCount()):
            grid.setRowStretch(r, 0)
        per_group, groups_per_row = self._arrangement(columns)
        row = 0
        for g, (stream, tiles) in enumerate(self._groups):
            col0 = (g % groups_per_row) * per_group
            if g and g % groups_per_row == 0:
                row = grid.rowCount()
            grid.addWidget(self._stream_labels[stream], row, col0, 1, per_group)
            for i, tile in enumerate(tiles):
                grid.addWidget(tile, row + 1 + i // per_group, col0 + i % per_group, Qt.AlignmentFlag.AlignTop)
        for c in range(grid.columnCount()):
            grid.setColumnStretch(c, 1 if c < columns else 0)
        grid.setRowStretch(grid.rowCount(), 1)
        self._sync_timer.start()

    def _relayout(self, width: int, height: int, force: bool = False) -> None:
        if width <= 0 or height <= 0 or not self._shown:
            return
        density, columns = self._fit(width, height)
        if density is not self._density:
            self._set_density(density)
            force = True
        if force or columns != self._columns:
            self._place(columns)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            self._relayout(self.width(), self.height(), force=True)
            self._remeasure()
        self._sync_timer.start()

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().hideEvent(event)
        self._visible, self._in_view = set(), set()

    def _remeasure(self) -> None:
        # Labels are measured right only once the events of a show or a restyle were delivered.
        self._metrics = {}
        self._remeasure_timer.start()

    def _remeasured(self) -> None:
        self._metrics = {}
        self._relayout(self.width(), self.height(), force=True)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._relayout(event.size().width(), event.size().height())
        self._sync_timer.start()


register_pane(
    PaneSpec(
        object_name="overview",
        title="Twin overview",
        create=OverviewPane,
        area=Qt.DockWidgetArea.LeftDockWidgetArea,
        order=10,
    )
)
