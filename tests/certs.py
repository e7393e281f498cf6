"""Self-signed OPC UA application certificates for tests (server and client), written to files."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from asyncua.crypto import cert_gen

# What plc_sim and OpcUaSource declare as their ApplicationUri: a certificate must carry the same URI.
SERVER_URI = "urn:hmi:plc-sim:server"
CLIENT_URI = "urn:hmi:client"


@dataclass(frozen=True)
class CertFiles:
    """A certificate (DER) and its private key (PEM) on disk."""

    certificate: Path
    private_key: Path


def make_cert(directory: Path, name: str, uri: str, *, server: bool, days: int = 30) -> CertFiles:
    """Write `<name>.der` and `<name>.key.pem` into directory: a self-signed application certificate.

    Subject alternative names carry the application URI (checked by both sides), the host name,
    localhost and 127.0.0.1. Extended key usage: serverAuth for a server, clientAuth for a client.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = cert_gen.generate_private_key()
    cert = cert_gen.generate_self_signed_app_certificate(
        key,
        name,
        {"organizationName": "hmi tests"},
        [
            x509.UniformResourceIdentifier(uri),
            x509.DNSName(socket.gethostname()),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ],
        [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH],
        days=days,
    )
    files = CertFiles(directory / f"{name}.der", directory / f"{name}.key.pem")
    files.certificate.write_bytes(cert.public_bytes(Encoding.DER))
    files.private_key.write_bytes(cert_gen.dump_private_key_as_pem(key))
    return files


def server_cert(directory: Path, name: str = "plc-sim") -> CertFiles:
    """A certificate for plc_sim."""
    return make_cert(directory, name, SERVER_URI, server=True)


def client_cert(directory: Path, name: str = "hmi-client") -> CertFiles:
    """A certificate for the HMI's OPC UA client."""
    return make_cert(directory, name, CLIENT_URI, server=False)
