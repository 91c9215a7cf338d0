"""Hypothesis round trips and the fuzz invariant: garbage gives DecodeError/LimitExceeded, nothing else.

Fuzz budget: 4,000 random items + 3,000 mutated items + 2,000 bundles + 1,500 tag regions
= 10,500 parser runs, derandomized.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.core import DecodeError, Ed25519Key
from devices.core.ans104 import (
    SIGNATURE_TYPES,
    DataItem,
    UnsignedItem,
    decode_tags,
    encode_tags,
    parse_bundle,
    serialize_bundle,
    sign_item,
)

_BASE = settings(
    derandomize=True,
    database=None,
    deadline=timedelta(milliseconds=500),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _fast(max_examples: int) -> settings:
    return settings(_BASE, max_examples=max_examples)


tag_st = st.tuples(st.binary(min_size=1, max_size=40), st.binary(min_size=1, max_size=60))
tags_st = st.lists(tag_st, max_size=20).map(tuple)


@st.composite
def items(draw: st.DrawFn) -> DataItem:
    code = draw(st.sampled_from(sorted(SIGNATURE_TYPES)))
    spec = SIGNATURE_TYPES[code]
    return DataItem(
        signature_type=code,
        signature=draw(st.binary(min_size=spec.signature_len, max_size=spec.signature_len)),
        owner=draw(st.binary(min_size=spec.owner_len, max_size=spec.owner_len)),
        target=draw(st.sampled_from([b"", bytes(32)]) | st.binary(min_size=32, max_size=32)),
        anchor=draw(st.just(b"") | st.binary(min_size=32, max_size=32)),
        tags=draw(tags_st),
        data=draw(st.binary(max_size=300)),
    )


@_fast(300)
@given(items())
def test_item_round_trip(item: DataItem) -> None:
    raw = item.serialize()
    again = DataItem.parse(raw)
    assert again == item
    assert again.serialize() == raw


@_fast(300)
@given(tags_st)
def test_tags_round_trip(tags: tuple[tuple[bytes, bytes], ...]) -> None:
    assert decode_tags(encode_tags(tags)).tags == tags


@_fast(100)
@given(st.lists(items(), max_size=5))
def test_bundle_round_trip(members: list[DataItem]) -> None:
    bundle = parse_bundle(serialize_bundle(members))
    assert [item for _, item in bundle.members()] == members


def _parse_item_or_decode_error(raw: bytes) -> None:
    try:
        item = DataItem.parse(raw, max_size=8192)
    except DecodeError:  # LimitExceeded is a DecodeError
        return
    assert item.serialize() == raw  # whatever parses re-serialises to the same bytes
    assert isinstance(item.verify(), bool)
    item.strict_issues()


@_fast(4000)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.tuples(st.sampled_from([*sorted(SIGNATURE_TYPES), 0, 8, 65535]), st.binary(max_size=300)).map(
            lambda p: p[0].to_bytes(2, "little") + p[1]
        ),
    )
)
def test_fuzz_random_items(raw: bytes) -> None:
    _parse_item_or_decode_error(raw)


_KEY = Ed25519Key.from_seed(bytes(32))
_SEED_ITEMS = [
    sign_item(
        UnsignedItem(b"data" * 5, [(b"Name", b"Value"), (b"A", b"B")], bytes(32), b"a" * 32), _KEY
    ).serialize(),
    sign_item(UnsignedItem(b"", [], b"", b""), _KEY, signature_type=4).serialize(),
]
_SEED_BUNDLE = serialize_bundle([DataItem.parse(r) for r in _SEED_ITEMS])


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    raw = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        if kind == "flip" and raw:
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and raw:
            raw[at] = draw(st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xFF]))
        elif kind == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del raw[at : at + draw(st.integers(1, 8))]
        else:
            del raw[at:]
    return bytes(raw)


@_fast(3000)
@given(st.sampled_from(_SEED_ITEMS).flatmap(lambda base: mutated(base)))
def test_fuzz_mutated_items(raw: bytes) -> None:
    _parse_item_or_decode_error(raw)


@_fast(2000)
@given(st.one_of(st.binary(max_size=300), mutated(_SEED_BUNDLE)))
def test_fuzz_bundles(raw: bytes) -> None:
    try:
        bundle = parse_bundle(raw, max_items=64, max_size=1 << 16)
    except DecodeError:
        return
    for check in bundle.check():  # never raises for bad members
        assert check.ok or check.reason is not None


@_fast(1500)
@given(st.binary(max_size=200))
def test_fuzz_tag_regions(raw: bytes) -> None:
    try:
        decoded = decode_tags(raw)
    except DecodeError:
        return
    assert decoded.trailing_bytes <= len(raw)
