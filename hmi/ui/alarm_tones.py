"""Alarm tones as WAV sounds, one per priority, and the player that uses them where the OS can play them.

The installed Qt has no multimedia module, so on Windows (the plant PCs) the tones are played with the
standard library's ``winsound``; elsewhere the system bell's rhythm (alarm_sounds.BeepPlayer) stands in.
Each priority sounds different in pitch and rhythm: P1 three high pulses, P2 two, P3 one, P4 one low.
"""

from __future__ import annotations

import io
import math
import struct
import sys
import tempfile
import wave
from collections.abc import Callable, Mapping
from pathlib import Path

RATE = 22_050
# (pitch in Hz, pulses, pulse length in s): higher, more and faster is more urgent.
TONES: Mapping[int, tuple[float, int, float]] = {1: (1046.5, 3, 0.12), 2: (880.0, 2, 0.15), 3: (659.3, 1, 0.25),
                                                 4: (523.3, 1, 0.15)}  # fmt: skip
GAP_S = 0.06


def tone(priority: int) -> bytes:
    """The WAV file (16-bit mono) of a priority's tone."""
    pitch, pulses, length = TONES.get(priority, TONES[4])
    frames = bytearray()
    n = int(RATE * length)
    fade = int(RATE * 0.01)  # no click at the edges of a pulse
    for pulse in range(pulses):
        for i in range(n):
            envelope = min(1.0, i / fade, (n - i) / fade)
            frames += struct.pack("<h", int(12_000 * envelope * math.sin(2 * math.pi * pitch * i / RATE)))
        if pulse < pulses - 1:
            frames += b"\0\0" * int(RATE * GAP_S)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(frames))
    return out.getvalue()


class WavPlayer:
    """Plays a priority's tone from a WAV file written once to ``folder``, with ``play(path)`` (async)."""

    def __init__(self, play: Callable[[str], None], folder: Path | None = None) -> None:
        self._play = play
        self.folder = folder or Path(tempfile.mkdtemp(prefix="hmi-tones-"))
        self.files: dict[int, Path] = {}
        for priority in TONES:
            path = self.folder / f"alarm-p{priority}.wav"
            path.write_bytes(tone(priority))
            self.files[priority] = path

    def __call__(self, priority: int) -> None:
        """Start the tone of ``priority`` (a tone still playing is cut off)."""
        self._play(str(self.files.get(priority, self.files[4])))


def winsound_play(path: str) -> None:
    """Play a WAV file without waiting (Windows)."""
    import winsound  # Windows only

    winsound.PlaySound(path, winsound.SND_FILENAME | winsound.SND_ASYNC | winsound.SND_NODEFAULT)


def os_player() -> WavPlayer | None:
    """A WAV player where the OS plays sounds without Qt Multimedia (Windows), else None."""
    if sys.platform != "win32":
        return None
    return WavPlayer(winsound_play)
