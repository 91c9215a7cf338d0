"""Checking one gossiped attestation item (pure and synchronous: the topic validator calls it).

An item is a ``p2p`` envelope of kind ``attestation`` (body: one ``sign_attestation`` blob) or
``attestation-batch``. A batch body is either the **compact** form ``{"header": BatchHeader.to_dict(),
"leaves": [bytes, ...]}`` (what ``Peering`` publishes: all ``header.count`` statements as their
canonical CBOR, the Merkle leaves; the receiver hashes each once and recomputes the root) or the
**proof** form ``{"header": ..., "items": [{"statement": facts, "proof": Proof.to_dict()}, ...]}`` (a
subset of a batch, each statement with its inclusion proof). Either may carry an optional
``"evidence"``: ``attest.encode_evidence`` bytes that statements naming it by ``evidence`` id may
rely on. Everything is verified before anything is stored or forwarded: the envelope's canonical
form, the signature (the batch header's, once), the root (recomputed, or each inclusion proof with
distinct indexes), and the evidence when present. Evidence that does not verify under the node's
``VerifierPolicy`` (simulated evidence never verifies as hardware) does not make the item invalid;
it only leaves ``hardware`` False.

A compact batch's claims do not carry their self-contained attestation: ``VerifiedItem.batch`` keeps
the payload once, and ``attest.bundle_at`` cuts a claim's bundle from it when a peer asks (catch-up).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import count, repeat
from typing import TYPE_CHECKING, NamedTuple, final

from attest import (
    AttestationReport,
    AttestError,
    BatchHeader,
    CertPool,
    Proof,
    Statement,
    decode_evidence,
    encode_batched_attestation,
    open_compact,
    verify_attestation,
    verify_batched_attestation,
    verify_snp,
    verify_with_proof,
    with_evidence,
)
from node.peering._errors import ItemIgnored, ItemRejected
from p2p import Kind, WireError, decode_envelope

if TYPE_CHECKING:
    from attest import SnpVerification, VerifierPolicy

MAX_BATCH_ITEMS = 1024


@final
class Claim(NamedTuple):
    """One verified statement: its self-contained attestation (``item``), or its leaf ``position``
    in the compact batch its ``VerifiedItem`` carries. (A named tuple: one is made per statement of
    every gossiped batch, and a frozen dataclass costs several times as much to build.)"""

    statement: Statement
    hardware: bool
    item: bytes | None = None
    position: int = -1


@final
@dataclass(frozen=True)
class VerifiedItem:
    item_id: str
    attester: str
    claims: tuple[Claim, ...]
    batch: bytes | None = None  # the compact gossip payload that claims' positions refer to
    evidence: bytes = b""  # the SNP evidence blob that came with the item (statements naming it rely on it)


@final
class EvidenceChecker:
    """Verifies SNP evidence blobs under one policy, caching outcomes by the blob's SHA-256."""

    def __init__(self, policy: VerifierPolicy, *, cache_size: int = 256) -> None:
        self.policy = policy
        self._cache: OrderedDict[bytes, SnpVerification | None] = OrderedDict()
        self._size = cache_size

    def check(self, data: bytes) -> SnpVerification | None:
        """The verification, or None when the evidence is malformed or does not verify."""
        key = hashlib.sha256(data).digest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        try:
            evidence = decode_evidence(data)
            outcome: SnpVerification | None = verify_snp(
                evidence.report,
                expected_report_data=None,
                policy=self.policy,
                certs=CertPool.from_cert_table(evidence.certs),
            )
        except AttestError:
            outcome = None
        self._cache[key] = outcome
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return outcome


def _single(body: object) -> VerifiedItem:
    if not isinstance(body, bytes):
        raise ItemRejected("an attestation body must be bytes")
    try:
        report = verify_attestation(body)
    except AttestError as exc:
        raise ItemRejected(f"malformed attestation: {exc}") from exc
    if not report.valid or report.statement is None:
        raise ItemRejected(f"attestation does not verify ({report.check}: {report.error})")
    statement = report.statement
    return VerifiedItem(report.id, statement.attester, (Claim(statement, False, item=body),))


def _batch_header(body: Mapping[str, object]) -> BatchHeader:
    try:
        header = BatchHeader.from_dict(body["header"])
    except AttestError as exc:
        raise ItemRejected(f"malformed batch header: {exc}") from exc
    return header


def _batch_evidence(
    body: Mapping[str, object], evidence: EvidenceChecker
) -> tuple[bytes | None, SnpVerification | None]:
    raw_evidence = body.get("evidence")
    if raw_evidence is not None and not isinstance(raw_evidence, bytes):
        raise ItemRejected("batch evidence must be bytes")
    return raw_evidence, evidence.check(raw_evidence) if raw_evidence is not None else None


def _hardware(statement: Statement, verification: SnpVerification | None) -> bool:
    """Whether ``statement`` names the verified ``verification`` and it is hardware evidence bound to
    the attester (``attest.with_evidence``)."""
    if verification is None or statement.evidence is None:
        return False
    report = AttestationReport(True, "claim", "", statement.attester, {}, statement=statement)
    return with_evidence(report, verification).hardware is True


