from __future__ import annotations

import hashlib

import lmdb
import pytest

from devices.core import b64u_encode
from devices.gateway import ItemIndex, ItemQuery, ItemRecord, QueryError, TagFilter
from devices.gateway._index import MAX_FIRST, encode_cursor


def tf(name: str, *values: str, op: str = "EQ") -> TagFilter:
    return TagFilter(name.encode(), tuple(v.encode() for v in values), op)  # type: ignore[arg-type]


def ids(page) -> list[str]:
    return [rec.id for _, rec in page.edges]


@pytest.fixture
def corpus(index: ItemIndex, make_record) -> list[ItemRecord]:
    """20 items: owners alternate 0/1; Type alternates Message/Process; every 5th has a target."""
    out = []
    for i in range(20):
        tags = [("Data-Protocol", "ao"), ("Type", "Process" if i % 2 else "Message"), ("N", str(i))]
        target = hashlib.sha256(b"proc").digest() if i % 5 == 0 else b""
        out.append(
            index.add(
                make_record(tags=tags, owner=i % 2, target=target, bundled_in="B" * 43 if i < 3 else "")
            )
        )
    return out


def test_add_assigns_sequence_and_is_idempotent(index: ItemIndex, make_record) -> None:
    rec = make_record(tags=[("a", "b")])
    stored = index.add(rec)
    assert stored.height == 1
    assert stored.timestamp == 1_700_000_000
    assert index.add(rec) == stored
    assert index.height() == 1
    assert index.get(rec.id) == stored
    assert rec.id in index
    assert index.get("x" * 43) is None
    assert index.latest() == stored


def test_record_round_trip(make_record) -> None:
    rec = make_record(tags=[("Content-Type", "text/plain"), ("k", "v")], target=b"t" * 32, anchor=b"a" * 32)
    assert ItemRecord.from_bytes(rec.to_bytes()) == rec
    assert rec.content_type == "text/plain"
    assert rec.recipient == b64u_encode(b"t" * 32)


def test_default_sort_is_newest_first(index: ItemIndex, corpus) -> None:
    page = index.query(ItemQuery(first=5))
    assert ids(page) == [r.id for r in reversed(corpus)][:5]
    assert page.has_next_page
    asc = index.query(ItemQuery(first=5, sort="HEIGHT_ASC"))
    assert ids(asc) == [r.id for r in corpus[:5]]


def test_tag_values_or_and_filters_and(index: ItemIndex, corpus) -> None:
    page = index.query(ItemQuery(tags=(tf("N", "3", "4", "7"),), first=100, sort="HEIGHT_ASC"))
    assert ids(page) == [corpus[3].id, corpus[4].id, corpus[7].id]
    page = index.query(ItemQuery(tags=(tf("N", "3", "4", "7"), tf("Type", "Process")), first=100))
    assert ids(page) == [corpus[7].id, corpus[3].id]
    page = index.query(ItemQuery(tags=(tf("Type", "Process"), tf("Data-Protocol", "ao")), first=100))
    assert len(page.edges) == 10
    assert not page.has_next_page
    # exact name match: HB lower-cases names, gateways do not
    assert index.query(ItemQuery(tags=(tf("type", "Process"),))).edges == ()
    assert index.query(ItemQuery(tags=(tf("Type", "Nope"),))).edges == ()


def test_neq_tag_filter(index: ItemIndex, corpus) -> None:
    page = index.query(ItemQuery(tags=(tf("Type", "Message", op="NEQ"),), first=100))
    assert {r.id for _, r in page.edges} == {r.id for r in corpus[1::2]}


def test_owners_recipients_bundled_in(index: ItemIndex, corpus, addr) -> None:
    page = index.query(ItemQuery(owners=(addr(1),), first=100))
    assert {r.id for _, r in page.edges} == {r.id for r in corpus[1::2]}
    # an owner key (longer than an address) is accepted too
    key = b64u_encode(corpus[0].owner)
    assert len(index.query(ItemQuery(owners=(key,), first=100)).edges) == 10
    both = index.query(ItemQuery(owners=(addr(0), addr(1)), first=100))
    assert len(both.edges) == 20
    rcpt = b64u_encode(hashlib.sha256(b"proc").digest())
    page = index.query(ItemQuery(recipients=(rcpt,), first=100, sort="HEIGHT_ASC"))
    assert ids(page) == [corpus[i].id for i in (0, 5, 10, 15)]
    page = index.query(ItemQuery(recipients=(rcpt,), owners=(addr(1),), first=100, sort="HEIGHT_ASC"))
    assert ids(page) == [corpus[i].id for i in (5, 15)]
    page = index.query(ItemQuery(bundled_in=("B" * 43,), first=100, sort="HEIGHT_ASC"))
    assert ids(page) == [corpus[i].id for i in range(3)]


