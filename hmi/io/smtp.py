"""The SMTP transport: one message over one connection (TLS as configured, login when there is a user),
and why it failed in words.

What is mailed, to whom, how often and when to retry is the alarm mailer's policy
(hmi.services.alarm_mail); this module only talks to the server. Every failure comes out as one
``SmtpFailure``: the reason and what to check, one line each, never with the password in them, and
whether a retry can help.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage

from hmi.config import MailConfig

log = logging.getLogger(__name__)


class SmtpFailure(Exception):
    """A message the server did not take: why, what to check, and whether retrying is pointless."""

    def __init__(self, reason: str, check: str, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.check = check
        self.permanent = permanent


def send(config: MailConfig, message: EmailMessage, password: str | None,
         context: ssl.SSLContext | None = None) -> None:  # fmt: skip
    """Send ``message`` to ``config.to`` over one connection (blocking); SmtpFailure when it was not taken."""
    try:
        _send(config, message, password, context or ssl.create_default_context())
    except Exception as exc:  # whatever the network, TLS or server did: one failure in words
        reason, check = explain(exc, config)
        raise SmtpFailure(_scrub(reason, password), check, _permanent(exc)) from None


def _send(config: MailConfig, message: EmailMessage, password: str | None, context: ssl.SSLContext) -> None:
    smtp: smtplib.SMTP
    if config.tls == "ssl":
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
    try:
        if config.tls == "starttls":
            smtp.starttls(context=context)
        if config.username:
            smtp.login(config.username, password or "")
        refused = smtp.send_message(message, from_addr=config.sender, to_addrs=list(config.to))
        if refused:
            log.warning("mail: %s:%d refused %s", config.host, config.port, ", ".join(sorted(refused)))
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass  # the message was accepted; a lost goodbye changes nothing
    finally:
        smtp.close()


def explain(exc: BaseException, config: MailConfig) -> tuple[str, str]:
    """Why sending failed and what to check, one line each (SMTP errors before OSError: they are OSErrors)."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (f"login refused for user {config.username!r} ({_smtp_text(exc)})",
                "the user name in [alarms.mail] and the secret 'smtp'")  # fmt: skip
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"the server does not offer it: {exc}", "the tls setting and whether the server needs a login"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{to}: {_smtp_text(err)}" for to, err in exc.recipients.items())
        return f"recipients refused ({refused})", "the addresses in [alarms.mail] to"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"sender {exc.sender!r} refused ({_smtp_text(exc)})", "the sender in [alarms.mail]"
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError):
        return f"no answer within {config.timeout_s:g} s", "the host and port, the tls setting and any firewall between"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"the server closed the connection ({exc or 'no reason given'})", "the tls setting and the port"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the server answered {_smtp_text(exc)}", "the mail server's log"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"TLS failure: certificate not trusted ({exc.verify_message})",
                "the server's certificate: its CA trusted on this PC, its name matching the host")  # fmt: skip
    if isinstance(exc, ssl.SSLError):
        return (f"TLS failure ({exc.reason or exc})",
                f"the tls setting ({config.tls}; ssl usually on port 465, starttls on 587)")  # fmt: skip
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused", "the host and port, and that the mail server is running"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})", "the host name"
    if isinstance(exc, TimeoutError):
        return f"no answer within {config.timeout_s:g} s", "the host and port, the tls setting and any firewall between"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__, "the host, the port and the network"
    return f"{type(exc).__name__}: {exc}", "the log"


def _permanent(exc: BaseException) -> bool:
    """True for failures that a retry cannot mend."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return exc.smtp_code >= 500
    return isinstance(exc, (smtplib.SMTPNotSupportedError, smtplib.SMTPRecipientsRefused, ssl.SSLCertVerificationError))


def _smtp_text(exc: object) -> str:
    code = getattr(exc, "smtp_code", None)
    text = getattr(exc, "smtp_error", b"")
    if isinstance(exc, tuple):
        code, text = exc
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return " ".join(f"{code or ''} {text}".split())


def _scrub(text: str, secret: str | None) -> str:
    """The text with the password replaced, should a server ever echo it."""
    return text.replace(secret, "***") if secret else text
