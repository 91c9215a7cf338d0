"""The compact batch form: the root recomputed from all statements, bundles built with one header encoding."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from attest import (
    Statement,
    batch_bundles,
    encode_batched_attestation,
    sign_batch,
    verify_batched_attestation,
)

if TYPE_CHECKING:
    from devices.core import Ed25519Key, RsaWallet


def _statements(attester: str, count: int, evidence: str | None = None) -> list[Statement]:
    return [
        Statement("P" * 43, i, f"{i:043d}", f"H{i}", ("wasm-64@1.0",), attester, evidence)
        for i in range(count)
    ]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 65, 300])
def test_bundles_match_the_proof_form_byte_for_byte(size: int, ed_key: Ed25519Key) -> None:
    statements = _statements(ed_key.address, size, evidence="E" * 43 if size % 2 else None)
    header, proofs = sign_batch(statements, ed_key)
    checked = batch_bundles(statements, header)
    assert checked is not None
    got_proofs, bundles = checked
    assert got_proofs == proofs
    for statement, proof, bundle in zip(statements, proofs, bundles, strict=True):
        assert bundle == encode_batched_attestation(statement, proof, header)
    assert verify_batched_attestation(bundles[-1]).valid


def test_incomplete_reordered_or_altered_batches_do_not_match(
    ed_key: Ed25519Key, rsa_wallet: RsaWallet
) -> None:
    statements = _statements(ed_key.address, 5)
    header, _ = sign_batch(statements, ed_key)
    assert batch_bundles(statements[:4], header) is None  # one missing
    assert batch_bundles([*statements, statements[0]], header) is None  # one extra
    assert batch_bundles([statements[1], statements[0], *statements[2:]], header) is None  # reordered
    changed = [*statements[:2], dataclasses.replace(statements[2], result="X" * 43), *statements[3:]]
    assert batch_bundles(changed, header) is None
    assert batch_bundles([], header) is None
    # statements by someone else, even when they hash to the header's root
    theirs = _statements(rsa_wallet.address, 5)
    their_header, _ = sign_batch(theirs, rsa_wallet)
    assert batch_bundles(theirs, dataclasses.replace(their_header, attester=ed_key.address)) is None
