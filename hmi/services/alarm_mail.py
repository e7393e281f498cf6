"""E-mail for alarms: an immediate mail for new top-priority alarms and a periodic digest, rate-limited.

Immediate mail
    An entry with ``what == "activate"`` and ``to_state == UNACK`` (a new annunciation) whose priority
    is ``<= max_priority`` is mailed at once; the urgent alarms of one ``notify`` batch share one mail.

Rate limit
    At most ``max_per_hour`` immediate mails in any rolling hour (counted when queued, on the mailer's
    clock). Alarms beyond it are held back, counted in ``stats().held``, and never dropped: they are
    listed in the next digest, or, when there is no digest (``digest_every_s == 0``), in one
    "N more alarms" mail as soon as the rolling hour has a free slot again (that mail uses the slot).

Digest
    Every ``digest_every_s`` on the wall clock, the first one period after ``start()``: the new alarms
    of the period (counts per priority, the most frequent), the alarms still unacknowledged as far as
    the entries seen tell, and the ones held back. A period with no new alarm sends no digest. The
    digest is not rate-limited (its period bounds it). ``stop()`` sends a closing digest for the partial
    period only when alarms are held back, so none is lost at shutdown.

Sending
    On a worker thread, one SMTP connection per mail, through the transport (hmi.io.smtp). A failure
    is retried after each of ``retry_delays`` seconds; a refused login, a missing password, an
    untrusted certificate, a server without STARTTLS/AUTH and refused recipients are not (retrying
    cannot help). A mail given up is logged with the server and the reason and counted in
    ``stats().failed``. The password is asked for at each connection and never appears in a log line
    or a message.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from hmi.config import MailConfig
from hmi.domain.alarm_engine import AlarmState
from hmi.domain.alarm_journal import JournalEntry
from hmi.io.smtp import SmtpFailure, send

log = logging.getLogger(__name__)

PasswordSource = Callable[[], str | None]  # e.g. lambda: get_secret(SMTP_SECRET)
Clock = Callable[[], float]

HOUR_S = 3600.0
DEFAULT_RETRY_DELAYS_S = (5.0, 30.0, 120.0)
MAX_LISTED = 50  # alarms listed one by one in a mail; the rest are counted
MOST_FREQUENT = 5
_UNACKED = frozenset({AlarmState.UNACK, AlarmState.RTN_UNACK})
# Headers are not folded: Python's folder doubles a space or adds an empty encoded word next to a
# non-ASCII character (the subject's dash); 998 is RFC 5322's hard limit.
_POLICY = policy.SMTP.clone(max_line_length=998)


class MailError(Exception):
    """Mail could not be sent; the one-line message names the server, the reason and what to check."""


class NoMailPassword(Exception):
    """The password of the mail user cannot be had (not set, keyring locked)."""


@dataclass(frozen=True, slots=True)
class MailStats:
    """What the mailer did so far, for the status bar.

    ``held`` counts alarms held back by the rate limit (all time); ``last_error`` is the server and
    reason of the last mail given up, ``""`` once a later mail went through.
    """

    sent: int = 0
    failed: int = 0
    held: int = 0
    queued: int = 0
    last_error: str = ""
    next_digest: float | None = None


def is_annunciation(entry: JournalEntry) -> bool:
    """True when the entry is a newly annunciated alarm (activated, unacknowledged)."""
    return entry.what == "activate" and entry.to_state == AlarmState.UNACK


@dataclass(slots=True)
class _Period:
    """What a digest reports: the new alarms since ``start`` and those held back by the rate limit."""

    start: float
    per_priority: Counter[int] = field(default_factory=Counter)
    per_alarm: Counter[str] = field(default_factory=Counter)
    latest: dict[str, JournalEntry] = field(default_factory=dict)
    held: list[JournalEntry] = field(default_factory=list)
    held_count: int = 0

    def add(self, entry: JournalEntry) -> None:
        """Count one new annunciation."""
        self.per_priority[entry.priority] += 1
        self.per_alarm[entry.alarm_id] += 1
        self.latest[entry.alarm_id] = entry

    def hold(self, entries: Sequence[JournalEntry]) -> None:
        """Keep alarms the rate limit held back (the first MAX_LISTED by name, all counted)."""
        self.held.extend(entries[: max(0, MAX_LISTED - len(self.held))])
        self.held_count += len(entries)

    @property
    def total(self) -> int:
        """The number of new alarms in the period."""
        return sum(self.per_priority.values())


_Job = tuple[str, Callable[[], EmailMessage]]  # what it is (for the log), how to build it


class AlarmMailer:
    """Mails new urgent alarms at once and a digest periodically, from a worker thread.

    ``notify`` is called on the event-loop thread with every batch of journaled entries and never
    blocks or raises. ``ssl_context`` replaces ``ssl.create_default_context()`` (tests with a
    self-signed certificate, a plant CA); ``poll_s`` is how often the worker looks at the clock.
    """

    def __init__(
        self,
        config: MailConfig,
        password: PasswordSource,
        clock: Clock = time.time,
        *,
        ssl_context: ssl.SSLContext | None = None,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS_S,
        poll_s: float = 1.0,
    ) -> None:
        self._config = config
        self._password = password
        self._clock = clock
        self._ssl_context = ssl_context
        self._retry_delays = tuple(retry_delays)
        self._poll_s = poll_s
        self._cond = threading.Condition()
        self._queue: deque[list[JournalEntry]] = deque()
        self._window: deque[float] = deque()  # when each immediate mail of the rolling hour was queued
        self._period = _Period(start=clock())
        self._unacked: dict[str, JournalEntry] = {}  # by alarm id: the entry that left it unacknowledged
        self._next_digest: float | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._closed = False
        self._stats = MailStats()

    # -- the event-loop side -------------------------------------------------------------------

    def notify(self, entries: Sequence[JournalEntry]) -> None:
        """Take a batch of journal entries: queue a mail for new urgent alarms, count all for the digest."""
        try:
            self._take(entries)
        except Exception:  # a bad entry must not reach the caller's loop
            log.exception("alarm mail: could not take a batch of journal entries")

    def _take(self, entries: Iterable[JournalEntry]) -> None:
        now = self._clock()
        urgent: list[JournalEntry] = []
        with self._cond:
            for entry in entries:
                if entry.to_state in _UNACKED:
                    self._unacked[entry.alarm_id] = entry
                else:
                    self._unacked.pop(entry.alarm_id, None)
                if is_annunciation(entry):
                    self._period.add(entry)
                    if entry.priority <= self._config.max_priority:
                        urgent.append(entry)
            if not urgent:
                return
            if self._take_slot(now):
                self._queue.append(urgent)
                self._cond.notify()
            else:
                self._period.hold(urgent)
                self._count(held=len(urgent))
                if self._period.held_count == len(urgent):  # once a period, not once per alarm of a flood
                    log.warning("alarm mail: %d mails in the last hour already: alarms held back for the %s",
                                self._config.max_per_hour, "digest" if self._config.digest_every_s > 0 else "next free slot")

    def _take_slot(self, now: float) -> bool:
        """Use a slot of the rolling hour if one is free (call with the lock held)."""
        while self._window and self._window[0] <= now - HOUR_S:
            self._window.popleft()
        if len(self._window) >= self._config.max_per_hour:
            return False
        self._window.append(now)
        return True

    def stats(self) -> MailStats:
        """Sent, failed, held back, queued, the last error and the time of the next digest."""
        with self._cond:
            return MailStats(
                sent=self._stats.sent, failed=self._stats.failed, held=self._stats.held,
                queued=len(self._queue), last_error=self._stats.last_error, next_digest=self._next_digest,
            )  # fmt: skip

    def _count(self, sent: int = 0, failed: int = 0, held: int = 0, error: str | None = None) -> None:
        s = self._stats
        self._stats = MailStats(s.sent + sent, s.failed + failed, s.held + held, 0,
                                s.last_error if error is None else error)  # fmt: skip

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker; the first digest is due one period from now."""
        with self._cond:
            if self._thread is not None:
                return
            if self._config.digest_every_s > 0:
                self._next_digest = self._clock() + self._config.digest_every_s
            self._thread = threading.Thread(target=self._run, name="alarm-mail", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Send what is queued (no more waiting between retries), then end the worker; False if it ran out of time."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.warning("alarm mail: %d mail(s) not sent within %g s of stopping", len(self._queue) + 1, timeout)
            return False
        return True

    # -- the worker ------------------------------------------------------------------------------

    def _run(self) -> None:
        while (job := self._next_job()) is not None:
            what, build = job
            try:
                message = build()
            except Exception:  # a bug in formatting must not end the worker
                log.exception("alarm mail: could not build the %s", what)
                continue
            self._deliver(what, message)

    def _next_job(self) -> _Job | None:
        """The next mail to send, waiting for one; None when stopped and flushed."""
        with self._cond:
            while True:
                now = self._clock()
                if self._queue:
                    entries = self._queue.popleft()
                    return "alarm mail", lambda: alarm_message(self._config, entries)
                if self._stopping:
                    return self._closing_job(now)
                job = self._due_job(now)
                if job is not None:
                    return job
                self._cond.wait(self._poll_s)

    def _due_job(self, now: float) -> _Job | None:
        """A digest when its time has come, or the held-back alarms when there is no digest and a slot."""
        due = self._next_digest
        if due is not None and now >= due:
            every = self._config.digest_every_s
            # Keep to the period's grid; after a jump of the clock (a suspended PC) start afresh.
            self._next_digest = due + every if due + every > now else now + every
            return self._digest_job(now)
        if self._config.digest_every_s == 0 and self._period.held_count and self._take_slot(now):
            period, self._period = self._period, _Period(start=now)
            return "held-back alarms mail", lambda: held_message(self._config, period)
        return None

    def _digest_job(self, now: float) -> _Job | None:
        period, self._period = self._period, _Period(start=now)
        if period.total == 0 and period.held_count == 0:
            log.debug("alarm mail: no new alarm since %s, no digest", _hm(period.start))
            return None
        unacked = sorted(self._unacked.values(), key=lambda e: (e.priority, e.ts))
        return "digest", lambda: digest_message(self._config, period, now, unacked)

    def _closing_job(self, now: float) -> _Job | None:
        if self._closed or self._period.held_count == 0:
            return None
        self._closed = True
        if self._config.digest_every_s > 0:
            return self._digest_job(now)
        period = self._period
        return "held-back alarms mail", lambda: held_message(self._config, period)

    def _deliver(self, what: str, message: EmailMessage) -> None:
        """Send one mail, retrying transient failures with back-off; count and log the outcome."""
        server = f"{self._config.host}:{self._config.port}"
        attempts = len(self._retry_delays) + 1
        for attempt in range(1, attempts + 1):
            failure = self._attempt(message)
            with self._cond:
                give_up = failure is not None and (failure.permanent or attempt == attempts or self._stopping)
                if failure is None:
                    self._count(sent=1, error="")
                elif give_up:
                    self._count(failed=1, error=f"{server}: {failure.reason}")
            if failure is None:
                log.info("alarm mail: %s sent via %s to %s", what, server, ", ".join(self._config.to))
                return
            if give_up:
                log.error("alarm mail: %s via %s given up after %d attempt(s): %s", what, server, attempt, failure.reason)
                return
            delay = self._retry_delays[attempt - 1]
            log.warning("alarm mail: %s via %s failed (attempt %d of %d), retrying in %g s: %s",
                        what, server, attempt, attempts, delay, failure.reason)  # fmt: skip
            with self._cond:
                self._cond.wait_for(lambda: self._stopping, timeout=delay)

    def _attempt(self, message: EmailMessage) -> _Failure | None:
        """Send once; None when the server took it, else why not (without the password)."""
        try:
            send(self._config, message, smtp_password(self._config, self._password), self._ssl_context)
        except NoMailPassword as exc:
            return _Failure(str(exc), permanent=True)
        except SmtpFailure as failure:
            return _Failure(failure.reason, permanent=failure.permanent)
        except Exception as exc:  # the worker must survive anything
            log.exception("alarm mail: sending failed unexpectedly")
            return _Failure(f"{type(exc).__name__}: {exc}", permanent=False)
        return None


@dataclass(slots=True)
class _Failure:
    """A failed attempt's one-line reason, and whether retrying is pointless."""

    reason: str
    permanent: bool


# -- the password and the test mail ------------------------------------------------------------------


def smtp_password(config: MailConfig, password: PasswordSource) -> str | None:
    """The password when the config has a user (asked now, so a changed secret is picked up)."""
    if not config.username:
        return None
    try:
        value = password()
    except Exception as exc:  # SecretMissing, a locked keyring: its message says what to do
        raise NoMailPassword(f"no password for user {config.username!r}: {exc}") from None
    if not value:
        raise NoMailPassword(f"no password for user {config.username!r}: set the secret 'smtp' (hmi secret set smtp)")
    return value


def send_test_mail(config: MailConfig, password: PasswordSource, *, ssl_context: ssl.SSLContext | None = None) -> str:
    """Send one test message now; a one-line result, or MailError naming the server, the reason and what to check."""
    server = f"{config.host}:{config.port}"
    message = mail_envelope(config, "[HMI] test mail", "This is a test mail of the HMI's alarm notifications.\n"
                        f"Sent {_utc(time.time())} via {server} ({config.tls}).\n", "test")  # fmt: skip
    try:
        send(config, message, smtp_password(config, password), ssl_context)
    except NoMailPassword as exc:
        raise MailError(f"cannot send mail via {server}: {exc}") from None
    except SmtpFailure as failure:
        reason = f"{failure.reason}; check {failure.check}"
        raise MailError(f"cannot send mail via {server} ({config.tls}): {reason}") from None
    user = f", as {config.username}" if config.username else ""
    return f"test mail sent via {server} ({config.tls}{user}) to {', '.join(config.to)}"


# -- messages ----------------------------------------------------------------------------------------


def alarm_message(config: MailConfig, entries: Sequence[JournalEntry]) -> EmailMessage:
    """The immediate mail for new urgent alarms: the most urgent names the subject, all are in the body."""
    ordered = sorted(entries, key=lambda e: (e.priority, e.ts))
    first = ordered[0]
    more = f" (+{len(ordered) - 1} more)" if len(ordered) > 1 else ""
    subject = f"[HMI P{first.priority}] {_title(first)}{more} — {_hm(first.ts, date=True)} UTC"
    urgent = "P1" if config.max_priority == 1 else f"P1–P{config.max_priority}"
    lines = [f"{_plural(len(ordered), 'new alarm')} of priority {urgent}:", ""]
    for entry in ordered[:MAX_LISTED]:
        lines += _alarm_lines(entry) + [""]
    if len(ordered) > MAX_LISTED:
        lines += [f"... and {len(ordered) - MAX_LISTED} more", ""]
    lines.append(f"At most {config.max_per_hour} such mails an hour; more alarms are listed in the digest.")
    return mail_envelope(config, subject, "\n".join(lines) + "\n", "alarm")


def digest_message(config: MailConfig, period: _Period, end: float, unacked: Sequence[JournalEntry]) -> EmailMessage:
    """The digest of a period: counts per priority, the most frequent, still unacknowledged, held back."""
    span = _span(period.start, end)
    counts = _per_priority(period.per_priority)
    subject = f"[HMI] alarm digest {span}: {_plural(period.total, 'alarm')} ({counts})"
    lines = [f"Alarm digest {_utc(period.start)} to {_utc(end)}",
             f"({_local(period.start)} to {_local(end)})", "",
             f"New alarms: {period.total} ({counts})", "", "Most frequent:"]  # fmt: skip
    for alarm_id, n in period.per_alarm.most_common(MOST_FREQUENT):
        entry = period.latest[alarm_id]
        lines.append(f"  {n} x  P{entry.priority}  {_title(entry)}  [{alarm_id}]")
    lines += ["", f"Still unacknowledged: {len(unacked)}"]
    for entry in unacked[:MAX_LISTED]:
        lines.append(f"  P{entry.priority}  {_title(entry)}  since {_utc(entry.ts)}  [{entry.alarm_id}]")
    lines += _held_lines(period)
    return mail_envelope(config, subject, "\n".join(lines) + "\n", "digest")


def held_message(config: MailConfig, period: _Period) -> EmailMessage:
    """The mail for alarms the rate limit held back, when there is no digest to carry them."""
    counts = _per_priority(Counter(e.priority for e in period.held))
    subject = f"[HMI] {_plural(period.held_count, 'more alarm')} held back by the rate limit ({counts})"
    return mail_envelope(config, subject, "\n".join(_held_lines(period)[1:]) + "\n", "held")


def _held_lines(period: _Period) -> list[str]:
    lines = ["", f"Held back by the rate limit (not mailed one by one): {period.held_count}"]
    for entry in period.held:
        value = f"  value {entry.value:g}" if entry.value is not None else ""
        lines.append(f"  P{entry.priority}  {_utc(entry.ts)}  {_title(entry)}{value}  [{entry.alarm_id}]")
    if period.held_count > len(period.held):
        lines.append(f"  ... and {period.held_count - len(period.held)} more")
    return lines


def _alarm_lines(entry: JournalEntry) -> list[str]:
    value = "-" if entry.value is None else f"{entry.value:g}"
    return [
        _title(entry),
        f"  alarm:       {entry.alarm_id} ({entry.kind.value}, twin {entry.twin or '-'})",
        f"  priority:    P{entry.priority}",
        f"  time:        {_utc(entry.ts)} ({_local(entry.ts)})",
        f"  value:       {value}",
        f"  workstation: {entry.workstation or '-'}",
    ]


def mail_envelope(config: MailConfig, subject: str, body: str, kind: str) -> EmailMessage:
    """The e-mail with the HMI's sender, recipients and headers around this subject and body."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = config.sender
    message["To"] = ", ".join(config.to)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid("hmi", domain=config.sender.rpartition("@")[2] or "hmi.invalid")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a machine
    message["X-HMI-Mail"] = kind
    message.set_content(body)
    return message


def _title(entry: JournalEntry) -> str:
    return entry.message or entry.alarm_id


def _per_priority(counts: Counter[int]) -> str:
    return ", ".join(f"P{p} {n}" for p, n in sorted(counts.items()) if n)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _utc_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def _utc(ts: float) -> str:
    return f"{_utc_dt(ts):%Y-%m-%d %H:%M:%S} UTC"


def _local(ts: float) -> str:
    return f"{datetime.fromtimestamp(ts).astimezone():%Y-%m-%d %H:%M:%S %Z}"


def _hm(ts: float, date: bool = False) -> str:
    return f"{_utc_dt(ts):%Y-%m-%d %H:%M}" if date else f"{_utc_dt(ts):%H:%M}"


def _span(start: float, end: float) -> str:
    """``13:00–14:00 UTC``, with the dates when the period spans more than one day."""
    same_day = _utc_dt(start).date() == _utc_dt(end).date() or end - start <= 86_400
    return f"{_hm(start, not same_day)}–{_hm(end, not same_day)} UTC"
