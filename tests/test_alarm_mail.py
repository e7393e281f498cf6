"""Alarm e-mail as a real SMTP server receives it: immediate mails, rate limit, digest, TLS, login, failures."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from hmi.domain.alarm_defs import AlarmKind
from hmi.domain.alarm_engine import AlarmState
from hmi.domain.alarm_journal import JournalEntry
from hmi.secrets import SMTP_SECRET, get_secret
from hmi.services.alarm_mail import AlarmMailer, MailError, send_test_mail
from tests.fixtures_smtp import free_port

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=timezone.utc).timestamp()
PASSWORD = "s3cret-Pa55"
HIHI = "Drill Rig 1 pressure high-high (limit 70 bar)"


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        with self._lock:
            self.now += seconds


def activate(alarm_id: str, priority: int, ts: float, value: float = 71.3, message: str = "") -> JournalEntry:
    """A new annunciation of an alarm."""
    return JournalEntry(
        ts=ts, alarm_id=alarm_id, tag="drill_rig_1.pressure", twin="drill_rig_1", kind=AlarmKind.HIHI,
        priority=priority, from_state=AlarmState.NORMAL, to_state=AlarmState.UNACK, what="activate",
        value=value, workstation="cr-1", message=message or f"alarm {alarm_id}",
    )  # fmt: skip


def ack(entry: JournalEntry, ts: float) -> JournalEntry:
    """The operator's acknowledgement of an active alarm."""
    return JournalEntry(
        ts=ts, alarm_id=entry.alarm_id, tag=entry.tag, twin=entry.twin, kind=entry.kind, priority=entry.priority,
        from_state=AlarmState.UNACK, to_state=AlarmState.ACKED, what="ack", user="olga", workstation="cr-1",
        message=entry.message,
    )  # fmt: skip


