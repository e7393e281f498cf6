"""An in-memory AndonSource for the andon board's unit tests (the pane is the piece under test).

It keeps lines and calls in lists, bumps its version on every change, records the steps it was given,
and can be told to refuse the next step with a message, as the AndonService would.
"""

from __future__ import annotations

import dataclasses

from hmi.domain.andon import (
    AndonCall, CallState, CallTaken, Category, EscalationTier, LineKind, Loss, Origin, Reason,
)  # fmt: skip
from hmi.services.andon import AndonLine

T0 = 1_796_000_000 * 1_000_000  # UTC microseconds
S = 1_000_000
TIERS = (EscalationTier(1, 300.0, CallState.ACKNOWLEDGED, "shift supervisor", ()),
         EscalationTier(2, 900.0, CallState.RESOLVED, "production manager", ()))  # fmt: skip
REASONS = [Reason("mechanical", "Mechanical failure", Loss.BREAKDOWN), Reason("changeover", "Setup", Loss.SETUP)]


class Refused(Exception):
    """What the fake raises when told to refuse."""


def call(call_id: int, line: str, *, state: CallState = CallState.OPEN, origin: Origin = Origin.MACHINE,
         category: Category = Category.MAINTENANCE, age_s: float = 0, active: bool = True, **kw) -> AndonCall:  # fmt: skip
    """A call raised ``age_s`` before T0."""
    kind = LineKind.TWIN if not line.startswith("sf") else LineKind.SHOPFLOOR
    return AndonCall(call_id, line, kind, origin, category, state, active, kw.pop("detail", ""),
                     T0 - int(age_s * S), kw.pop("raised_by", "system"), **kw)  # fmt: skip


class FakeAndon:
    """AndonSource over lists; ``steps`` records (method, args) of every step."""

    def __init__(self) -> None:
        self.lines_: list[AndonLine] = [AndonLine("compressor1", LineKind.TWIN, "Compressor 1"),
                                        AndonLine("sf1", LineKind.SHOPFLOOR, "sf1"),
                                        AndonLine("sf2", LineKind.SHOPFLOOR, "sf2")]  # fmt: skip
        self.calls: list[AndonCall] = []
        self.steps: list[tuple[str, tuple]] = []
        self.refuse: Exception | None = None
        self.v = 1
        self.version_reads = 0
        self.board_reads = 0
        self.next_id = 100
        self.user = "sam"

    def put(self, *calls: AndonCall) -> None:
        """Add or replace calls (by id)."""
        ids = {c.call_id for c in calls}
        self.calls = [c for c in self.calls if c.call_id not in ids] + list(calls)
        self.v += 1

    async def lines(self) -> list[AndonLine]:
        return list(self.lines_)

    async def board(self) -> list[AndonCall]:
        self.board_reads += 1
        return [c for c in self.calls if c.state is not CallState.RESOLVED]

    async def version(self) -> int:
        self.version_reads += 1
        return self.v

    async def tiers(self) -> tuple[EscalationTier, ...]:
        return TIERS

    async def reasons(self) -> list[Reason]:
        return list(REASONS)

    def _step(self, name: str, *args: object) -> None:
        self.steps.append((name, args))
        if self.refuse is not None:
            error, self.refuse = self.refuse, None
            raise error

    def _replace(self, call_id: int, **changes: object) -> AndonCall:
        old = next(c for c in self.calls if c.call_id == call_id)
        new = dataclasses.replace(old, **changes)
        self.put(new)
        return new

    async def raise_call(self, line: str, category: Category, note: str = "") -> AndonCall:
        self._step("raise_call", line, category, note)
        self.next_id += 1
        new = call(self.next_id, line, origin=Origin.MANUAL, category=category, detail=note, raised_by=self.user)
        self.put(new)
        return new

    async def acknowledge(self, call_id: int, note: str = "") -> AndonCall:
        self._step("acknowledge", call_id, note)
        return self._replace(call_id, state=CallState.ACKNOWLEDGED, acked_by=self.user, acked_us=T0)

    async def resolve(self, call_id: int, reason_code: str, note: str = "") -> AndonCall:
        self._step("resolve", call_id, reason_code, note)
        return self._replace(call_id, state=CallState.RESOLVED, resolved_by=self.user, reason_code=reason_code,
                             resolve_note=note)  # fmt: skip


def taken(call_id: int, by: str = "bob") -> CallTaken:
    """The refusal a second acknowledge gets."""
    return CallTaken(call_id, CallState.ACKNOWLEDGED, by, T0 + (14 * 3600 + 3 * 60) * S - T0 % (86_400 * S))
