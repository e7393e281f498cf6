"""The simulated process: per-parameter signals, setpoint lag, excursions and degradation episodes.

Pure and clock-free: the caller passes simulated time (epoch seconds) to `PlantModel.step`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hmi.domain.plant import TagKind, TagSpec
from plc_sim.episodes import EpisodeScheduler, Event, TwinState, failure_parameter, primary_parameter

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class SimParam:
    """What the model needs to know about one parameter."""

    tag_id: str
    twin: str
    parameter: str
    kind: TagKind
    eng_low: float
    eng_high: float
    band_low: float
    band_high: float

    @classmethod
    def from_tag(cls, tag: TagSpec) -> SimParam:
        """The model's view of a configured tag."""
        return cls(tag.tag_id, tag.twin, tag.parameter, tag.kind, tag.eng_low, tag.eng_high, tag.band_low, tag.band_high)


@dataclass(frozen=True, slots=True)
class Tuning:
    """Signal shape, as fractions of each parameter's band width and as simulated seconds."""

    noise: float = 0.02
    drift: float = 0.05
    drift_tau_s: float = 2 * 3600.0
    daily: float = 0.10
    excursions_per_day: float = 3.0
    setpoint_tau_s: float = 30.0


class PlantModel:
    """Produces a value for every non-setpoint parameter at each step; twins may degrade and trip."""

    def __init__(
        self,
        params: Sequence[SimParam],
        *,
        seed: int | None,
        start_time: float,
        episode_every_s: float | None = None,
        tuning: Tuning = Tuning(),
    ) -> None:
        self.params = tuple(params)
        self.tuning = tuning
        self._rng = np.random.default_rng(seed)
        self._t = start_time
        p = self.params
        self._lo = np.array([x.eng_low for x in p], dtype=float)
        self._hi = np.array([x.eng_high for x in p], dtype=float)
        span = self._hi - self._lo
        band_lo = np.clip([x.band_low for x in p], self._lo, self._hi)
        band_hi = np.clip([x.band_high for x in p], self._lo, self._hi)
        self._mid = (band_lo + band_hi) / 2
        self._width = np.maximum(band_hi - band_lo, 0.05 * span)
        self._discrete = np.array([x.kind == TagKind.DISCRETE for x in p], dtype=bool)
        produced = [i for i, x in enumerate(p) if x.kind != TagKind.SETPOINT]
        self._produced = np.array(produced, dtype=int)
        self.produced_tags: tuple[str, ...] = tuple(p[i].tag_id for i in produced)

        n = len(p)
        self._drift = self._rng.normal(0.0, 1.0, n) * tuning.drift * self._width
        self._phase = self._rng.uniform(0, 2 * math.pi, n)
        self._daily_amp = self._rng.uniform(0.5, 1.0, n) * tuning.daily * self._width
        self._exc_amp = np.zeros(n)
        self._exc_start = np.zeros(n)
        self._exc_end = np.zeros(n)
        self._degrade = np.zeros(n)

        self._twins: dict[str, list[int]] = {}
        for i, x in enumerate(p):
            self._twins.setdefault(x.twin, []).append(i)
        self._primary: dict[str, int] = {}
        self._setpoint_index: dict[str, int] = {}
        self._setpoint: dict[str, float] = {}
        self._primary_base: dict[str, float] = {}
        failing: dict[str, int] = {}
        for twin, idx in self._twins.items():
            names = {p[i].parameter: i for i in idx}
            sp = next((i for i in idx if p[i].kind == TagKind.SETPOINT), None)
            prim = primary_parameter(twin, [p[i] for i in idx])
            if sp is not None and prim is not None:
                self._primary[twin] = names[prim]
                self._setpoint_index[twin] = sp
                spv = float(np.clip(self._mid[names[prim]], p[sp].eng_low, p[sp].eng_high))
                self._setpoint[twin] = spv
                self._primary_base[twin] = spv
            fail = failure_parameter(twin, [p[i] for i in idx])
            if fail is not None:
                failing[twin] = names[fail]
        self._failing = failing
        self.episodes = EpisodeScheduler(
            {twin: p[i].parameter for twin, i in failing.items()},
            every_s=episode_every_s,
            rng=self._rng,
            start_time=start_time,
        )

    @property
    def time(self) -> float:
        """The simulated time of the last step."""
        return self._t

    def initial_setpoints(self) -> dict[str, float]:
        """The setpoint value of each twin that has one, by the setpoint's tag id."""
        return {self.params[self._setpoint_index[t]].tag_id: v for t, v in self._setpoint.items()}

    def set_setpoint(self, twin: str, value: float) -> None:
        """A client wrote the twin's setpoint: the primary parameter now moves toward it."""
        if twin in self._setpoint:
            sp = self.params[self._setpoint_index[twin]]
            self._setpoint[twin] = float(min(max(value, sp.eng_low), sp.eng_high))

    def setpoint(self, twin: str) -> float | None:
        """The twin's current setpoint, if it has one."""
        return self._setpoint.get(twin)

    def step(self, sim_time: float) -> tuple[np.ndarray, list[Event]]:
        """Advance to sim_time; returns the values of `produced_tags` (in order) and the episode events."""
        dt = max(0.0, sim_time - self._t)
        self._t = sim_time
        rng = self._rng
        tu = self.tuning
        n = len(self.params)

        a = math.exp(-dt / tu.drift_tau_s)
        self._drift = self._drift * a + rng.normal(0.0, 1.0, n) * (tu.drift * self._width * math.sqrt(1 - a * a))
        self._start_excursions(sim_time, dt)
        events = self.episodes.advance(sim_time)

        base = self._mid.copy()
        lag = math.exp(-dt / tu.setpoint_tau_s)
        for twin, i in self._primary.items():
            target = self._setpoint[twin]
            if self.episodes.state(twin) == TwinState.DOWN:
                target = self.params[i].eng_low
            b = target + (self._primary_base[twin] - target) * lag
            self._primary_base[twin] = b
            base[i] = b

        values = (
            base
            + self._drift
            + self._daily_amp * np.sin(2 * math.pi * (sim_time % DAY) / DAY + self._phase)
            + rng.normal(0.0, 1.0, n) * tu.noise * self._width
            + self._excursion(sim_time)
        )
        values[self._discrete] = self._hi[self._discrete]

        for twin, i in self._failing.items():
            state = self.episodes.state(twin)
            if state == TwinState.DEGRADING:
                values[i] += self.episodes.progress(twin, sim_time) ** 2 * self._climb(i)
            elif state == TwinState.DOWN:
                idx = self._twins[twin]
                span = self._hi[idx] - self._lo[idx]
                values[idx] = self._lo[idx] + np.abs(rng.normal(0.0, 0.01, len(idx))) * span * ~self._discrete[idx]
        for ev in events:
            if ev.kind == "failure" and self.episodes.state(ev.twin) == TwinState.DOWN:
                i = self._failing[ev.twin]
                # the trip itself: the failing parameter spikes for one sample before the twin drops
                values[i] = self._lo[i] + 0.97 * (self._hi[i] - self._lo[i])
        np.clip(values, self._lo, self._hi, out=values)
        return values[self._produced], events

    def _climb(self, i: int) -> float:
        """How far a degrading parameter climbs: from mid-band to well above the band."""
        band_hi = self._mid[i] + self._width[i] / 2
        target = band_hi + 0.6 * (self._hi[i] - band_hi)
        return max(target - self._mid[i], 0.25 * self._width[i])

    def _start_excursions(self, t: float, dt: float) -> None:
        rate = self.tuning.excursions_per_day / DAY
        if rate <= 0 or dt <= 0:
            return
        p_start = 1 - math.exp(-rate * dt)
        for idx in self._twins.values():
            if self._rng.random() >= p_start:
                continue
            candidates = [i for i in idx if self.params[i].kind == TagKind.ANALOG]
            if not candidates:
                continue
            i = candidates[int(self._rng.integers(len(candidates)))]
            sign = 1.0 if self._rng.random() < 0.5 else -1.0
            self._exc_amp[i] = sign * self._width[i] * self._rng.uniform(0.6, 0.9)
            self._exc_start[i] = t
            self._exc_end[i] = t + self._rng.uniform(10, 40) * 60

    def _excursion(self, t: float) -> np.ndarray:
        length = np.maximum(self._exc_end - self._exc_start, 1e-9)
        ramp = np.minimum(t - self._exc_start, self._exc_end - t) / (0.2 * length)
        return self._exc_amp * np.clip(ramp, 0.0, 1.0)
