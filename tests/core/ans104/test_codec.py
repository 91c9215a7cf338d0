"""Avro tags, deep hash, signing data and the spec's project vectors (spec §1.3-§1.5, §5.2)."""

from __future__ import annotations

import pytest

from devices.core import EncodeError, RsaWallet, b64u_decode, b64u_encode
from devices.core.ans104 import (
    DataItem,
    EthereumKey,
    UnsignedItem,
    decode_tags,
    deep_hash,
    deep_hash_chunks,
    encode_tags,
    sign_item,
    signature_data,
    strict_tag_issues,
)

RUST_TAGS = [(b"Hello", b"Bundlr!"), (b"This is a ", b"Test")]
RUST_TAGS_HEX = "040a48656c6c6f0e42756e646c7221145468697320697320612008546573740" + "0"


def test_avro_rust_tags_vector_both_ways() -> None:
    assert encode_tags(RUST_TAGS).hex() == RUST_TAGS_HEX
    decoded = decode_tags(bytes.fromhex(RUST_TAGS_HEX))
    assert list(decoded.tags) == RUST_TAGS
    assert decoded.trailing_bytes == 0
    assert not decoded.sized_blocks


def test_avro_zero_tags_and_64_tags() -> None:
    assert encode_tags([]) == b""
    assert decode_tags(b"").tags == ()
    assert decode_tags(b"\x00").tags == ()  # the single-0x00 zero-tag form
    assert encode_tags([(b"n", b"v")] * 64)[:2] == b"\x80\x01"


def test_avro_negative_block_count_and_trailing_bytes() -> None:
    # count -2 (zigzag 3), block byte size 8 (zigzag 16), two tags, terminator, then junk.
    region = b"\x03\x10" + b"\x02a\x02b" + b"\x02c\x02d" + b"\x00" + b"junk"
    decoded = decode_tags(region)
    assert decoded.tags == ((b"a", b"b"), (b"c", b"d"))
    assert decoded.sized_blocks
    assert decoded.trailing_bytes == 4
    # Several blocks are joined.
    assert decode_tags(b"\x02\x02a\x02b\x02\x02c\x02d\x00").tags == ((b"a", b"b"), (b"c", b"d"))


def test_avro_strict_limits_on_encode() -> None:
    with pytest.raises(EncodeError, match="too many tags"):
        encode_tags([(b"n", b"v")] * 129)
    with pytest.raises(EncodeError, match="name length 0"):
        encode_tags([(b"", b"v")])
    with pytest.raises(EncodeError, match="name length 1025"):
        encode_tags([(b"n" * 1025, b"v")])
    with pytest.raises(EncodeError, match="value length 3073"):
        encode_tags([(b"n", b"v" * 3073)])
    with pytest.raises(EncodeError, match="more than 4096"):
        encode_tags([(b"n" * 1000, b"v" * 3000), (b"m", b"w" * 100)])
    with pytest.raises(EncodeError, match="must be bytes"):
        encode_tags([("n", "v")])  # type: ignore[list-item]
    # Non-strict encoding writes what it is given, and the decoder reads it back.
    loose = encode_tags([(b"", b"")], strict=False)
    assert decode_tags(loose).tags == ((b"", b""),)
    assert strict_tag_issues([(b"", b"")]) == [
        "tag 0: name length 0 outside 1..1024",
        "tag 0: value length 0 outside 1..3072",
    ]


@pytest.mark.parametrize(
    ("value", "hex_digest"),
    [
        (
            b"\x01\x02\x03",
            "41300af79285f856e833164518c7ec4974f5869ec77ca3458113fe6c587680d0"
            "50f9f6864fd77f9eb62bd4e2faea9ae8",
        ),
        (
            b"",
            "fbf00cc444f5fea9dc3bedf62a13fba8ae87e7445fc910567a23bec4eb82fadb"
            "1143c433069314d8362983dc3c2e4a38",
        ),
        (
            [b"\x01\x02\x03", b"\x04\x05\x06"],
            "4dacdcc81acd09f38c77a07a2a7ae81f77c61e6b97ee5cc7"
            "b92f3a7f258e8d5ba69d14d7d66070797b083873717c9896",
        ),
        (
            [],
            "a69e7d37fdc7f040a9ec16aae84de24fab4a653dac4de0bd247e36bab9fe45d9"
            "289c5a04a893c95285812f5cefc9707a",
        ),
        (
            [b"hello", [b"a", b"bc"], b""],
            "3072f851a8cfb21f13fcfeb61d4d090f4b605c9519e51ba9"
            "964aa4022eb095c05e0a883cce2e2327bd99c77baff0f463",
        ),
    ],
)
def test_deep_hash_vectors(value: object, hex_digest: str) -> None:
    assert deep_hash(value).hex() == hex_digest  # type: ignore[arg-type]


def test_deep_hash_chunks_vector_and_type_errors() -> None:
    got = deep_hash_chunks([b"\x01\x02\x03", b"\x04\x05\x06"], b"test")
    assert got.hex() == (
        "2241894113b88da6daac09ef227a26e51423083c8d033fcc4f143a2a30f92ed3d163b2a66fcdf9ecc39da5a045ed9afc"
    )
    assert deep_hash(memoryview(b"\x01\x02\x03")) == deep_hash(b"\x01\x02\x03")
    with pytest.raises(EncodeError):
        deep_hash("text")


def test_signature_data_vector_ethereum(eth_key: EthereumKey) -> None:
    dh = signature_data(3, eth_key.public_bytes, b"", b"", b"", b"test")
    assert dh.hex() == (
        "b21a5aa9dfb043fd68ed8558b8a2588d4140ffbdabadfab8fe27ae27bcbce7bc73dcfaf770dc96fd251055301100bdf1"
    )
    assert eth_key.address == "0x63fac9201494f0bd17b9892b9fae4d52fe3bd377"


