"""A small painted bar: the engineering range, the normal band as a lighter region, the value as a marker."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from hmi.domain.plant import TagSpec
from hmi.ui import theme


class BandBar(QWidget):
    """Where a value sits in its range and band; repaints only when what it shows changes.

    An out-of-band marker is a large diamond in the warning colour (the row's "▲ HIGH"/"▼ LOW" word
    is the second cue); a Bad value hatches the bar and draws no marker; a stale one a hollow marker.
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
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(22)
        self.setMinimumWidth(32)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)

    def sizeHint(self) -> QSize:
        return QSize(90, 22)

    @property
    def position(self) -> float | None:
        """The marker's place in the range (0..1), None when no marker is drawn."""
        return self._position

    def set_state(self, position: float | None, out_of_band: bool, bad: bool, hollow: bool = False) -> None:
        """Show a value's position; None for no value (waiting) or a Bad one."""
        state = (position, out_of_band, bad, hollow)
        if state != (self._position, self._out_of_band, self._bad, self._hollow):
            self._position, self._out_of_band, self._bad, self._hollow = state
            self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        pal = theme.current()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        pad = 7.0  # room for the marker at the ends
        track = QRectF(pad, h * 0.30, w - 2 * pad, h * 0.40)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(pal.border))
        p.drawRect(track)
        lo, hi = self._band
        band = QRectF(track.left() + lo * track.width(), track.top(), (hi - lo) * track.width(), track.height())
        p.setBrush(QColor(pal.panel).lighter(112))
        p.drawRect(band)
        if self._bad:
            p.setBrush(QBrush(QColor(theme.BAD_QUALITY), Qt.BrushStyle.BDiagPattern))
            p.drawRect(track)
        p.setPen(QPen(QColor(pal.muted), 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(track)
        if self._position is None or self._bad:
            return
        x = track.left() + self._position * track.width()
        if self._out_of_band:
            # A large diamond in the warning colour, outlined dark so it reads on any grey.
            r = h * 0.45
            shape = QPolygonF([QPointF(x, h / 2 - r), QPointF(x + r, h / 2), QPointF(x, h / 2 + r), QPointF(x - r, h / 2)])
            p.setPen(QPen(QColor(pal.text), 1.5))
            p.setBrush(Qt.BrushStyle.NoBrush if self._hollow else QColor(theme.WARNING))
            p.drawPolygon(shape)
            return
        p.setPen(QPen(QColor(pal.text), 1.5))
        p.setBrush(Qt.BrushStyle.NoBrush if self._hollow else QColor(pal.text))
        p.drawRect(QRectF(x - 2.5, 1.5, 5.0, h - 3.0))
