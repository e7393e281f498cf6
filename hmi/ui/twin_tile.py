"""One twin's tile: a header with the twin's name and what is abnormal, and a row per parameter."""

from __future__ import annotations

from collections import Counter
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from hmi.domain.plant import TagKind, TagSpec, TwinSpec
from hmi.domain.tags import TagValue
from hmi.ui import theme
from hmi.ui.band_bar import BandBar
from hmi.ui.tag_display import (
    DISCRETE_WORDS,
    SEVERITY,
    RowState,
    TagDisplay,
    age_s,
    decimals,
    describe,
    format_age,
    is_stale,
)

# The header badge of each abnormal state: shape and word go with the colour.
BADGES: dict[RowState, str] = {
    RowState.BAD: f"{theme.SHAPE_BAD} {{n}} BAD",
    RowState.OUT_OF_BAND: "▲▼ {n} OUT OF BAND",
    RowState.UNCERTAIN: "? {n} UNCERTAIN",
    RowState.STALE: f"{theme.SHAPE_STALE} {{n}} STALE",
}


def _repolish(widget: QWidget, **props: object) -> None:
    """Set dynamic properties the style sheet selects on, and re-apply it only when one changed."""
    changed = False
    for key, value in props.items():
        if widget.property(key) != value:
            widget.setProperty(key, value)
            changed = True
    if changed:
        widget.style().unpolish(widget)
        widget.style().polish(widget)


def _label(name: str, role: str, parent: QWidget, align: Qt.AlignmentFlag) -> QLabel:
    label = QLabel(parent)
    label.setObjectName(name)
    label.setProperty("role", role)
    label.setAlignment(align | Qt.AlignmentFlag.AlignVCenter)
    return label


