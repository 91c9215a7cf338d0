"""The receiver's batch-at-once paths against the one-record-at-a-time ones they replace: records of a
compact batch, keys and values as ``prepare`` encodes them, and ``commit`` of claims that are new,
known, repeated within an item or equivocating."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest import Statement
from node._errors import StoreError
from node._store import IndexTxn, LmdbStore
from node.peering import Record
from node.peering._ingest import blob_name, records_of
from node.peering._records import AttestationIndex, _key
from node.peering._verify import Claim, VerifiedItem

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LmdbStore]:
    with LmdbStore(tmp_path / "db", map_size_bytes=1 << 26) as s:
        yield s


def _reference_records(item: VerifiedItem, origin: str) -> list[Record]:
    """What ``records_of`` made one claim at a time before it had a compact-batch path."""
    evidence = "evidence:" + blob_name(item.evidence) if item.evidence else ""
    out = []
    for claim in item.claims:
        st = claim.statement
        source, position = item.item_id, claim.position
        if claim.item is not None:
            source, position = blob_name(claim.item), -1
        out.append(Record(st.process, st.slot, st.attester, st.result, st.hashpath, claim.hardware, origin,
                          source, position, evidence if st.evidence is not None else ""))
    return out


text = st.text(max_size=12)
statements = st.builds(
    Statement, process=text, slot=st.integers(0, 2**64 - 1), result=text, hashpath=text,
    device_stack=st.just(("test-exec@1.0",)), attester=text, evidence=st.none() | text,
)


@settings(max_examples=150, derandomize=True)
@given(
    st.lists(st.tuples(statements, st.booleans(), st.none() | st.binary(max_size=4)), min_size=1, max_size=5),
    st.booleans(),
    st.binary(max_size=3),
)
def test_records_of_equal_the_one_at_a_time_records(
    claims: list[tuple[Statement, bool, bytes | None]], batch: bool, evidence: bytes
) -> None:
    item = VerifiedItem(
        "item-id", "att", tuple(Claim(s, hw, blob, n) for n, (s, hw, blob) in enumerate(claims)),
        batch=b"batch" if batch else None, evidence=evidence,
    )
    records, blobs = records_of(item, "origin")
    assert records == _reference_records(item, "origin")
    assert all(type(r) is Record for r in records)
    assert {blob_name(c.item): c.item for c in item.claims if c.item is not None}.items() <= blobs.items()
    prepared = AttestationIndex.prepare([(item.item_id, records, blobs)])[0]
    assert prepared.keys == [_key(r) for r in records]
    assert prepared.values == [r.encode() for r in records]
    pairs = zip(records, prepared.values, strict=True)
    assert [Record.decode(r.process, r.slot, r.attester, v) for r, v in pairs] == records


def _record(slot: int, result: str = "R", source: str = "src") -> Record:
    return Record("P", slot, "A", result, "H", False, "peer", source, slot)


def test_commit_keeps_first_claims_counts_equivocations_and_writes_new_ones_blobs(store: LmdbStore) -> None:
    index = AttestationIndex(store)
    first = [_record(1), _record(2)]
    assert index.add("one", first, {"src": b"batch-one"}) == first
    # known (same claim), equivocating, new, and repeated inside the item (the first one wins)
    again = [_record(1, source="two"), _record(2, "X", "two"), _record(3, source="two"),
             _record(4, source="two"), _record(4, "Y", "two")]
    assert index.add("two", again, {"two": b"batch-two", "unused": b"u"}) == [again[2], again[3]]
    assert index.equivocations == 2
    assert [r.result for r in index.records("P", 4)] == ["R"]
    assert [r.source for r in index.records("P", 1)] == ["src"]
    assert store.index("att").get(b"\x01blob\x00two") == b"batch-two"
    assert store.index("att").get(b"\x01blob\x00unused") is None
    assert index.seen("one")
    assert index.seen("two")
    # nothing new: no blob is written, the item is still marked seen
    assert index.add("three", [_record(1, source="three")], {"three": b"batch-three"}) == []
    assert store.index("att").get(b"\x01blob\x00three") is None
    assert index.seen("three")


def test_a_group_commit_sees_its_own_earlier_items(store: LmdbStore) -> None:
    index = AttestationIndex(store)
    fresh = index.add_many([("a", [_record(5)], {}), ("b", [_record(5), _record(6, "Z")], {})])
    assert fresh == [[_record(5)], [_record(6, "Z")]]
    assert index.equivocations == 0


def test_an_oversized_key_fails_the_whole_commit(store: LmdbStore) -> None:
    index = AttestationIndex(store)
    big = Record("P" * 600, 1, "A", "R", "H", False, "peer", "src", 0)
    with pytest.raises(StoreError):
        index.add("x", [_record(1), big])
    assert index.records("P", 1) == []
    assert not index.seen("x")


def test_index_txn_batch_reads_and_writes(store: LmdbStore) -> None:
    att = store.index("att")
    att.put(b"a", b"1")

    def write(txn: IndexTxn) -> tuple[dict[bytes, bytes], int]:
        found = txn.found([b"a", b"b", b"a"])
        return found, txn.put_absent([b"a", b"c", b"c", b"d"], [b"2", b"3", b"4", b"5"])

    assert att.update(write) == ({b"a": b"1"}, 2)  # a is kept, and the first of the two c's
    assert att.get_many([b"a", b"c", b"d"]) == [b"1", b"3", b"5"]
    for bad in ([b""], [b"k" * 512]):

        def read(txn: IndexTxn, keys: list[bytes] = bad) -> object:
            return txn.found(keys)

        def put(txn: IndexTxn, keys: list[bytes] = bad) -> object:
            return txn.put_absent(keys, [b"v"])

        for fn in (read, put):
            with pytest.raises(StoreError):
                att.update(fn)
