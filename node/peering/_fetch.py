"""The fetch protocol as peering uses it (``p2p.FETCH_PROTOCOL``, frames from ``p2p._wire``).

Requests: ``result``/``message`` with a message id → ``200`` and the message (public keys only, the
node's canonical CBOR form) or ``404``; ``attestation`` with id ``<process>/<slot>`` → ``200`` and
``{"items": [verifiable attestation blobs], "evidence": [the SNP evidence each names, or b""]}``
or ``404``. Nothing a peer serves is trusted: results are checked against the attested id
(``decode_result``); a message asked for by id must be known by that id and every commitment on it
must verify (``verified_message``); attestation items (and their evidence) are verified one by one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from devices.core import CoreError, message_id
from node._codec_io import message_ids, verify_request
from node._errors import StoreError
from node._serial import decode_message, encode_message
from node.peering._errors import PeeringError
from p2p import (
    FETCH_PROTOCOL,
    FetchResponse,
    P2PError,
    What,
    decode_request,
    decode_response,
    encode_response,
)

if TYPE_CHECKING:
    from devices.core import Message
    from node._store import LmdbStore
    from node.peering._records import AttestationIndex
    from p2p import P2P

log = logging.getLogger(__name__)

MAX_SLOT_ITEMS = 128


def serve_fetch(store: LmdbStore, index: AttestationIndex, payload: bytes) -> bytes:
    """Answer one fetch request.

    Raises:
        WireError: the request is malformed (the backend answers it as a failed request).
    """
    request = decode_request(payload)
    ident = request.id if isinstance(request.id, str) else request.id.decode("utf-8", "replace")
    if request.what is What.ATTESTATION:
        process, _, slot_text = ident.rpartition("/")
        if not process or not slot_text.isdigit():
            return encode_response(FetchResponse(400, b"attestation ids are <process>/<slot>"))
        proofs: list[tuple[bytes, bytes]] = []
        for record in index.records(process, int(slot_text))[:MAX_SLOT_ITEMS]:
            try:
                proofs.append(index.proof(record))
            except PeeringError as exc:  # serve the others; this one is logged
                log.warning("cannot serve the attestation of %s by %s: %s", ident, record.attester, exc)
        body = {"items": [item for item, _ in proofs], "evidence": [evidence for _, evidence in proofs]}
        return encode_response(FetchResponse(200 if proofs else 404, body))
    try:
        message = store.read_message(ident)
    except StoreError:
        message = None
    if message is None:
        return encode_response(FetchResponse(404, b""))
    return encode_response(FetchResponse(200, encode_message(message.public())))


async def fetch_body(p2p: P2P, peer: str, payload: bytes, timeout_s: float) -> object:
    """One fetch; the response body when the status is 200, else None (failures are logged)."""
    try:
        raw = await p2p.request(peer, FETCH_PROTOCOL, payload, timeout_s=timeout_s)
        response = decode_response(raw)
    except P2PError as exc:
        log.info("fetch from %s failed: %s", peer, exc)
        return None
    return response.body if response.status == 200 else None


def decode_result(body: object, result_id: str) -> Message | None:
    """The served message when it decodes and its id is ``result_id``; None otherwise."""
    if not isinstance(body, bytes):
        return None
    try:
        message = decode_message(body)
        return message if message_id(message) == result_id else None
    except (StoreError, CoreError, RecursionError) as exc:
        log.info("undecodable result served for %s: %s", result_id, exc)
        return None


def verified_message(body: object, ident: str) -> Message | None:
    """The served message when it decodes, ``ident`` is one of its ids (unsigned, signed or a
    commitment's) and every commitment on it verifies; None otherwise."""
    if not isinstance(body, bytes):
        return None
    try:
        message = decode_message(body)
        if ident not in message_ids(message):
            log.info("a peer served another message for %s", ident)
            return None
        verify_request(message)
    except (StoreError, CoreError, RecursionError) as exc:
        log.info("a peer served %s unverifiable: %s", ident, exc)
        return None
    return message
