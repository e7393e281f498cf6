"""The audit trail's records and their hash chain, as pure functions (no database, no clock).

Each record carries the hash of the record before it; its own hash covers every field and that
link. Changing a stored field breaks the record's own hash; deleting or inserting a record breaks
the sequence and the next record's link. `verify_chain` walks the records in order and names each
record that does not fit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

GENESIS = "0" * 64  # the link of the first record
US = 1_000_000  # record times are UTC epoch microseconds
MAX_TEXT = 2000  # longer field texts are cut, so one runaway value cannot bloat the trail


class Outcome(str, Enum):
    """How a command (or a login) ended, as recorded."""

    OK = "ok"
    DENIED = "denied"  # the role may not do it
    REFUSED = "refused"  # a wrong password, a locked or disabled account, invalid input
    FAILED = "failed"  # permitted, but it did not happen (the PLC or the database said no)
    REQUESTED = "requested"  # written before a command outside the database (a PLC write) is sent


class Event(str, Enum):
    """Audited happenings that are not actions of the permission matrix."""

    LOGIN = "login"
    LOGOUT = "logout"
    FIRST_ADMIN = "create_first_admin"


@dataclass(frozen=True)
class AuditEntry:
    """What a caller records: who did what to what, from where, and how it ended."""

    user: str
    role: str
    workstation: str
    action: str
    target: str
    result: str
    old_value: str | None = None
    new_value: str | None = None
    detail: str = ""

    def clipped(self) -> AuditEntry:
        """The same entry with every text cut to MAX_TEXT characters."""

        def cut(s: str | None) -> str | None:
            return None if s is None else s[:MAX_TEXT]

        return AuditEntry(
            user=self.user[:200], role=self.role[:64], workstation=self.workstation[:200],
            action=self.action[:64], target=cut(self.target) or "", result=self.result[:16],
            old_value=cut(self.old_value), new_value=cut(self.new_value), detail=cut(self.detail) or "",
        )  # fmt: skip


@dataclass(frozen=True)
class AuditRecord:
    """An entry as stored: its place in the chain, its UTC time (epoch µs), its link and its hash."""

    seq: int
    ts_us: int
    entry: AuditEntry
    prev_hash: str
    hash: str


def record_hash(seq: int, ts_us: int, entry: AuditEntry, prev_hash: str) -> str:
    """The SHA-256 (hex) over every field of the record and the previous record's hash."""
    e = entry
    fields = [
        seq, ts_us, e.user, e.role, e.workstation, e.action, e.target, e.result,
        e.old_value, e.new_value, e.detail, prev_hash,
    ]  # fmt: skip
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def next_record(seq_before: int, hash_before: str, ts_us: int, entry: AuditEntry) -> AuditRecord:
    """The record that follows (seq_before, hash_before) in the chain."""
    entry = entry.clipped()
    seq = seq_before + 1
    return AuditRecord(seq, ts_us, entry, hash_before, record_hash(seq, ts_us, entry, hash_before))


@dataclass(frozen=True)
class ChainProblem:
    """One record that does not fit the chain, and why, in words."""

    seq: int
    message: str


@dataclass
class ChainReport:
    """The outcome of walking a chain: how many records were read and what did not fit."""

    records: int = 0
    last_seq: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """True when no record was found changed, missing or out of place."""
        return not self.problems


class ChainVerifier:
    """Feed records in seq order (`add`), then `finish` with the head the database holds."""

    def __init__(self, max_problems: int = 1000) -> None:
        self.report = ChainReport()
        self._prev_seq = 0
        self._prev_hash = GENESIS
        self._max = max_problems

    def _problem(self, seq: int, message: str) -> None:
        if len(self.report.problems) < self._max:
            self.report.problems.append(ChainProblem(seq, message))

    def add(self, rec: AuditRecord) -> None:
        """Check one record against its own hash and the record before it."""
        self.report.records += 1
        if rec.seq != self._prev_seq + 1:
            if rec.seq > self._prev_seq + 1:
                missing = f"{self._prev_seq + 1}" if rec.seq == self._prev_seq + 2 else f"{self._prev_seq + 1}-{rec.seq - 1}"
                self._problem(rec.seq, f"record(s) {missing} missing before record {rec.seq} (deleted)")
            else:
                self._problem(rec.seq, f"record {rec.seq} is out of order after record {self._prev_seq}")
        elif rec.prev_hash != self._prev_hash:
            self._problem(
                rec.seq,
                f"record {rec.seq} does not link to record {self._prev_seq}: "
                f"record {self._prev_seq} was changed and re-hashed, or replaced",
            )
        if record_hash(rec.seq, rec.ts_us, rec.entry, rec.prev_hash) != rec.hash:
            self._problem(rec.seq, f"record {rec.seq} was changed after it was written (its hash does not match)")
        self._prev_seq, self._prev_hash = rec.seq, rec.hash
        self.report.last_seq = rec.seq

    def finish(self, head_seq: int, head_hash: str) -> ChainReport:
        """Compare the last record with the head the database keeps; a cut tail shows here."""
        if head_seq != self._prev_seq or head_hash != self._prev_hash:
            if head_seq > self._prev_seq:
                self._problem(head_seq, f"records {self._prev_seq + 1}-{head_seq} missing at the end (deleted)")
            else:
                self._problem(self._prev_seq, f"the chain head says record {head_seq}, the last record is {self._prev_seq}")
        return self.report


def verify_chain(records: Iterable[AuditRecord], head: tuple[int, str] | None = None) -> ChainReport:
    """Walk ``records`` (in seq order) and report every record that does not fit the chain."""
    verifier = ChainVerifier()
    for rec in records:
        verifier.add(rec)
    if head is None:
        return verifier.report
    return verifier.finish(*head)


class AuditUnavailable(Exception):
    """The audit record could not be written, so the command was not carried out."""


@dataclass(frozen=True)
class AuditQuery:
    """Which records to list: a UTC time range (epoch µs), exact user/action/result, and free text."""

    since_us: int | None = None
    until_us: int | None = None
    user: str | None = None
    action: str | None = None
    result: str | None = None
    text: str | None = None  # found in target, old or new value, detail, user or workstation
    limit: int = 10_000
    newest_first: bool = True
