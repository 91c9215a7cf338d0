"""The compact gossip form of a signed batch: every statement's leaf bytes plus the header, no proofs.

A batch's leaves are the statements' canonical CBOR (``Statement.to_cbor``), in batch order; the
header signs their Merkle root. A receiver holding *all* ``header.count`` leaves hashes each once,
recomputes the root and compares it with the signed root (``open_compact``): no re-encoding of
statements, no per-leaf proofs on the wire. The self-contained single-statement bundle
(``encode_batched_attestation``, what catch-up and fetch serve) is cut from the stored leaves only
when somebody asks for it (``bundle_at``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._attestation import (
    BUNDLE_TYPE,
    BatchHeader,
    Proof,
    Statement,
    _batch_signer,
    cbor_canonical,
    sign_root,
    statements_from_leaves,
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
