"""Alarm sounds: one sound per priority, repeated until acknowledged for priorities 1 and 2, once for 3 and 4.

``AlarmSounds`` decides *what* sounds and records it (``played``, ``sounding``, ``silenced``), so tests
observe it without audio hardware; a *player* makes the noise. The installed PySide6-Essentials has
no QtMultimedia (no QSoundEffect): on Windows the default player plays a WAV tone per priority with
``winsound`` (hmi.ui.alarm_tones); elsewhere it is ``BeepPlayer``, the system bell told apart by
rhythm (three quick beeps for P1, two for P2, one for P3 and P4). Any callable taking a priority can
replace it.

A flood does not become a noise storm: one update plays at most one sound, the most urgent new one.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from hmi.domain.alarm_engine import AlarmState, AlarmStatus
from hmi.ui.alarm_tones import os_player

REPEATING = frozenset({1, 2})  # priorities that sound until acknowledged (or silenced)
REPEAT_MS: Mapping[int, int] = {1: 2000, 2: 4000}
BEEPS: Mapping[int, int] = {1: 3, 2: 2, 3: 1, 4: 1}  # the rhythm that tells the priorities apart
BEEP_GAP_MS = 180
PLAYED_KEPT = 200

log = logging.getLogger(__name__)

_UNACKED = frozenset({AlarmState.UNACK, AlarmState.RTN_UNACK})


class BeepPlayer(QObject):
    """Plays a priority as a short run of system beeps (QApplication.beep), spaced by one timer."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._left = 0
        self._timer = QTimer(self)
        self._timer.setInterval(BEEP_GAP_MS)
        self._timer.timeout.connect(self._beep)

    def __call__(self, priority: int) -> None:
        """Start the rhythm of ``priority`` (a rhythm still playing is replaced)."""
        self._left = BEEPS.get(priority, 1)
        self._beep()
        if self._left > 0:
            self._timer.start()

    def _beep(self) -> None:
        if self._left <= 0:
            self._timer.stop()
            return
        self._left -= 1
        QApplication.beep()
        if self._left <= 0:
            self._timer.stop()


class AlarmSounds(QObject):
    """Decides which alarm sounds: ``update`` with the alarm list on every change, ``silence`` from the button."""

    changed = Signal()  # what sounds (or whether it is silenced) changed

    def __init__(
        self,
        player: Callable[[int], None] | None = None,
        repeat_ms: Mapping[int, int] = REPEAT_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.player = player if player is not None else (os_player() or BeepPlayer(self))
        self._repeat_ms = dict(repeat_ms)
        self._unacked: dict[str, int] = {}  # alarm_id -> priority, every unacknowledged alarm seen
        self._sounding: dict[str, int] = {}  # the repeating ones not yet acknowledged or silenced
        self._silenced = False
        self.played: deque[int] = deque(maxlen=PLAYED_KEPT)  # priorities played, oldest first
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._repeat)

    @property
    def sounding(self) -> dict[str, int]:
        """The alarms whose sound repeats now (alarm_id -> priority)."""
        return dict(self._sounding)

    @property
    def silenced(self) -> bool:
        """True after Silence until a new alarm sounds."""
        return self._silenced

    @property
    def repeating_priority(self) -> int | None:
        """The priority whose sound repeats now, or None when nothing repeats."""
        return min(self._sounding.values(), default=None)

    def update(self, alarms: Iterable[AlarmStatus]) -> None:
        """The alarm list changed: sound newly unacknowledged alarms, stop the sound of acknowledged ones."""
        unacked: dict[str, int] = {}
        new: dict[str, int] = {}
        for s in alarms:
            if s.state in _UNACKED:
                unacked[s.alarm_id] = s.priority
                # Only an alarm becoming active sounds (not one restored as returned at start-up).
                if s.alarm_id not in self._unacked and s.state is AlarmState.UNACK:
                    new[s.alarm_id] = s.priority
        self._unacked = unacked
        before = (tuple(self._sounding), self._silenced)
        self._sounding = {a: p for a, p in self._sounding.items() if a in unacked}
        if new:
            self._silenced = False
            self._sounding.update({a: p for a, p in new.items() if p in REPEATING})
            self._play(min(new.values()))
        self._reschedule()
        if (tuple(self._sounding), self._silenced) != before:
            self.changed.emit()

    def silence(self) -> None:
        """Stop the sounds of the alarms sounding now; an alarm that comes in later sounds again."""
        self._sounding.clear()
        self._silenced = True
        self._reschedule()
        self.changed.emit()

    def _play(self, priority: int) -> None:
        self.played.append(priority)
        try:
            self.player(priority)
        except Exception:  # a broken sound device must not stop the alarm display
            log.exception("could not play the sound of priority %d", priority)

    def _reschedule(self) -> None:
        top = self.repeating_priority
        if top is None:
            self._timer.stop()
            return
        interval = self._repeat_ms.get(top, REPEAT_MS[1])
        if not self._timer.isActive() or self._timer.interval() != interval:
            self._timer.start(interval)

    def _repeat(self) -> None:
        top = self.repeating_priority
        if top is None:
            self._timer.stop()
        else:
            self._play(top)