class TagRow:
    """The widgets of one parameter in a tile's grid, updated only where what they show changed."""

    def __init__(self, spec: TagSpec, tile: TwinTile, grid: QGridLayout, row: int,
                 header: QHBoxLayout | None = None) -> None:  # fmt: skip
        self.spec = spec
        self.tile = tile
        self.tv: TagValue | None = None
        self.last_value: float | None = None
        self.display = describe(spec, None)
        self.stale = False
        self._now = 0.0
        self._shown_value = ""
        self._shown_age = ""
        self._shown_flag = ""
        self._shown_key: tuple = ()  # (state, struck, flag) the widgets show
        self._tooltip_key: object = ()
        self.unpainted = False  # the value changed while the row was out of view: paint() when it comes in
        self._value_metrics: QFontMetrics | None = None  # of the value's font, as measured by fix_widths
        in_header = header is not None and spec.kind is TagKind.DISCRETE
        kind = "setpoint" if spec.kind is TagKind.SETPOINT else "status" if in_header else "measurement"
        right, left = Qt.AlignmentFlag.AlignRight, Qt.AlignmentFlag.AlignLeft
        self.name = _label(f"name:{spec.tag_id}", "name", tile, left)
        self.name.setText(spec.parameter.replace("_", " "))
        self.name.setWordWrap(True)
        self.value = _label(f"value:{spec.tag_id}", "value", tile, right)
        self.value.setProperty("kind", kind)
        self.unit = _label(f"unit:{spec.tag_id}", "unit", tile, left)
        self.unit.setText(spec.unit)
        self.unit.setProperty("kind", kind)
        self.bar = BandBar(spec, tile)
        self.flag = _label(f"flag:{spec.tag_id}", "flag", tile, Qt.AlignmentFlag.AlignHCenter)
        self.age = _label(f"age:{spec.tag_id}", "age", tile, right)
        if in_header:  # a twin's running/stopped word sits beside its name: the tile stays as tall
            assert header is not None
            header.insertWidget(1, self.value)
            header.insertWidget(2, self.flag)
            for hidden in (self.name, self.unit, self.bar, self.age):
                hidden.hide()
        else:
            if spec.kind is not TagKind.SETPOINT:
                grid.addWidget(self.name, row, 0)
            if spec.kind is TagKind.DISCRETE:  # a word, no unit: it may use the unit's room
                grid.addWidget(self.value, row, 1, 1, 2)
                self.unit.hide()
            else:
                grid.addWidget(self.value, row, 1)
                grid.addWidget(self.unit, row, 2)
        if not in_header:
            grid.addWidget(self.bar, row, 3)
            # One status column: the age, or over it the word of an abnormal state. Both stay shown (showing
            # or hiding a widget lays the tile out again): the flag, on top, is empty and clear while the
            # row is normal, and its background covers the age while it has a word.
            grid.addWidget(self.age, row, 4)
            grid.addWidget(self.flag, row, 4)
            self.flag.raise_()
            self.bar.setVisible(spec.kind is not TagKind.DISCRETE)
        # A setpoint's name is its button: "setpoint…" opens the setpoint dialog for those who may
        # write setpoints (enabled by the pane on every change of session; the service checks again).
        self.set_button: QPushButton | None = None
        if spec.kind is TagKind.SETPOINT:
            button = QPushButton(f"{self.name.text()}…", tile)
            button.setObjectName(f"setpoint:{spec.tag_id}")
            button.setProperty("role", "setpoint")
            button.setAccessibleName(f"Write the {self.name.text()} of {tile.twin.name}")
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda: tile.setpoint_requested.emit(spec.tag_id))
            self.name.hide()
            grid.addWidget(button, row, 0, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            self.set_button = button
        self._shown_value = self.display.value_text
        self.value.setText(self.display.value_text)
        self._apply_state()
        self._set_tooltip()

    def fix_widths(self, status_font: QFont) -> None:
        """Fixed widths for the changing labels, so a new text never re-lays out the tile.

        The status column's font is given: its labels may be hidden, and Qt re-polishes a hidden
        label only when it is shown.
        """
        self.value.ensurePolished()
        spec = self.spec
        font = QFont(self.value.font())
        # Measured while "waiting" (normal weight); a live measurement or word is bold: measure it so.
        font.setBold(spec.kind is not TagKind.SETPOINT)
        fm = QFontMetrics(font)
        if spec.kind is TagKind.DISCRETE:
            samples = list(DISCRETE_WORDS)
        else:
            d = decimals(spec)
            prefix = "SP " if spec.kind is TagKind.SETPOINT else ""
            samples = [f"{prefix}{v:.{d}f}" for v in (spec.eng_low, spec.eng_high)]
        self._value_metrics = fm
        # A fixed size, not a minimum: Qt re-lays out the whole tile on every new text of a label
        # whose size may change, and only a label of fixed width and height is spared that.
        height = self.value.sizeHint().height()
        self.value.setFixedSize(max(fm.horizontalAdvance(s) for s in samples) + 4, height)
        fm = QFontMetrics(status_font)
        words = ("▲ HIGH", "✖ BAD", "? UNCERT", f"{theme.SHAPE_STALE} 59 min")
        width = max(fm.horizontalAdvance(s) for s in words) + 8  # the flag's padding: 4 px a side
        # The flag and the age share the status cell, both of fixed size: a row turning out of band
        # changes a text and a colour, never the tile's layout.
        self.flag.setFixedSize(width, min(height, fm.height() + 4))  # its padding: 1 px above and below
        self.age.setFixedSize(width, height)

    def _set_value_text(self, text: str) -> None:
        fm = self._value_metrics
        if fm is not None:
            need = fm.horizontalAdvance(text) + 4
            if need > self.value.width():  # a value outside the range: widen once, rather than clip it
                self.value.setFixedWidth(need)
        self.value.setText(text)

    def show(self, tv: TagValue | None, now: float, paint: bool = True) -> bool:
        """Take a new value; True when the row's state changed (the tile's header must follow).

        With ``paint`` False (the row is out of view) only the state is worked out, for the tile's
        header; the widgets follow in paint() when the row comes into view.
        """
        self.tv = tv
        if tv is not None and tv.value is not None:
            self.last_value = tv.value
        old_state = self.state
        self.display = describe(self.spec, tv, self.last_value)
        self.stale = is_stale(self.spec, tv, now)
        self._now = now
        if paint:
            self.paint()
        else:
            self.unpainted = True
        return self.state is not old_state

    def tick_age(self, now: float, paint: bool = True) -> bool:
        """Update the age; True when the row went stale or fresh."""
        stale = is_stale(self.spec, self.tv, now)
        changed = stale != self.stale
        self.stale = stale
        self._now = now
        if paint:
            self.paint()
        elif changed:
            self.unpainted = True
        return changed

    def paint(self) -> None:
        """Bring the widgets in line with the value, touching only what changed."""
        self.unpainted = False
        d = self.display
        if d.value_text != self._shown_value:
            self._shown_value = d.value_text
            self._set_value_text(d.value_text)
        if (self.state, d.struck, self._flag_key()) != self._shown_key:
            self._apply_state()
        else:
            self.bar.set_state(d.position, d.state is RowState.OUT_OF_BAND, d.state is RowState.BAD, hollow=self.stale)
        self._show_age(self._now)
        tv = self.tv
        if tv is None or (tv.quality, tv.reason) != self._tooltip_key:
            self._set_tooltip()

    @property
    def state(self) -> RowState:
        """The row's condition: a stale Good value counts as stale; a stale abnormal one keeps its state."""
        if self.stale and SEVERITY[self.display.state] < SEVERITY[RowState.STALE]:
            return RowState.STALE
        return self.display.state

    def _show_age(self, now: float) -> None:
        self._now = now
        text = format_age(age_s(self.tv, now))
        if text != self._shown_age:
            self._shown_age = text
            self.age.setText(text)
            if self.stale and self.state is RowState.STALE:
                self._apply_state()  # the stale flag shows the age

    def _flag_key(self) -> str:
        flag = self.display.flag_text
        if not flag and self.stale:
            flag = f"{theme.SHAPE_STALE} {format_age(age_s(self.tv, self._now))}"
        return flag

    def _apply_state(self) -> None:
        d: TagDisplay = self.display
        flag = self._flag_key()
        self._shown_key = (self.state, d.struck, flag)
        if flag != self._shown_flag:
            self._shown_flag = flag
            self.flag.setText(flag)
        state = self.state.value
        # The value looks different only while waiting or struck: a row turning out of band does not restyle it.
        _repolish(self.value, state="waiting" if self.state is RowState.WAITING else "live", struck=d.struck)
        _repolish(self.flag, state=state if flag else "")
        self.bar.set_state(d.position, d.state is RowState.OUT_OF_BAND, d.state is RowState.BAD, hollow=self.stale)

    def _set_tooltip(self) -> None:
        # Only when the quality or its reason changed: not a string per sample.
        tv = self.tv
        key = None if tv is None else (tv.quality, tv.reason)
        if key != self._tooltip_key or not self.value.toolTip():  # the first time: "no value yet"
            self._tooltip_key = key
            text = self.tooltip()
            for w in (self.name, self.value, self.unit, self.bar, self.flag, self.age):
                w.setToolTip(text)

    def tooltip(self) -> str:
        """What hovering the row tells: tag id, kind, range and band, quality and why it is not Good."""
        s, tv = self.spec, self.tv
        lines = [
            f"{s.tag_id} ({s.kind.value})",
            f"range {s.eng_low:g}–{s.eng_high:g} {s.unit}, normal band {s.band_low:g}–{s.band_high:g} {s.unit}",
        ]
        if tv is None:
            lines.append("no value received yet")
        else:
            lines.append(f"quality {tv.quality.name}" + (f": {tv.reason}" if tv.reason else ""))
        return "\n".join(lines)


class TwinTile(QFrame):
    """A twin at a glance; a click, Enter or Space asks for its trends."""

    activated = Signal(str)  # twin_id
    setpoint_requested = Signal(str)  # tag_id of a setpoint whose "setpoint…" button was clicked

    def __init__(self, twin: TwinSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.twin = twin
        self.setObjectName(f"tile:{twin.twin_id}")
        self.setProperty("role", "tile")
        self.setProperty("tileState", RowState.WAITING.value)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 3, 6, 4)
        outer.setSpacing(2)
        header = QHBoxLayout()
        header.setSpacing(6)
        self.title = _label(f"title:{twin.twin_id}", "title", self, Qt.AlignmentFlag.AlignLeft)
        self.title.setText(twin.name)
        header.addWidget(self.title)
        header.addStretch(1)
        self.badges: dict[RowState, QLabel] = {}
        for state in BADGES:
            badge = _label(f"badge:{twin.twin_id}:{state.value}", "badge", self, Qt.AlignmentFlag.AlignHCenter)
            badge.setProperty("state", state.value)
            badge.hide()
            header.addWidget(badge)
            self.badges[state] = badge
        outer.addLayout(header)
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(0)
        grid.setColumnStretch(3, 1)
        outer.addLayout(grid)
        self._grid = grid
        # Measurements first, then setpoints (smaller, "SP" before the value).
        ordered = [t for t in twin.tags if t.kind is not TagKind.SETPOINT] + [
            t for t in twin.tags if t.kind is TagKind.SETPOINT
        ]
        # The first discrete tag (the twin's status) goes in the header, the others get rows.
        status = next((t.tag_id for t in ordered if t.kind is TagKind.DISCRETE), None)
        self.rows: dict[str, TagRow] = {
            t.tag_id: TagRow(t, self, grid, i, header if t.tag_id == status else None) for i, t in enumerate(ordered)
        }
        self.setToolTip(f"{twin.name}: click or press Enter for its trends")

    def set_setpoint_allowed(self, allowed: bool, tooltip: str) -> None:
        """Enable or disable the tile's "setpoint…" buttons, with the tooltip that says why."""
        for row in self.rows.values():
            if row.set_button is not None:
                row.set_button.setEnabled(allowed)
                row.set_button.setToolTip(tooltip)

    @property
    def trend_tags(self) -> list[str]:
        """The tag ids of the twin's measurements (its setpoints are not trended from here)."""
        return [t.tag_id for t in self.twin.tags if t.kind is not TagKind.SETPOINT]

    def state(self) -> RowState:
        """The worst state of the tile's rows; WAITING only while no row has a value."""
        states = [r.state for r in self.rows.values()]
        if all(s is RowState.WAITING for s in states):
            return RowState.WAITING
        worst = max(states, key=SEVERITY.__getitem__)
        return RowState.NORMAL if worst is RowState.WAITING else worst

    def refresh_state(self) -> None:
        """Bring the border and the header badges in line with the rows."""
        counts = Counter(r.state for r in self.rows.values())
        for state, badge in self.badges.items():
            n = counts.get(state, 0)
            if n:
                text = BADGES[state].format(n=n)
                if badge.text() != text:
                    badge.setText(text)
            badge.setVisible(bool(n))
        _repolish(self, tileState=self.state().value)

    def fix_widths(self, status_font: QFont) -> None:
        """See TagRow.fix_widths; the layout is measured again."""
        for row in self.rows.values():
            row.fix_widths(status_font)
        self.layout().invalidate()
        self._grid.invalidate()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.activated.emit(self.twin.twin_id)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.activated.emit(self.twin.twin_id)
            event.accept()
            return
        super().keyPressEvent(event)
