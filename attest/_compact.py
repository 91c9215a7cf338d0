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
from itertools import chain, repeat
from operator import attrgetter, itemgetter
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
from ._merkle import data_root, leaf_hash, merkle_proof

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
    return sign_root(data_root(leaves), len(leaves), address, signer), leaves


def open_compact(leaves: Sequence[bytes], header: BatchHeader) -> list[Statement]:
    """The statements of a complete batch, checked against the header's root (not its signature:
    ``header.signature_ok()``).

    Raises:
        EvidenceMalformed: not exactly ``header.count`` leaves, a leaf that is not a canonical
            statement, a statement by another attester, or leaves that do not hash to the root.
    """
    if not leaves or len(leaves) != header.count:
        raise EvidenceMalformed(f"a compact batch carries all {header.count} leaves, got {len(leaves)}")
    if data_root(leaves) != header.root:
        raise EvidenceMalformed("the leaves do not hash to the signed root")
    statements = statements_from_leaves(leaves)
    if set(map(_ATTESTER, statements)) != {header.attester}:
        raise EvidenceMalformed("a statement names another attester than the batch signer")
    return statements


def statements_from_leaves(leaves: Sequence[bytes]) -> list[Statement]:
    """The statements whose canonical CBOR the leaves are.

    Raises:
        EvidenceMalformed: a leaf that is not CBOR, not a statement, or not the canonical encoding of one.
    """
    fast = _usual_statements(leaves)
    return fast if fast is not None else _checked_statements(leaves)


def _usual_statements(leaves: Sequence[bytes]) -> list[Statement] | None:
    """The statements of ``leaves`` when every leaf is what ``Statement.to_cbor`` writes, or None (then
    ``_checked_statements`` decides, and says what is wrong).

    A handful of passes over the whole batch instead of checks per statement: one decode of all leaves
    as one array, then every item a map with its keys in a canonical order, its values of exactly the
    types a statement has (evidence, when present, is text), slots not negative, device stacks of text,
    and each leaf equal to its item re-encoded (cbor2 writes minimal heads and definite lengths). The
    last check pins the leaf boundaries too: a leaf equal to one whole item's encoding is exactly that
    item, so the items the array decode found start and end where the leaves do. Whatever this accepts
    ``_checked_statements`` accepts, as the same statements (tests check it).
    """
    try:
        decoded = cbor2.loads(_array_head(len(leaves)) + b"".join(leaves), max_depth=8)
        if (
            set(map(type, decoded)) != {dict}
            or not set(map(tuple, decoded)) <= _CANONICAL_ORDERS
            or not set(map(tuple, map(map, repeat(type), map(dict.values, decoded)))) <= _USUAL_TYPES
            or not set(map(type, chain.from_iterable(map(_STACK, decoded)))) <= {str}
            or min(map(_SLOT, decoded)) < 0
            or list(map(cbor2.dumps, decoded)) != list(leaves)
        ):
            return None
    except (cbor2.CBORError, ValueError, TypeError, RecursionError, OverflowError, LookupError):
        return None
    # Every field was just checked: each decoded map becomes its statement's attributes (the frozen
    # instance filled directly), with the leaf memoised as its encoding.
    new, set_attribute = object.__new__, object.__setattr__
    statements: list[Statement] = []
    append = statements.append
    for facts, leaf in zip(decoded, leaves, strict=True):
        facts["device_stack"] = tuple(facts.pop("device-stack"))
        facts.setdefault("evidence", None)
        facts["_cbor"] = leaf
        statement = new(Statement)
        set_attribute(statement, "__dict__", facts)
        append(statement)
    return statements


def _checked_statements(leaves: Sequence[bytes]) -> list[Statement]:
    """``statements_from_leaves``, one check at a time: one streaming decode (each leaf exactly one
    item), ``Statement.from_facts`` per item, and one canonical check (keys in canonical order, and
    re-encoding everything as decoded gives the same bytes).

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
# The value types of those keys, in that order, as ``Statement.to_cbor`` writes them.
_USUAL_TYPES = frozenset({(int, str, str, str, str, list), (int, str, str, str, str, str, list)})
_SLOT = itemgetter("slot")
_STACK = itemgetter("device-stack")
_ATTESTER = attrgetter("attester")


def _bundle(proof: Proof, leaf: bytes, encoded_header: bytes) -> bytes:
    return (
        _MAP4
        + _KEY_TYPE
        + _TYPE_VALUE
        + _KEY_PROOF
        + cbor_canonical(proof.to_dict())
        + _KEY_HEADER
        + encoded_header
        + _KEY_STATEMENT
        + leaf
    )


def bundle_at(leaves: Sequence[bytes], header: BatchHeader, index: int) -> bytes:
    """The self-contained bundle of leaf ``index``: ``encode_batched_attestation(statement, proof,
    header)`` byte for byte, for leaves ``open_compact`` accepted.

    Raises:
        ValueError: ``index`` out of range.
    """
    _, path = merkle_proof([leaf_hash(leaf) for leaf in leaves], index)
    return _bundle(Proof(index=index, siblings=tuple(path)), leaves[index], header.encode())
