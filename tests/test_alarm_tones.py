"""Alarm tones: a WAV per priority that a plant PC plays, each priority told apart by pitch and rhythm."""

from __future__ import annotations

import io
import sys
import wave

import numpy as np

from hmi.ui.alarm_sounds import AlarmSounds, BeepPlayer
from hmi.ui.alarm_tones import TONES, WavPlayer, os_player, tone


def samples(priority: int) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(tone(priority))) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float), w.getframerate()


def pitch_and_pulses(priority: int) -> tuple[float, int]:
    x, rate = samples(priority)
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.argmax(spectrum) * rate / len(x)), _runs(x, rate)


def _runs(x: np.ndarray, rate: int) -> int:
    """Pulses: stretches of sound separated by at least 30 ms of silence."""
    window = int(rate * 0.005)
    energy = np.convolve(np.abs(x), np.ones(window) / window, mode="same") > 1000
    starts = np.flatnonzero(np.diff(energy.astype(int)) == 1)
    return len(starts) + (1 if energy[0] else 0)


def test_each_priority_has_its_own_pitch_and_rhythm():
    found = {p: pitch_and_pulses(p) for p in (1, 2, 3, 4)}
    for p, (pitch, pulses) in found.items():
        assert abs(pitch - TONES[p][0]) < 15, (p, pitch)
        assert pulses == TONES[p][1], (p, pulses)
    assert found[1][0] > found[2][0] > found[3][0] > found[4][0]  # more urgent, higher


def test_the_wav_player_plays_the_file_of_the_priority(tmp_path):
    played: list[str] = []
    player = WavPlayer(played.append, tmp_path)
    player(1)
    player(3)
    assert played == [str(tmp_path / "alarm-p1.wav"), str(tmp_path / "alarm-p3.wav")]
    assert (tmp_path / "alarm-p1.wav").read_bytes() == tone(1)


def test_the_default_player_is_the_os_tone_on_windows_and_the_bell_elsewhere(qapp):
    sounds = AlarmSounds()
    if sys.platform == "win32":
        assert isinstance(sounds.player, WavPlayer)
    else:
        assert os_player() is None and isinstance(sounds.player, BeepPlayer)
