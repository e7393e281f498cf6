"""One tile of the andon board: a line's state by colour and by word, the call's category and origin, time since
the call (ticking), who acknowledged, the escalation tier, and the steps a user may take on it.

Calm grey while the line runs; the state band alone takes the abnormal colour (red CALL OPEN, amber
ACKNOWLEDGED, slate CLEARED), always with its shape and its word. Fonts are large: the board is read
from across the room.
"""

from __future__ import annotations

from datetime import datetime, timezone

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from hmi.domain.andon import AndonCall, CallState, EscalationTier, Origin
from hmi.ui import theme

RUNNING, OPEN, ACKED, CLEARED = "running", "open", "acked", "cleared"
WORDS = {RUNNING: f"{theme.SHAPE_UP} RUNNING", OPEN: f"{theme.SHAPE_ALARM} CALL OPEN",
         ACKED: f"{theme.SHAPE_WARNING} ACKNOWLEDGED", CLEARED: f"{theme.SHAPE_STALE} CLEARED – resolve"}  # fmt: skip
ORIGIN_WORDS = {Origin.TRIP: "trip", Origin.MACHINE: "machine stop", Origin.OFFLINE: "shopfloor offline",
                Origin.ENTERED: "entered"}  # fmt: skip
# Which call a tile shows when a line has several: the one that needs someone most, then the oldest.
URGENCY = {OPEN: 0, ACKED: 1, CLEARED: 2}
NAME_PT = theme.VALUE_PT + 4
STATE_PT = theme.VALUE_PT
AGE_PT = theme.VALUE_PT + 6
LINE_PT = theme.TITLE_PT + 2
TILE_MIN_W = 380
TILE_H = 320  # about the height of a tile with a call at full size
SCALES = (1.0, 0.85, 0.72, 0.62)  # font sizes tried, largest first, until every tile fits the pane
MIN_PT = 9


def state_of(call: AndonCall | None) -> str:
    """The tile state of a call (RUNNING for none)."""
    if call is None or call.state is CallState.RESOLVED:
        return RUNNING
    if call.cleared:
        return CLEARED
    return OPEN if call.state is CallState.OPEN else ACKED


def shown_call(calls: list[AndonCall]) -> AndonCall | None:
    """The call a line's tile shows: open before acknowledged before cleared, then the oldest."""
    live = [c for c in calls if c.state is not CallState.RESOLVED]
    return min(live, key=lambda c: (URGENCY[state_of(c)], c.raised_us, c.call_id), default=None)


def clock_text(seconds: float) -> str:
    """Time since a call as a ticking clock: '0:07', '12:05', '1:02:33', '2 d 03:00'."""
    s = max(0, int(seconds))
    d, s = divmod(s, 86_400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d} d {h:02d}:{m:02d}"
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def local_hm(at_us: int) -> str:
    """A moment as the workstation's local time of day: '14:03'."""
    return datetime.fromtimestamp(at_us / 1e6, tz=timezone.utc).astimezone().strftime("%H:%M")


def origin_text(call: AndonCall) -> str:
    """'MAINTENANCE · machine stop', 'QUALITY · raised by olga'."""
    how = f"raised by {call.raised_by}" if call.origin is Origin.MANUAL else ORIGIN_WORDS.get(call.origin, call.origin.value)
    return f"{call.category.value.upper()} · {how}"


def ack_text(call: AndonCall) -> str:
    """Who acknowledged and when, or that nobody has yet."""
    if call.acked_by:
        return f"acknowledged by {call.acked_by} at {local_hm(call.acked_us or call.raised_us)}"
    return "not acknowledged"


def tier_text(call: AndonCall, tiers: tuple[EscalationTier, ...], now_us: int) -> tuple[str, bool]:
    """(the escalation line, escalated?): the tier reached, or the next one and when it is due."""
    by_number = {t.tier: t for t in tiers}
    if call.tier > 0:
        reached = by_number.get(call.tier)
        return f"{theme.SHAPE_WARNING} escalated: tier {call.tier} · {reached.name if reached else '?'}", True
    for t in sorted(tiers, key=lambda x: x.after_s):
        if t.tier <= call.tier or (t.until is CallState.ACKNOWLEDGED and call.state is not CallState.OPEN):
            continue
        left = t.after_s - (now_us - call.raised_us) / 1e6
        return (f"escalates to {t.name} in {clock_text(left)}" if left > 0 else f"escalating to {t.name}"), False
    return "no escalation due", False


