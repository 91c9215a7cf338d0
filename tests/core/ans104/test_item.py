"""Strict parsing, signing and verification of single data items (spec §1.1, §1.7, §8)."""

from __future__ import annotations

import base64
import dataclasses
import json
import struct

import pytest

from devices.core import (
    DecodeError,
    Ed25519Key,
    EncodeError,
    KeyMaterialError,
    LimitExceeded,
    RsaWallet,
    SignatureInvalid,
    b64u_encode,
)
from devices.core.ans104 import (
    DataItem,
    EthereumKey,
    UnsignedItem,
    encode_tags,
    eth_verify,
    keccak256,
    parse_bundle,
    serialize_bundle,
    sign_item,
    signature_problem,
    strict_tag_issues,
)
from tests.conftest import vector_path

TAGS = ((b"Data-Protocol", b"ao"), (b"Type", b"Message"), (b"Action", b"Eval"))
TARGET = bytes(range(32))
ANCHOR = b"00000000000000000000000000000042"


def _layout(
    sig_type: int,
    sig: bytes,
    owner: bytes,
    *,
    target: bytes = b"",
    anchor: bytes = b"",
    count: int,
    tag_bytes: bytes,
    data: bytes = b"",
    presence: tuple[int, int] | None = None,
) -> bytes:
    """Assemble item bytes by hand, so malformed variants can be written."""
    t_flag, a_flag = presence if presence is not None else (1 if target else 0, 1 if anchor else 0)
    return (
        struct.pack("<H", sig_type)
        + sig
        + owner
        + bytes([t_flag])
        + target
        + bytes([a_flag])
        + anchor
        + struct.pack("<QQ", count, len(tag_bytes))
        + tag_bytes
        + data
    )


@pytest.fixture(scope="module")
def ed_item(ed_key: Ed25519Key) -> DataItem:
    return sign_item(UnsignedItem(b"payload", TAGS, TARGET, ANCHOR), ed_key)


@pytest.mark.parametrize("signer_name", ["rsa_wallet", "ed_key", "eth_key"])
def test_sign_verify_round_trip(request: pytest.FixtureRequest, signer_name: str) -> None:
    signer = request.getfixturevalue(signer_name)
    item = sign_item(UnsignedItem(b"x" * 1024, TAGS, TARGET, ANCHOR), signer)
    assert item.signature_type == {"rsa_wallet": 1, "ed_key": 2, "eth_key": 3}[signer_name]
    raw = item.serialize()
    again = DataItem.parse(raw)
    assert again == item
    assert again.verify()
    assert item.verify()
    assert again.tag_bytes == encode_tags(TAGS)
    assert again.strict_issues() == []
    # Every signed field is covered: changing any of them breaks the signature, not the ID.
    for change in (
        {"data": b"y" * 1024},
        {"target": b""},
        {"anchor": bytes(32)},
        {"tags": TAGS[:2], "tag_bytes": b""},
    ):
        forged = dataclasses.replace(item, **change)
        assert forged.id == item.id
        assert not forged.verify()
        with pytest.raises(SignatureInvalid, match="signature does not verify"):
            forged.verify_or_raise()


def test_type1_signs_with_salt_32(rsa_wallet: RsaWallet) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    item = sign_item(UnsignedItem(b"salt"), rsa_wallet)
    pub = rsa_wallet.private_key.public_key()
    pss32 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    pub.verify(item.signature, item.signature_data(), pss32, hashes.SHA256())  # raises if not salt 32
    maxed = dataclasses.replace(item, signature=rsa_wallet.sign_pss(item.signature_data(), salt_length=-1))
    assert maxed.verify()  # salt 478 verifies too (automatic detection)


def test_type4_solana_signs_hex_of_deep_hash(ed_key: Ed25519Key) -> None:
    item = sign_item(UnsignedItem(b"sol"), ed_key, signature_type=4)
    assert item.signature_type == 4
    assert item.verify()
    as_type2 = dataclasses.replace(item, signature_type=2)
    assert not as_type2.verify()


def test_signer_type_mismatch_and_bad_fields(ed_key: Ed25519Key, eth_key: EthereumKey) -> None:
    with pytest.raises(EncodeError, match="cannot sign type 1"):
        sign_item(UnsignedItem(), eth_key, signature_type=1)
    with pytest.raises(EncodeError, match="type 2 or 4"):
        sign_item(UnsignedItem(), ed_key, signature_type=3)
    with pytest.raises(EncodeError, match="32 bytes"):
        sign_item(UnsignedItem(target=b"short"), ed_key)
    with pytest.raises(EncodeError, match="name length 0"):
        sign_item(UnsignedItem(tags=[(b"", b"v")]), ed_key)
    with pytest.raises(EncodeError, match="not a data-item signer"):
        sign_item(UnsignedItem(), object())  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match="4096-bit"):
        sign_item(UnsignedItem(), RsaWallet.generate(1024))
    with pytest.raises(EncodeError, match="signature must be 64"):
        DataItem(2, b"sig", bytes(32))
    with pytest.raises(EncodeError, match="unknown signature type"):
        DataItem(9, b"", b"")


