"""A small painted bar: the engineering range, the normal band as a lighter region, the value as a marker."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from hmi.domain.plant import TagSpec
from hmi.ui import theme

PAD = 7.0  # room for the marker at the ends
HEIGHT = 22
MIN_WIDTH = 80  # narrower, a bar tells little: the tiles take fewer columns instead


class _Tools:
    """The pens and brushes of one palette, made once (a flood paints thousands of bars a second)."""

    def __init__(self, pal: theme.Palette) -> None:
        self.track = QBrush(QColor(pal.border))
        self.band = QBrush(QColor(pal.panel).lighter(112))
        self.hatch = QBrush(QColor(theme.BAD_QUALITY), Qt.BrushStyle.BDiagPattern)
        self.outline = QPen(QColor(pal.muted), 1)
        self.marker_pen = QPen(QColor(pal.text), 1.5)
        self.marker = QBrush(QColor(pal.text))
        self.warning = QBrush(QColor(theme.WARNING))
        self.none = QBrush(Qt.BrushStyle.NoBrush)
        r = HEIGHT * 0.45
        h = HEIGHT / 2
        # Drawn at the marker's x by translating the painter.
        self.diamond = QPolygonF([QPointF(0, h - r), QPointF(r, h), QPointF(0, h + r), QPointF(-r, h)])
        self.bar = QRectF(-2.5, 1.5, 5.0, HEIGHT - 3.0)


@lru_cache(maxsize=4)
def _tools(pal: theme.Palette) -> _Tools:
    return _Tools(pal)


class BandBar(QWidget):
    """Where a value sits in its range and band; repaints only when what it shows changes.

    An out-of-band marker is a large diamond in the warning colour (the row's "▲ HIGH"/"▼ LOW" word
    is the second cue); a Bad value hatches the bar and draws no marker; a stale one a hollow marker.
    The marker is drawn on whole pixels: a value that moves less than a pixel repaints nothing.
    """

    def __init__(self, spec: TagSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"band:{spec.tag_id}")
        span = spec.eng_high - spec.eng_low
        self._band = (
            (min(1.0, max(0.0, (spec.band_low - spec.eng_low) / span)),
             min(1.0, max(0.0, (spec.band_high - spec.eng_low) / span)))
            if span > 0 else (0.0, 1.0)
        )
        self._position: float | None = None
        self._out_of_band = False
        self._bad = False
        self._hollow = False
        self._drawn: tuple = ()  # what the last paint showed: (marker pixel, out of band, bad, hollow)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(HEIGHT)
        self.setMinimumWidth(MIN_WIDTH)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)

    def sizeHint(self) -> QSize:
        return QSize(90, HEIGHT)

    @property
    def position(self) -> float | None:
        """The marker's place in the range (0..1), None when no marker is drawn."""
        return self._position

    def _pixel(self, position: float | None) -> int | None:
        """The marker's x in whole pixels for a position, at the bar's width now."""
        if position is None:
            return None
        return round(PAD + position * (self.width() - 2 * PAD))

    def set_state(self, position: float | None, out_of_band: bool, bad: bool, hollow: bool = False) -> None:
        """Show a value's position; None for no value (waiting) or a Bad one."""
        self._position, self._out_of_band, self._bad, self._hollow = position, out_of_band, bad, hollow
        if self._drawn != (self._pixel(position), out_of_band, bad, hollow):
            self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        tools = _tools(theme.current())
        x = self._pixel(self._position)
        self._drawn = (x, self._out_of_band, self._bad, self._hollow)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        track = QRectF(PAD, h * 0.30, w - 2 * PAD, h * 0.40)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(tools.track)
        p.drawRect(track)
        lo, hi = self._band
        p.setBrush(tools.band)
        p.drawRect(QRectF(track.left() + lo * track.width(), track.top(), (hi - lo) * track.width(), track.height()))
        if self._bad:
            p.setBrush(tools.hatch)
            p.drawRect(track)
        p.setPen(tools.outline)
        p.setBrush(tools.none)
        p.drawRect(track)
        if x is None or self._bad:
            return
        p.translate(x, 0)
        p.setPen(tools.marker_pen)
        if self._out_of_band:
            # A large diamond in the warning colour, outlined dark so it reads on any grey.
            p.setBrush(tools.none if self._hollow else tools.warning)
            p.drawPolygon(tools.diamond)
            return
        p.setBrush(tools.none if self._hollow else tools.marker)
        p.drawRect(tools.bar)
