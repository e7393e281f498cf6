"""ISA-101 look: a calm grey display, dark text, colour only for abnormal states (always with a shape or word).

Panes take their abnormal-state colours, shapes and font sizes from here, never their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from hmi.resources import resource_text

# Abnormal states: the only saturated colours on screen. Each goes with a shape or a word (SHAPE_*).
ALARM_HIGH = "#D0021B"  # red: an alarm of high priority, a link down
ALARM_LOW = "#E07000"  # orange: an alarm of low priority
WARNING = "#F2C200"  # amber/yellow: out of the normal band, no alarm yet
BAD_QUALITY = "#B000B0"  # magenta: the value cannot be trusted (bad quality)
STALE = "#5F7FA0"  # slate blue: no update for too long; the value is shown but is old

SHAPE_UP = "●"  # a link carries data
SHAPE_DOWN = "▲"  # a link is down (with the word DOWN)
SHAPE_CONNECTING = "◌"  # a link is trying
SHAPE_ALARM = "◆"
SHAPE_WARNING = "▲"
SHAPE_BAD = "✖"
SHAPE_STALE = "◷"

# Point sizes readable from two metres on a 24" 1080p screen.
BASE_PT = 12  # menus, labels, tables
VALUE_PT = 22  # a live value in a tile
TITLE_PT = 14  # a twin's or a pane's title
STATUS_PT = 12


@dataclass(frozen=True, slots=True)
class Palette:
    """The neutral colours of one variant; abnormal-state colours are the same in both."""

    name: str
    background: str  # the window
    panel: str  # a tile or a pane, one step off the background
    text: str
    muted: str  # units, axis labels, inactive
    border: str
    trend: str  # the normal colour of a trend line: dark, not coloured
    trend_alt: tuple[str, ...]  # further curves, told apart by shade, not by hue
    selection: str


DAY = Palette(
    name="day",
    background="#D4D4D4",
    panel="#E2E2E2",
    text="#1A1A1A",
    muted="#555555",
    border="#A8A8A8",
    trend="#202020",
    trend_alt=("#202020", "#3C5A78", "#6A6A6A", "#4A4A2A", "#5A3C5A", "#2A4A4A"),
    selection="#9DB3C8",
)
NIGHT = Palette(
    name="night",
    background="#2B2B2B",
    panel="#353535",
    text="#D8D8D8",
    muted="#9A9A9A",
    border="#4D4D4D",
    trend="#E0E0E0",
    trend_alt=("#E0E0E0", "#9DB6CF", "#B0B0B0", "#C8C890", "#C0A0C0", "#90C0C0"),
    selection="#4A5E72",
)
PALETTES = {p.name: p for p in (DAY, NIGHT)}

_TOKENS = {
    "ALARM_HIGH": ALARM_HIGH, "ALARM_LOW": ALARM_LOW, "WARNING": WARNING,
    "BAD_QUALITY": BAD_QUALITY, "STALE": STALE,
    "BASE_PT": str(BASE_PT), "VALUE_PT": str(VALUE_PT), "TITLE_PT": str(TITLE_PT), "STATUS_PT": str(STATUS_PT),
}


class _ThemeSignals(QObject):
    changed = Signal(object)  # the new Palette


_signals: _ThemeSignals | None = None
_current: Palette = DAY


def signals() -> _ThemeSignals:
    """The object whose ``changed(Palette)`` signal fires when the theme is switched (GUI thread only)."""
    global _signals
    if _signals is None:
        _signals = _ThemeSignals()
    return _signals


def current() -> Palette:
    """The palette in use."""
    return _current


def stylesheet(palette: Palette) -> str:
    """The QSS of a variant with its @TOKENS@ filled in."""
    text = resource_text(f"theme_{palette.name}.qss")
    tokens = _TOKENS | {f"P_{k.upper()}": v for k, v in _palette_tokens(palette).items()}
    for key, value in tokens.items():
        text = text.replace(f"@{key}@", value)
    return text


def _palette_tokens(palette: Palette) -> dict[str, str]:
    return {k: getattr(palette, k) for k in ("background", "panel", "text", "muted", "border", "selection")}


def qpalette(palette: Palette) -> QPalette:
    """A QPalette for widgets the style sheet does not reach (plots, native dialogs)."""
    qp = QPalette()
    bg, panel, text = QColor(palette.background), QColor(palette.panel), QColor(palette.text)
    for role, color in (
        (QPalette.ColorRole.Window, bg), (QPalette.ColorRole.Base, panel),
        (QPalette.ColorRole.AlternateBase, bg), (QPalette.ColorRole.Button, panel),
        (QPalette.ColorRole.WindowText, text), (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.ToolTipBase, panel),
        (QPalette.ColorRole.ToolTipText, text), (QPalette.ColorRole.Highlight, QColor(palette.selection)),
        (QPalette.ColorRole.HighlightedText, text), (QPalette.ColorRole.PlaceholderText, QColor(palette.muted)),
    ):
        qp.setColor(role, color)
    return qp


def apply(app: QApplication, name: str = "day") -> Palette:
    """Switch the application to a variant ("day" or "night") and tell the panes."""
    global _current
    palette = PALETTES[name]
    font = QFont(app.font())
    font.setPointSize(BASE_PT)
    app.setFont(font)
    app.setPalette(qpalette(palette))
    app.setStyleSheet(stylesheet(palette))
    _current = palette
    signals().changed.emit(palette)
    return palette


def value_font(bold: bool = True) -> QFont:
    """The font of a live value: large enough to read from two metres."""
    font = QFont()
    font.setPointSize(VALUE_PT)
    font.setBold(bold)
    return font
