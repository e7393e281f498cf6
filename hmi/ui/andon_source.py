"""Where the andon board gets its calls and sends its steps: the AndonService, behind one small interface.

The board awaits an ``AndonSource``; the application's, ``ServiceAndonSource``, runs each AndonService
call in an executor (never on the GUI thread). Reads need no login (the wall board shows them to
everyone). A step (raise, acknowledge, resolve) runs as the session's user: a locked station asks for
a login first (ctx.acting_user), and the service checks the permission and audits. Tests give the
board an in-memory fake of the Protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from hmi.domain.andon import AndonCall, Category, EscalationTier, Reason
from hmi.ui.context import AppContext
from hmi.ui.report_widgets import in_executor

if TYPE_CHECKING:
    from hmi.services.andon import AndonLine, AndonService

T = TypeVar("T")


class AndonSource(Protocol):
    """What the andon board reads and does (the AndonService's names, without the actor)."""

    async def lines(self) -> list[AndonLine]: ...
    async def board(self) -> list[AndonCall]: ...
    async def version(self) -> int: ...
    async def tiers(self) -> tuple[EscalationTier, ...]: ...
    async def reasons(self) -> list[Reason]: ...
    async def raise_call(self, line: str, category: Category, note: str = "") -> AndonCall: ...
    async def acknowledge(self, call_id: int, note: str = "") -> AndonCall: ...
    async def resolve(self, call_id: int, reason_code: str, note: str = "") -> AndonCall: ...


class ServiceAndonSource:
    """The AndonSource of the application: the AndonService in an executor; steps as the session's user."""

    def __init__(self, ctx: AppContext, service: AndonService) -> None:
        self.ctx = ctx
        self.service = service

    async def _read(self, call: Callable[[], T]) -> T:
        return await in_executor(call)

    async def _do(self, call: Callable[[Any], T]) -> T:
        actor = await self.ctx.acting_user()  # a locked station asks for a login first
        return await in_executor(call, actor)

    async def lines(self) -> list[AndonLine]:
        """Every twin with a status tag, then every known shopfloor."""
        return await self._read(self.service.lines)

    async def board(self) -> list[AndonCall]:
        """Every call not resolved, oldest first."""
        return await self._read(self.service.board)

    async def version(self) -> int:
        """A number that changes whenever a call or a stop changes."""
        return await self._read(self.service.version)

    async def tiers(self) -> tuple[EscalationTier, ...]:
        """The escalation tiers of the config."""
        return self.service.tiers()

    async def reasons(self) -> list[Reason]:
        """The reason codes a resolve offers."""
        return self.service.reasons()

    async def raise_call(self, line: str, category: Category, note: str = "") -> AndonCall:
        """Raise a call on a line as the session's user."""
        return await self._do(lambda actor: self.service.raise_call(actor, line, category, note))

    async def acknowledge(self, call_id: int, note: str = "") -> AndonCall:
        """Acknowledge a call as the session's user (CallTaken if someone was first)."""
        return await self._do(lambda actor: self.service.acknowledge(actor, call_id, note))

    async def resolve(self, call_id: int, reason_code: str, note: str = "") -> AndonCall:
        """Resolve a call with a reason code as the session's user."""
        return await self._do(lambda actor: self.service.resolve(actor, call_id, reason_code, note))


def andon_for(ctx: AppContext, source: AndonSource | None = None) -> AndonSource | None:
    """The source the board uses: the one given, else ``ctx.andon`` (set by hmi.app), else None (no database)."""
    if source is not None:
        return source
    return getattr(ctx, "andon", None)

