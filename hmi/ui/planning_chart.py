"""The planning timeline: a row per shopfloor, time across, a 'now' line, a bar per queued or running share.

Painted with QPainter (a few dozen bars: no plot library needed). A running share is a darker bar
whose made part is darker still; a queued one is light with a dashed edge. A share that will finish
after its order's due date is hatched with a red outline *and* says 'late' in its label; an offline
shopfloor's row says so in words beside its name. Hovering a bar shows its details.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QHelpEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from hmi.domain.orders import Order, Share, ShareStatus, Shopfloor, ShopfloorHealth
from hmi.ui import theme
from hmi.ui.order_text import HEALTH_COLOURS, health_text, late_text, local, share_text, span_text, units, when_text

LABEL_W = 170  # the shopfloor names on the left
AXIS_H = 30
ROW_H = 54
BAR_PAD = 9
BEFORE_SHARE = 1 / 8  # the view starts this share of the planned horizon before now (at most an hour)
MIN_AHEAD = timedelta(minutes=5)
TICK_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)
MAX_TICKS = 12
RUNNING = frozenset({ShareStatus.SENT, ShareStatus.ACCEPTED, ShareStatus.RUNNING, ShareStatus.WITHDRAWING})


@dataclass(frozen=True)
class Bar:
    """One share as drawn: its row, its times, its label, whether it is late."""

    share: Share
    row: int
    start: datetime
    finish: datetime
    job: str
    late_by_s: float | None  # the order's lateness when this share finishes after the due date
    due: datetime | None

    @property
    def late(self) -> bool:
        """True when this share finishes after its order is due."""
        return self.late_by_s is not None and self.late_by_s > 0

    def label(self) -> str:
        """'◷ late · JO-20240506-0002 · 700' or 'JO-20240506-0001 · 1,500'."""
        text = f"{self.job} · {units(self.share.quantity)}"
        return f"{late_text(1)[0]} late · {text}" if self.late else text


def layout_bars(timeline: Mapping[str, Sequence[Share]], orders: Mapping[str, Order],
                rows: Sequence[str]) -> tuple[list[Bar], int]:  # fmt: skip
    """The bars of the shares that have planned times, and how many shares have none yet."""
    bars: list[Bar] = []
    unplanned = 0
    for row, sf in enumerate(rows):
        for s in timeline.get(sf, ()):
            if s.expected_start is None or s.expected_finish is None:
                unplanned += 1
                continue
            o = orders.get(s.order_id)
            job = o.job_number if o is not None else s.instruction_id.split("/")[0]
            due = o.due if o is not None else None
            late = None
            if o is not None and due is not None and s.expected_finish > due:
                late = o.late_by_s if o.late_by_s else (s.expected_finish - due).total_seconds()
            bars.append(Bar(s, row, s.expected_start, s.expected_finish, job, late, due))
    return bars, unplanned


class TimelineChart(QWidget):
    """Draws the bars of ``set_data``; ``now`` gives the time of the now line."""

    def __init__(self, now: Callable[[], datetime], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("planningChart")
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._now = now
        self.rows: list[str] = []
        self.health: dict[str, ShopfloorHealth] = {}
        self.bars: list[Bar] = []
        self.unplanned = 0

    def set_data(self, timeline: Mapping[str, Sequence[Share]], orders: Mapping[str, Order],
                 shopfloors: Sequence[Shopfloor]) -> None:  # fmt: skip
        """Show these shares (rows: every known shopfloor, then any other the timeline names)."""
        known = [s.shopfloor_id for s in shopfloors]
        self.rows = known + sorted(set(timeline) - set(known))
        self.health = {s.shopfloor_id: s.health for s in shopfloors}
        self.bars, self.unplanned = layout_bars(timeline, orders, self.rows)
        self.setMinimumHeight(AXIS_H + ROW_H * max(1, len(self.rows)) + 8)
        self.update()

    # --- geometry ------------------------------------------------------------------------------------

    def span(self) -> tuple[datetime, datetime]:
        """The time range across the chart: a little before now to the last finish (at least 5 min ahead),
        so minutes of work fill the chart as well as days do."""
        now = self._now()
        end = max([b.finish for b in self.bars] + [now + MIN_AHEAD])
        start = now - min(timedelta(hours=1), (end - now) * BEFORE_SHARE)
        return start, end + (end - start) * 0.03

    def x_of(self, t: datetime) -> float:
        """The x of a time."""
        start, end = self.span()
        width = max(1.0, self.width() - LABEL_W - 12)
        return LABEL_W + (t - start).total_seconds() / max(1.0, (end - start).total_seconds()) * width

    def bar_rect(self, bar: Bar) -> QRectF:
        """Where a bar is drawn."""
        left = max(float(LABEL_W), self.x_of(bar.start))
        right = max(left + 4, self.x_of(bar.finish))
        top = AXIS_H + bar.row * ROW_H + BAR_PAD
        return QRectF(left, top, right - left, ROW_H - 2 * BAR_PAD)

    def bar_at(self, pos: QPointF) -> Bar | None:
        """The bar under a point, or None."""
        return next((b for b in reversed(self.bars) if self.bar_rect(b).contains(pos)), None)

    # --- painting ------------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        p = theme.current()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.fillRect(self.rect(), QColor(p.panel))
        self._paint_rows(painter, p)
        self._paint_axis(painter, p)
        for bar in self.bars:
            self._paint_bar(painter, p, bar)
        self._paint_now(painter, p)
        painter.end()

    def _paint_rows(self, painter: QPainter, p: theme.Palette) -> None:
        bold = QFont(self.font())
        bold.setBold(True)
        small = QFont(self.font())
        small.setPointSize(max(8, theme.BASE_PT - 2))
        for i, sf in enumerate(self.rows):
            top = AXIS_H + i * ROW_H
            if i % 2:
                painter.fillRect(QRectF(0, top, self.width(), ROW_H), QColor(p.background))
            painter.setPen(QPen(QColor(p.border), 1))
            painter.drawLine(QPointF(0, top + ROW_H), QPointF(self.width(), top + ROW_H))
            painter.setPen(QColor(p.text))
            painter.setFont(bold)
            painter.drawText(QRectF(8, top + 4, LABEL_W - 12, ROW_H / 2), Qt.AlignmentFlag.AlignVCenter, sf)
            health = self.health.get(sf)
            if health is not None and health is not ShopfloorHealth.ONLINE:
                rect = QRectF(8, top + ROW_H / 2, LABEL_W - 16, ROW_H / 2 - 6)
                painter.setFont(small)
                colour = HEALTH_COLOURS.get(health)
                if colour is not None:
                    painter.fillRect(rect, QColor(colour))
                painter.setPen(QColor("#FFFFFF" if colour == theme.ALARM_HIGH else "#000000"))
                painter.drawText(rect.adjusted(4, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, health_text(health))
        painter.setPen(QPen(QColor(p.border), 1))
        painter.drawLine(QPointF(LABEL_W - 2, AXIS_H), QPointF(LABEL_W - 2, AXIS_H + ROW_H * len(self.rows)))

    def _paint_axis(self, painter: QPainter, p: theme.Palette) -> None:
        start, end = self.span()
        minutes = (end - start).total_seconds() / 60
        step = next((m for m in TICK_MINUTES if minutes / m <= MAX_TICKS), TICK_MINUTES[-1])
        first = local(start).replace(second=0, microsecond=0)
        first = first.replace(minute=0) + timedelta(minutes=step * (first.minute // step + 1)) if step < 60 else \
            first.replace(minute=0) + timedelta(hours=1)
        painter.setFont(self.font())
        bottom = AXIS_H + ROW_H * len(self.rows)
        now_x = self.x_of(self._now())
        t = first
        while t < end:
            day_minute = t.hour * 60 + t.minute
            if day_minute % step == 0:
                x = self.x_of(t)
                painter.setPen(QPen(QColor(p.border), 1, Qt.PenStyle.DotLine))
                painter.drawLine(QPointF(x, AXIS_H), QPointF(x, bottom))
                if abs(x - now_x - 20) > 60:  # the label would hide the word 'now'
                    painter.setPen(QColor(p.muted))
                    text = t.strftime("%H:%M") if day_minute or step >= 1440 else t.strftime("%a %H:%M")
                    painter.drawText(QRectF(x - 40, 4, 80, AXIS_H - 8), Qt.AlignmentFlag.AlignCenter, text)
            t += timedelta(minutes=min(step, 60))

    def _paint_bar(self, painter: QPainter, p: theme.Palette, bar: Bar) -> None:
        r = self.bar_rect(bar)
        running = bar.share.status in RUNNING
        fill = QColor(p.muted if running else p.border)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRect(r)
        if running and bar.share.quantity:
            made = min(1.0, bar.share.produced / bar.share.quantity)
            painter.setBrush(QColor(p.text))
            painter.drawRect(QRectF(r.left(), r.bottom() - 6, r.width() * made, 6))
        if bar.late:
            painter.setBrush(QBrush(QColor(theme.ALARM_HIGH), Qt.BrushStyle.BDiagPattern))
            painter.drawRect(r)
            painter.setPen(QPen(QColor(theme.ALARM_HIGH), 3))
        else:
            painter.setPen(QPen(QColor(p.text), 1, Qt.PenStyle.SolidLine if running else Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(r)
        font = QFont(self.font())
        font.setBold(bar.late)
        painter.setFont(font)
        text = QFontMetrics(font).elidedText(bar.label(), Qt.TextElideMode.ElideRight, int(r.width()) - 10)
        painter.setPen(QColor("#FFFFFF" if running and p.name == "day" else p.text))
        if bar.late:
            back = QFontMetrics(font).boundingRect(text).adjusted(-3, -1, 3, 1)
            back.moveTopLeft(r.topLeft().toPoint() + QPointF(3, 4).toPoint())
            painter.fillRect(back, QColor(theme.ALARM_HIGH))
            painter.setPen(QColor("#FFFFFF"))
        painter.drawText(r.adjusted(5, 2, -5, -6), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, text)

    def _paint_now(self, painter: QPainter, p: theme.Palette) -> None:
        x = self.x_of(self._now())
        bottom = AXIS_H + ROW_H * len(self.rows)
        painter.setPen(QPen(QColor(p.text), 2))
        painter.drawLine(QPointF(x, AXIS_H - 4), QPointF(x, bottom))
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(QRectF(x + 3, 2, 60, AXIS_H - 6), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         "now")  # fmt: skip

    # --- hover ---------------------------------------------------------------------------------------

    def tooltip(self, bar: Bar) -> str:
        """A bar's details in words."""
        s, now = bar.share, self._now()
        lines = [f"{bar.job} on {s.shopfloor_id}: {units(s.quantity)} units, {share_text(s.status)}",
                 f"made {units(s.produced)} good, {units(s.defective)} rejected",
                 f"expected {when_text(bar.start, now)} – {when_text(bar.finish, now)} "
                 f"({span_text((bar.finish - bar.start).total_seconds())})"]  # fmt: skip
        if bar.due is not None:
            lines.append(f"order due {when_text(bar.due, now)}")
        if bar.late:
            lines.append(f"LATE: the order is expected {span_text(bar.late_by_s or 0)} after its due time")
        return "\n".join(lines)

    def event(self, e: QEvent) -> bool:  # noqa: D102
        if e.type() == QEvent.Type.ToolTip and isinstance(e, QHelpEvent):
            bar = self.bar_at(QPointF(e.pos()))
            if bar is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(e.globalPos(), self.tooltip(bar), self)
            return True
        return super().event(e)
