"""How the sender cuts its statements into gossip messages and signs them (pure; run by the batcher).

A batch's compact gossip form is every statement's leaf (its canonical CBOR) plus the signed header,
from which receivers recompute the Merkle root. It goes out deflated: a leaf repeats its keys,
process, attester and device stack, so a batch shrinks 2.7-4x, and py-libp2p's cost per hop grows
with the bytes it moves.

* ``chunks(batch, evidence_bytes)`` splits a batch so each message inflates to at most
  ``GOSSIP_INFLATED_BYTES`` and holds at most ``MAX_BATCH_ITEMS`` statements (what receivers accept).
* ``signed_messages(batch, wallet, evidence)`` signs a chunk and encodes it; a chunk whose deflated
  form still exceeds ``GOSSIP_BATCH_BYTES`` is signed again as two halves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attest import sign_compact
from node.peering._verify import MAX_BATCH_ITEMS
from p2p import Envelope, EnvelopeTooLarge, Kind, encode_envelope

if TYPE_CHECKING:
    from attest import BatchHeader, Statement
    from devices.core import RsaWallet

#: Cap on one compact batch message on the wire (well under ``P2PConfig.max_message_bytes`` and
#: libp2p's 1 MiB).
GOSSIP_BATCH_BYTES = 224 * 1024
#: Cap on what one batch message inflates to (under ``MAX_INFLATED_BYTES``, what receivers accept).
GOSSIP_INFLATED_BYTES = 896 * 1024
#: Cap on one statement's leaf: ids and hashpaths are 43 characters, so only a freak device stack comes
#: near it. With the header and any SNP evidence it still fits one message, plain.
MAX_STATEMENT_BYTES = 64 * 1024
_HEADER_ALLOWANCE = 2048  # an RSA-4096 header (key, signature, root) and the envelope around it

Signed = tuple["list[Statement]", "BatchHeader", bytes]


def chunks(batch: list[Statement], evidence_bytes: int) -> list[list[Statement]]:
    """``batch`` in parts that each make one gossip message (see the module doc). Makes every
    statement's leaf (``to_cbor``, memoised: ``sign_compact`` finds them ready)."""
    budget = GOSSIP_INFLATED_BYTES - _HEADER_ALLOWANCE - evidence_bytes
    sizes = [len(statement.to_cbor()) + 8 for statement in batch]
    if len(batch) <= MAX_BATCH_ITEMS and sum(sizes) <= budget:
        return [batch]  # the usual case: one message
    parts: list[list[Statement]] = [[]]
    used = 0
    for statement, size in zip(batch, sizes, strict=True):
        if parts[-1] and (used + size > budget or len(parts[-1]) >= MAX_BATCH_ITEMS):
            parts.append([])
            used = 0
        parts[-1].append(statement)
        used += size
    return parts


def signed_messages(batch: list[Statement], wallet: RsaWallet, evidence: bytes | None) -> list[Signed]:
    """``(statements, header, gossip message)`` for ``batch``: one, or more when the deflated form
    exceeds ``GOSSIP_BATCH_BYTES`` (each half signed on its own).

    Raises:
        EnvelopeTooLarge: a single statement does not fit one message (``MAX_STATEMENT_BYTES`` keeps
            such statements out).
    """
    header, leaves = sign_compact(batch, wallet)
    body: dict[str, Any] = {"header": header.to_dict(), "leaves": leaves}
    if evidence is not None:
        body["evidence"] = evidence
    try:
        data = encode_envelope(
            Envelope(Kind.ATTESTATION_BATCH, body), max_bytes=GOSSIP_BATCH_BYTES, compress=True
        )
    except EnvelopeTooLarge:
        if len(batch) == 1:
            raise
        half = len(batch) // 2
        return signed_messages(batch[:half], wallet, evidence) + signed_messages(
            batch[half:], wallet, evidence
        )
    return [(batch, header, data)]
