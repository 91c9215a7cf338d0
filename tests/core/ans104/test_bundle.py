"""Binary bundles: layout, header checks, per-member reporting, endianness (spec §3.1, §9.4)."""

from __future__ import annotations

import pytest

from devices.core import DecodeError, Ed25519Key, LimitExceeded, RsaWallet
from devices.core.ans104 import DataItem, EthereumKey, UnsignedItem, parse_bundle, serialize_bundle, sign_item


@pytest.fixture(scope="module")
def members(rsa_wallet: RsaWallet, ed_key: Ed25519Key, eth_key: EthereumKey) -> list[DataItem]:
    return [
        sign_item(UnsignedItem(b"one", [(b"n", b"1")]), ed_key),
        sign_item(UnsignedItem(b"two" * 100, [(b"n", b"2")]), eth_key),
        sign_item(UnsignedItem(b"three", [(b"n", b"3")], anchor=bytes(32)), rsa_wallet),
        sign_item(UnsignedItem(b"four"), ed_key, signature_type=4),
    ]


def _be(raw_le: bytes, sizes: list[int]) -> bytes:
    """Rewrite a little-endian bundle header as HyperBEAM's legacy big-endian one."""
    n = len(sizes)
    out = bytearray(raw_le)
    out[0:32] = n.to_bytes(32, "big")
    for i, size in enumerate(sizes):
        out[32 + 64 * i : 64 + 64 * i] = size.to_bytes(32, "big")
    return bytes(out)


def test_round_trip_little_endian(members: list[DataItem]) -> None:
    raw = serialize_bundle(members)
    assert raw[:32] == (4).to_bytes(32, "little")
    bundle = parse_bundle(raw)
    assert not bundle.legacy_big_endian
    assert [e.header_id for e in bundle.entries] == [m.raw_id for m in members]
    assert [item for _, item in bundle.members()] == members
    offset = 32 + 64 * 4
    for entry, member in zip(bundle.entries, members, strict=True):
        assert entry.offset == offset
        assert entry.size == len(member.serialize())
        offset += entry.size
    assert bundle.verify()
    assert serialize_bundle([m.serialize() for m in members]) == raw
    assert parse_bundle(serialize_bundle([])).entries == ()


def test_legacy_big_endian_is_read(members: list[DataItem]) -> None:
    raw = serialize_bundle(members)
    legacy = _be(raw, [len(m.serialize()) for m in members])
    bundle = parse_bundle(legacy)
    assert bundle.legacy_big_endian
    assert bundle.verify()


def test_bad_members_are_reported_by_index(members: list[DataItem]) -> None:
    raw = bytearray(serialize_bundle(members))
    entries = parse_bundle(bytes(raw)).entries
    raw[32 + 64 * 2 + 32] ^= 1  # header ID of member 2
    raw[entries[1].offset + entries[1].size - 1] ^= 1  # last data byte of member 1
    raw[entries[3].offset + 2 + 64 + 32] = 7  # target presence byte of member 3
    bundle = parse_bundle(bytes(raw))
    checks = bundle.check()
    assert [c.ok for c in checks] == [True, False, False, False]
    assert checks[1].reason is not None
    assert "bundle member 1" in checks[1].reason
    assert "signature does not verify" in checks[1].reason
    assert checks[2].header_id_kind == "mismatch"
    assert checks[2].reason is not None
    assert "bundle member 2: header ID" in checks[2].reason
    assert checks[3].header_id_kind == "unparsed"
    assert checks[3].id is None
    assert checks[3].reason is not None
    assert "bundle member 3: target presence byte is 7" in checks[3].reason
    with pytest.raises(DecodeError, match="bundle member 3") as info:
        list(bundle.members())
    assert info.value.offset == entries[3].offset + 2 + 64 + 32
    assert not bundle.verify()


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda raw: raw[:20], "no item count"),
        (lambda raw: raw[:100], "header for 4 items"),
        (lambda raw: raw + b"x", "bytes after its last member"),
        (lambda raw: raw[:-1], "runs past the end"),
    ],
)
def test_malformed_headers(members: list[DataItem], mutate: object, reason: str) -> None:
    raw = serialize_bundle(members)
    with pytest.raises(DecodeError, match=reason):
        parse_bundle(mutate(raw))  # type: ignore[operator]


def test_limits(members: list[DataItem]) -> None:
    raw = serialize_bundle(members)
    with pytest.raises(LimitExceeded, match="more than 3"):
        parse_bundle(raw, max_items=3)
    with pytest.raises(LimitExceeded, match="exceeds the limit"):
        parse_bundle(raw, max_size=len(raw) - 1)
    huge = (2**255).to_bytes(32, "little") + bytes(64)
    with pytest.raises(DecodeError):
        parse_bundle(huge)
    bundle = parse_bundle(raw)
    with pytest.raises(LimitExceeded, match="bundle member 1"):
        bundle.member(1, max_size=10)
