"""The compact gossip form of a signed batch: every statement's leaf bytes plus the header, no proofs.

A batch's leaves are the statements' canonical CBOR (``Statement.to_cbor``), in batch order; the
header signs their Merkle root. A receiver holding *all* ``header.count`` leaves hashes each once,
recomputes the root and compares it with the signed root (``open_compact``): no re-encoding of
statements, no per-leaf proofs on the wire. The self-contained single-statement bundle
(``encode_batched_attestation``, what catch-up and fetch serve) is cut from the stored leaves only
when somebody asks for it (``bundle_at``).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import cbor2

from ._attestation import (
    BUNDLE_TYPE,
    BatchHeader,
    Proof,
    Statement,
    _batch_signer,
    cbor_canonical,
    sign_root,
)
from ._errors import EvidenceMalformed
from ._merkle import leaf_hash, merkle_proof, merkle_root

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._attestation import Signer

# Canonical CBOR orders map keys by encoded length, then bytewise: type, proof, header, statement.
_MAP4 = b"\xa4"
_KEY_TYPE = cbor_canonical("type")
_KEY_PROOF = cbor_canonical("proof")
_KEY_HEADER = cbor_canonical("header")
_KEY_STATEMENT = cbor_canonical("statement")
_TYPE_VALUE = cbor_canonical(BUNDLE_TYPE)


def sign_compact(statements: Sequence[Statement], signer: Signer) -> tuple[BatchHeader, list[bytes]]:
    """Sign ``statements`` as one batch; returns the header and the leaves (the compact form's body).

    The same header ``sign_batch`` makes, without computing any proofs.

    Raises:
        ValueError: no statements, or a statement names another attester.
    """
    address = _batch_signer(statements, signer)
    leaves = [s.to_cbor() for s in statements]
    return sign_root(merkle_root([leaf_hash(leaf) for leaf in leaves]), len(leaves), address, signer), leaves


def open_compact(leaves: Sequence[bytes], header: BatchHeader) -> list[Statement]:
    """The statements of a complete batch, checked against the header's root (not its signature:
    ``header.signature_ok()``).

    Raises:
        EvidenceMalformed: not exactly ``header.count`` leaves, a leaf that is not a canonical
            statement, a statement by another attester, or leaves that do not hash to the root.
    """
    if not leaves or len(leaves) != header.count:
        raise EvidenceMalformed(f"a compact batch carries all {header.count} leaves, got {len(leaves)}")
    if merkle_root([leaf_hash(leaf) for leaf in leaves]) != header.root:
        raise EvidenceMalformed("the leaves do not hash to the signed root")
    statements = statements_from_leaves(leaves)
    if any(s.attester != header.attester for s in statements):
        raise EvidenceMalformed("a statement names another attester than the batch signer")
    return statements


def statements_from_leaves(leaves: Sequence[bytes]) -> list[Statement]:
    """The statements whose canonical CBOR the leaves are, in one streaming decode and one canonical
    check.

    Canonical iff each leaf is exactly one CBOR item, its keys came in canonical order, and
    re-encoding everything as decoded (cbor2 writes minimal heads and definite lengths) gives the
    same bytes: no per-leaf re-sorting or re-encoding.

    Raises:
        EvidenceMalformed: a leaf that is not CBOR, not a statement, or not the canonical encoding of one.
    """
    joined = b"".join(leaves)
    fp = io.BytesIO(joined)
    decoder = cbor2.CBORDecoder(fp, max_depth=8)
    decoded: list[Any] = []
    end = 0
    try:
        for n, leaf in enumerate(leaves):
            decoded.append(decoder.decode())
            end += len(leaf)
            if fp.tell() != end:
                raise EvidenceMalformed(f"leaf {n} is not exactly one CBOR item")
    except (cbor2.CBORError, ValueError, TypeError, RecursionError, OverflowError, LookupError) as exc:
        raise EvidenceMalformed(f"statement is not CBOR: {exc}") from exc
    statements = [Statement.from_facts(facts) for facts in decoded]
    if any(tuple(facts) not in _CANONICAL_ORDERS for facts in decoded) or cbor2.dumps(decoded) != (
        _array_head(len(decoded)) + joined
    ):
        raise EvidenceMalformed("statement CBOR is not canonical")
    for statement, leaf in zip(statements, leaves, strict=True):
        statement.__dict__["_cbor"] = leaf
    return statements


def _array_head(count: int) -> bytes:
    """The canonical CBOR head of an array of ``count`` items."""
    if count < 24:
        return bytes([0x80 + count])
    for code, width in ((0x98, 1), (0x99, 2), (0x9A, 4), (0x9B, 8)):
        if count < 1 << (8 * width):
            return bytes([code]) + count.to_bytes(width, "big")
    raise ValueError("too many items for one CBOR array")


_CANONICAL_ORDERS = frozenset(
    {
        ("slot", "result", "process", "attester", "hashpath", "device-stack"),
        ("slot", "result", "process", "attester", "evidence", "hashpath", "device-stack"),
    }
)

def _bundle(proof: Proof, leaf: bytes, encoded_header: bytes) -> bytes:
    return (
        _MAP4 + _KEY_TYPE + _TYPE_VALUE + _KEY_PROOF + cbor_canonical(proof.to_dict())
        + _KEY_HEADER + encoded_header + _KEY_STATEMENT + leaf
    )


def bundle_at(leaves: Sequence[bytes], header: BatchHeader, index: int) -> bytes:
    """The self-contained bundle of leaf ``index``: ``encode_batched_attestation(statement, proof,
    header)`` byte for byte, for leaves ``open_compact`` accepted.

    Raises:
        ValueError: ``index`` out of range.
    """
    _, path = merkle_proof([leaf_hash(leaf) for leaf in leaves], index)
    return _bundle(Proof(index=index, siblings=tuple(path)), leaves[index], header.encode())