def wait_until(condition, timeout: float = 10.0) -> None:
    """Poll until condition() is true; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.01)


@pytest.fixture
def mailers() -> Iterator[list[AlarmMailer]]:
    """Mailers a test started; stopped at the end whatever happened."""
    started: list[AlarmMailer] = []
    yield started
    for mailer in started:
        mailer.stop(timeout=5)


def make_mailer(mailers: list[AlarmMailer], config, password=lambda: None, **kwargs) -> AlarmMailer:
    """A started mailer with a fast worker and short back-off."""
    kwargs.setdefault("poll_s", 0.01)
    kwargs.setdefault("retry_delays", (0.05, 0.05))
    mailer = AlarmMailer(config, password, **kwargs)
    mailers.append(mailer)
    mailer.start()
    return mailer


def test_p1_activation_arrives_as_mail_and_p3_does_not(smtp_server, mailers):
    ts = T0 + 5 * 60 + 12  # 13:05:12 UTC
    mailer = make_mailer(mailers, smtp_server.mail_config(max_priority=1))
    p1 = activate("drill_rig_1.pressure.hihi", 1, ts, value=71.3, message=HIHI)
    p3 = activate("drill_rig_1.pressure.hi", 3, ts, value=61.0)
    mailer.notify([p3, p1, ack(p1, ts + 1)])
    [got] = smtp_server.wait_for(1)
    assert got.subject == f"[HMI P1] {HIHI} — 2026-11-23 13:05 UTC"
    assert got.mail_from == "hmi@plant.example"
    assert got.rcpt_tos == ["ops@plant.example", "shift@plant.example"]
    assert got.message["To"] == "ops@plant.example, shift@plant.example"
    for text in ("drill_rig_1.pressure.hihi", "71.3", "P1", "2026-11-23 13:05:12 UTC", "cr-1"):
        assert text in got.body
    assert "drill_rig_1.pressure.hi " not in got.body  # the P3 alarm waits for the digest
    assert mailer.stop(timeout=5)
    assert len(smtp_server.received) == 1
    assert mailer.stats().sent == 1 and mailer.stats().failed == 0


def test_p3_alone_sends_nothing_at_once(smtp_server, mailers):
    mailer = make_mailer(mailers, smtp_server.mail_config(max_priority=1, digest_every_s=0))
    mailer.notify([activate("a.hi", 3, T0), activate("b.lo", 2, T0)])
    assert mailer.stop(timeout=5)
    assert smtp_server.received == [] and mailer.stats().sent == 0


def test_urgent_alarms_of_one_batch_share_one_mail(smtp_server, mailers):
    mailer = make_mailer(mailers, smtp_server.mail_config(max_priority=2))
    mailer.notify([activate("b.comm_loss", 2, T0, message="communication lost with plc2"),
                   activate("a.hihi", 1, T0 + 1, message=HIHI)])  # fmt: skip
    [got] = smtp_server.wait_for(1)
    assert got.subject.startswith(f"[HMI P1] {HIHI} (+1 more) — ")
    assert "a.hihi" in got.body and "b.comm_loss" in got.body and "2 new alarms of priority P1–P2" in got.body


def test_starttls_and_login_with_the_password_from_the_secret(smtp_server_factory, mailers, monkeypatch):
    server = smtp_server_factory(tls="starttls", auth=("hmi-mailer", PASSWORD))
    monkeypatch.setenv("HMI_SECRET_SMTP", PASSWORD)
    mailer = make_mailer(mailers, server.mail_config(), lambda: get_secret(SMTP_SECRET),
                         ssl_context=server.client_context())  # fmt: skip
    mailer.notify([activate("a.hihi", 1, T0, message=HIHI)])
    [got] = server.wait_for(1)
    assert got.tls and got.user == "hmi-mailer"
    assert got.subject.startswith(f"[HMI P1] {HIHI}")
    assert PASSWORD not in got.message.as_string()


# aiosmtpd cannot see implicit TLS, so the fixture lets it take AUTH "without TLS", and it warns.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_and_auth_login(smtp_server_factory):
    server = smtp_server_factory(tls="ssl", auth=("hmi-mailer", PASSWORD), exclude_auth=["PLAIN"])
    result = send_test_mail(server.mail_config(), lambda: PASSWORD, ssl_context=server.client_context())
    assert result.startswith(f"test mail sent via 127.0.0.1:{server.port} (ssl, as hmi-mailer)")
    [got] = server.received
    assert got.tls and got.user == "hmi-mailer" and got.subject == "[HMI] test mail"


def test_production_context_does_not_trust_a_self_signed_certificate(smtp_server_factory, mailers):
    server = smtp_server_factory(tls="starttls")
    mailer = make_mailer(mailers, server.mail_config())  # no ssl_context: the system's CAs only
    mailer.notify([activate("a.hihi", 1, T0)])
    wait_until(lambda: mailer.stats().failed == 1)
    assert "certificate not trusted" in mailer.stats().last_error
    assert server.received == []


def test_wrong_password_is_a_clear_failure_without_the_password(smtp_server_factory, mailers, caplog):
    caplog.set_level(logging.DEBUG)
    server = smtp_server_factory(tls="starttls", auth=("hmi-mailer", PASSWORD))
    wrong = "not-the-Pa55word"
    mailer = make_mailer(mailers, server.mail_config(), lambda: wrong, ssl_context=server.client_context())
    mailer.notify([activate("a.hihi", 1, T0)])
    wait_until(lambda: mailer.stats().failed == 1)
    stats = mailer.stats()
    assert stats.sent == 0
    assert stats.last_error.startswith(f"127.0.0.1:{server.port}: login refused for user 'hmi-mailer' (535")
    errors = [r.getMessage() for r in caplog.records if r.name == "hmi.services.alarm_mail" and r.levelno >= logging.ERROR]
    assert len(errors) == 1 and f"127.0.0.1:{server.port}" in errors[0] and "login refused" in errors[0]
    assert "after 1 attempt" in errors[0]  # a refused login is not retried
    assert wrong not in caplog.text and PASSWORD not in caplog.text
    assert server.received == []
    with pytest.raises(MailError, match=r"127\.0\.0\.1:\d+ \(starttls\): login refused .*; check the user name") as err:
        send_test_mail(server.mail_config(), lambda: wrong, ssl_context=server.client_context())
    assert wrong not in str(err.value)


def test_rate_limit_holds_back_the_excess_and_the_digest_carries_them(smtp_server, mailers):
    clock = FakeClock(T0)
    mailer = make_mailer(mailers, smtp_server.mail_config(max_per_hour=2, digest_every_s=3600), clock=clock)
    for i in range(5):
        clock.advance(60)
        mailer.notify([activate(f"rig{i}.hihi", 1, clock(), message=f"Rig {i} pressure high-high")])
    smtp_server.wait_for(2)
    wait_until(lambda: mailer.stats().sent == 2)
    assert mailer.stats().held == 3
    clock.advance(3600 - 5 * 60)  # 14:00: the digest
    received = smtp_server.wait_for(3)
    digest = received[2]
    assert digest.subject == "[HMI] alarm digest 13:00–14:00 UTC: 5 alarms (P1 5)"
    held_part = digest.body.split("Held back by the rate limit")[1]
    assert held_part.startswith(" (not mailed one by one): 3")
    for i in (2, 3, 4):
        assert f"rig{i}.hihi" in held_part
    assert "rig0.hihi" not in held_part
    # The rolling hour: an hour after the first two mails, mails go out at once again.
    clock.advance(60)
    mailer.notify([activate("rig9.hihi", 1, clock())])
    assert smtp_server.wait_for(4)[3].subject.startswith("[HMI P1] alarm rig9.hihi")
    assert mailer.stats().held == 3


def test_without_digest_the_held_alarms_go_out_when_the_hour_frees(smtp_server, mailers):
    clock = FakeClock(T0)
    mailer = make_mailer(mailers, smtp_server.mail_config(max_per_hour=1, digest_every_s=0), clock=clock)
    for i in range(3):
        mailer.notify([activate(f"rig{i}.hihi", 1, clock())])
        clock.advance(1)
    smtp_server.wait_for(1)
    assert mailer.stats().held == 2
    clock.advance(3600)
    held = smtp_server.wait_for(2)[1]
    assert held.subject == "[HMI] 2 more alarms held back by the rate limit (P1 2)"
    assert "rig1.hihi" in held.body and "rig2.hihi" in held.body


def test_digest_on_a_fake_clock(smtp_server, mailers):
    clock = FakeClock(T0)
    mailer = make_mailer(mailers, smtp_server.mail_config(max_priority=1, digest_every_s=3600), clock=clock)
    assert mailer.stats().next_digest == T0 + 3600
    p1 = [activate("rig1.p.hihi", 1, T0 + 60, message=HIHI), activate("rig2.t.hihi", 1, T0 + 70)]
    mailer.notify(p1)
    mailer.notify([activate("plc2.comm_loss", 2, T0 + 80, message="communication lost with plc2")])
    mailer.notify([activate("rig1.p.hi", 3, T0 + 100 + i, message="Drill Rig 1 pressure high") for i in range(7)])
    mailer.notify([activate("rig3.l.lo", 3, T0 + 200), activate("rig4.l.lo", 3, T0 + 210)])
    mailer.notify([ack(p1[1], T0 + 300), ack(activate("rig3.l.lo", 3, 0), T0 + 301)])
    smtp_server.wait_for(1)  # the P1 mail
    clock.advance(3600)
    digest = smtp_server.wait_for(2)[1]
    assert digest.subject == "[HMI] alarm digest 13:00–14:00 UTC: 12 alarms (P1 2, P2 1, P3 9)"
    body = digest.body
    frequent = body.split("Most frequent:")[1].split("Still unacknowledged")[0]
    assert frequent.splitlines()[1].startswith("  7 x  P3  Drill Rig 1 pressure high  [rig1.p.hi]")
    unacked = body.split("Still unacknowledged: ")[1].split("Held back")[0]
    assert unacked.startswith("4\n")  # rig2.t.hihi and rig3.l.lo were acknowledged
    assert "rig1.p.hihi" in unacked and "plc2.comm_loss" in unacked and "rig4.l.lo" in unacked
    assert "rig2.t.hihi" not in unacked and "rig3.l.lo" not in unacked
    assert "Held back by the rate limit (not mailed one by one): 0" in body
    # 14:00-15:00 has no new alarm: no digest; 15:00-16:00 has one.
    clock.advance(3600)
    wait_until(lambda: mailer.stats().next_digest == T0 + 3 * 3600)
    mailer.notify([activate("rig5.hi", 3, clock())])
    clock.advance(3600)
    received = smtp_server.wait_for(3)
    assert received[2].subject == "[HMI] alarm digest 15:00–16:00 UTC: 1 alarm (P3 1)"
    assert mailer.stop(timeout=5)
    assert len(smtp_server.received) == 3


def test_stop_flushes_the_queue_and_the_held_alarms(smtp_server):
    clock = FakeClock(T0)
    mailer = AlarmMailer(smtp_server.mail_config(max_per_hour=3, digest_every_s=3600), lambda: None, clock,
                         poll_s=0.01)  # fmt: skip
    mailer.start()
    for i in range(4):
        mailer.notify([activate(f"rig{i}.hihi", 1, T0 + i)])
    assert mailer.stop(timeout=10)
    received = smtp_server.received  # no waiting: stop() returned after the server had them
    assert len(received) == 4
    assert [r.message["X-HMI-Mail"] for r in received] == ["alarm", "alarm", "alarm", "digest"]
    assert "rig3.hihi" in received[3].body.split("Held back")[1]
    assert mailer.stats().sent == 4


def test_a_server_that_is_down_does_not_block_notify(silent_port, mailers, smtp_server):
    refused = smtp_server.mail_config(port=free_port(), timeout_s=1.0)
    hung = smtp_server.mail_config(port=silent_port, timeout_s=1.0, max_per_hour=1)
    down, silent = make_mailer(mailers, refused), make_mailer(mailers, hung)
    for mailer in (down, silent):
        started = time.perf_counter()
        for i in range(50):
            mailer.notify([activate(f"rig{i}.hihi", 1, T0 + i)])
        assert time.perf_counter() - started < 0.2
    wait_until(lambda: down.stats().failed >= 1)
    assert down.stats().last_error == f"127.0.0.1:{refused.port}: connection refused"
    wait_until(lambda: silent.stats().failed >= 1, timeout=20)
    assert silent.stats().last_error == f"127.0.0.1:{silent_port}: no answer within 1 s"
    assert down.stats().held == 30  # max_per_hour is 20


def test_notify_never_raises(smtp_server, mailers, caplog):
    def no_keyring() -> str:
        raise RuntimeError("secret 'smtp' is not set: run `hmi secret set smtp`")

    mailer = make_mailer(mailers, smtp_server.mail_config(username="hmi-mailer"), no_keyring)
    mailer.notify(None)  # type: ignore[arg-type]
    mailer.notify([activate("a.hihi", 1, T0)])
    wait_until(lambda: mailer.stats().failed == 1)
    assert "no password for user 'hmi-mailer': secret 'smtp' is not set" in mailer.stats().last_error
    assert "could not take a batch" in caplog.text


@pytest.mark.parametrize(
    "case, expected",
    [
        ("refused", r"cannot send mail via 127\.0\.0\.1:\d+ \(none\): connection refused; check the host and port"),
        ("tls", r"cannot send mail via 127\.0\.0\.1:\d+ \(ssl\): TLS failure \(.+\); check the tls setting"),
        ("no password", r"cannot send mail via 127\.0\.0\.1:\d+: no password for user 'u': set the secret 'smtp'"),
    ],
)
def test_send_test_mail_failures_are_one_line(smtp_server, case, expected):
    config = {
        "refused": smtp_server.mail_config(port=free_port()),
        "tls": smtp_server.mail_config(tls="ssl"),
        "no password": smtp_server.mail_config(username="u"),
    }[case]
    with pytest.raises(MailError, match=expected) as err:
        send_test_mail(config, lambda: None)
    assert "\n" not in str(err.value)


def test_send_test_mail_plain(smtp_server):
    assert send_test_mail(smtp_server.mail_config(), lambda: None) == (
        f"test mail sent via 127.0.0.1:{smtp_server.port} (none) to ops@plant.example, shift@plant.example"
    )
    assert smtp_server.received[0].message["Auto-Submitted"] == "auto-generated"