def _compact_batch(body: Mapping[str, object], data: bytes, evidence: EvidenceChecker) -> VerifiedItem:
    """The compact form: every leaf of the batch, no proofs; the root is recomputed from them."""
    leaves = body["leaves"]
    if not isinstance(leaves, list) or not 0 < len(leaves) <= MAX_BATCH_ITEMS:
        raise ItemRejected(f"a batch carries 1..{MAX_BATCH_ITEMS} leaves")
    if set(map(type, leaves)) != {bytes}:
        raise ItemRejected("batch leaves are byte strings")
    header = _batch_header(body)
    try:
        statements = open_compact(leaves, header)
    except AttestError as exc:
        raise ItemRejected(f"batch leaves do not match the header: {exc}") from exc
    if not header.signature_ok():
        raise ItemRejected("batch header signature does not verify")
    raw_evidence, verification = _batch_evidence(body, evidence)
    if verification is None:  # no evidence came with the batch (the usual case): nothing to bind
        fields = zip(statements, repeat(False), repeat(None), count())  # statement, hardware, item, position
        claims = tuple(map(tuple.__new__, repeat(Claim), fields))  # no Python frame per claim
    else:
        claims = tuple(
            Claim(statement, _hardware(statement, verification), position=n)
            for n, statement in enumerate(statements)
        )
    return VerifiedItem(header.id, header.attester, claims, batch=data, evidence=raw_evidence or b"")


def _batch(body: object, data: bytes, evidence: EvidenceChecker) -> VerifiedItem:
    keys = set(body) if isinstance(body, Mapping) else set()
    if isinstance(body, Mapping) and {"header", "leaves"} <= keys <= {"header", "leaves", "evidence"}:
        return _compact_batch(body, data, evidence)
    if {"header", "statements"} <= keys <= {"header", "statements", "evidence"}:
        # What nodes before the leaves form published: not forwarded, but its sender is not punished
        # for running an older version (a mixed network stays connected while it upgrades).
        raise ItemIgnored("the compact form with statement maps was retired: leaves carry them now")
    if not isinstance(body, Mapping) or not {"header", "items"} <= set(body) <= {
        "header",
        "items",
        "evidence",
    }:
        raise ItemRejected("a batch body is {header, leaves[, evidence]} or {header, items[, evidence]}")
    items = body["items"]
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH_ITEMS:
        raise ItemRejected(f"a batch carries 1..{MAX_BATCH_ITEMS} items")
    header = _batch_header(body)
    if len(items) > header.count:
        raise ItemRejected("more items than the batch header counts")
    if not header.signature_ok():
        raise ItemRejected("batch header signature does not verify")
    raw_evidence, verification = _batch_evidence(body, evidence)
    claims: list[Claim] = []
    indexes: set[int] = set()
    for entry in items:
        if not isinstance(entry, Mapping) or set(entry) != {"statement", "proof"}:
            raise ItemRejected("a batch item is {statement, proof}")
        try:
            statement = Statement.from_facts(entry["statement"])
            proof = Proof.from_dict(entry["proof"])
        except AttestError as exc:
            raise ItemRejected(f"malformed batch item: {exc}") from exc
        if proof.index in indexes:
            raise ItemRejected("two batch items share a proof index")
        indexes.add(proof.index)
        report = verify_with_proof(statement, proof, header, header_checked=True)
        if not report.valid:
            raise ItemRejected(f"batch item does not verify ({report.check}: {report.error})")
        bundle = encode_batched_attestation(statement, proof, header)
        claims.append(Claim(statement, _hardware(statement, verification), item=bundle))
    return VerifiedItem(header.id, header.attester, tuple(claims), evidence=raw_evidence or b"")


def verify_gossip(data: bytes, evidence: EvidenceChecker) -> VerifiedItem:
    """Decode and verify one gossip payload.

    Raises:
        ItemRejected: malformed, oversize, or a signature/proof does not verify.
        ItemIgnored: a well-formed envelope of a kind this topic does not carry.
    """
    try:
        envelope = decode_envelope(data)
    except WireError as exc:
        raise ItemRejected(f"bad envelope: {exc}") from exc
    if envelope.kind is Kind.ATTESTATION:
        return _single(envelope.body)
    if envelope.kind is Kind.ATTESTATION_BATCH:
        return _batch(envelope.body, data, evidence)
    raise ItemIgnored(f"kind {envelope.kind} is not carried on the attestation topic")


def verify_fetched(blob: bytes, evidence: bytes = b"", checker: EvidenceChecker | None = None) -> Claim:
    """Verify one stored attestation served by a peer (single or batched bundle), with the SNP evidence
    it names when given; the claim (``item`` = ``blob``) is ``hardware`` only if that evidence verifies
    under ``checker``.

    Raises:
        ItemRejected: malformed or not verifying.
    """
    try:
        try:
            report = verify_batched_attestation(blob)
        except AttestError:
            report = verify_attestation(blob)
    except AttestError as exc:
        raise ItemRejected(f"malformed attestation: {exc}") from exc
    if not report.valid or report.statement is None:
        raise ItemRejected(f"attestation does not verify ({report.check})")
    hardware = False
    if evidence and checker is not None and report.statement.evidence is not None:
        verification = checker.check(evidence)
        hardware = verification is not None and with_evidence(report, verification).hardware is True
    return Claim(report.statement, hardware, item=blob)