def tile_style(p: theme.Palette, scale: float = 1.0) -> str:
    """The tiles' QSS at a font scale: a panel each; the state band coloured only when abnormal."""

    def pt(size: int) -> int:
        return max(MIN_PT, round(size * scale))

    return f"""
    QFrame#andonTile {{ background: {p.panel}; border: 1px solid {p.border}; }}
    QFrame#andonTile[state="open"] {{ border: 3px solid {theme.ALARM_HIGH}; }}
    QFrame#andonTile QLabel {{ background: transparent; color: {p.text}; }}
    QLabel#andonName {{ font-size: {pt(NAME_PT)}pt; font-weight: bold; }}
    QLabel#andonKind {{ font-size: {pt(theme.BASE_PT)}pt; }}
    QFrame#andonTile QLabel#andonKind, QFrame#andonTile QLabel#andonDetail {{ color: {p.muted}; }}
    QLabel#andonState {{ font-size: {pt(STATE_PT)}pt; font-weight: bold; padding: 4px 10px; }}
    QFrame#andonTile QLabel#andonState[state="running"] {{ color: {p.muted}; border: 1px solid {p.border}; }}
    QFrame#andonTile QLabel#andonState[state="open"] {{ background: {theme.ALARM_HIGH}; color: #FFFFFF; }}
    QFrame#andonTile QLabel#andonState[state="acked"] {{ background: {theme.WARNING}; color: #000000; }}
    QFrame#andonTile QLabel#andonState[state="cleared"] {{ background: {theme.STALE}; color: #FFFFFF; }}
    QLabel#andonAge {{ font-size: {pt(AGE_PT)}pt; font-weight: bold; }}
    QLabel#andonWhat, QLabel#andonAck, QLabel#andonTier {{ font-size: {pt(LINE_PT)}pt; }}
    QFrame#andonTile QLabel#andonTier[escalated="true"] {{ font-weight: bold; }}
    QLabel#andonDetail {{ font-size: {pt(theme.TITLE_PT)}pt; }}
    QFrame#andonTile QPushButton {{ font-size: {pt(theme.BASE_PT + 1)}pt; padding: 5px 8px; }}
    """