def test_repr_and_properties(ed_item: DataItem, ed_key: Ed25519Key, eth_key: EthereumKey) -> None:
    assert ed_item.owner_address == ed_key.address
    assert ed_item.id in repr(ed_item)
    assert "payload" not in repr(ed_item)
    assert "secret" not in repr(eth_key)
    assert eth_key.address in repr(eth_key)
    assert not ed_item.is_bundle
    bundled = sign_item(
        UnsignedItem(tags=[(b"BUNDLE-FORMAT", b"binary"), (b"Bundle-Version", b"2.0.0")]), ed_key
    )
    assert bundled.is_bundle


def test_presence_byte_other_than_0_or_1_is_rejected(ed_item: DataItem) -> None:
    raw = bytearray(ed_item.serialize())
    at = 2 + 64 + 32
    raw[at] = 2
    with pytest.raises(DecodeError, match="target presence byte is 2") as info:
        DataItem.parse(bytes(raw))
    assert info.value.offset == at


def test_tag_count_zero_loophole_is_rejected(ed_item: DataItem) -> None:
    raw = bytearray(ed_item.serialize())
    at = 2 + 64 + 32 + 33 + 33
    assert struct.unpack_from("<Q", raw, at)[0] == 3
    struct.pack_into("<Q", raw, at, 0)
    with pytest.raises(DecodeError, match="tag count mismatch: header 0, decoded 3") as info:
        DataItem.parse(bytes(raw))
    assert info.value.offset == at


def test_zero_tags_0x00_form_and_trailing_tag_bytes_are_accepted_and_kept(ed_key: Ed25519Key) -> None:
    for tag_bytes, count, issues in (
        (b"\x00", 0, []),
        (encode_tags(TAGS) + b"junk", 3, ["4 bytes after the tag terminator"]),
    ):
        unsigned = DataItem(2, bytes(64), ed_key.public_bytes, tags=(), data=b"d", tag_bytes=tag_bytes)
        signature = ed_key.sign(unsigned.signature_data())
        raw = _layout(2, signature, ed_key.public_bytes, count=count, tag_bytes=tag_bytes, data=b"d")
        item = DataItem.parse(raw)
        assert item.serialize() == raw
        assert item.verify()
        assert item.strict_issues() == issues


@pytest.mark.parametrize(
    ("raw", "error", "reason"),
    [
        (b"", DecodeError, "no signature type"),
        (b"\x09\x00" + bytes(200), DecodeError, "unknown signature type 9"),
        (b"\x02\x00" + bytes(50), DecodeError, "truncated inside the signature"),
        (b"\x02\x00" + bytes(96), DecodeError, "before the target presence byte"),
        (b"\x02\x00" + bytes(96) + b"\x01" + bytes(5), DecodeError, "truncated inside the 32-byte target"),
        (b"\x02\x00" + bytes(98) + bytes(8), DecodeError, "tag count/length header"),
        (_layout(2, bytes(64), bytes(32), count=1, tag_bytes=b"\x02\x02a"), DecodeError, "truncated"),
        (
            _layout(2, bytes(64), bytes(32), count=1, tag_bytes=b"\x02\x02a\x02b"),
            DecodeError,
            "block count varint",
        ),
        (
            _layout(2, bytes(64), bytes(32), count=0, tag_bytes=b"\x80" * 11),
            DecodeError,
            "varint is too long",
        ),
        (
            _layout(2, bytes(64), bytes(32), count=1, tag_bytes=b"\x02\x03\x00\x00"),
            DecodeError,
            "negative tag name length",
        ),
        (
            _layout(2, bytes(64), bytes(32), count=9, tag_bytes=b"\x12\x00\x00"),
            DecodeError,
            "more than its bytes",
        ),
        (
            _layout(2, bytes(64), bytes(32), count=1, tag_bytes=b"\x01\x7e\x02a\x02b\x00"),
            DecodeError,
            "tag block size",
        ),
        (_layout(2, bytes(64), bytes(32), count=0, tag_bytes=bytes(4097)), LimitExceeded, "exceeds 4096"),
    ],
)
def test_malformed_items_raise_typed_errors(raw: bytes, error: type[Exception], reason: str) -> None:
    with pytest.raises(error, match=reason):
        DataItem.parse(raw)


def test_tag_length_past_end_and_max_size() -> None:
    raw = _layout(2, bytes(64), bytes(32), count=0, tag_bytes=b"")
    forged = raw[:-8] + struct.pack("<Q", 10)
    with pytest.raises(DecodeError, match="runs past the end"):
        DataItem.parse(forged)
    with pytest.raises(LimitExceeded, match="exceeds the limit of 100"):
        DataItem.parse(raw + bytes(100), max_size=100)
    assert DataItem.parse(bytearray(raw)).serialize() == raw
    assert DataItem.parse(memoryview(raw)).serialize() == raw


