"""The SMTP transport (hmi.io.smtp) against a real aiosmtpd server: a message over STARTTLS with a login
arrives; a failure is one SmtpFailure in words, without the password, marked permanent or not."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from hmi.io.smtp import SmtpFailure, send
from tests.fixtures_smtp import free_port

PASSWORD = "Pa55word-of-the-mailer"


def message(subject: str) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "hmi@plant.test", "room@plant.test", subject
    m.set_content("body\n")
    return m


def test_a_message_over_starttls_with_a_login_arrives(smtp_server_factory):
    server = smtp_server_factory(tls="starttls", auth=("hmi-mailer", PASSWORD))
    send(server.mail_config(), message("over starttls"), PASSWORD, server.client_context())
    [got] = server.wait_for(1)
    assert got.tls and got.user == "hmi-mailer" and got.subject == "over starttls"
    assert got.rcpt_tos == list(server.mail_config().to)


def test_a_refused_login_is_permanent_and_names_the_user_not_the_password(smtp_server_factory):
    server = smtp_server_factory(tls="starttls", auth=("hmi-mailer", PASSWORD))
    wrong = "not-the-Pa55word"
    with pytest.raises(SmtpFailure) as failure:
        send(server.mail_config(), message("x"), wrong, server.client_context())
    assert failure.value.permanent and "login refused for user 'hmi-mailer'" in failure.value.reason
    assert "secret 'smtp'" in failure.value.check
    assert wrong not in failure.value.reason and server.received == []


def test_no_server_is_a_failure_worth_retrying(smtp_server):
    config = smtp_server.mail_config(port=free_port())
    with pytest.raises(SmtpFailure) as failure:
        send(config, message("x"), None)
    assert not failure.value.permanent
    assert failure.value.reason == "connection refused" and "host and port" in failure.value.check
