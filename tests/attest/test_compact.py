"""The compact batch form: statement leaves (the fast encoding is the canonical one), the root
recomputed from all leaves, and bundles cut from them equal to the proof form's, byte for byte."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings

from attest import (
    EvidenceMalformed,
    Statement,
    bundle_at,
    encode_batched_attestation,
    open_compact,
    sign_batch,
    sign_compact,
    verify_batched_attestation,
)
from attest._attestation import cbor_canonical
from attest._compact import statements_from_leaves
from tests.attest import _strategies as strategies

if TYPE_CHECKING:
    from devices.core import Ed25519Key, RsaWallet

statements = strategies.statements()


def _statements(attester: str, count: int, evidence: str | None = None) -> list[Statement]:
    return [
        Statement("P" * 43, i, f"{i:043d}", f"H{i}", ("wasm-64@1.0",), attester, evidence)
        for i in range(count)
    ]


@settings(max_examples=300, derandomize=True)
@given(statements)
def test_fast_encoding_is_the_canonical_one_and_round_trips(statement: Statement) -> None:
    leaf = statement.to_cbor()
    assert leaf == cbor_canonical(statement.facts())
    assert statements_from_leaves([leaf])[0] == statement


@pytest.mark.parametrize(
    "leaf",
    [b"", b"\xff", b"\xa0", b"\x01", cbor_canonical({"slot": 1}), cbor_canonical([1, 2])],
)
def test_a_leaf_that_is_not_a_statement_is_malformed(leaf: bytes) -> None:
    with pytest.raises(EvidenceMalformed):
        statements_from_leaves([leaf])[0]


def test_a_non_canonical_leaf_is_malformed(ed_key: Ed25519Key) -> None:
    import cbor2

    statement = _statements(ed_key.address, 1)[0]
    unsorted = cbor2.dumps(statement.facts())  # the same facts, keys in insertion order
    assert unsorted != statement.to_cbor()
    with pytest.raises(EvidenceMalformed, match="canonical"):
        statements_from_leaves([unsorted])


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 65, 300])
def test_bundles_match_the_proof_form_byte_for_byte(size: int, ed_key: Ed25519Key) -> None:
    mine = _statements(ed_key.address, size, evidence="E" * 43 if size % 2 else None)
    header, leaves = sign_compact(mine, ed_key)
    proof_header, proofs = sign_batch(mine, ed_key)  # ed25519 is deterministic: the same header
    assert header == proof_header
    assert open_compact(leaves, header) == mine
    for n in {0, size // 2, size - 1}:
        bundle = bundle_at(leaves, header, n)
        assert bundle == encode_batched_attestation(mine[n], proofs[n], header)
        assert verify_batched_attestation(bundle).valid
    with pytest.raises(ValueError, match="leaf"):
        bundle_at(leaves, header, size)


def test_incomplete_reordered_or_altered_batches_do_not_open(
    ed_key: Ed25519Key, rsa_wallet: RsaWallet
) -> None:
    mine = _statements(ed_key.address, 5)
    header, leaves = sign_compact(mine, ed_key)
    changed = dataclasses.replace(mine[2], result="X" * 43).to_cbor()
    for bad in (
        leaves[:4],  # one missing
        [*leaves, leaves[0]],  # one extra
        [leaves[1], leaves[0], *leaves[2:]],  # reordered
        [*leaves[:2], changed, *leaves[3:]],
        [],
    ):
        with pytest.raises(EvidenceMalformed):
            open_compact(bad, header)
    # statements by someone else, even when they hash to the header's root
    theirs = _statements(rsa_wallet.address, 5)
    their_header, their_leaves = sign_compact(theirs, rsa_wallet)
    with pytest.raises(EvidenceMalformed, match="attester"):
        open_compact(their_leaves, dataclasses.replace(their_header, attester=ed_key.address))
    with pytest.raises(ValueError, match="attester"):
        sign_compact(theirs, ed_key)


def test_leaves_must_each_be_exactly_one_statement(ed_key: Ed25519Key) -> None:
    a, b = (s.to_cbor() for s in _statements(ed_key.address, 2))
    assert statements_from_leaves([a, b]) == _statements(ed_key.address, 2)
    # the same bytes cut elsewhere: every leaf must hold one whole item
    for bad in ([a + b[:5], b[5:]], [a[:-3], a[-3:] + b], [a + b], [a, b, b""]):
        with pytest.raises(EvidenceMalformed, match=r"exactly one CBOR item|not CBOR"):
            statements_from_leaves(bad)
    assert b[0] == 0xA6  # a map of six
    with pytest.raises(EvidenceMalformed, match="canonical"):
        statements_from_leaves([a, b"\xb8\x06" + b[1:]])  # the same map, its length in a longer head
