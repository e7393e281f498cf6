"""Secured OPC UA: the HMI connects only to a server whose certificate is in its trust list.

plc_sim runs as a real subprocess offering only Basic256Sha256 endpoints; OpcUaSource is the
collector's acquisition client.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import sys
import time

import pytest
from asyncua import Client, ua

from hmi.config import parse_config
from hmi.domain.tags import Quality
from hmi.io.link import LinkState
from hmi.io.opcua import OpcUaSource
from plc_sim.plant import APPLICATION_URI
from tests.certs import CLIENT_URI, SERVER_URI, client_cert, server_cert
from tests.fixtures_plc import ROOT

SECURITY = "Basic256Sha256_SignAndEncrypt"


@pytest.fixture
def pki(tmp_path):
    """Server and client certificates, and an empty trust folder for the HMI."""
    trust = tmp_path / "trusted"
    trust.mkdir()
    return {
        "server": server_cert(tmp_path / "server"),
        "client": client_cert(tmp_path / "client"),
        "trust": trust,
    }


def secure_sim(plc_sim_factory, pki, security=SECURITY):
    s, c = pki["server"], pki["client"]
    return plc_sim_factory(
        seed=1, rate=10, security=security, certificate=s.certificate, private_key=s.private_key,
        secure_only=True, client_certificate=c.certificate, client_private_key=c.private_key, trust_dir=pki["trust"],
    )


class Run:
    """OpcUaSource for the simulator's endpoint, collecting everything it publishes."""

    def __init__(self, config_text: str, **endpoint_changes) -> None:
        config = parse_config(config_text)
        self.endpoint = config.endpoints[0].model_copy(update=endpoint_changes)
        self.tags = config.plant().tags
        self.values = []
        self.source = OpcUaSource(self.endpoint, self.tags, self.values.extend)
        self.policy_uri = self.mode = None

    def good_tags(self) -> set[str]:
        return {v.tag for v in self.values if v.quality is Quality.GOOD}

    async def until(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            await asyncio.sleep(0.05)
        return predicate()

    def run(self, body) -> None:
        async def main():
            task = asyncio.create_task(self.source.run())
            try:
                await body(self)
            finally:
                await self.source.stop()
                await asyncio.wait_for(task, 10)

        asyncio.run(main())

    def all_good(self) -> bool:
        client = self.source._client
        if client is not None and self.policy_uri is None:
            self.policy_uri, self.mode = client.security_policy.URI, client.security_policy.Mode
        return self.good_tags() == {t.tag_id for t in self.tags}


def test_certificates_carry_the_application_uris():
    # A certificate must name the ApplicationUri its owner declares, or the peer refuses it.
    assert SERVER_URI == APPLICATION_URI
    assert CLIENT_URI == "urn:hmi:client"  # OpcUaSource's client.application_uri


def plc_sim_runs(*argvs: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Run several `python -m plc_sim ...` side by side (each costs about a second of imports)."""
    procs = [subprocess.Popen([sys.executable, "-m", "plc_sim", *argv], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT) for argv in argvs]
    results = []
    for proc, argv in zip(procs, argvs, strict=True):
        out, err = proc.communicate(timeout=30)
        results.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    return results


def test_print_config_names_the_security_settings_and_the_client_files(pki):
    s, c = pki["server"], pki["client"]
    server_files = ["--certificate", str(s.certificate), "--private-key", str(s.private_key)]
    printed, no_client_files, no_server_files, missing_file = plc_sim_runs(
        ["--security", SECURITY, *server_files, "--client-certificate", str(c.certificate),
         "--client-private-key", str(c.private_key), "--trust-dir", str(pki["trust"]), "--print-config"],
        ["--security", SECURITY, "--print-config"],
        ["--security", SECURITY, "--port", "1"],
        ["--security", "Basic256Sha256_Sign", "--certificate", str(pki["trust"] / "none.der"),
         "--private-key", str(s.private_key), "--port", "1"],
    )
    assert printed.returncode == 0, printed.stderr
    ep = parse_config(printed.stdout).endpoints[0]
    assert (ep.security_policy, ep.security_mode) == ("Basic256Sha256", "SignAndEncrypt")
    assert (ep.certificate, ep.private_key, ep.trust_dir) == (str(c.certificate), str(c.private_key), str(pki["trust"]))

    assert no_client_files.returncode == 2
    assert "--client-certificate, --client-private-key, --trust-dir" in no_client_files.stderr
    assert no_server_files.returncode == 2
    assert "--security needs --certificate and --private-key" in no_server_files.stderr
    assert missing_file.returncode == 2
    assert "none.der" in missing_file.stderr and "No such file" in missing_file.stderr


def test_trusted_server_certificate_connects_over_basic256sha256_sign_and_encrypt(plc_sim_factory, pki):
    shutil.copy(pki["server"].certificate, pki["trust"])
    sim = secure_sim(plc_sim_factory, pki)
    run = Run(sim.config_text)
    assert run.endpoint.security_policy == "Basic256Sha256"

    async def body(run):
        assert await run.until(run.all_good, 15), f"good: {sorted(run.good_tags())}, status: {run.source.status}"
        assert run.source.status.state is LinkState.UP

    run.run(body)
    assert run.policy_uri == "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
    assert run.mode == ua.MessageSecurityMode.SignAndEncrypt

    async def unsecured():  # --secure-only: nothing is served without security
        async with Client(sim.url, timeout=3) as client:
            await client.get_namespace_array()

    with pytest.raises(Exception):
        asyncio.run(unsecured())


def test_untrusted_server_certificate_is_refused_with_a_clear_reason(plc_sim_factory, pki, tmp_path, caplog):
    # The trust list holds another server's certificate, not this one's.
    other = server_cert(tmp_path / "other", name="other-plc")
    shutil.copy(other.certificate, pki["trust"])
    sim = secure_sim(plc_sim_factory, pki)
    run = Run(sim.config_text)
    caplog.set_level(logging.WARNING, logger="hmi.io.opcua")

    async def body(run):
        assert await run.until(lambda: run.source.status.state is LinkState.DOWN, 10), run.source.status
        await asyncio.sleep(1.5)  # more retries: still refused, nothing received
        assert run.source.status.state is LinkState.DOWN
        assert run.good_tags() == set()
        assert run.source.changes_received == 0

        # Copying the certificate into the trust list is enough: the next retry connects.
        shutil.copy(pki["server"].certificate, pki["trust"])
        assert await run.until(run.all_good, 15), run.source.status

    run.run(body)

    bad = [v for v in run.values if v.quality is Quality.BAD]
    assert {v.tag for v in bad} == {t.tag_id for t in run.tags}
    reason = bad[0].reason
    assert reason.startswith("no connection to plc1: the server certificate of plc1 (")
    assert f"is not in the trust list {pki['trust']}" in reason
    assert "if you trust it, copy it there" in reason
    assert '"plc-sim"' in reason and "SHA-1 " in reason  # which certificate, to compare with the PLC's
    refused = [r.getMessage() for r in caplog.records if "cannot connect" in r.getMessage()]
    assert len(refused) == 1, refused  # logged once, not at every retry
    assert "not in the trust list" in refused[0]


def test_empty_trust_dir_and_a_mode_the_server_does_not_offer_are_named(plc_sim_factory, pki):
    # One simulator offering Basic256Sha256 Sign only; two clients side by side.
    sim = secure_sim(plc_sim_factory, pki, security="Basic256Sha256_Sign")
    empty = Run(sim.config_text)  # pki["trust"] is empty
    wrong_mode = Run(sim.config_text, security_mode="SignAndEncrypt")

    async def body(_):
        task = asyncio.create_task(wrong_mode.source.run())
        try:
            down = lambda: all(r.source.status.state is LinkState.DOWN for r in (empty, wrong_mode))  # noqa: E731
            assert await empty.until(down, 10), (empty.source.status, wrong_mode.source.status)
            await asyncio.sleep(0.5)
        finally:
            await wrong_mode.source.stop()
            await asyncio.wait_for(task, 10)

    empty.run(body)
    for run in (empty, wrong_mode):
        assert run.good_tags() == set() and run.source.changes_received == 0
        assert run.values and all(v.reason == run.source.status.detail for v in run.values)
    detail = empty.source.status.detail
    assert f"is not in the trust list {pki['trust']} (it holds no certificate)" in detail, detail
    detail = wrong_mode.source.status.detail
    assert "plc1 offers no Basic256Sha256 SignAndEncrypt endpoint (it offers: Basic256Sha256 Sign)" in detail, detail


def test_a_server_refusing_the_hmi_certificate_is_named(pki):
    # plc_sim accepts any client; a real PLC checks ours against its own trust list.
    from asyncua import Server
    from asyncua.crypto.truststore import TrustStore
    from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

    from hmi.config import EndpointConfig
    from hmi.sim_process import free_port

    shutil.copy(pki["server"].certificate, pki["trust"])
    url = f"opc.tcp://127.0.0.1:{free_port()}/plc"
    endpoint = EndpointConfig(
        name="plc1", url=url, security_policy="Basic256Sha256", security_mode="SignAndEncrypt",
        certificate=str(pki["client"].certificate), private_key=str(pki["client"].private_key),
        trust_dir=str(pki["trust"]),
    )

    async def main():
        server = Server()
        await server.init()
        server.set_endpoint(url)
        await server.set_application_uri(SERVER_URI)
        await server.load_certificate(str(pki["server"].certificate))
        await server.load_private_key(str(pki["server"].private_key))
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        plc_trust = TrustStore([pki["trust"]], [])  # holds the server's own certificate, not the HMI's
        await plc_trust.load()
        server.set_certificate_validator(CertificateValidator(
            CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, plc_trust))
        await server.start()
        source = OpcUaSource(endpoint, [], lambda batch: None)
        task = asyncio.create_task(source.run())
        try:
            deadline = time.monotonic() + 10
            while source.status.state is not LinkState.DOWN and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await source.stop()
            await asyncio.wait_for(task, 10)
            await server.stop()
        return source.status

    status = asyncio.run(main())
    assert status.state is LinkState.DOWN
    assert status.detail == (
        f"no connection to plc1: plc1 refused this HMI's certificate {pki['client'].certificate} "
        "(BadCertificateUntrusted): add it to the trusted client certificates of plc1"
    )
