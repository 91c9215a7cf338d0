"""The compact gossip form of a signed batch: every statement plus the header, no per-leaf proofs.

A receiver that holds *all* ``header.count`` statements recomputes the Merkle root in one pass over the
leaves and compares it with the signed root; the per-statement inclusion proofs fall out of the same
pass (``batch_bundles``), and so do the self-contained single-statement bundles
(``encode_batched_attestation``) kept for catch-up and fetch, built encoding the header once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._attestation import BUNDLE_TYPE, BatchHeader, Proof, Statement, cbor_canonical
from ._merkle import leaf_hash, merkle_tree_proofs

if TYPE_CHECKING:
    from collections.abc import Sequence

# Canonical CBOR orders map keys by encoded length, then bytewise: type, proof, header, statement.
_MAP4 = b"\xa4"
_KEY_TYPE = cbor_canonical("type")
_KEY_PROOF = cbor_canonical("proof")
_KEY_HEADER = cbor_canonical("header")
_KEY_STATEMENT = cbor_canonical("statement")
_TYPE_VALUE = cbor_canonical(BUNDLE_TYPE)


def batch_bundles(
    statements: Sequence[Statement], header: BatchHeader
) -> tuple[list[Proof], list[bytes]] | None:
    """For a complete batch: each statement's inclusion proof and its self-contained bundle
    (``encode_batched_attestation(statement, proof, header)``, byte for byte, the header encoded once).

    None when ``statements`` are not exactly the ``header.count`` statements, all by
    ``header.attester``, whose Merkle root ``header`` signs. The header signature is *not* checked
    here (``header.signature_ok()``).
    """
    if not statements or len(statements) != header.count:
        return None
    if any(s.attester != header.attester for s in statements):
        return None
    encoded = [s.to_cbor() for s in statements]
    root, paths = merkle_tree_proofs([leaf_hash(e) for e in encoded])
    if root != header.root:
        return None
    proofs = [Proof(index=i, siblings=tuple(p)) for i, p in enumerate(paths)]
    prefix = _MAP4 + _KEY_TYPE + _TYPE_VALUE + _KEY_PROOF
    middle = _KEY_HEADER + header.encode() + _KEY_STATEMENT
    bundles = [
        prefix + cbor_canonical(p.to_dict()) + middle + e for p, e in zip(proofs, encoded, strict=True)
    ]
    return proofs, bundles
