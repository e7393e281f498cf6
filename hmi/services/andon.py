"""Andon calls and downtime as the board, the downtime pane and `hmi andon|downtime` use them (issue 14).

Users' steps go through CommandService: the role's permission (raise_andon to raise, ack_andon to
acknowledge, resolve_andon to resolve and to give a stop its reason), the change and its audit record in
one transaction. A request that cannot be done (an unknown line, call, stop or reason code, a call someone
else took first) is audited as refused and raised as its AndonError; the loser of a race is told who won
(CallTaken). Reads need no login (the wall board shows them to everyone).

The causes (a twin's trip, a shopfloor's machine stop, a shopfloor offline) come in through cause_started
and cause_ended, or straight through the store inside the dispatcher's batch. escalate() is called
periodically: each tier a call reaches (by the injected clock) is taken by one process only (a conditional
UPDATE), which writes the step, the audit record and sends the e-mail through [alarms.mail]. A mail that
fails is logged and counted (mail_stats), never raised to the caller; each SMTP step waits at most the
mail config's timeout_s.

All methods are synchronous (they do SQL); the window calls them in an executor.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from hmi.config import MailConfig, PlantConfig
from hmi.domain.andon import (
    MICRO_STOP, SYSTEM, AndonCall, AndonError, CallStep, Category, Downtime, EscalationTier, InvalidAndonValue,
    LineKind, Loss, Origin, Reason, UnknownCall, UnknownDowntime, UnknownLine, UnknownReason, check_note, due_tier,
)  # fmt: skip
from hmi.domain.audit import AuditEntry, Outcome
from hmi.domain.permissions import Action, Principal
from hmi.io.smtp import SmtpFailure, send
from hmi.services.alarm_mail import NoMailPassword, PasswordSource, mail_envelope, smtp_password
from hmi.services.commands import Change, CommandService, workstation_name
from hmi.store import andon as store
from hmi.store.audit import append, now_us
from hmi.store.db import one_line, unavailable
from hmi.store.locking import write_connection

log = logging.getLogger(__name__)

REFUSALS = (AndonError,)
PARETO_BY = ("reason", "line")
NO_REASON = "(none)"
US = 1_000_000


@dataclass(frozen=True)
class AndonLine:
    """A line of the board: a twin with a status tag or a shopfloor."""

    line: str
    kind: LineKind
    name: str  # the twin's name, or the shopfloor id


@dataclass(frozen=True)
class ParetoRow:
    """One bar of the downtime Pareto: a reason (or a line), its seconds in the range, its share and the running sum."""

    key: str
    label: str
    seconds: float
    count: int
    share: float
    cumulative: float


@dataclass(frozen=True)
class EscalationMailStats:
    """What the escalation mailer did so far."""

    sent: int = 0
    failed: int = 0
    last_error: str = ""


def call_target(call_id: int) -> str:
    """The audit target of a call."""
    return f"andon call {call_id}"


class AndonService:
    """The board's, the supervisor's and the causes' view of andon calls and downtime."""

    def __init__(self, engine: Engine, config: PlantConfig, *, clock: Callable[[], int] = now_us,
                 mail_password: PasswordSource | None = None, workstation: str | None = None) -> None:  # fmt: skip
        self.engine = engine
        self.config = config
        self.clock = clock
        self.workstation = workstation or workstation_name()
        mail = config.alarms.mail
        if mail_password is None:
            mail_password = _keyring_password if mail is not None and mail.username else (lambda: None)
        self._mail_password = mail_password
        self._reasons = {r.code: r for r in config.andon.reason_list()}
        self._tiers = config.andon.tiers()
        self._mail_lock = threading.Lock()
        self._mail_stats = EscalationMailStats()

    # --- helpers -------------------------------------------------------------------------------------

    def _commands(self, actor: Principal) -> CommandService:
        return CommandService(self.engine, lambda: actor, self.workstation)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except exc.DBAPIError as error:
            raise unavailable(self.engine, error) from None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with write_connection(self.engine) as conn, conn.begin():
                yield conn
        except exc.DBAPIError as error:
            raise unavailable(self.engine, error) from None

    def _reason(self, code: str) -> Reason:
        reason = self._reasons.get(code.strip() if isinstance(code, str) else code)
        if reason is None:
            raise UnknownReason(str(code), list(self._reasons))
        return reason

    def _line(self, conn: Connection, line: str) -> AndonLine:
        known = self._lines(conn)
        for candidate in known:
            if candidate.line == line:
                return candidate
        raise UnknownLine(str(line), [k.line for k in known])

    def _lines(self, conn: Connection) -> list[AndonLine]:
        twins = [AndonLine(twin_id, LineKind.TWIN, twin.name) for twin_id, twin in self.config.twins.items()
                 if "status" in twin.parameters]  # fmt: skip
        floors = list(dict.fromkeys([k.id for k in self.config.shopfloors.known] + store.shopfloor_ids(conn)))
        return twins + [AndonLine(sid, LineKind.SHOPFLOOR, sid) for sid in floors]

    # --- users ---------------------------------------------------------------------------------------

    def raise_call(self, actor: Principal, line: str, category: Category, note: str = "") -> AndonCall:
        """Raise a call on a line (needs raise_andon); UnknownLine, InvalidAndonValue."""

        def do(conn: Connection, change: Change) -> AndonCall:
            change.new = f"{getattr(category, 'value', category)!s:.20} on {line!s:.64}"
            text = check_note(note)
            try:
                kind = Category(category)
            except ValueError:
                raise InvalidAndonValue(f"unknown category {str(category)[:40]!r}; categories are: "
                                        + ", ".join(c.value for c in Category)) from None  # fmt: skip
            where = self._line(conn, line)
            call = store.raise_manual(conn, where.line, where.kind, kind, text, actor.name, self.clock())
            change.new = f"call {call.call_id}: {kind.value} on {where.line}" + (f": {text}" if text else "")
            return call

        return self._commands(actor).run(Action.RAISE_ANDON, f"andon line {line!s:.64}", do, refusals=REFUSALS)

    def acknowledge(self, actor: Principal, call_id: int, note: str = "") -> AndonCall:
        """Acknowledge an open call (needs ack_andon); CallTaken (who and when) if someone was first, UnknownCall."""

        def do(conn: Connection, change: Change) -> AndonCall:
            change.old = "open"
            call = store.acknowledge(conn, _call_id(call_id), actor.name, check_note(note), self.clock())
            change.new = "acknowledged" + (f": {call.ack_note}" if call.ack_note else "")
            return call

        return self._commands(actor).run(Action.ACK_ANDON, call_target(call_id), do, refusals=REFUSALS)

    def resolve(self, actor: Principal, call_id: int, reason_code: str, note: str = "") -> AndonCall:
        """Resolve a call with a reason code (needs resolve_andon); its stops get the reason. CallTaken, UnknownCall,
        UnknownReason."""

        def do(conn: Connection, change: Change) -> AndonCall:
            change.new = f"resolved: {reason_code!s:.40}"
            reason = self._reason(reason_code)
            before = store.load_call(conn, _call_id(call_id))
            if before is not None:
                change.old = before.state.value
            call = store.resolve(conn, _call_id(call_id), actor.name, reason, check_note(note), self.clock())
            change.new = f"resolved: {reason.code}" + (f": {call.resolve_note}" if call.resolve_note else "")
            return call

        return self._commands(actor).run(Action.RESOLVE_ANDON, call_target(call_id), do, refusals=REFUSALS)

    # --- the board -----------------------------------------------------------------------------------

    def lines(self) -> list[AndonLine]:
        """Every twin with a status tag, then every known shopfloor (the config's, then the database's)."""
        with self._read() as conn:
            return self._lines(conn)

    def board(self) -> list[AndonCall]:
        """Every call not resolved, oldest first."""
        with self._read() as conn:
            return store.board(conn)

    def calls(self, *, since_us: int | None = None, until_us: int | None = None, line: str | None = None,
              include_resolved: bool = True) -> list[AndonCall]:  # fmt: skip
        """Calls raised in [since, until), on one line if given, oldest first."""
        with self._read() as conn:
            return store.calls(conn, since_us=since_us, until_us=until_us, line=line,
                               include_resolved=include_resolved)  # fmt: skip

    def call(self, call_id: int) -> AndonCall:
        """One call; UnknownCall."""
        with self._read() as conn:
            found = store.load_call(conn, _call_id(call_id))
        if found is None:
            raise UnknownCall(call_id)
        return found

    def history(self, call_id: int) -> list[CallStep]:
        """Every step of a call, in order; UnknownCall."""
        with self._read() as conn:
            return store.history(conn, _call_id(call_id))

    def reasons(self) -> list[Reason]:
        """The reason codes of [andon.reasons], in the config's order."""
        return list(self._reasons.values())

    def tiers(self) -> tuple[EscalationTier, ...]:
        """The escalation tiers of [[andon.escalation]]."""
        return self._tiers

    def version(self) -> int:
        """A number that changes whenever any call or stop changes (cheap: the board polls it)."""
        with self._read() as conn:
            return store.version(conn)

    # --- causes (no user) ----------------------------------------------------------------------------

    def cause_started(self, line: str, kind: LineKind, origin: Origin, detail: str, at_us: int) -> AndonCall:
        """A cause started on a line: its call (raised once, however many processes see it) and its stop opened."""
        with self._write() as conn:
            call_id = store.start_cause(conn, line, kind, origin, detail, at_us)
            return store.load_call(conn, call_id)  # type: ignore[return-value]

    def cause_ended(self, line: str, origin: Origin, at_us: int) -> None:
        """A cause ended: its stop ends; its call is closed as a micro-stop or marked cleared (see store.end_cause).
        Without an open stop or call nothing is written (every twin running at start-up takes no write lock)."""
        with self._read() as conn:
            if not store.cause_open(conn, line, origin):
                return
        with self._write() as conn:
            store.end_cause(conn, line, origin, at_us, self.config.andon.micro_stop_s)

    def escalate(self) -> list[tuple[AndonCall, EscalationTier]]:
        """The tiers due now by the clock, each taken once across processes: stepped, audited and mailed."""
        now = self.clock()
        won: list[tuple[AndonCall, EscalationTier]] = []
        for call in self.board():
            tier = due_tier(call, self._tiers, now)
            if tier is None:
                continue
            with self._write() as conn:
                note = f"tier {tier.tier}: {tier.name}"
                if not store.escalate(conn, call.call_id, tier.tier, now, note):
                    continue
                append(conn, AuditEntry(
                    user=SYSTEM, role=SYSTEM, workstation=self.workstation, action="escalate_andon",
                    target=call_target(call.call_id), result=Outcome.OK.value, old_value=f"tier {call.tier}",
                    new_value=note, detail=_age(call, now, tier),
                ), clock=self.clock)  # fmt: skip
                after = store.load_call(conn, call.call_id)
            won.append((after, tier))  # type: ignore[arg-type]
        for call, tier in won:
            self._mail(call, tier, now)
        return won

    # --- downtime ------------------------------------------------------------------------------------

    def downtime(self, from_us: int, to_us: int, line: str | None = None) -> list[Downtime]:
        """The stops overlapping [from, to), by start; InvalidAndonValue for an empty range."""
        _check_range(from_us, to_us)
        with self._read() as conn:
            return store.downtime_between(conn, from_us, to_us, line)

    def set_downtime_reason(self, actor: Principal, downtime_id: int, reason_code: str, note: str = "") -> Downtime:
        """Give a stop its reason afterwards (needs resolve_andon); planned follows the reason's class.
        UnknownDowntime, UnknownReason."""

        def do(conn: Connection, change: Change) -> Downtime:
            change.new = f"reason {reason_code!s:.40}"
            reason = self._reason(reason_code)
            before, after = store.set_downtime_reason(conn, _call_id(downtime_id, "downtime record"), reason,
                                                      check_note(note), actor.name)  # fmt: skip
            change.old = f"reason {before.reason_code or 'none'}"
            change.new = f"reason {after.reason_code} ({'planned' if after.planned else 'unplanned'})"
            change.detail = after.note
            return after

        return self._commands(actor).run(Action.RESOLVE_ANDON, f"downtime {str(downtime_id)[:40]}", do,
                                         refusals=REFUSALS)  # fmt: skip

    def pareto(self, from_us: int, to_us: int, by: str = "reason") -> list[ParetoRow]:
        """Downtime in [from, to) by reason or by line, most first; the seconds (each stop clipped to the range)
        sum to the total downtime of the range. Stops without a reason count under "(none)"."""
        if by not in PARETO_BY:
            raise InvalidAndonValue(f"cannot group by {str(by)[:40]!r}; give one of: {', '.join(PARETO_BY)}")
        stops = self.downtime(from_us, to_us)
        now = self.clock()
        seconds: dict[str, float] = {}
        counts: dict[str, int] = {}
        for stop in stops:
            end = stop.end_us if stop.end_us is not None else max(now, stop.start_us)
            clipped = (min(end, to_us) - max(stop.start_us, from_us)) / US
            if clipped <= 0:
                continue
            key = stop.line if by == "line" else (stop.reason_code or NO_REASON)
            seconds[key] = seconds.get(key, 0.0) + clipped
            counts[key] = counts.get(key, 0) + 1
        total = sum(seconds.values())
        rows, running = [], 0.0
        for key in sorted(seconds, key=lambda k: (-seconds[k], k)):
            running += seconds[key]
            rows.append(ParetoRow(key, self._label(key, by), seconds[key], counts[key],
                                  seconds[key] / total if total else 0.0, running / total if total else 0.0))  # fmt: skip
        return rows

    def _label(self, key: str, by: str) -> str:
        if by == "line":
            twin = self.config.twins.get(key)
            return twin.name if twin is not None else key
        if key == NO_REASON:
            return "no reason given"
        if key == MICRO_STOP:
            return "Micro-stops"
        reason = self._reasons.get(key)
        return reason.text if reason is not None else key

    def loss_of(self, reason_code: str | None) -> Loss:
        """The OEE class of a stop's reason: a stop without a reason (or a micro-stop) counts as breakdown."""
        reason = self._reasons.get(reason_code or "")
        return reason.loss if reason is not None else Loss.BREAKDOWN

    # --- mail ----------------------------------------------------------------------------------------

    def mail_stats(self) -> EscalationMailStats:
        """Escalation mails sent and given up so far, and the last failure's reason."""
        with self._mail_lock:
            return self._mail_stats

    def _mail(self, call: AndonCall, tier: EscalationTier, now: int) -> None:
        """Mail one escalation; a failure is logged and counted, never raised."""
        mail = self.config.alarms.mail
        if mail is None:
            log.info("andon: call %d escalated to tier %d (%s); no [alarms.mail], so no e-mail",
                     call.call_id, tier.tier, tier.name)  # fmt: skip
            return
        to = list(tier.notify) or list(mail.to)
        config = mail.model_copy(update={"to": to})
        try:
            send(config, escalation_message(config, call, tier, now), smtp_password(config, self._mail_password))
        except (NoMailPassword, SmtpFailure) as failure:
            reason = getattr(failure, "reason", str(failure))
            self._count(failed=True, error=f"{mail.host}:{mail.port}: {reason}")
            log.error("andon: escalation mail of call %d (tier %d) via %s:%d not sent: %s", call.call_id, tier.tier,
                      mail.host, mail.port, reason)  # fmt: skip
        except Exception as error:  # the board must survive anything the mail does
            self._count(failed=True, error=one_line(error))
            log.exception("andon: escalation mail of call %d failed unexpectedly", call.call_id)
        else:
            self._count(failed=False)

    def _count(self, *, failed: bool, error: str = "") -> None:
        with self._mail_lock:
            s = self._mail_stats
            self._mail_stats = (EscalationMailStats(s.sent, s.failed + 1, error) if failed
                                else EscalationMailStats(s.sent + 1, s.failed, ""))  # fmt: skip


