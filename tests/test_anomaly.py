"""The anomaly detector: |z| over a rolling window per tag, reporting only condition changes."""

from __future__ import annotations

import copy
import math
import random

import pytest

from hmi.domain.alarm_defs import AlarmDefinition, AlarmKind
from hmi.domain.alarm_engine import AlarmEngine, AlarmState
from hmi.domain.anomaly import AnomalyDetector
from hmi.domain.tags import Quality, TagValue

T0 = 1_700_000_000.0
TAG = "pipeline1.pressure"
ID = f"{TAG}.anomaly"


def good(value: float, i: int = 0, tag: str = TAG) -> TagValue:
    return TagValue(tag, value, Quality.GOOD, T0 + i, T0 + i)


def noisy(n: int, seed: int = 1, level: float = 40.0, spread: float = 1.0, tag: str = TAG) -> list[TagValue]:
    """Uniform noise in level ± spread: std is spread/sqrt(3), so no sample of it is beyond |z| = 1.8."""
    rng = random.Random(seed)
    return [good(level + rng.uniform(-spread, spread), i, tag) for i in range(n)]


def detector(window: int = 50, min_samples: int = 20, z: float = 3.0, tags: tuple[str, ...] = (TAG,)) -> AnomalyDetector:
    return AnomalyDetector(tags, window=window, min_samples=min_samples, z=z)


def test_a_spike_after_a_steady_noisy_window_is_flagged_and_returns_to_normal() -> None:
    det = detector()
    assert det.update(noisy(100)) == []
    assert det.update([good(55.0, 100)]) == [(ID, True, 55.0, T0 + 100)]
    assert det.is_active(TAG)
    assert det.update([good(40.2, 101)]) == [(ID, False, 40.2, T0 + 101)]
    assert not det.is_active(TAG)


def test_a_moderate_excursion_is_not_flagged_and_the_threshold_is_configurable() -> None:
    base = noisy(100)
    assert detector().update([*base, good(41.5, 100)]) == []  # about 2.6 sigma
    assert detector(z=2.0).update([*base, good(41.5, 100)]) != []


def test_only_changes_are_reported() -> None:
    det = detector(window=200)
    det.update(noisy(100))
    changes = det.update([good(70.0, 100), good(71.0, 101), good(72.0, 102)])
    assert changes == [(ID, True, 70.0, T0 + 100)]  # the second and third are still anomalous: no report


def test_a_lasting_step_becomes_the_new_normal() -> None:
    """Anomalous values enter the window, so a new level stops alarming once the window has taken it in."""
    det = detector(window=30, min_samples=10)
    det.update(noisy(30))
    step = noisy(60, seed=2, level=70.0, tag=TAG)
    changes = det.update([good(v.value, 30 + i) for i, v in enumerate(step)])  # type: ignore[arg-type]
    assert changes[0][:2] == (ID, True)
    assert changes[-1][:2] == (ID, False)


@pytest.mark.parametrize(
    "held",
    [
        TagValue(TAG, None, Quality.BAD, T0 + 100, T0 + 100, "bad status"),
        TagValue(TAG, 99.0, Quality.BAD, T0 + 100, T0 + 100, "bad status"),
        TagValue(TAG, 99.0, Quality.UNCERTAIN, T0 + 100, T0 + 100, "sensor uncertain"),
        TagValue(TAG, math.nan, Quality.GOOD, T0 + 100, T0 + 100),
        TagValue(TAG, math.inf, Quality.GOOD, T0 + 100, T0 + 100),
    ],
)
def test_values_that_are_not_good_are_held(held: TagValue) -> None:
    det = detector()
    det.update(noisy(100))
    assert det.update([held]) == []
    assert det.update([good(55.0, 101)]) == [(ID, True, 55.0, T0 + 101)]  # window not polluted
    assert det.update([held]) == []  # neither raises nor clears
    assert det.is_active(TAG)


def test_no_score_before_min_samples() -> None:
    det = detector(window=50, min_samples=20)
    values = noisy(19)
    assert det.update([*values, good(500.0, 19)]) == []  # 19 values in the window: too few to judge
    det = detector(window=50, min_samples=20)
    assert det.update([*noisy(20), good(500.0, 20)]) == [(ID, True, 500.0, T0 + 20)]


def test_a_constant_signal_is_normal_until_it_moves() -> None:
    det = detector()
    assert det.update([good(12.5, i) for i in range(60)]) == []
    assert det.update([good(12.5, 60)]) == []
    assert det.update([good(12.6, 61)]) == [(ID, True, 12.6, T0 + 61)]  # std 0: any move is unusual
    assert det.update([good(12.5, 62)]) == [(ID, False, 12.5, T0 + 62)]  # no longer constant: 12.5 is within 3 sigma


def test_a_large_constant_level_is_not_noise() -> None:
    det = detector(window=40, min_samples=10)
    level = 1e6 + 0.1  # not exactly representable: rounding must not look like a moving signal
    assert det.update([good(level, i) for i in range(200)]) == []


def test_tags_are_independent() -> None:
    other = "turbine1.vibration"
    det = detector(tags=(TAG, other))
    det.update(noisy(100) + noisy(100, seed=5, level=60.0, spread=10.0, tag=other))
    # 55 is 26 sigma out for TAG, under 1 sigma for the other tag
    changes = det.update([good(55.0, 100, other), good(55.0, 100)])
    assert changes == [(ID, True, 55.0, T0 + 100)]
    assert not det.is_active(other)
    assert det.update([good(1.0, 101, "not.watched")]) == []


def test_the_running_sums_match_an_exact_computation_after_many_samples() -> None:
    """No float drift: after 100,000 samples around a large level the score matches statistics on the window."""
    rng = random.Random(3)
    det = detector(window=100, min_samples=30, z=2.0)
    values = [1000.0 + rng.gauss(0.0, 0.01) for _ in range(100_000)]
    det.update([good(v, i) for i, v in enumerate(values)])
    window = values[-100:]
    mean = sum(window) / 100
    std = math.sqrt(sum((v - mean) ** 2 for v in window) / 99)
    just_below, just_above = mean + 2.0 * std * 0.999, mean + 2.0 * std * 1.001
    assert not would_flag(det, just_below)
    assert would_flag(det, just_above)


def would_flag(det: AnomalyDetector, value: float) -> bool:
    """Whether a value would be anomalous now (scored on a copy, the detector is untouched)."""
    probe = copy.deepcopy(det)
    probe.update([good(value, 10**6)])
    return probe.is_active(TAG)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="min_samples <= window"):
        AnomalyDetector([TAG], window=10, min_samples=20)
    with pytest.raises(ValueError, match="threshold must be > 0"):
        AnomalyDetector([TAG], z=0.0)


def test_the_detector_drives_the_engine_through_set_condition() -> None:
    defs = [AlarmDefinition(ID, TAG, AlarmKind.ANOMALY, 3.0, 4), AlarmDefinition("x.hi", "x", AlarmKind.HI, 1.0, 3)]
    det = AnomalyDetector.for_definitions(defs, window=50, min_samples=20)
    assert det.tags == [TAG]
    engine = AlarmEngine(defs, clock=lambda: T0)
    for alarm_id, active, value, ts in det.update([*noisy(100), good(55.0, 100), good(40.0, 101)]):
        engine.set_condition(alarm_id, active, value, ts)
    status = engine.status(ID)
    assert status.state is AlarmState.RTN_UNACK and status.value == 40.0
