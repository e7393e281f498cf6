"""A real SMTP server (aiosmtpd) on a free loopback port that keeps what it receives, parsed.

``smtp_server_factory(tls="none"|"starttls"|"ssl", auth=("user", "password"))`` starts one:
STARTTLS is then required and "ssl" is implicit TLS (SMTPS), both with a self-signed certificate made
here for 127.0.0.1; with ``auth`` a login (AUTH PLAIN or LOGIN) is required and checked.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hmi.config import MailConfig

HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port nobody listens on (for the moment)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """Write cert.pem and key.pem: a self-signed server certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hmi test smtp")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_file, key_file


@dataclass(frozen=True)
class Received:
    """One message as the server got it: envelope, parsed message, and how the client came."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    user: str | None  # the login, when the client authenticated
    tls: bool

    @property
    def subject(self) -> str:
        """The decoded Subject header."""
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        """The plain-text body, with the wire's CRLF turned into newlines as a mail client does."""
        part = self.message.get_body(("plain",))
        assert part is not None, "no text/plain part"
        return part.get_content().replace("\r\n", "\n")


class _Collector:
    """The aiosmtpd handler: parses and keeps every message."""

    def __init__(self, implicit_tls: bool) -> None:
        self.received: list[Received] = []
        self.cond = threading.Condition()
        self.implicit_tls = implicit_tls

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        got = Received(envelope.mail_from, list(envelope.rcpt_tos), message,  # type: ignore[arg-type]
                       session.auth_data if session.authenticated else None,
                       self.implicit_tls or session.ssl is not None)  # fmt: skip
        with self.cond:
            self.received.append(got)
            self.cond.notify_all()
        return "250 Message accepted for delivery"


def _authenticator(user: str, password: str) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
              and auth_data.password.decode() == password)  # fmt: skip
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)  # handled: answer 535

    return check


@dataclass
class SmtpServer:
    """A running test SMTP server and what it received."""

    port: int
    tls: str
    username: str | None
    cafile: Path | None
    collector: _Collector
    controller: Controller
    host: str = HOST

    @property
    def received(self) -> list[Received]:
        """Every message so far (a copy)."""
        with self.collector.cond:
            return list(self.collector.received)

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[Received]:
        """The messages once at least ``count`` arrived; fails the test after ``timeout`` seconds."""
        with self.collector.cond:
            if not self.collector.cond.wait_for(lambda: len(self.collector.received) >= count, timeout):
                pytest.fail(f"the SMTP server got {len(self.collector.received)} message(s), expected {count}")
            return list(self.collector.received)

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this server's self-signed certificate."""
        assert self.cafile is not None, "a server without TLS"
        return ssl.create_default_context(cafile=str(self.cafile))

    def mail_config(self, **overrides: Any) -> MailConfig:
        """A MailConfig pointing at this server (its TLS mode and user), with overrides."""
        values: dict[str, Any] = {"host": self.host, "port": self.port, "tls": self.tls, "username": self.username,
                                  "sender": "hmi@plant.example", "to": ["ops@plant.example", "shift@plant.example"],
                                  "timeout_s": 5.0}  # fmt: skip
        return MailConfig(**{**values, **overrides})


@pytest.fixture
def smtp_server_factory(tmp_path: Path) -> Iterator[Callable[..., SmtpServer]]:
    """Start test SMTP servers: ``factory(tls="none", auth=None, exclude_auth=())``; all stopped at the end."""
    started: list[SmtpServer] = []

    def start(tls: str = "none", auth: tuple[str, str] | None = None, exclude_auth: Sequence[str] = ()) -> SmtpServer:
        cafile = None
        kwargs: dict[str, Any] = {}
        if tls != "none":
            cafile, keyfile = self_signed_cert(tmp_path / f"smtp-cert-{len(started)}")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cafile, keyfile)
            if tls == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:
                kwargs.update(ssl_context=context)
        if auth is not None:
            # aiosmtpd only knows of TLS it did itself (STARTTLS): with implicit TLS or none, allow plain.
            kwargs.update(authenticator=_authenticator(*auth), auth_required=True,
                          auth_require_tls=(tls == "starttls"), auth_exclude_mechanism=list(exclude_auth))  # fmt: skip
        collector = _Collector(implicit_tls=(tls == "ssl"))
        port = free_port()
        controller = Controller(collector, hostname=HOST, port=port, **kwargs)
        controller.start()
        server = SmtpServer(port, tls, auth[0] if auth else None, cafile, collector, controller)
        started.append(server)
        return server

    yield start
    for server in started:
        server.controller.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[..., SmtpServer]) -> SmtpServer:
    """A plain SMTP server (no TLS, no login)."""
    return smtp_server_factory()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word (a hung mail server)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        s.listen(8)
        yield s.getsockname()[1]