def fit_scale(count: int, width: int, height: int, spacing: int) -> tuple[float, int]:
    """(font scale, columns): the largest scale at which ``count`` tiles fit ``width`` × ``height``, else the smallest."""
    for scale in SCALES:
        columns = max(1, min(count or 1, width // (int(TILE_MIN_W * scale) + spacing)))
        rows = -(-max(count, 1) // columns)
        if rows * (TILE_H * scale + spacing) <= height:
            return scale, columns
    scale = SCALES[-1]
    return scale, max(1, min(count or 1, width // (int(TILE_MIN_W * scale) + spacing)))


class AndonTile(QFrame):
    """One line of the board; ``ack_requested(call_id)``, ``resolve_requested(call_id)``, ``raise_requested(line)``."""

    ack_requested = Signal(int)
    resolve_requested = Signal(int)
    raise_requested = Signal(str)

    def __init__(self, line: str, name: str, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("andonTile")
        self.line = line
        self.call: AndonCall | None = None
        self.others = 0
        self.state = RUNNING
        self._shown: tuple | None = None
        self._allowed: dict[str, tuple[bool, str]] = {"ack": (True, ""), "resolve": (True, ""), "raise": (True, "")}
        self.name = self._label("andonName", name)
        self.kind = self._label("andonKind", kind)
        self.state_label = self._label("andonState", WORDS[RUNNING])
        self.state_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.what = self._label("andonWhat", "")
        self.age = self._label("andonAge", "")
        self.ack = self._label("andonAck", "")
        self.tier = self._label("andonTier", "")
        self.detail = self._label("andonDetail", "")
        for w in (self.what, self.ack, self.tier, self.detail):  # nothing is cut off on a narrow tile
            w.setWordWrap(True)
        self.ack_button = self._button("Acknowledge", "andonAckButton", lambda: self._emit(self.ack_requested))
        self.resolve_button = self._button("Resolve…", "andonResolveButton", lambda: self._emit(self.resolve_requested))
        self.raise_button = self._button("Raise…", "andonRaiseButton", lambda: self.raise_requested.emit(self.line))
        head = QHBoxLayout()
        head.addWidget(self.name, 1)
        head.addWidget(self.kind, 0, Qt.AlignmentFlag.AlignTop)
        self.steps = QWidget()  # the steps on a call, hidden while the line runs
        steps = QHBoxLayout(self.steps)
        steps.setContentsMargins(0, 0, 0, 0)
        for b in (self.ack_button, self.resolve_button):
            steps.addWidget(b)
        buttons = QHBoxLayout()
        buttons.addWidget(self.steps)
        buttons.addStretch(1)
        buttons.addWidget(self.raise_button)
        v = QVBoxLayout(self)
        v.setContentsMargins(14, 10, 14, 12)
        v.setSpacing(4)
        v.addLayout(head)
        v.addWidget(self.state_label)
        for w in (self.what, self.age, self.ack, self.tier, self.detail):
            v.addWidget(w)
        v.addStretch(1)
        v.addLayout(buttons)
        self.set_scale(1.0)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._repolish()

    def set_scale(self, scale: float) -> None:
        """The tile's narrowest width at this font scale (the pane's style sheet scales the fonts)."""
        self.setMinimumWidth(int(TILE_MIN_W * scale))

    def _label(self, name: str, text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName(name)
        return label

    def _button(self, text: str, name: str, slot) -> QPushButton:  # noqa: ANN001
        b = QPushButton(text)
        b.setObjectName(name)
        b.setAutoDefault(False)
        b.clicked.connect(slot)
        return b

    def _emit(self, signal) -> None:  # noqa: ANN001
        if self.call is not None:
            signal.emit(self.call.call_id)

    def text(self, key: str) -> str:
        """What a line of the tile shows: state, what, age, ack, tier, detail, name."""
        return {"state": self.state_label, "what": self.what, "age": self.age, "ack": self.ack, "tier": self.tier,
                "detail": self.detail, "name": self.name}[key].text()  # fmt: skip

    def show_calls(self, calls: list[AndonCall], tiers: tuple[EscalationTier, ...], now_us: int) -> bool:
        """Show the line's calls as last read; False (and nothing touched) when they are what is shown already."""
        key = tuple(calls)
        if key == self._shown:
            return False
        self._shown = key
        call = shown_call(calls)
        self.call = call
        self.others = max(0, len([c for c in calls if c.state is not CallState.RESOLVED]) - 1)
        state = state_of(call)
        if state != self.state:
            self.state = state
            self._repolish()
        self.state_label.setText(WORDS[state])
        if call is None:
            for w in (self.what, self.ack, self.tier, self.detail):
                w.setText("")
            self.what.setText("no open call")
            self.age.setText("")
        else:
            self.what.setText(origin_text(call))
            self.ack.setText(ack_text(call))
            more = f"  (+{self.others} more call{'s' if self.others > 1 else ''})" if self.others else ""
            self.detail.setText((call.detail or "") + more)
            self.setToolTip(f"call {call.call_id} on {call.line}: {call.state.value}"
                            + (" (the cause has cleared)" if call.cleared else ""))  # fmt: skip
        self.tick(tiers, now_us)
        _show(self.steps, call is not None)
        self._enable()
        return True

    def tick(self, tiers: tuple[EscalationTier, ...], now_us: int) -> None:
        """Move the clock on: time since the call and the escalation line."""
        call = self.call
        if call is None:
            return
        age = f"for {clock_text((now_us - call.raised_us) / 1e6)}"
        if self.age.text() != age:
            self.age.setText(age)
        tier, escalated = tier_text(call, tiers, now_us)
        if self.tier.text() != tier:
            self.tier.setText(tier)
        if self.tier.property("escalated") != escalated:
            self.tier.setProperty("escalated", escalated)
            self.tier.style().unpolish(self.tier)
            self.tier.style().polish(self.tier)

    def set_allowed(self, ack: tuple[bool, str], resolve: tuple[bool, str], raise_: tuple[bool, str]) -> None:
        """Enable the steps for the session as it is now; each (enabled, tooltip)."""
        self._allowed = {"ack": ack, "resolve": resolve, "raise": raise_}
        self._enable()

    def _enable(self) -> None:
        allowed = self._allowed
        open_ = self.call is not None and self.call.state is CallState.OPEN
        ack = allowed["ack"] if open_ or self.call is None else (False, ack_text(self.call))
        for b, (on, tip) in ((self.ack_button, ack), (self.resolve_button, allowed["resolve"]),
                             (self.raise_button, allowed["raise"])):  # fmt: skip
            if b.isEnabled() != on:
                b.setEnabled(on)
            if b.toolTip() != tip:
                b.setToolTip(tip)

    def _repolish(self) -> None:
        self.setProperty("state", self.state)
        self.state_label.setProperty("state", self.state)
        for w in (self, self.state_label):
            w.style().unpolish(w)
            w.style().polish(w)


def _show(widget: QWidget, on: bool) -> None:
    """Show or hide a widget only when that changes (setVisible relayouts the tile even when it does not)."""
    if widget.isHidden() == on:
        widget.setVisible(on)
