"""Hypothesis round trips and the fuzz invariant: garbage gives DecodeError/LimitExceeded, nothing else.

Hypothesis' own cost (about 1 ms per example here) dominates the tiny parser runs, so each fuzz
example drives a batch of parser cases, generated from drawn bytes and a drawn seed:

    random items   1,000 examples x 5 = 5,000 item parses
    mutated items    500 examples x 8 = 4,000 item parses (+ verification when they parse)
    bundles          400 examples x 5 = 2,000 bundle parses (+ member checks)
    tag regions      500 examples x 3 = 1,500 Avro decodes
                                       12,500 parser cases, derandomized
"""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.core import DecodeError, Ed25519Key
from devices.core.ans104 import (
    SIGNATURE_TYPES,
    DataItem,
    EthereumKey,
    UnsignedItem,
    decode_tags,
    encode_tags,
    parse_bundle,
    serialize_bundle,
    sign_item,
)
from tests.conftest import VECTORS

_BASE = settings(
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _fast(max_examples: int) -> settings:
    return settings(_BASE, max_examples=max_examples)


_SEEDS = st.integers(0, 2**32 - 1)
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


@_fast(200)
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


@_fast(60)
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


_TYPE_CODES = [*sorted(SIGNATURE_TYPES), 0, 8, 65535]


@_fast(1000)
@given(st.binary(max_size=400), st.sampled_from(_TYPE_CODES), _SEEDS)
def test_fuzz_random_items(raw: bytes, code: int, seed: int) -> None:
    rng = random.Random(seed)
    _parse_item_or_decode_error(raw)
    _parse_item_or_decode_error(code.to_bytes(2, "little") + raw)
    for _ in range(3):
        head = rng.choice(_TYPE_CODES).to_bytes(2, "little")
        _parse_item_or_decode_error(head + rng.randbytes(rng.randrange(1200)))


_KEY = Ed25519Key.from_seed(bytes(32))
_ETH = EthereumKey.from_secret(bytes(31) + b"\x01")
_SEED_ITEMS = [
    sign_item(
        UnsignedItem(b"data" * 5, [(b"Name", b"Value"), (b"A", b"B")], bytes(32), b"a" * 32), _KEY
    ).serialize(),
    sign_item(UnsignedItem(b"", [], b"", b""), _KEY, signature_type=4).serialize(),
    sign_item(UnsignedItem(b"eth", [(b"T", b"3")], anchor=b"b" * 32), _ETH).serialize(),
]
# A real type-1 (RSA) item when the vectors are present, so RSA verification is fuzzed too.
_SU_ITEM = VECTORS / "ans104-ao-su" / "6oYAxVAnH8yKsZKpMgHSbRv7uVWey68PAqYuSXeZBbg.bin"
if _SU_ITEM.exists():
    _SEED_ITEMS.append(_SU_ITEM.read_bytes())
_SEED_BUNDLE = serialize_bundle([DataItem.parse(r) for r in _SEED_ITEMS])


def mutate(base: bytes, seed: int) -> bytes:
    """Apply 1-4 seeded edits (bit flip, byte set, insert, delete, truncate) to ``base``.

    One drawn seed per example keeps Hypothesis' per-example cost low, so 10k cases stay fast.
    """
    rng = random.Random(seed)
    raw = bytearray(base)
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(("flip", "set", "insert", "delete", "truncate"))
        at = rng.randrange(max(1, len(raw)))
        if kind == "flip" and raw:
            raw[at] ^= 1 << rng.randrange(8)
        elif kind == "set" and raw:
            raw[at] = rng.choice((0, 1, 2, 0x7F, 0x80, 0xFF))
        elif kind == "insert":
            raw[at:at] = rng.randbytes(rng.randint(1, 8))
        elif kind == "delete":
            del raw[at : at + rng.randint(1, 8)]
        else:
            del raw[at:]
    return bytes(raw)


@_fast(500)
@given(_SEEDS)
def test_fuzz_mutated_items(seed: int) -> None:
    for i in range(8):
        _parse_item_or_decode_error(mutate(_SEED_ITEMS[i % len(_SEED_ITEMS)], seed * 8 + i))


def _parse_bundle_or_decode_error(raw: bytes) -> None:
    try:
        bundle = parse_bundle(raw, max_items=64, max_size=1 << 16)
    except DecodeError:
        return
    for check in bundle.check():  # never raises for bad members
        assert check.ok or check.reason is not None


@_fast(400)
@given(st.binary(max_size=300), _SEEDS)
def test_fuzz_bundles(raw: bytes, seed: int) -> None:
    _parse_bundle_or_decode_error(raw)
    for i in range(4):
        _parse_bundle_or_decode_error(mutate(_SEED_BUNDLE, seed * 4 + i))


def _decode_tags_or_decode_error(raw: bytes) -> None:
    try:
        decoded = decode_tags(raw)
    except DecodeError:
        return
    assert decoded.trailing_bytes <= len(raw)


@_fast(500)
@given(st.binary(max_size=200), _SEEDS)
def test_fuzz_tag_regions(raw: bytes, seed: int) -> None:
    rng = random.Random(seed)
    _decode_tags_or_decode_error(raw)
    tag = (rng.randbytes(rng.randint(1, 9)), rng.randbytes(rng.randint(1, 9)))
    good = encode_tags([tag] * rng.randint(1, 5))
    _decode_tags_or_decode_error(mutate(good, seed))
    _decode_tags_or_decode_error(rng.randbytes(rng.randrange(300)))