def test_ids_with_other_filters(index: ItemIndex, corpus, addr) -> None:
    wanted = (corpus[2].id, corpus[3].id, "unknown" + "x" * 36)
    assert ids(index.query(ItemQuery(ids=wanted))) == [corpus[3].id, corpus[2].id]
    assert ids(index.query(ItemQuery(ids=wanted, owners=(addr(0),)))) == [corpus[2].id]
    assert ids(index.query(ItemQuery(ids=wanted, tags=(tf("Type", "Process"),)))) == [corpus[3].id]


@pytest.mark.parametrize("sort", ["HEIGHT_DESC", "HEIGHT_ASC"])
def test_cursor_pagination_visits_everything_once(index: ItemIndex, corpus, sort) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = index.query(ItemQuery(tags=(tf("Data-Protocol", "ao"),), first=3, after=after, sort=sort))
        seen += ids(page)
        pages += 1
        if not page.has_next_page:
            break
        after = page.edges[-1][0]
    expected = [r.id for r in corpus]
    assert seen == (expected if sort == "HEIGHT_ASC" else expected[::-1])
    assert pages == 7


def test_block_range_bounds_heights(index: ItemIndex, corpus) -> None:
    page = index.query(ItemQuery(min_height=5, max_height=7, sort="HEIGHT_ASC"))
    assert [r.height for _, r in page.edges] == [5, 6, 7]
    page = index.query(ItemQuery(tags=(tf("Type", "Process"),), max_height=6, first=100))
    assert [r.height for _, r in page.edges] == [6, 4, 2]
    assert index.query(ItemQuery(min_height=50)).edges == ()


def test_bounds(index: ItemIndex, corpus) -> None:
    assert len(index.query(ItemQuery(first=10_000)).edges) == 20
    with pytest.raises(QueryError, match="ids"):
        index.query(ItemQuery(ids=tuple("x" * 43 for _ in range(101))))
    with pytest.raises(QueryError, match="tag filters"):
        index.query(ItemQuery(tags=tuple(tf("a", "b") for _ in range(11))))
    with pytest.raises(QueryError, match="at least one value"):
        index.query(ItemQuery(tags=(TagFilter(b"a", ()),)))
    with pytest.raises(QueryError, match="cursor"):
        index.query(ItemQuery(after="not a cursor!"))
    with pytest.raises(QueryError, match="cursor"):
        index.query(ItemQuery(after="AAAA"))
    with pytest.raises(QueryError, match="negative"):
        index.query(ItemQuery(first=-1))
    assert index.query(ItemQuery(first=0)).has_next_page


def test_page_size_is_clamped(index: ItemIndex, make_record) -> None:
    for _i in range(MAX_FIRST + 5):
        index.add(make_record(tags=[("k", "v")]))
    page = index.query(ItemQuery(tags=(tf("k", "v"),), first=1000))
    assert len(page.edges) == MAX_FIRST
    assert page.has_next_page
    assert page.edges[0][0] == encode_cursor(MAX_FIRST + 5)


def test_binary_tags_and_durability(tmp_path, make_record) -> None:
    path = str(tmp_path / "db2")
    e = lmdb.open(path, max_dbs=16)
    rec = make_record(tags=((b"\xff\x00", b"\x80" * 4000),))
    ItemIndex(e).add(rec)
    e.close()
    e = lmdb.open(path, max_dbs=16)
    idx = ItemIndex(e)
    got = idx.query(ItemQuery(tags=(TagFilter(b"\xff\x00", (b"\x80" * 4000,)),)))
    assert ids(got) == [rec.id]
    e.close()


def test_leapfrog_matches_brute_force(index: ItemIndex, make_record) -> None:
    recs = []
    for i in range(300):
        tags = [("a", str(i % 3)), ("b", str(i % 7)), ("c", str(i % 11))]
        recs.append(index.add(make_record(tags=tags, owner=i % 4)))
    for sort in ("HEIGHT_ASC", "HEIGHT_DESC"):
        q = ItemQuery(tags=(tf("a", "1", "2"), tf("b", "3"), tf("c", "0", "5", "9")), first=100, sort=sort)
        want = [
            r.id
            for r in recs
            if r.tags[0][1] in (b"1", b"2") and r.tags[1][1] == b"3" and r.tags[2][1] in (b"0", b"5", b"9")
        ]
        if sort == "HEIGHT_DESC":
            want.reverse()
        assert ids(index.query(q)) == want
        assert want


def test_add_many_in_one_transaction(index: ItemIndex, make_record) -> None:
    a, b = make_record(tags=[("k", "1")]), make_record(tags=[("k", "2")])
    first = index.add(a)
    out = index.add_many([a, b, b])
    assert out[0] == first
    assert out[1].height == 2
    assert out[2] == out[1]
    assert index.height() == 2
    assert ids(index.query(ItemQuery(tags=(tf("k", "2"),)))) == [b.id]


def test_public_names_are_exported_once() -> None:
    import devices.gateway as gw

    assert len(gw.__all__) == len(set(gw.__all__))
    for name in gw.__all__:
        assert getattr(gw, name).__module__.startswith("devices.gateway")
