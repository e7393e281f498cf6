"""The malformed messages --malformed-every puts on the wire in place of real ones, one kind after another."""

from __future__ import annotations

import json

from hmi.domain.shopfloor import Channel, Report, encode, utc_now_iso

KINDS = ("empty", "invalid-utf8", "not-json", "wrong-schema", "unknown-order", "1mb")


def malformed(n: int, shopfloor_id: str) -> tuple[str, Channel | None, bytes]:
    """The n-th malformed message (0-based): (kind, the channel it goes on or None for the replaced one's, payload)."""
    kind = KINDS[n % len(KINDS)]
    if kind == "empty":
        return kind, None, b""
    if kind == "invalid-utf8":
        return kind, None, b'{"type":"report","v":1,"msgId":"\xff\xfe\xc3("}'
    if kind == "not-json":
        return kind, None, b"{this is not JSON"
    if kind == "wrong-schema":
        return kind, Channel.REPORTS, json.dumps({"type": "report", "v": 1, "msgId": 42, "produced": -1}, separators=(",", ":")).encode()
    if kind == "unknown-order":
        iid = f"JO-00000000-0000/{shopfloor_id}/{n}"
        report = Report(msgId=f"{iid}/1", instructionId=iid, orderId="ORD-00000000-0000", shopfloorId=shopfloor_id,
                        seq=1, produced=1, defective=0, timestamp=utc_now_iso(), final=False)  # fmt: skip
        return kind, Channel.REPORTS, encode(report)
    return kind, None, b'{"type":"report","v":1,"pad":"' + b"x" * (1024 * 1024) + b'"}'
