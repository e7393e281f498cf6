"""What every pane gets: the plant, the live values, the history, the links and the app-wide signals."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from hmi.domain.plant import Plant
from hmi.domain.tag_bus import TagBus
from hmi.domain.tags import TagValue
from hmi.io.link import LinkStatus
from hmi.store.writer import WriterStats

REFRESH_MS = 100


class AppContext(QObject):
    """The panes' view of the running application; built by hmi.app, or by a test with a bare TagBus.

    ``tick`` is emitted by one refresh timer with the set of tag ids that changed since the last
    tick, so every pane redraws at most once per tick whatever the data rate.
    """

    tick = Signal(object)  # set[str]: tag ids changed since the previous tick
    open_trends = Signal(object)  # list[str]: tag ids the trends pane should show
    status_changed = Signal()  # links or historian state may have changed

    def __init__(
        self,
        plant: Plant,
        bus: TagBus,
        history_url: str,
        links: Callable[[], tuple[LinkStatus, ...]] = tuple,
        historian: Callable[[], WriterStats | None] = lambda: None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.plant = plant
        self.bus = bus
        self.history_url = history_url
        self._links = links
        self._historian = historian
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._on_timer)

    def start(self) -> None:
        """Start the refresh timer."""
        self._timer.start()

    def stop(self) -> None:
        """Stop the refresh timer."""
        self._timer.stop()

    def latest(self, tag: str) -> TagValue | None:
        """The newest value of a tag, or None before the first one arrived."""
        return self.bus.latest(tag)

    def links(self) -> tuple[LinkStatus, ...]:
        """The state of every PLC link."""
        return self._links()

    def historian(self) -> WriterStats | None:
        """The historian writer's counters, or None where there is no writer (a viewer or a test)."""
        return self._historian()

    def refresh(self) -> None:
        """Emit one tick now with what changed (the timer calls this; tests may too)."""
        self._on_timer()

    def _on_timer(self) -> None:
        changed = self.bus.drain_changed()
        if changed:
            self.tick.emit(changed)
        self.status_changed.emit()
