"""Every command a user gives goes through here: who is acting, may they, do it, audit it.

The rule (issue 4): no audit record, no command. A command on the database commits together with
its audit record, or neither happens. A command outside the database (a setpoint sent to a PLC) is
recorded as requested before it is sent; if that record cannot be written, it is not sent.
A refused command (the role may not) is recorded as denied, and raises PermissionDenied.

Services run synchronously (they talk to the database); the GUI calls them in an executor.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from hmi.domain.audit import AuditEntry, Outcome
from hmi.domain.permissions import Action, PermissionDenied, Principal, allowed, role_name
from hmi.store.audit import AuditUnavailable, append, record
from hmi.store.db import one_line, safe_url
from hmi.store.errors import DatabaseUnavailable
from hmi.store.locking import write_connection

log = logging.getLogger(__name__)
T = TypeVar("T")


def workstation_name() -> str:
    """This workstation's name in the audit trail: $HMI_WORKSTATION, else the host name."""
    return os.environ.get("HMI_WORKSTATION") or socket.gethostname() or "unknown"


@dataclass
class Change:
    """What a command changed, filled in by the command for its audit record."""

    old: str | None = None
    new: str | None = None
    detail: str = ""


ActorSource = Callable[[], Principal]


class CommandService:
    """Runs commands as the current actor: permission check, the change, and its audit record."""

    def __init__(self, engine: Engine, actor: ActorSource, workstation: str | None = None) -> None:
        self.engine = engine
        self._actor = actor
        self.workstation = workstation or workstation_name()

    def _entry(self, actor: Principal, action: Action | str, target: str, outcome: Outcome, change: Change) -> AuditEntry:
        return AuditEntry(
            user=actor.name, role=role_name(actor), workstation=self.workstation,
            action=getattr(action, "value", action), target=target, result=outcome.value,
            old_value=change.old, new_value=change.new, detail=change.detail,
        )  # fmt: skip

    def _record(self, entry: AuditEntry) -> None:
        record(self.engine, entry)

    def authorize(self, action: Action, target: str, change: Change | None = None) -> Principal:
        """The current actor if their role allows ``action``; otherwise audit the denial and raise.

        Raises SessionLocked (from the actor source) when nobody is logged in: no record then, as
        nobody has proven who they are.
        """
        actor = self._actor()
        if allowed(role_name(actor), action):
            return actor
        denied = PermissionDenied(actor.name, role_name(actor), action)
        note = change or Change()
        try:
            self._record(self._entry(actor, action, target, Outcome.DENIED, Change(note.old, note.new, str(denied))))
        except AuditUnavailable as error:
            log.error("a denied command could not be audited: %s", error)
        raise denied

    def run(
        self, action: Action, target: str, do: Callable[[Connection, Change], T],
        *, refusals: tuple[type[Exception], ...] = (),
    ) -> T:  # fmt: skip
        """Do a database command and append its audit record in one transaction.

        ``do(conn, change)`` makes the change on ``conn`` and fills ``change`` (old, new, detail).
        If it raises, nothing it did is kept and the failure is recorded (best effort) and re-raised;
        an error of one of the ``refusals`` kinds (the request itself cannot be done: an existing
        name, an unknown user) is recorded as refused rather than failed.
        """
        actor = self.authorize(action, target)
        change = Change()
        try:
            with write_connection(self.engine) as conn, conn.begin():
                result = do(conn, change)
                try:
                    append(conn, self._entry(actor, action, target, Outcome.OK, change))
                except exc.DBAPIError as error:
                    raise AuditUnavailable(
                        f"the audit record could not be written ({one_line(error)}); the command was not carried out"
                    ) from None
        except AuditUnavailable:
            raise
        except exc.DBAPIError as error:
            raise DatabaseUnavailable(
                f"database {safe_url(self.engine.url)} is unavailable: {one_line(error)}; nothing was changed"
            ) from None
        except refusals as error:
            self._record_refusal(actor, action, target, change, error)
            raise
        except Exception as error:
            self._record_failure(actor, action, target, change, error)
            raise
        return result

    def run_external(self, action: Action, target: str, change: Change, do: Callable[[], T]) -> T:
        """Do a command outside the database: record it as requested, do it, record how it ended.

        If the 'requested' record cannot be written, ``do`` is not called (AuditUnavailable).
        """
        actor = self.authorize(action, target, change)
        try:
            self._record(self._entry(actor, action, target, Outcome.REQUESTED, change))
        except AuditUnavailable as error:
            raise AuditUnavailable(f"{error}; the command was not carried out") from None
        try:
            result = do()
        except Exception as error:
            self._record_failure(actor, action, target, change, error)
            raise
        try:
            self._record(self._entry(actor, action, target, Outcome.OK, change))
        except AuditUnavailable as error:  # it happened; the 'requested' record stands for it
            log.error("%s on %s was carried out but its completion could not be audited: %s", action, target, error)
        return result

    def refuse(self, action: Action, target: str, change: Change, reason: Exception) -> None:
        """Record that a permitted request was turned down for what it asked (a bad value, an unknown
        target) before anything happened; best effort, as the refusal stands either way."""
        self._record_refusal(self.authorize(action, target, change), action, target, change, reason)

    def _record_refusal(self, actor: Principal, action: Action, target: str, change: Change, reason: Exception) -> None:
        refused = Change(change.old, change.new, one_line(reason))
        try:
            self._record(self._entry(actor, action, target, Outcome.REFUSED, refused))
        except AuditUnavailable as error:
            log.error("a refused %s on %s could not be audited: %s", action.value, target, error)

    def _record_failure(self, actor: Principal, action: Action, target: str, change: Change, error: Exception) -> None:
        failed = Change(change.old, change.new, (f"{change.detail}; " if change.detail else "") + one_line(error))
        try:
            self._record(self._entry(actor, action, target, Outcome.FAILED, failed))
        except AuditUnavailable as audit_error:
            log.error("a failed %s on %s could not be audited: %s", getattr(action, "value", action), target, audit_error)