@pytest.mark.parametrize(("sig_type", "sig_len", "owner_len"), [(5, 64, 32), (6, 2052, 1025), (7, 65, 42)])
def test_unverifiable_types_parse_but_never_verify(sig_type: int, sig_len: int, owner_len: int) -> None:
    raw = _layout(sig_type, b"\x01" * sig_len, b"\x02" * owner_len, count=0, tag_bytes=b"", data=b"hi")
    item = DataItem.parse(raw)
    assert item.serialize() == raw
    assert item.id == b64u_encode(item.raw_id)
    assert not item.verify()
    with pytest.raises(SignatureInvalid, match="cannot be verified"):
        item.verify_or_raise()


def test_bad_owner_keys_are_named() -> None:
    rsa = DataItem.parse(_layout(1, b"\x01" * 512, bytes(512), count=0, tag_bytes=b""))
    assert rsa.verify_problem() == "owner is not a usable RSA modulus"
    eth = DataItem.parse(_layout(3, b"\x01" * 65, b"\x04" + bytes(64), count=0, tag_bytes=b""))
    assert eth.verify_problem() == "owner is not an uncompressed secp256k1 public key"
    unsigned = DataItem.parse(_layout(2, bytes(64), bytes(32), count=0, tag_bytes=b""))
    assert unsigned.verify_problem() == "item is unsigned (all-zero signature)"


def _hb_bytes(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    assert isinstance(value, dict)
    return base64.b64decode(value["$b64"])


def test_hyperbeam_items_unsigned_ids_salt32_and_legacy_bundles() -> None:
    records = json.loads(vector_path("hyperbeam-2025-05", "ans104.json").read_text("utf-8"))
    legacy_bundles = 0
    for record in records:
        raw = _hb_bytes(record["serialized"])
        item = DataItem.parse(raw)
        assert item.serialize() == raw
        assert b64u_encode(item.hb_unsigned_raw_id()) == record.get(
            "unsigned_id", record.get("tx_unsigned_id")
        )
        if "tx_id" in record:  # the one item HyperBEAM signed (salt 32)
            assert item.id == record["tx_id"]
            item.verify_or_raise()
        if item.is_bundle:
            bundle = parse_bundle(item.data)
            assert bundle.legacy_big_endian  # May-2025 HyperBEAM wrote big-endian headers
            assert all(c.header_id_kind == "unsigned" for c in bundle.check())
            members = [member for _, member in bundle.members()]
            assert not any(m.is_signed for m in members)
            # HyperBEAM's own bundle bytes are reproduced exactly in its legacy form.
            assert serialize_bundle(members, byteorder="big", unsigned_header_ids=True) == item.data
            standard = parse_bundle(serialize_bundle(members))
            assert not standard.legacy_big_endian
            assert [e.header_id for e in standard.entries] == [m.hb_unsigned_raw_id() for m in members]
            legacy_bundles += 1
    assert legacy_bundles == 2


def test_local_misuse_and_edge_branches(eth_key: EthereumKey) -> None:
    listed = DataItem(2, bytes(64), bytes(32), tags=[(b"n", b"v")])  # type: ignore[arg-type]
    assert listed.tags == ((b"n", b"v"),)
    assert hash(listed) == hash(DataItem(2, bytes(64), bytes(32), tags=((b"n", b"v"),)))
    with pytest.raises(EncodeError, match="not a \\(name, value\\) pair"):
        encode_tags([(b"a", b"b", b"c")])  # type: ignore[list-item]
    assert strict_tag_issues([(b"n", b"v")] * 129) == ["129 tags, more than 128"]
    with pytest.raises(EncodeError, match="owner must be 32"):
        DataItem(2, bytes(64), bytes(31))
    with pytest.raises(EncodeError, match="32 bytes when present"):
        DataItem(2, bytes(64), bytes(32), anchor=b"short")
    with pytest.raises(KeyMaterialError, match="32 bytes"):
        EthereumKey.from_secret(b"short")
    with pytest.raises(KeyMaterialError, match="unusable secp256k1 secret"):
        EthereumKey.from_secret(bytes(32))
    assert signature_problem(42, b"", b"", b"") == "unknown signature type 42"
    assert "does not match signature type 2" in (signature_problem(2, bytes(31), bytes(48), bytes(64)) or "")
    owner = eth_key.public_bytes
    assert not eth_verify(owner, b"m", b"short")
    assert not eth_verify(owner, b"m", b"\xff" * 64 + b"\x1b")  # r, s not below the group order
    assert not eth_verify(b"\x05" + owner[1:], b"m", eth_key.sign(b"m"))
    assert eth_verify(owner, b"m", eth_key.sign(b"m"))
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
