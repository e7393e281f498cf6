"""The orders pane's detail panel: one order's shares, its production reports and where work was moved and why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QTableView, QTabWidget, QVBoxLayout, QWidget

from hmi.domain.orders import FINISHED, UNFINISHED_SHARES, OrderDetail, Reassignment, Share
from hmi.ui import theme
from hmi.ui.order_model import Column, RecordTableModel
from hmi.ui.order_text import ABNORMAL_SHARE, NONE_TEXT, late_text, share_text, status_text, units, when_text
from hmi.ui.report_widgets import report_table
from hmi.ui.table_sorting import sort_proxy

Report = tuple[datetime, str, int, int]
NOTHING = "Select an order to see its shares, reports and reassignments."


def share_columns(now: Callable[[], datetime]) -> tuple[Column[Share], ...]:
    """Shopfloor, quantity, produced, rejected, status, and when it is expected to run (or when it finished)."""
    return (
        Column("shopfloor", "Shopfloor", lambda s: s.shopfloor_id),
        Column("quantity", "Qty", lambda s: units(s.quantity), lambda s: s.quantity, right=True),
        Column("produced", "Produced", lambda s: units(s.produced), lambda s: s.produced, right=True),
        Column("defective", "Rejected", lambda s: units(s.defective), lambda s: s.defective, right=True),
        Column("status", "Status", lambda s: share_text(s.status), lambda s: s.status.value,
               abnormal=lambda s: theme.WARNING if s.status in ABNORMAL_SHARE else None),
        Column("when", "Expected", lambda s: share_when(s, now()),
               lambda s: s.expected_start.timestamp() if s.expected_start else 0.0,
               tip=lambda s: "expected start → expected finish" if s.expected_start else None),
    )  # fmt: skip


def share_when(s: Share, now: datetime) -> str:
    """'19:00 → 20:21' while queued or running; 'done 17:40', 'withdrawn 17:52' once over; '—' when not planned."""
    if s.status not in UNFINISHED_SHARES:
        if s.finished_at is None:
            return NONE_TEXT
        return f"{share_text(s.status).split()[-1]} {when_text(s.finished_at, now)}"
    if s.expected_start is None and s.expected_finish is None:
        return NONE_TEXT
    return f"{when_text(s.expected_start, now)} → {when_text(s.expected_finish, now)}"


def report_columns(now: Callable[[], datetime]) -> tuple[Column[Report], ...]:
    """When, from which shopfloor, good and rejected units (running totals of its share)."""
    return (
        Column("received", "Received", lambda r: when_text(r[0], now()), lambda r: r[0].timestamp()),
        Column("shopfloor", "Shopfloor", lambda r: r[1]),
        Column("produced", "Produced", lambda r: units(r[2]), lambda r: r[2], right=True),
        Column("defective", "Defective", lambda r: units(r[3]), lambda r: r[3], right=True),
    )


def moved_to(r: Reassignment) -> str:
    """'sf2 600, sf3 400'."""
    return ", ".join(f"{sf} {units(n)}" for sf, n in r.to) or "nowhere (no healthy shopfloor)"


def reassignment_columns(now: Callable[[], datetime]) -> tuple[Column[Reassignment], ...]:
    """When, from where, how much, to where, by whom, why (last: it wraps)."""
    return (
        Column("at", "When", lambda r: when_text(r.at, now()), lambda r: r.at.timestamp()),
        Column("from", "From", lambda r: f"{theme.SHAPE_WARNING} {r.from_shopfloor}"),
        Column("quantity", "Units", lambda r: units(r.quantity), lambda r: r.quantity, right=True),
        Column("to", "To", moved_to, tip=moved_to),
        Column("by", "By", lambda r: r.by),
        Column("reason", "Reason", lambda r: r.reason, tip=lambda r: r.reason),
    )


def _table(name: str, model: RecordTableModel, widths: dict[str, int]) -> QTableView:
    proxy = sort_proxy(model, model)
    table = report_table(name, proxy, 0, {model.col[k]: w for k, w in widths.items()})
    table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.verticalHeader().setDefaultSectionSize(28)
    return table


class OrderDetailView(QWidget):
    """The selected order: a title line, its shares, its reports, its reassignment history."""

    def __init__(self, now: Callable[[], datetime], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("orderDetail")
        self._now = now
        self.order_id: str | None = None
        self.title = QLabel(NOTHING)
        self.title.setObjectName("orderDetailTitle")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.shares = RecordTableModel(share_columns(now), lambda s: s.instruction_id, self)
        self.reports = RecordTableModel(report_columns(now), lambda r: r, self)
        self.moves = RecordTableModel(reassignment_columns(now), lambda r: (r.at, r.from_shopfloor), self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("orderDetailTabs")
        self.tabs.addTab(_table("orderShares", self.shares, {"shopfloor": 88, "quantity": 58, "produced": 80,
                                                              "defective": 72, "status": 135}), "Shares")  # fmt: skip
        self.tabs.addTab(_table("orderReports", self.reports, {"received": 100, "shopfloor": 100, "produced": 90}),
                         "Reports")
        self.moves_table = _table("orderMoves", self.moves, {"at": 60, "from": 70, "quantity": 60, "to": 140,
                                                             "by": 70})  # fmt: skip
        self.moves_table.setWordWrap(True)  # the reason, whole, over two lines
        self.tabs.addTab(self.moves_table, "Reassignments")
        v = QVBoxLayout(self)
        v.setContentsMargins(4, 0, 0, 0)
        v.addWidget(self.title)
        v.addWidget(self.tabs, 1)

    def clear(self) -> None:
        """Nothing selected."""
        self.order_id = None
        self.title.setText(NOTHING)
        for model in (self.shares, self.reports, self.moves):
            model.set_rows([])
        self._name_tabs()

    def show_detail(self, d: OrderDetail) -> None:
        """Show one order's detail."""
        o = d.order
        self.order_id = o.order_id
        late = late_text(o.late_by_s)
        line = (f"{units(o.produced)} of {units(o.quantity)} made, {units(o.defective)} rejected · "
                f"{status_text(o.status)} · due {when_text(o.due, self._now())}")  # fmt: skip
        if late and o.status not in FINISHED:
            line += f" · LATE {late}"
        self.title.setText(f"{o.job_number} · {o.product} · {o.material}\n{line}")
        self.shares.set_rows(list(o.shares))
        self.reports.set_rows(list(d.reports))
        self.moves.set_rows(list(d.reassignments))
        self.moves_table.resizeRowsToContents()
        self._name_tabs()

    def _name_tabs(self) -> None:
        """'Shares (4)', 'Reports (3)', '▲ Reassignments (1)': the counts, and a mark when work was moved."""
        n = self.moves.rowCount()
        self.tabs.setTabText(0, f"Shares ({self.shares.rowCount()})")
        self.tabs.setTabText(1, f"Reports ({self.reports.rowCount()})")
        self.tabs.setTabText(2, f"{theme.SHAPE_WARNING} Reassignments ({n})" if n else "Reassignments (none)")
