"""What the downtime and OEE panes share: the frame over an OeeSource, the stops table's columns, the
reason dialog, and the words for times and stops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from PySide6.QtWidgets import QComboBox, QDialog, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from hmi.domain.andon import MICRO_STOP, Downtime, Reason
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.dialog_buttons import ok_cancel_row
from hmi.ui.oee_source import NO_DATABASE, OeeSource, oee_source_for
from hmi.ui.order_model import Column
from hmi.ui.order_polling import PollingPane, utc_now
from hmi.ui.order_text import NONE_TEXT, span_text, when_text

US = 1_000_000
ENTER_REASON = "— enter reason"
READ_MS = 5000  # SQL over a range of shifts: every 5 s while on screen is plenty


def to_us(ts: datetime) -> int:
    """An aware datetime as UTC microseconds."""
    return int(ts.timestamp() * US)


def from_us(at_us: int) -> datetime:
    """UTC microseconds as an aware datetime."""
    return datetime.fromtimestamp(at_us / US, tz=timezone.utc)


def reason_text(code: str | None, reasons: dict[str, Reason]) -> str:
    """'Mechanical failure', the code where it is not in the config, '— enter reason' for none."""
    if not code:
        return ENTER_REASON
    if code == MICRO_STOP:
        return "Micro-stop"
    r = reasons.get(code)
    return r.text if r is not None else code


def stop_columns(now: Callable[[], datetime], reasons: Callable[[], dict[str, Reason]],
                 ) -> tuple[Column[Downtime], ...]:  # fmt: skip
    """Start, end, duration, line, origin, reason, planned, micro, call."""
    n = lambda: to_us(now())  # noqa: E731
    return (
        Column("start", "Start", lambda d: when_text(from_us(d.start_us), now()), lambda d: d.start_us),
        Column("end", "End", lambda d: when_text(from_us(d.end_us), now()) if d.end_us else "ongoing",
               lambda d: d.end_us or 2**62),
        Column("duration", "Duration", lambda d: span_text(d.duration_us(n()) / US), lambda d: d.duration_us(n()),
               right=True),
        Column("line", "Line", lambda d: d.line),
        Column("origin", "Origin", lambda d: d.origin.value),
        Column("reason", "Reason", lambda d: reason_text(d.reason_code, reasons()),
               tip=lambda d: f"{d.reason_code}: {d.note}" if d.note else d.reason_code),
        Column("planned", "Planned", lambda d: "planned" if d.planned else "unplanned"),
        Column("micro", "Micro", lambda d: "micro" if d.micro else ""),
        Column("call", "Call", lambda d: str(d.call_id) if d.call_id is not None else NONE_TEXT,
               lambda d: d.call_id or 0, right=True),
    )  # fmt: skip


STOP_WIDTHS = {"start": 100, "end": 100, "duration": 90, "line": 70, "origin": 85, "reason": 195, "planned": 100,
               "micro": 60}  # fmt: skip


class SourcePane(PollingPane):
    """A pane over an OeeSource (``self.data``), read every READ_MS while on screen; the order panes' frame."""

    def __init__(self, ctx: AppContext, source: OeeSource | None, name: str,
                 stylesheet: Callable[[theme.Palette], str], clock: Callable[[], datetime] = utc_now,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        data = oee_source_for(ctx, source)
        super().__init__(ctx, None, name, stylesheet, clock, parent)
        self.data = data
        self.refusal.setText(NO_DATABASE)
        self._poll.setInterval(READ_MS)

    @property
    def has_data(self) -> bool:
        """False in a window without a database (no source)."""
        return getattr(self, "data", None) is not None

    @property
    def src(self) -> OeeSource:
        """The source (only called when has_data)."""
        assert self.data is not None
        return self.data


class ReasonDialog(QDialog):
    """Asks for a stop's reason code (from [andon.reasons]) and an optional note."""

    def __init__(self, stop: Downtime, reasons: Sequence[Reason], when: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Enter the reason of a stop")
        self.setObjectName("reasonDialog")
        heading = QLabel(f"Stop on {stop.line} from {when} ({stop.origin.value}): why did it stop?")
        heading.setWordWrap(True)
        self.reason_box = QComboBox()
        self.reason_box.setObjectName("reason")
        for r in reasons:
            self.reason_box.addItem(f"{r.text} ({r.code}, {r.loss.value})", r.code)
        if stop.reason_code:
            self.reason_box.setCurrentIndex(max(0, self.reason_box.findData(stop.reason_code)))
        self.note_edit = QLineEdit()
        self.note_edit.setObjectName("note")
        self.note_edit.setPlaceholderText("optional")
        form = QFormLayout()
        form.addRow("Reason", self.reason_box)
        form.addRow("Note", self.note_edit)
        self.ok_button, self.cancel_button, row = ok_cancel_row(self, "Enter reason", self.accept)
        self.ok_button.setEnabled(bool(reasons))
        v = QVBoxLayout(self)
        v.addWidget(heading)
        v.addLayout(form)
        v.addLayout(row)

    def code(self) -> str:
        """The reason code chosen."""
        return str(self.reason_box.currentData())

    def note(self) -> str:
        """The note as typed, trimmed."""
        return self.note_edit.text().strip()