def _keyring_password() -> str | None:
    """The SMTP password from the secret ``smtp`` (the alarm mailer's), read at each send."""
    from hmi.secrets import SMTP_SECRET, get_secret

    return get_secret(SMTP_SECRET)


def _call_id(value: object, what: str = "andon call") -> int:
    """An id as given (an int, or digits from a command line); UnknownCall otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.isdigit() and len(text) < 19:
        return int(text)
    raise UnknownCall(value) if what == "andon call" else UnknownDowntime(value)


def _check_range(from_us: int, to_us: int) -> None:
    if not to_us > from_us:
        raise InvalidAndonValue("the range must end after it starts")


def _utc(at_us: int) -> str:
    return datetime.fromtimestamp(at_us / US, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _age(call: AndonCall, now: int, tier: EscalationTier) -> str:
    minutes = (now - call.raised_us) / US / 60
    waiting = "unacknowledged" if tier.until.value == "acknowledged" else "unresolved"
    return f"{waiting} for {minutes:.0f} min"


def escalation_message(config: MailConfig, call: AndonCall, tier: EscalationTier, now: int):  # noqa: ANN201
    """The e-mail of one escalation: tier, line, category, how long it waits, and who acknowledged."""
    subject = (f"[HMI andon] {call.line}: call {call.call_id} {_age(call, now, tier)} — tier {tier.tier} "
               f"({tier.name})")  # fmt: skip
    lines = [
        f"Andon call {call.call_id} on {call.line} ({call.line_kind.value}) is {_age(call, now, tier)}.",
        f"Escalated to tier {tier.tier}: {tier.name}.",
        "",
        f"Category:  {call.category.value}",
        f"State:     {call.state.value}" + (" (the cause has cleared)" if call.cleared else ""),
        f"Raised:    {_utc(call.raised_us)} by {call.raised_by} ({call.origin.value})",
    ]
    if call.detail:
        lines.append(f"Detail:    {call.detail}")
    if call.acked_by:
        lines.append(f"Acknowledged: {_utc(call.acked_us or 0)} by {call.acked_by}")
    return mail_envelope(config, subject, "\n".join(lines) + "\n", "andon-escalation")
