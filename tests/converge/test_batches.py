"""``_batches``: how the sender cuts statements into gossip messages and signs them."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest

from attest import Statement, VerifierPolicy
from devices.core import b64u_encode
from node.peering import GOSSIP_BATCH_BYTES, verify_gossip
from node.peering._batches import chunks, signed_messages
from node.peering._verify import MAX_BATCH_ITEMS, EvidenceChecker
from p2p import EnvelopeTooLarge

if TYPE_CHECKING:
    from devices.core import RsaWallet


def _statements(wallet: RsaWallet, count: int, hashpath_bytes: int, seed: int = 1) -> list[Statement]:
    noise = random.Random(seed)  # random hashpaths deflate little: the wire cap binds
    return [
        Statement(
            "P" * 43, n, "R" * 43, b64u_encode(noise.randbytes(hashpath_bytes)), ("d@1.0",), wallet.address
        )
        for n in range(count)
    ]


def test_chunks_keep_a_usual_batch_whole_and_cut_by_count_and_by_inflated_size(
    wallets: list[RsaWallet],
) -> None:
    usual = _statements(wallets[0], MAX_BATCH_ITEMS, 32)
    assert chunks(usual, 0) == [usual]
    many = _statements(wallets[0], MAX_BATCH_ITEMS + 5, 32)
    assert [len(part) for part in chunks(many, 0)] == [MAX_BATCH_ITEMS, 5]
    big = _statements(wallets[0], 100, 15_000)  # ~20 KiB leaves: 896 KiB inflated holds 44 of them
    parts = chunks(big, 0)
    assert [s for part in parts for s in part] == big
    assert len(parts) == 3
    assert chunks(big, 200_000) != parts  # the node's evidence takes room from every message


def test_signed_messages_halve_a_part_too_large_even_deflated(wallets: list[RsaWallet]) -> None:
    batch = _statements(wallets[0], 40, 15_000)  # ~800 KiB inflated, ~600 KiB deflated
    signed = signed_messages(batch, wallets[0], None)
    assert len(signed) == 4  # halved twice
    assert [s for part, _, _ in signed for s in part] == batch
    checker = EvidenceChecker(VerifierPolicy())
    for part, header, data in signed:
        assert len(data) <= GOSSIP_BATCH_BYTES
        item = verify_gossip(data, checker)
        assert item.item_id == header.id
        assert [claim.statement for claim in item.claims] == part


def test_a_statement_that_fits_no_message_is_refused(wallets: list[RsaWallet]) -> None:
    (alone,) = _statements(wallets[0], 1, 300_000)
    with pytest.raises(EnvelopeTooLarge, match="exceeds the 229376-byte cap"):
        signed_messages([alone], wallets[0], None)
