"""Where the downtime and OEE panes get their data and send their one command: the OeeService and the
AndonService's downtime, behind one small interface.

The panes await an ``OeeSource``; the one the application uses, ``ServiceOeeSource``, runs each call in an
executor (never on the GUI thread). Reads need no login (a locked wall display keeps showing OEE); the one
command, giving a stop its reason, runs as the session's user (a locked station asks for a login first) and
the AndonService checks the permission. Tests give the panes an in-memory fake of the Protocol.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from hmi.domain.andon import Downtime, Reason
from hmi.domain.oee import OeeFigures, OeeTargets, Period, ShiftWindow
from hmi.ui.context import AppContext, NoCommands

if TYPE_CHECKING:
    from hmi.config import PlantConfig
    from hmi.domain.oee import OrderOutput  # added to the domain by the OEE branch
    from hmi.services.andon import AndonService, ParetoRow
    from hmi.services.oee import OeeLine, OeeService

T = TypeVar("T")
NO_DATABASE = "This window has no database, so there is no downtime or OEE to show."


class OeeSource(Protocol):
    """What the downtime and OEE panes read and do (the OeeService's and the AndonService's names)."""

    async def lines(self) -> list[OeeLine]: ...
    async def targets(self) -> OeeTargets: ...
    async def shifts(self, from_us: int, to_us: int) -> list[ShiftWindow]: ...
    async def current_shift(self) -> ShiftWindow | None: ...
    async def figures(self, from_us: int, to_us: int, *, by: Period = Period.SHIFT, line: str | None = None,
                      combined: bool = False) -> list[OeeFigures]: ...  # fmt: skip
    async def orders(self, from_us: int, to_us: int, line: str | None = None) -> list[OrderOutput]: ...
    async def downtime(self, from_us: int, to_us: int, line: str | None = None) -> list[Downtime]: ...
    async def pareto(self, from_us: int, to_us: int, by: str = "reason") -> list[ParetoRow]: ...
    async def reasons(self) -> list[Reason]: ...
    async def set_downtime_reason(self, downtime_id: int, reason_code: str, note: str = "") -> Downtime: ...


def _oee_service(engine: Any, config: PlantConfig) -> OeeService:
    from hmi.services.oee import OeeService  # here, not at the top: the OEE branch adds the module

    return OeeService(engine, config)


def _andon_service(engine: Any, config: PlantConfig, workstation: str) -> AndonService:
    from hmi.services.andon import AndonService

    return AndonService(engine, config, workstation=workstation)


class ServiceOeeSource:
    """The OeeSource of the application: the OeeService and AndonService in an executor."""

    def __init__(self, ctx: AppContext, config: PlantConfig) -> None:
        self.ctx = ctx
        self.config = config
        self._lock = threading.Lock()
        self._oee: OeeService | None = None
        self._andon: AndonService | None = None

    def _services(self) -> tuple[Any, str]:
        commands = self.ctx.commands
        if commands is None:
            raise NoCommands(NO_DATABASE)
        return commands.engine, commands.workstation

    def oee_service(self) -> OeeService:
        """The OeeService, made at its first use (on the executor's thread)."""
        with self._lock:
            if self._oee is None:
                engine, _ = self._services()
                self._oee = _oee_service(engine, self.config)
            return self._oee

    def andon_service(self) -> AndonService:
        """The AndonService, made at its first use (on the executor's thread)."""
        with self._lock:
            if self._andon is None:
                engine, workstation = self._services()
                self._andon = _andon_service(engine, self.config, workstation)
            return self._andon

    async def _run(self, call: Callable[[], T]) -> T:
        self._services()
        return await asyncio.get_running_loop().run_in_executor(None, call)

    async def lines(self) -> list[OeeLine]:
        """The lines OEE is computed for (twins with a status tag, then shopfloors)."""
        return await self._run(lambda: self.oee_service().lines())

    async def targets(self) -> OeeTargets:
        """The plant's targets from [oee]."""
        return await self._run(lambda: self.oee_service().targets())

    async def shifts(self, from_us: int, to_us: int) -> list[ShiftWindow]:
        """The calendar's shifts overlapping [from, to)."""
        return await self._run(lambda: self.oee_service().shifts(from_us, to_us))

    async def current_shift(self) -> ShiftWindow | None:
        """The shift running now, or None between shifts."""
        return await self._run(lambda: self.oee_service().current_shift())

    async def figures(self, from_us: int, to_us: int, *, by: Period = Period.SHIFT, line: str | None = None,
                      combined: bool = False) -> list[OeeFigures]:  # fmt: skip
        """OEE per (line, period) in [from, to); ``combined``: one plant-wide row per period."""
        return await self._run(lambda: self.oee_service().figures(from_us, to_us, by=by, line=line,
                                                                  combined=combined))  # fmt: skip

    async def orders(self, from_us: int, to_us: int, line: str | None = None) -> list[OrderOutput]:
        """What each order produced on the line(s) in [from, to)."""
        return await self._run(lambda: self.oee_service().orders(from_us, to_us, line))

    async def downtime(self, from_us: int, to_us: int, line: str | None = None) -> list[Downtime]:
        """The stops overlapping [from, to), by start."""
        return await self._run(lambda: self.andon_service().downtime(from_us, to_us, line))

    async def pareto(self, from_us: int, to_us: int, by: str = "reason") -> list[ParetoRow]:
        """Downtime in [from, to) by reason or by line, most first; sums to the range's downtime."""
        return await self._run(lambda: self.andon_service().pareto(from_us, to_us, by))

    async def reasons(self) -> list[Reason]:
        """The reason codes of [andon.reasons]."""
        return await self._run(lambda: self.andon_service().reasons())

    async def set_downtime_reason(self, downtime_id: int, reason_code: str, note: str = "") -> Downtime:
        """Give a stop its reason as the session's user (needs resolve_andon; the service checks)."""
        self._services()
        actor = await self.ctx.acting_user()
        return await self._run(lambda: self.andon_service().set_downtime_reason(actor, downtime_id, reason_code,
                                                                                note))  # fmt: skip


def oee_source_for(ctx: AppContext, source: OeeSource | None = None) -> OeeSource | None:
    """The source a pane uses: the one given, else the context's (``ctx.oee``, set by hmi.app), else None."""
    if source is not None:
        return source
    given: Any = getattr(ctx, "oee", None)
    return given
