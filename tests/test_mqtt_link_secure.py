"""The MQTT link over TLS (a CA file) and with a login (the password from the keyring secret mqtt.<host>)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import subprocess
from pathlib import Path

import keyring
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hmi.config import ConfigError
from hmi.io.link import LinkState
from hmi.io.mqtt import MqttLink
from hmi.runtime import broker_password
from tests.fixtures_mqtt import Broker
from tests.mqtt_peer import config, unique, until, until_state
from tests.test_secrets import MemoryKeyring


class ConfiguredMosquitto(Broker):
    """A Mosquitto whose listener has extra settings (TLS files, a password file)."""

    def __init__(self, workdir: Path, extra: str) -> None:
        super().__init__("mosquitto", workdir)
        self.extra = extra

    def _command(self) -> list[str]:
        command = super()._command()
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(conf.read_text() + self.extra)  # after the listener line: that listener's settings
        return command


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def make_ca(directory: Path, name: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A test certificate authority: its certificate (PEM file), key and certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name)).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return _write(directory / f"{name}.pem", cert), key, cert


def make_server_cert(directory: Path, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> tuple[Path, Path]:
    """A broker certificate for 127.0.0.1 and localhost signed by the CA: (certificate, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(_name("broker")).issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key_file = directory / "broker.key"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return _write(directory / "broker.pem", cert), key_file


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    """A Mosquitto with a TLS listener whose certificate the test CA signed; (broker, CA file, another CA's file)."""
    directory = tmp_path_factory.mktemp("mqtt-tls")
    ca_file, ca_key, ca = make_ca(directory, "test-ca")
    other_ca, _, _ = make_ca(directory, "other-ca")
    cert, key = make_server_cert(directory, ca_key, ca)
    broker = ConfiguredMosquitto(directory, f"certfile {cert}\nkeyfile {key}\ncafile {ca_file}\n").start()
    yield broker, ca_file, other_ca
    broker.stop()


@pytest.fixture(scope="module")
def login_broker(tmp_path_factory):
    """A Mosquitto that lets in only the user hmi with the password in its password file."""
    directory = tmp_path_factory.mktemp("mqtt-login")
    passwords = directory / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "hmi", "right-Pa55"], check=True, capture_output=True)
    passwords.chmod(0o600)
    broker = ConfiguredMosquitto(directory, f"allow_anonymous false\npassword_file {passwords}\n").start()
    yield broker
    broker.stop()


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


async def _up_then_echo(link: MqttLink, topic: str, got: list[bytes]) -> tuple[LinkState, bool]:
    """Start, wait up, publish one message to a subscribed topic and wait for it; (state, PUBACK)."""
    await link.start()
    state = await until_state(link, LinkState.UP, timeout=15)
    acked = await link.publish(topic, b"over the secured link") if state is LinkState.UP else False
    await until(lambda: bool(got))
    await link.stop()
    return state, acked


async def _down_reason(link: MqttLink) -> str:
    await link.start()
    await until_state(link, LinkState.DOWN, timeout=15)
    reason = link.status.reason
    await link.stop()
    return reason


def test_tls_with_the_brokers_ca_connects_and_carries_messages(tls_broker):
    broker, ca_file, _ = tls_broker
    prefix, got = unique(), []
    link = MqttLink(config(f"mqtts://127.0.0.1:{broker.port}", ca_file=str(ca_file)), lambda t, p: got.append(p),
                    [f"{prefix}/#"], workstation=prefix)  # fmt: skip
    assert asyncio.run(_up_then_echo(link, f"{prefix}/sf-1/reports", got)) == (LinkState.UP, True)
    assert got == [b"over the secured link"]


def test_tls_with_another_ca_is_down_naming_certificate_verification(tls_broker):
    broker, _, other_ca = tls_broker
    link = MqttLink(config(f"mqtts://127.0.0.1:{broker.port}", ca_file=str(other_ca)), lambda t, p: None, ["x/#"],
                    workstation=unique())  # fmt: skip
    reason = asyncio.run(_down_reason(link))
    # Mosquitto sends its CA along with its certificate: OpenSSL then names the chain's untrusted root.
    assert reason == "TLS: certificate verify failed (self-signed certificate in certificate chain); check ca_file"


def test_plain_mqtt_to_a_tls_listener_is_down_with_a_reason(tls_broker):
    broker, _, _ = tls_broker
    link = MqttLink(config(f"mqtt://127.0.0.1:{broker.port}"), lambda t, p: None, ["x/#"], workstation=unique())
    assert asyncio.run(_down_reason(link)) == "broker closed the connection"


def test_the_password_comes_from_the_keyring_secret_of_the_brokers_host(login_broker, memory_keyring):
    cfg = config(login_broker.url, username="hmi")
    keyring.set_password("hmi", "mqtt.127.0.0.1", "right-Pa55")
    prefix, got = unique(), []
    link = MqttLink(cfg, lambda t, p: got.append(p), [f"{prefix}/#"], workstation=prefix, password=broker_password(cfg))
    assert asyncio.run(_up_then_echo(link, f"{prefix}/sf-1/reports", got)) == (LinkState.UP, True)


def test_a_wrong_password_is_not_authorised_naming_the_secret(login_broker, memory_keyring):
    cfg = config(login_broker.url, username="hmi")
    keyring.set_password("hmi", "mqtt.127.0.0.1", "wrong")
    link = MqttLink(cfg, lambda t, p: None, ["x/#"], workstation=unique(), password=broker_password(cfg))
    assert asyncio.run(_down_reason(link)) == "not authorised: check the user name and the keyring secret mqtt.127.0.0.1"
    nobody = MqttLink(config(login_broker.url), lambda t, p: None, ["x/#"], workstation=unique())
    assert asyncio.run(_down_reason(nobody)).startswith("not authorised")


def test_a_user_without_a_secret_is_refused_naming_the_command(memory_keyring, monkeypatch):
    monkeypatch.delenv("HMI_SECRET_MQTT_127_0_0_1", raising=False)
    with pytest.raises(ConfigError) as err:
        broker_password(config("mqtt://127.0.0.1:1883", username="hmi"))
    assert str(err.value) == (
        "MQTT broker 127.0.0.1 (user hmi) has no password: secret 'mqtt.127.0.0.1' is not set: run "
        "`hmi secret set mqtt.127.0.0.1`, or set the environment variable HMI_SECRET_MQTT_127_0_0_1"
    )
