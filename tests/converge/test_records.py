"""The attestation index: claims refer to blobs stored once; bundles are cut from stored batches on
demand and verify on their own; records of the earlier inline layout are still read and served."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cbor2
import pytest

from attest import Statement, VerifierPolicy, sign_attestation, sign_compact
from node._store import LmdbStore
from node.peering import PeeringError, Record
from node.peering._records import AttestationIndex
from node.peering._verify import EvidenceChecker, VerifiedItem, verify_fetched, verify_gossip
from p2p import Envelope, Kind, encode_envelope

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from devices.core import RsaWallet

PROCESS = "P" * 43


def statements(attester: str, slots: range) -> list[Statement]:
    return [Statement(PROCESS, n, f"R{n:042d}", f"H{n}", ("test-exec@1.0",), attester) for n in slots]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LmdbStore]:
    with LmdbStore(tmp_path / "db", map_size_bytes=1 << 26) as s:
        yield s


def records_of(item: VerifiedItem) -> list[Record]:
    return [
        Record(PROCESS, c.statement.slot, c.statement.attester, c.statement.result, c.statement.hashpath,
               c.hardware, "peer-a", item.item_id, c.position)
        for c in item.claims
    ]


def test_a_batch_is_stored_once_and_every_claim_serves_a_verifiable_bundle(
    store: LmdbStore, wallets: list[RsaWallet]
) -> None:
    mine = statements(wallets[0].address, range(7))
    header, leaves = sign_compact(mine, wallets[0])
    data = encode_envelope(Envelope(Kind.ATTESTATION_BATCH, {"header": header.to_dict(), "leaves": leaves}))
    item = verify_gossip(data, EvidenceChecker(VerifierPolicy()))
    index = AttestationIndex(store)
    assert index.add(item.item_id, records_of(item), {item.item_id: data, "unused": b"x" * 10_000})
    assert index.seen(item.item_id)
    att = store.index("att")
    assert att.get(b"\x01blob\x00" + item.item_id.encode()) == data
    assert att.get(b"\x01blob\x00unused") is None  # only blobs a new record refers to are kept
    for st in mine:
        (record,) = index.records(PROCESS, st.slot)
        proof, evidence = index.proof(record)
        assert verify_fetched(proof).statement == st
        assert evidence == b""
    # the same claims again (a replay under another id) store nothing new
    assert index.add("other", records_of(item), {item.item_id: data}) == []


def test_a_claim_whose_blob_is_gone_is_an_error_not_a_crash(store: LmdbStore) -> None:
    index = AttestationIndex(store)
    record = Record(PROCESS, 1, "A" * 43, "R" * 43, "H", False, "peer", "missing-blob", 0)
    index.add("item", [record], {})
    with pytest.raises(PeeringError, match="missing"):
        index.proof(index.records(PROCESS, 1)[0])


def test_records_of_the_earlier_inline_layout_are_read_and_served(
    store: LmdbStore, wallets: list[RsaWallet]
) -> None:
    st = statements(wallets[1].address, range(3, 4))[0]
    blob = sign_attestation(st, wallets[1])
    legacy = cbor2.dumps(
        {"result": st.result, "hashpath": st.hashpath, "hardware": False, "origin": "old-peer",
         "item": blob, "evidence": b""},
        canonical=True,
    )
    store.index("att").put(f"{PROCESS}\x00{3:020d}\x00{st.attester}".encode(), legacy)
    index = AttestationIndex(store)
    (record,) = index.records(PROCESS, 3)
    assert (record.result, record.hashpath, record.origin) == (st.result, st.hashpath, "old-peer")
    assert record.source == ""
    assert index.proof(record) == (blob, b"")
