"""``verify_report``: check an attestation body (any form peers exchange) and describe it as a message.

Used by ``attest@1.0/verify`` through the ``results`` service. Malformed or forged input is a report with
``valid: false`` and ``error``; nothing is stored or forwarded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cbor2

from devices.core import Message
from node.peering._errors import ItemIgnored, ItemRejected
from node.peering._verify import verify_fetched, verify_gossip
from p2p import WireError, decode_envelope

if TYPE_CHECKING:
    from node.peering._trust import TrustPolicy
    from node.peering._verify import Claim, EvidenceChecker


def _claims(body: bytes, checker: EvidenceChecker) -> tuple[str, tuple[Claim, ...]]:
    try:
        decode_envelope(body)
    except WireError as exc:
        if not _envelope_shaped(body):
            return "attestation", (verify_fetched(body),)
        raise ItemRejected(f"bad gossip envelope: {exc.reason}") from exc
    return "gossip-envelope", verify_gossip(body, checker).claims


def _envelope_shaped(body: bytes) -> bool:
    """A CBOR map with an envelope's ``v`` and ``kind``: what is wrong with it is said as of an envelope."""
    try:
        value = cbor2.loads(body)
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError, LookupError, MemoryError):
        return False
    return isinstance(value, dict) and "v" in value and "kind" in value


def verify_report(body: bytes, trust: TrustPolicy, checker: EvidenceChecker) -> Message:
    try:
        kind, claims = _claims(body, checker)
    except (ItemRejected, ItemIgnored) as exc:
        return Message({"valid": False, "error": exc.reason.encode()})
    statements = {
        str(n): Message(
            {
                "process": c.statement.process.encode(),
                "slot": c.statement.slot,
                "result": c.statement.result.encode(),
                "hashpath": c.statement.hashpath.encode(),
                "attester": c.statement.attester.encode(),
                "device-stack": tuple(d.encode() for d in c.statement.device_stack),
                "hardware": c.hardware,
                "trusted": trust.trusts(c.statement.attester),
            }
        )
        for n, c in enumerate(claims, start=1)
    }
    return Message(
        {"valid": True, "kind": kind.encode(), "count": len(statements), "statements": Message(statements)}
    )
