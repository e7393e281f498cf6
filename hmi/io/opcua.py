"""OPC UA acquisition: one asyncua client per PLC endpoint, its subscription feeding the tag bus in batches."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy, StatusChangeEvent
from asyncua.common.utils import ServiceError
from asyncua.crypto import security_policies
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.observer import Observer, SubscriptionEvent
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from hmi.config import EndpointConfig
from hmi.domain.plant import TagSpec
from hmi.domain.setpoints import SetpointWriteError
from hmi.domain.tags import Quality, TagValue, coerce_value
from hmi.io.link import LinkState, LinkStatus

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[TagValue]], None]

# Losing the link must show as Bad within 2 s: the watchdog probes every second with a 1 s timeout.
WATCHDOG_INTERVAL_S = 1.0
STATE_POLL_S = 0.2
RECONNECT_MAX_DELAY_S = 2.0
# A burst bigger than this would be dropped by asyncua's iterator queue; size it for minutes of 10 kHz.
EVENT_QUEUE_MAX = 500_000
# Nodes per Read request when the tags are read again after an outage (servers limit MaxNodesPerRead);
# the last one of each is the server's clock.
READ_CHUNK = 500
SERVER_CLOCK = ua.NodeId(ua.ObjectIds.Server_ServerStatus_CurrentTime)
READ_AGAIN_TRIES = 3

_POLICIES = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128Sha256RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256Sha256RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}


# asyncua logs every request it sends at DEBUG, the ActivateSession one with the user's password.
_PASSWORD_FIELD = re.compile(r"""Password=b(?:'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")""")


class RedactPasswords(logging.Filter):
    """Replaces ``Password=b'...'`` in a log record by ``Password=<redacted>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message; never drops it."""
        message = record.getMessage()
        if "Password=" in message:
            record.msg, record.args = _PASSWORD_FIELD.sub("Password=<redacted>", message), ()
        return True


logging.getLogger("asyncua.client.ua_client.UASocketProtocol").addFilter(RedactPasswords())


def _epoch(ts: datetime | None, fallback: float) -> float:
    if ts is None:
        return fallback
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.timestamp()


def _quality(status: ua.StatusCode | None) -> tuple[Quality, str]:
    if status is None or status.is_good():
        return Quality.GOOD, ""
    name = status.name
    if status.is_uncertain():
        return Quality.UNCERTAIN, name
    return Quality.BAD, name


def _tag_value(
    tag: str, value: object, dv: ua.DataValue | None, now: float, current_at: float | None = None
) -> TagValue:
    """A TagValue with the server's own status and source timestamp (its server timestamp if it gives none).

    ``current_at`` is a time at which the value is known to be the server's current one (it was read
    then, or the subscription that delivers it was made then): the sample is stamped no earlier.
    """
    quality, reason = _quality(dv.StatusCode if dv is not None else None)
    source_ts = _epoch(dv.SourceTimestamp or dv.ServerTimestamp, now) if dv is not None else now
    if current_at is not None:
        source_ts = max(source_ts, current_at)
    return coerce_value(tag, value, source_ts, now, quality, reason)


def _server_clock(dv: ua.DataValue, fallback: float) -> float:
    """The server's CurrentTime read with a batch (when it was read, on the server's clock), else fallback."""
    ok = dv.StatusCode is None or dv.StatusCode.is_good()
    clock = dv.Value.Value if ok and dv.Value is not None else None
    return _epoch(clock, fallback) if isinstance(clock, datetime) else fallback


class _AnswerClock(Observer):
    """Notes when the server last answered (how long it was silent at a loss) and when a subscription was made."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.on_subscription_made: Callable[[], None] | None = None

    def on_request(self, request_type: str, duration: float, error: BaseException | None) -> None:
        """Called by asyncua after each request."""
        if error is None:
            self.last = time.monotonic()

    def on_subscription_event(self, subscription_id: int | None, event: SubscriptionEvent) -> None:
        """Called by asyncua when it created a subscription, before it creates its monitored items."""
        if event in (SubscriptionEvent.CREATED, SubscriptionEvent.RECREATED) and self.on_subscription_made:
            self.on_subscription_made()


class OpcUaSource:
    """Reads the tags of one PLC endpoint through a subscription and publishes them on the tag bus.

    Connects (and keeps retrying until it can), subscribes every tag with its sampling interval
    and deadband, and turns each data change into a TagValue. A lost connection marks every tag
    of the endpoint Bad, with the reason; asyncua's supervisor reconnects (a new session) or resumes
    the old one (after a PLC that hung), and then every monitored node is read once, because a
    resumed session sends no initial values.

    A value read again, and the first value of each node from a new subscription (its initial value),
    is the server's current value at that moment, so it is stamped max(SourceTimestamp, that moment):
    the server's clock read in the same request (else the time the answer came), or the time the
    subscription was made. Why: an unchanged value (a setpoint) carries the time it last changed,
    older than the Bad sample published when the link went down or the "no data" marker a restarted
    collector stores after its last sample, so the historian and the live trend (which refuse a
    sample behind their newest) would show it Bad until it next changes. Not the arrival time of an
    initial value: the changes queued behind it in the same publish must stay newer; and not the
    DataValue's ServerTimestamp, which asyncua servers (plc-sim) set at the last write, not the read.
    """

    def __init__(
        self,
        endpoint: EndpointConfig,
        tags: Sequence[TagSpec],
        publish: Publish,
        password: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.tags = list(tags)
        self._publish = publish
        self._password = password
        self._client: Client | None = None
        self._handle_to_tag: dict[int, str] = {}
        self._monitored: list[tuple[str, ua.NodeId]] = []  # (tag, node) of every monitored item
        self._answers = _AnswerClock()
        self._answers.on_subscription_made = self._subscription_made
        self._subscribed_at: float | None = None  # when the current subscription was (re)made
        self._initial_pending: set[int] = set()  # handles whose initial value has not come yet
        self._read_again_task: asyncio.Task[None] | None = None
        self._pending: list[TagValue] = []
        self._flush_scheduled = False
        self._stopping = asyncio.Event()
        self.status = LinkStatus.now(endpoint.name, LinkState.CONNECTING, f"connecting to {endpoint.url}")
        self.bad_tags: dict[str, str] = {}
        self.changes_received = 0
        self.on_status: Callable[[LinkStatus], None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, subscribe and publish until stop() is called; never raises for a PLC that is away."""
        delay = 0.5
        logged = ""
        while not self._stopping.is_set():
            client = self._make_client()
            try:
                await self._connect(client)
            except Exception as exc:  # any failure to reach or talk to the PLC: retry with back-off
                reason = _describe_error(exc)
                if reason != logged:  # once per cause, not once per attempt
                    log.warning("%s: cannot connect to %s: %s; retrying", self.endpoint.name, self.endpoint.url, reason)
                    logged = reason
                self._mark_all_bad(f"no connection to {self.endpoint.name}: {reason}", LinkState.DOWN, _reason(exc))
                await _close_quietly(client)
                if await self._wait_stop(delay):
                    return
                delay = min(delay * 2, RECONNECT_MAX_DELAY_S)
                continue
            self._client = client
            try:
                await self._serve(client)
            finally:
                self._client = None
                await _close_quietly(client)
            return

    async def stop(self) -> None:
        """Ask run() to end; it disconnects and returns."""
        self._stopping.set()

    def mark_stopped(self) -> None:
        """Say the link was ended by the HMI (after run() returned), so no status shows it up any more."""
        self._set_status(LinkState.STOPPED, "stopped by the HMI")

    async def write_value(self, tag_id: str, value: float) -> None:
        """Write a value (a setpoint) on this source's connection; SetpointWriteError in words if it was not."""
        spec = next((t for t in self.tags if t.tag_id == tag_id), None)
        if spec is None:
            raise SetpointWriteError(f"{tag_id} is not a tag of endpoint {self.endpoint.name}; nothing was written")
        client = self._client
        if client is None or self.status.state is not LinkState.UP:
            raise SetpointWriteError(
                f"{self.endpoint.name} is not connected ({self.status.detail}); the setpoint was not written"
            )
        await _write_node(client, self.endpoint, spec, value)

    # -- internals ----------------------------------------------------------------------------

    def _make_client(self) -> Client:
        ep = self.endpoint
        client = Client(
            ep.url,
            timeout=ep.timeout_s,
            watchdog_intervall=WATCHDOG_INTERVAL_S,
            auto_reconnect=True,
            reconnect_max_delay=RECONNECT_MAX_DELAY_S,
            reconnect_request_timeout=ep.timeout_s,
        )
        client.name = client.description = "hmi"
        client.application_uri = "urn:hmi:client"
        client.uaclient.observer = self._answers
        client.connection_lost_callback = self._on_connection_lost
        if ep.username:
            client.set_user(ep.username)
            if self._password is not None:
                client.set_password(self._password)
        return client

    async def _connect(self, client: Client) -> None:
        ep = self.endpoint
        if ep.security_policy != "None":
            assert ep.certificate and ep.private_key and ep.trust_dir  # guaranteed by the config check
            # The trust list is read again on every attempt: a certificate copied there is picked up
            # at the next retry, without a restart.
            client.certificate_validator = ServerCertificateCheck(ep.name, Path(ep.trust_dir))
            mode = getattr(ua.MessageSecurityMode, ep.security_mode)
            try:
                await client.set_security(_POLICIES[ep.security_policy], Path(ep.certificate), Path(ep.private_key),
                                          mode=mode)
            except OSError as exc:
                if exc.filename is None:
                    raise
                raise SecurityError(f"cannot read {exc.filename} (the certificate or private_key of "
                                    f"{ep.name}): {exc.strerror}") from exc
            except ua.UaStatusCodeError:
                raise
            except ua.UaError as exc:
                if "No matching endpoints" not in str(exc):
                    raise
                offered = await _offered_security(client)
                raise SecurityError(f"{ep.name} offers no {ep.security_policy} {ep.security_mode} endpoint"
                                    f" (it offers: {offered or 'nothing'}); change security_policy/security_mode"
                                    ) from exc
            except ValueError as exc:  # a file that is not a certificate or key in DER or PEM
                raise SecurityError(f"cannot load the certificate {ep.certificate} or private_key "
                                    f"{ep.private_key} of {ep.name}: {exc}") from exc
        try:
            await client.connect()
        except ua.UaStatusCodeError as exc:
            if ep.security_policy != "None" and exc.code in _REFUSED_CLIENT_CERT:
                # Our own check of the server's certificate raises ServerCertificateError instead,
                # so a certificate status here is the server refusing ours.
                raise SecurityError(
                    f"{ep.name} refused this HMI's certificate {ep.certificate} "
                    f"({ua.StatusCode(exc.code).name}): add it to the trusted client certificates of {ep.name}"
                ) from exc
            raise

    async def _serve(self, client: Client) -> None:
        ep = self.endpoint
        sub = await client.create_subscription(
            float(ep.publishing_interval_ms), queue_maxsize=EVENT_QUEUE_MAX, overflow=OverflowPolicy.WARN
        )
        await self._subscribe_all(sub)
        self._set_status(LinkState.UP, f"connected to {ep.url}")
        log.info("%s: connected to %s, %d tags subscribed", ep.name, ep.url, len(self._handle_to_tag))
        monitor = asyncio.create_task(self._watch_state(client), name=f"opcua-state-{ep.name}")
        consume = asyncio.create_task(self._consume(sub), name=f"opcua-consume-{ep.name}")
        stop = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({consume, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._cancel_read_again()
            for task in (monitor, consume, stop):
                task.cancel()
            await asyncio.gather(monitor, consume, stop, return_exceptions=True)
            self._flush()

    async def _subscribe_all(self, sub) -> None:
        requests = []
        handles: list[tuple[int, TagSpec]] = []
        for handle, spec in enumerate(self.tags, start=1):
            try:
                node_id = ua.NodeId.from_string(spec.node_id)
            except Exception as exc:
                self._mark_bad(spec.tag_id, f"NodeId {spec.node_id!r} cannot be parsed: {exc}")
                continue
            requests.append(_monitored_item_request(handle, node_id, spec))
            handles.append((handle, spec))
        results = await sub.create_monitored_items(requests) if requests else []
        self._handle_to_tag.clear()
        self._monitored.clear()
        for (handle, spec), result, request in zip(handles, results, requests):
            if isinstance(result, ua.StatusCode):
                reason = f"node {spec.node_id} on {self.endpoint.name}: {result.name}"
                if result.value == ua.StatusCodes.BadNodeIdUnknown:
                    reason = f"node {spec.node_id} does not exist on {self.endpoint.name} (BadNodeIdUnknown)"
                log.error("%s: %s", spec.tag_id, reason)
                self._mark_bad(spec.tag_id, reason)
            else:
                self._handle_to_tag[handle] = spec.tag_id
                self._monitored.append((spec.tag_id, request.ItemToMonitor.NodeId))
        self._flush()

    async def _consume(self, sub) -> None:
        handle_to_tag = self._handle_to_tag
        pending = self._pending
        async for event in sub:
            if isinstance(event, DataChangeEvent):
                item = event.data.monitored_item
                tag = handle_to_tag.get(item.ClientHandle)
                if tag is None:
                    continue
                current_at = None
                if not event.replayed and item.ClientHandle in self._initial_pending:
                    self._initial_pending.discard(item.ClientHandle)
                    current_at = self._subscribed_at
                tv = _tag_value(tag, event.value, item.Value, time.time(), current_at)
                pending.append(tv)
                if tv.quality is Quality.GOOD:
                    self.bad_tags.pop(tag, None)
                elif self.bad_tags.get(tag) != tv.reason:
                    self._note_bad(tv)
                self.changes_received += 1
                if not self._flush_scheduled:
                    # Runs after this burst is drained: one bus batch per publish response.
                    self._flush_scheduled = True
                    asyncio.get_running_loop().call_soon(self._flush)
            elif isinstance(event, StatusChangeEvent):
                log.warning("%s: subscription status %s", self.endpoint.name, event.notification.Status)

    def _subscription_made(self) -> None:
        """asyncua made the subscription (again): the next value of every item is its initial value."""
        self._subscribed_at = time.time()
        self._initial_pending = set(range(1, len(self.tags) + 1))  # the handles _subscribe_all gives

    def _note_bad(self, tv: TagValue) -> None:
        self.bad_tags[tv.tag] = tv.reason
        log.warning("%s: %s; marked %s", tv.tag, tv.reason, tv.quality.name)

    async def _on_connection_lost(self, exc: Exception) -> None:
        """asyncua's supervisor found the link dead (its watchdog read timed out, the socket closed)."""
        # No await in here: the supervisor marks the client reconnecting right after this returns.
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
            silent_s = max(1.0, time.monotonic() - self._answers.last)
            reason = f"no answer from the PLC for {silent_s:.0f} s"
        elif isinstance(exc, ua.UaStatusCodeError):
            reason = f"the PLC refused the session ({ua.StatusCode(exc.code).name})"
        elif type(exc) is ConnectionError:  # asyncua's own: the socket closed under it
            reason = "the PLC closed the connection"
        else:
            reason = _describe_error(exc)
        self._link_lost(reason)

    async def _watch_state(self, client: Client) -> None:
        while True:
            await asyncio.sleep(STATE_POLL_S)
            up = client.uaclient.state is UaClientState.CONNECTED
            if not up and self.status.state is LinkState.UP:
                # The supervisor names the cause (_on_connection_lost) right after the state changed.
                await asyncio.sleep(STATE_POLL_S)
                if self.status.state is LinkState.UP:
                    self._link_lost("the connection closed")
            elif up and self.status.state is not LinkState.UP:
                self._link_back(client)

    def _link_lost(self, reason: str) -> None:
        if self.status.state is not LinkState.UP:
            return
        self._cancel_read_again()
        name, url = self.endpoint.name, self.endpoint.url
        log.warning("%s: connection to %s lost (%s); reconnecting", name, url, reason)
        self._mark_all_bad(f"connection to {name} lost: {reason}", LinkState.DOWN, reason)

    def _link_back(self, client: Client) -> None:
        """The link carries data again (a new session, or the old one resumed after the PLC hung)."""
        down_s = max(0.0, time.time() - self.status.since)
        self._set_status(LinkState.UP, f"connected to {self.endpoint.url}")
        self._cancel_read_again()
        self._read_again_task = asyncio.create_task(self._read_again(client, down_s),
                                                    name=f"opcua-read-again-{self.endpoint.name}")

    def _cancel_read_again(self) -> None:
        if self._read_again_task is not None:
            self._read_again_task.cancel()
            self._read_again_task = None

    async def _read_again(self, client: Client, down_s: float) -> None:
        """Read every monitored node once and publish what the server has.

        A resumed session sends no initial values: without this, every tag whose value does not
        change again (a setpoint, a status) would stay Bad.
        """
        name, url = self.endpoint.name, self.endpoint.url
        for attempt in range(1, READ_AGAIN_TRIES + 1):
            try:
                count = await self._read_all(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the link may fail again at once: the next loss says so
                if attempt == READ_AGAIN_TRIES or self.status.state is not LinkState.UP:
                    log.warning("%s: connection to %s is back after %.0f s, but reading the tags again failed: %s; "
                                "they stay Bad until their value changes", name, url, down_s, _describe_error(exc))
                    return
                await asyncio.sleep(1.0)
            else:
                log.info("%s: connection to %s is back after %.0f s; %d tags read again", name, url, down_s, count)
                return

    async def _read_all(self, client: Client) -> int:
        monitored = list(self._monitored)
        count = 0
        for start in range(0, len(monitored), READ_CHUNK - 1):
            chunk = monitored[start : start + READ_CHUNK - 1]
            params = ua.ReadParameters()
            params.MaxAge = 0
            params.TimestampsToReturn = ua.TimestampsToReturn.Both
            params.NodesToRead = [ua.ReadValueId(NodeId=node, AttributeId=ua.AttributeIds.Value)
                                  for node in [*(node for _, node in chunk), SERVER_CLOCK]]
            results = await client.uaclient.read(params)
            now = time.time()
            read_at = _server_clock(results[-1], now) if len(results) > len(chunk) else now
            for (tag, _), dv in zip(chunk, results):
                tv = _tag_value(tag, dv.Value.Value if dv.Value is not None else None, dv, now, read_at)
                self._pending.append(tv)
                if tv.quality is Quality.GOOD:
                    self.bad_tags.pop(tag, None)
                elif self.bad_tags.get(tag) != tv.reason:
                    self._note_bad(tv)
                count += 1
            self._flush()
        return count

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._pending:
            batch, self._pending[:] = list(self._pending), []
            self._publish(batch)

    def _mark_bad(self, tag_id: str, reason: str) -> None:
        now = time.time()
        self.bad_tags[tag_id] = reason
        self._pending.append(TagValue(tag_id, None, Quality.BAD, now, now, reason))

    def _mark_all_bad(self, detail: str, state: LinkState, reason: str) -> None:
        if self.status.state is not state or self.status.detail != detail:
            for spec in self.tags:
                self._mark_bad(spec.tag_id, detail)
            self._flush()
        self._set_status(state, detail, reason)

    def _set_status(self, state: LinkState, detail: str, reason: str = "") -> None:
        if self.status.state is not state or self.status.detail != detail:
            self.status = LinkStatus.now(self.endpoint.name, state, detail, reason)
            if self.on_status is not None:
                self.on_status(self.status)

    async def _wait_stop(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
            return True
        except asyncio.TimeoutError:
            return False


def _monitored_item_request(handle: int, node_id: ua.NodeId, spec: TagSpec) -> ua.MonitoredItemCreateRequest:
    params = ua.MonitoringParameters()
    params.ClientHandle = handle
    params.SamplingInterval = float(spec.sampling_ms)
    # A queue on the server keeps every change between two publish responses, not only the last.
    params.QueueSize = 100
    params.DiscardOldest = True
    if spec.deadband > 0:
        flt = ua.DataChangeFilter()
        flt.Trigger = ua.DataChangeTrigger.StatusValue
        flt.DeadbandType = ua.DeadbandType.Absolute
        flt.DeadbandValue = spec.deadband
        params.Filter = flt
    request = ua.MonitoredItemCreateRequest()
    request.ItemToMonitor = ua.ReadValueId(NodeId=node_id, AttributeId=ua.AttributeIds.Value)
    request.MonitoringMode = ua.MonitoringMode.Reporting
    request.RequestedParameters = params
    return request


class SecurityError(Exception):
    """A secured connection failed for a reason the message explains (and says what to do)."""


class ServerCertificateError(SecurityError):
    """The server's certificate is not trusted or does not fit the server."""


# Status codes with which a server refuses the client's certificate.
_REFUSED_CLIENT_CERT = {
    ua.StatusCodes.BadSecurityChecksFailed,
    ua.StatusCodes.BadCertificateUntrusted,
    ua.StatusCodes.BadCertificateInvalid,
    ua.StatusCodes.BadCertificateTimeInvalid,
    ua.StatusCodes.BadCertificateUriInvalid,
    ua.StatusCodes.BadCertificateUseNotAllowed,
    ua.StatusCodes.BadCertificateRevoked,
    ua.StatusCodes.BadCertificateIssuerRevoked,
    ua.StatusCodes.BadCertificateRevocationUnknown,
    ua.StatusCodes.BadCertificateIssuerRevocationUnknown,
}
TRUSTED_SUFFIXES = (".der", ".pem", ".crt", ".cer")


def _load_trusted(trust_dir: Path) -> tuple[list[x509.Certificate], list[str]]:
    """The certificates in trust_dir (DER or PEM), and the files that are not readable certificates."""
    certs: list[x509.Certificate] = []
    skipped: list[str] = []
    for path in sorted(trust_dir.iterdir()) if trust_dir.is_dir() else []:
        if not path.is_file() or path.suffix.lower() not in TRUSTED_SUFFIXES:
            continue
        try:
            data = path.read_bytes()
            if b"-----BEGIN CERTIFICATE-----" in data:
                certs.extend(x509.load_pem_x509_certificates(data))
            else:
                certs.append(x509.load_der_x509_certificate(data))
        except (OSError, ValueError):
            skipped.append(path.name)
    return certs, skipped


def _signed_by_trusted_ca(cert: x509.Certificate, trusted: list[x509.Certificate]) -> bool:
    """Whether a CA certificate in the trust list issued cert (the same check asyncua's TrustStore makes)."""
    from cryptography.x509 import verification as v

    def is_ca(_policy, _cert, ext) -> None:
        if ext is None or not ext.ca:
            raise ValueError("not a CA certificate")

    try:
        verifier = (
            v.PolicyBuilder()
            .store(v.Store(trusted))
            .extension_policies(
                ca_policy=v.ExtensionPolicy.permit_all().require_present(
                    x509.BasicConstraints, v.Criticality.AGNOSTIC, is_ca
                ),
                ee_policy=v.ExtensionPolicy.permit_all(),
            )
            .build_client_verifier()
        )
        verifier.verify(cert, [])
        return True
    except (v.VerificationError, ValueError):
        return False


def _who(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    name = f'"{names[0].value}"' if names else cert.subject.rfc4514_string() or "(no subject)"
    thumbprint = cert.fingerprint(hashes.SHA1()).hex(":").upper()  # noqa: S303 - OPC UA's thumbprint is SHA-1
    return f"{name}, SHA-1 {thumbprint}"


class ServerCertificateCheck:
    """The client's certificate_validator: the server's certificate must be in the trust list.

    Trusted means: the certificate itself is in trust_dir (a self-signed PLC certificate copied
    there), or a CA certificate in trust_dir issued it. Then it must also be valid now, name the
    ApplicationUri the server declares and be meant for a server (key usage).
    """

    def __init__(self, endpoint_name: str, trust_dir: Path) -> None:
        self.endpoint_name = endpoint_name
        self.trust_dir = trust_dir
        self._checks = CertificateValidator(
            CertificateValidatorOptions.EXT_VALIDATION | CertificateValidatorOptions.PEER_SERVER
        )

    async def __call__(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        name = self.endpoint_name
        trusted, skipped = await asyncio.to_thread(_load_trusted, self.trust_dir)
        if not (cert in trusted or (trusted and _signed_by_trusted_ca(cert, trusted))):
            where = str(self.trust_dir)
            if not self.trust_dir.is_dir():
                where += " (that folder does not exist)"
            elif not trusted:
                where += " (it holds no certificate)"
            if skipped:
                where += f" (not readable as certificates: {', '.join(skipped)})"
            raise ServerCertificateError(
                f"the server certificate of {name} ({_who(cert)}) is not in the trust list {where}: "
                f"if you trust it, copy it there as .der or .pem (or its issuing CA certificate)"
            )
        try:
            await self._checks(cert, app)
        except ServiceError as exc:
            raise ServerCertificateError(_untrusted_why(name, cert, app, exc.code)) from exc


def _untrusted_why(name: str, cert: x509.Certificate, app: ua.ApplicationDescription, code: int) -> str:
    who = f"the server certificate of {name} ({_who(cert)})"
    if code == ua.StatusCodes.BadCertificateTimeInvalid:
        return (f"{who} is valid only from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} to "
                f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC: renew it on the PLC (or check the clock)")
    if code == ua.StatusCodes.BadCertificateUriInvalid:
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            uris = ", ".join(san.value.get_values_for_type(x509.UniformResourceIdentifier)) or "none"
        except x509.ExtensionNotFound:
            uris = "none"
        return (f"{who} is for application URI {uris}, but the server says it is {app.ApplicationUri}: "
                f"the PLC serves a certificate that is not its own")
    if code == ua.StatusCodes.BadCertificateUseNotAllowed:
        return f"{who} is not meant for an OPC UA server (key usage or extended key usage serverAuth missing)"
    return f"{who} is refused: {ua.StatusCode(code).name}"


async def _offered_security(client: Client) -> str:
    try:
        endpoints = await client.connect_and_get_server_endpoints()
    except Exception:
        return ""
    offered = []
    for e in endpoints:
        policy = e.SecurityPolicyUri.rsplit("#", 1)[-1]
        text = policy if policy == "None" else f"{policy} {e.SecurityMode.name}"
        if text not in offered:
            offered.append(text)
    return ", ".join(offered)


def _reason(exc: BaseException) -> str:
    """Why a connection failed in a few words, for the status line (the log and the tooltip say more)."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return _describe_error(exc)


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, SecurityError):
        return str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the PLC or plc-sim running on that port?)"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "no answer in time"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# Status codes with which a server turns down a write, in words ({endpoint} and {tag} filled in).
_WRITE_REFUSALS = {
    ua.StatusCodes.BadUserAccessDenied: "{endpoint} does not let this HMI write {tag} "
                                        "(read-only there, or the connection's user may not write it)",
    ua.StatusCodes.BadNotWritable: "{tag} is read-only on {endpoint}",
    ua.StatusCodes.BadWriteNotSupported: "{endpoint} does not support writing {tag}",
    ua.StatusCodes.BadNodeIdUnknown: "{tag} does not exist on {endpoint}",
    ua.StatusCodes.BadTypeMismatch: "{endpoint} expects another data type than a Double for {tag}",
    ua.StatusCodes.BadOutOfRange: "{endpoint} says the value is out of range for {tag}",
}


def _write_refused(endpoint: str, spec: TagSpec, code: int) -> str:
    """Why a PLC refused a write, in words, with the status code and node for the PLC's engineer."""
    why = _WRITE_REFUSALS.get(code, "{endpoint} refused the write to {tag}").format(endpoint=endpoint, tag=spec.tag_id)
    return (f"the PLC refused the setpoint: {why}; nothing was changed "
            f"[{ua.StatusCode(code).name}, node {spec.node_id}]")


async def _write_node(client: Client, endpoint: EndpointConfig, spec: TagSpec, value: float) -> None:
    """Write one Double to a tag's node and wait for the answer; SetpointWriteError in words otherwise."""
    try:
        node = client.get_node(spec.node_id)
        await node.write_value(ua.DataValue(ua.Variant(float(value), ua.VariantType.Double)))
    except ua.UaStatusCodeError as exc:
        raise SetpointWriteError(_write_refused(endpoint.name, spec, exc.code)) from None
    except (asyncio.TimeoutError, TimeoutError):
        raise SetpointWriteError(
            f"{endpoint.name} did not answer the write of {spec.tag_id} within {endpoint.timeout_s:g} s; "
            f"check on the PLC whether the setpoint changed"
        ) from None
    except (ConnectionError, OSError, ua.UaError) as exc:
        raise SetpointWriteError(
            f"the connection to {endpoint.name} failed during the write of {spec.tag_id}: {_describe_error(exc)}; "
            f"check on the PLC whether the setpoint changed"
        ) from None


class OneOffConnection:
    """One connection to an endpoint (its security and user) for a command's read and write; no subscription."""

    def __init__(self, endpoint: EndpointConfig, password: str | None = None) -> None:
        self.endpoint = endpoint
        self._source = OpcUaSource(endpoint, [], lambda _batch: None, password=password)
        self._client: Client | None = None

    async def open(self) -> None:
        """Connect; SetpointWriteError saying why it could not."""
        client = self._source._make_client()
        try:
            await self._source._connect(client)
        except Exception as exc:  # any failure to reach or talk to the PLC
            await _close_quietly(client)
            raise SetpointWriteError(
                f"cannot connect to {self.endpoint.name} at {self.endpoint.url}: {_describe_error(exc)}; "
                f"the setpoint was not written"
            ) from None
        self._client = client

    async def read(self, spec: TagSpec) -> float | None:
        """The tag's current value, or None when it cannot be read as a number."""
        if self._client is None:
            return None
        try:
            value = await self._client.get_node(spec.node_id).read_value()
        except Exception:  # the write that follows reports what is wrong
            log.debug("reading %s failed", spec.tag_id, exc_info=True)
            return None
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    async def write(self, spec: TagSpec, value: float) -> None:
        """Write one value; SetpointWriteError in words if it was not written."""
        if self._client is None:
            raise SetpointWriteError(f"not connected to {self.endpoint.name}; the setpoint was not written")
        await _write_node(self._client, self.endpoint, spec, value)

    async def close(self) -> None:
        """Disconnect (quietly)."""
        if self._client is not None:
            client, self._client = self._client, None
            await _close_quietly(client)


async def _close_quietly(client: Client) -> None:
    try:
        await asyncio.wait_for(client.disconnect(), 2.0)
    except Exception:
        log.debug("disconnect failed", exc_info=True)