TYPE2_B64 = (
    "AgDokBVqxce3Cd2nJ8cuc_1NLyTA7Qmtx_UPpYZHd0WAnBPjLgbxvgtpkJdoRr6zDSwb7qDGdzei1yEGsShJIgwCA6EHv_POEL4dcN0Y50vAm"
    "Wfk1jCbpQ1fHdyGZBJVMbgAAAEAAAAAAAAAEAAAAAAAAAACEEFwcC1OYW1lCHRlc3QAaGVsbG8gZWQyNTUxOQ"
)
TYPE3_B64 = (
    "AwCblt8_SHqcGPUm3j7JMEZnd8WefsI8sVuK6iMcMCI8N0ddNw9dnDFXh_fbOhAyJBGnfdWEFcvwtQek1NvJiuZ5HATRHpSRIoPSF_2YvlrVn"
    "GWa7eabvvDnKiIT7fD72N48yVAw0AaxN-Iriec45VZXZrg9EsQ4_pcOPnKVMvz6-tKnAAABAAAAAAAAABAAAAAAAAAAAhBBcHAtTmFtZQh0ZX"
    "N0AGhlbGxvIGV0aA"
)
TYPE4_B64 = (
    "BADKale79lYDv6KDTH9vdYzaxC1TGocoVOovXeaO2miZyLNHlgEeTykioKdswVKibhokxNp7ldJuhgjmgTO60IMKA6EHv_POEL4dcN0Y50vAm"
    "Wfk1jCbpQ1fHdyGZBJVMbgAAAEAAAAAAAAAEAAAAAAAAAACEEFwcC1OYW1lCHRlc3QAaGVsbG8gc29s"
)


@pytest.mark.parametrize(
    ("b64", "signer_name", "sig_type", "data", "item_id", "dh_hex"),
    [
        (
            TYPE2_B64,
            "ed_key",
            2,
            b"hello ed25519",
            "pPIp_nhkLERtpiyLWYMxM2UvAJa131c-hqPwCTLzCMA",
            "5072bf45fca1c9148174b2d15ea290e9367880a4aea4f2147bf5dc99b4fedf80279a984cad2c1e33086192d5097cf141",
        ),
        (
            TYPE3_B64,
            "eth_key",
            3,
            b"hello eth",
            "qCYTzT410MkX17FZl76wLkrcQxqn8E_PyCaQ_spswr8",
            "21688770014f75367c0e110efbf2a9862a819ad1356a28a68079d03eed207f638cd112efc47954e829dba4175903793f",
        ),
        (
            TYPE4_B64,
            "ed_key",
            4,
            b"hello sol",
            "KFO4DjH5lAtMgWX4lwYCG1OJUINt7fDYUeszKWakoF4",
            "43c0371095cfdd002bfa900fa8e8e1f6478f79adf5880529a8aee5a2207b0639e3917802cb952a3329192b64e91d98b4",
        ),
    ],
)
def test_project_vectors_types_2_3_4_reproduce_byte_for_byte(
    request: pytest.FixtureRequest,
    b64: str,
    signer_name: str,
    sig_type: int,
    data: bytes,
    item_id: str,
    dh_hex: str,
) -> None:
    raw = b64u_decode(b64)
    item = DataItem.parse(raw)
    assert item.id == item_id
    assert item.signature_type == sig_type
    assert item.signature_data().hex() == dh_hex
    assert item.tags == ((b"App-Name", b"test"),)
    assert item.data == data
    assert item.verify()
    signer = request.getfixturevalue(signer_name)
    again = sign_item(UnsignedItem(data=data, tags=[(b"App-Name", b"test")]), signer, signature_type=sig_type)
    assert again.serialize() == raw  # Ed25519 and RFC 6979 ECDSA are deterministic
    if sig_type == 3:
        assert item.signature[64] == 28


def test_project_vector_type1_signing_data(rsa_wallet: RsaWallet) -> None:
    if rsa_wallet.address != "vcaPe4JWnrSOCktDHBgXge-zWUb6JRkqbom5w9t7i-4":
        pytest.skip("HyperBEAM key-1.json not available")
    tags = [
        (b"Data-Protocol", b"ao"),
        (b"Variant", b"ao.TN.1"),
        (b"Type", b"Message"),
        (b"Action", b"Eval"),
        (b"Content-Type", b"text/plain"),
    ]
    tag_bytes = encode_tags(tags)
    assert len(tag_bytes) == 84
    assert tag_bytes.hex().startswith("0a1a446174612d50726f746f636f6c04616f")
    target = b64u_decode("4iZaXaryQ3eeCDB_2ZS4WmET6DTm35QukI6dNEhQPmw")
    anchor = b"00000000000000000000000000000042"
    dh = signature_data(1, rsa_wallet.modulus, target, anchor, tag_bytes, b"return 1+1")
    assert dh.hex() == (
        "0dec534fe828e45787c75894e8cc66a7b8def6b0e07c7e9e1b95ffc72148b2f98dfb9eefc0e657712987a568045cc266"
    )
    item = sign_item(UnsignedItem(b"return 1+1", tags, target, anchor), rsa_wallet)
    assert len(item.serialize()) == 1202
    assert b64u_encode(item.hb_unsigned_raw_id()) == "NAhCRO4HqgxIJRt6op-uWERUrTZEBlxRgD7p2C9mevA"
    assert item.verify()
