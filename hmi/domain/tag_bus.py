"""The tag bus: the latest value of every tag, what changed since the screen last looked, and fan-out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from hmi.domain.tags import TagValue

log = logging.getLogger(__name__)

BatchConsumer = Callable[[Sequence[TagValue]], None]


class Subscription:
    """A consumer's place on the bus; ``unsubscribe()`` takes it off (a second call does nothing)."""

    __slots__ = ("_bus", "consumer")

    def __init__(self, bus: TagBus, consumer: BatchConsumer) -> None:
        self._bus: TagBus | None = bus
        self.consumer = consumer

    @property
    def active(self) -> bool:
        """True until unsubscribed."""
        return self._bus is not None

    def unsubscribe(self) -> None:
        """Stop handing batches to the consumer (also from inside the consumer, during a publish)."""
        bus, self._bus = self._bus, None
        if bus is not None:
            bus._remove(self)


class TagBus:
    """Receives batches of TagValues and hands each batch to every consumer.

    Not thread-safe by design: sources publish on the event loop's thread only
    (paho's thread hands over with ``call_soon_threadsafe``). A consumer that raises
    is logged and counted; it never stops the others.
    """

    def __init__(self) -> None:
        self._latest: dict[str, TagValue] = {}
        self._changed: set[str] = set()
        # A tuple, replaced on (un)subscribe: a consumer may unsubscribe while a batch is handed out.
        self._subs: tuple[Subscription, ...] = ()
        self.published = 0
        self.consumer_errors = 0

    def subscribe(self, consumer: BatchConsumer) -> Subscription:
        """Add a consumer that is called with every published batch; keep the handle to unsubscribe."""
        sub = Subscription(self, consumer)
        self._subs = (*self._subs, sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        self._subs = tuple(s for s in self._subs if s is not sub)

    def consumers(self) -> int:
        """How many consumers are subscribed."""
        return len(self._subs)

    def publish(self, batch: Sequence[TagValue]) -> None:
        """Record a batch as the latest values and pass it to every consumer."""
        if not batch:
            return
        latest = self._latest
        for tv in batch:
            previous = latest.get(tv.tag)
            # An out-of-order sample (backfill) goes to the history but does not replace a newer value.
            if previous is None or tv.source_ts >= previous.source_ts or tv.received_ts > previous.received_ts:
                latest[tv.tag] = tv
                self._changed.add(tv.tag)
        self.published += len(batch)
        for sub in self._subs:
            if sub._bus is None:  # unsubscribed by a consumer before it during this publish
                continue
            consumer = sub.consumer
            try:
                consumer(batch)
            except Exception:
                self.consumer_errors += 1
                log.exception("tag bus consumer %r failed on a batch of %d", consumer, len(batch))

    def latest(self, tag: str) -> TagValue | None:
        """The newest value of a tag, or None before the first one arrived."""
        return self._latest.get(tag)

    def snapshot(self) -> dict[str, TagValue]:
        """A copy of the latest value of every tag seen so far."""
        return dict(self._latest)

    def drain_changed(self) -> set[str]:
        """The tags that changed since the last call (for a GUI refresh tick)."""
        changed, self._changed = self._changed, set()
        return changed

    def tags(self) -> Iterable[str]:
        """Every tag that has a value."""
        return self._latest.keys()
