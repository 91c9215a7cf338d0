# ruff: noqa: E501 - GraphQL queries kept on one line
"""Property tests: the index agrees with brute force; bad input never escapes as a bare exception."""

from __future__ import annotations

import hashlib
import json
import tempfile

import h11
import lmdb
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.core import b64u_encode
from devices.gateway import GraphQLService, ItemIndex, ItemQuery, ItemRecord, TagFilter
from devices.gateway._http import parse_ranges, tag_headers
from devices.gateway._index import matches

SETTINGS = settings(max_examples=40, derandomize=True, deadline=None)

NAMES = [b"a", b"b", b"Type"]
VALUES = [b"1", b"2", b"3"]
TARGETS = [b"", bytes(32), b"\x01" * 32]
PARENTS = ["", "P" * 43, "Q" * 43]


def rec(n: int, tags, owner: int, target: int, parent: int) -> ItemRecord:
    sig = hashlib.sha512(b"%d" % n).digest()
    return ItemRecord(
        id=b64u_encode(hashlib.sha256(sig).digest()),
        signature=sig,
        signature_type=2,
        owner=bytes([owner]) * 32,
        target=TARGETS[target],
        anchor=b"",
        tags=tuple(tags),
        data_size=0,
        data_offset=0,
        bundled_in=PARENTS[parent],
    )


records_st = st.lists(
    st.tuples(
        st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES)), max_size=4),
        st.integers(0, 2),
        st.integers(0, 2),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=40,
)
tag_filter_st = st.builds(
    TagFilter,
    st.sampled_from(NAMES),
    st.lists(st.sampled_from(VALUES), min_size=1, max_size=2, unique=True).map(tuple),
    st.sampled_from(["EQ", "EQ", "NEQ"]),
)


@SETTINGS
@given(
    records=records_st,
    tags=st.lists(tag_filter_st, max_size=3).map(tuple),
    owners=st.lists(st.integers(0, 2), max_size=2),
    targets=st.lists(st.integers(1, 2), max_size=2),
    parents=st.lists(st.integers(1, 2), max_size=1),
    use_ids=st.booleans(),
    bounds=st.tuples(st.none() | st.integers(0, 45), st.none() | st.integers(0, 45)),
    first=st.integers(1, 7),
    sort=st.sampled_from(["HEIGHT_ASC", "HEIGHT_DESC"]),
)
def test_index_agrees_with_brute_force(records, tags, owners, targets, parents, use_ids, bounds, first, sort):
    with tempfile.TemporaryDirectory() as d:
        env = lmdb.open(d, max_dbs=16, sync=False)
        index = ItemIndex(env)
        stored = index.add_many([rec(i, *r) for i, r in enumerate(records)])
        q = ItemQuery(
            ids=tuple(r.id for r in stored[::3]) if use_ids else (),
            owners=tuple(b64u_encode(hashlib.sha256(bytes([o]) * 32).digest()) for o in owners),
            recipients=tuple(b64u_encode(TARGETS[t]) for t in targets),
            tags=tags,
            bundled_in=tuple(PARENTS[p] for p in parents),
            min_height=bounds[0],
            max_height=bounds[1],
            first=first,
            sort=sort,
        )
        lo, hi = bounds[0] or 0, bounds[1] if bounds[1] is not None else 10**9
        want = [r.id for r in stored if matches(r, q) and lo <= r.height <= hi]
        if sort == "HEIGHT_DESC":
            want.reverse()
        got, after = [], None
        for _ in range(100):
            page = index.query(ItemQuery(**{**_fields(q), "after": after}))
            got += [r.id for _, r in page.edges]
            assert len(page.edges) <= first
            if not page.has_next_page:
                break
            after = page.edges[-1][0]
        env.close()
        assert got == want


def _fields(q: ItemQuery) -> dict:
    return {name: getattr(q, name) for name in ItemQuery.__slots__}


@SETTINGS
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_graphql_garbage_is_400_or_200(body):
    result = _service().execute_request(body)
    assert result.status in (200, 400)
    json.dumps(result.body)


json_st = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@SETTINGS
@given(
    query=st.sampled_from(
        [
            "query($ids: [ID!]!) { transactions(ids: $ids) { edges { node { id } } } }",
            "query($t: [TagFilter!], $f: Int) { transactions(tags: $t, first: $f) { edges { cursor } } }",
            "query($b: BlockFilter, $s: SortOrder) { transactions(block: $b, sort: $s) { edges { cursor } } }",
            "query($a: String) { transactions(after: $a) { pageInfo { hasNextPage } } }",
        ]
    ),
    variables=st.dictionaries(st.sampled_from(["ids", "t", "f", "b", "s", "a"]), json_st, max_size=3),
)
def test_graphql_random_variables(query, variables):
    result = _service().execute(query, variables)
    assert result.status in (200, 400)
    json.dumps(result.body)


_SERVICE: list[GraphQLService] = []


def _service() -> GraphQLService:
    if not _SERVICE:
        _SERVICE.append(GraphQLService(ItemIndex(lmdb.open(tempfile.mkdtemp(), max_dbs=16, sync=False))))
    return _SERVICE[0]


@SETTINGS
@given(
    header=st.binary(max_size=60) | st.from_regex(rb"bytes=[0-9 ,-]{0,20}", fullmatch=True),
    size=st.integers(0, 50),
)
def test_parse_ranges_never_raises(header, size):
    ranges = parse_ranges(header, size)
    if ranges is not None:
        assert all(0 <= s <= e < size for s, e in ranges)


@SETTINGS
@given(st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=12)), max_size=8))
def test_tag_headers_are_valid_http(tags):
    headers = tag_headers(tuple(tags))
    h11.Response(status_code=200, headers=[*headers, (b"content-length", b"0")])
    assert len({n for n, _ in headers}) == len(headers)
