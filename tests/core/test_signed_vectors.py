"""RSA-PSS httpsig commitments against hyperbeam-2025-09/signed.json, plus fresh signatures."""

from __future__ import annotations

from functools import cache

import pytest

from devices.core import (
    Message,
    RsaWallet,
    commit,
    committed_keys,
    httpsig_decode,
    httpsig_encode,
    message_id,
    signers,
    verify,
)
from devices.core._httpsig import decode_fields_to_message, encode_fields
from devices.core._ids import accumulate
from tests.conftest import vector_path
from tests.core._vectors import decode, load, raw_result, result


@cache
def wallet(n: int) -> RsaWallet:
    return RsaWallet.load(vector_path("hyperbeam-test-data", f"key-{n}.json"))


def _signed(index: int) -> Message:
    record = load("signed.json")[index]
    signed = result(record["signed"]) if "$tuple" in record["signed"] else decode(record["signed"])
    original = decode(record["message"]) if "message" in record else Message()
    # The reference returns committed nested values as links into its cache; restore them.
    return Message({k: original.get(k, v) if k != "commitments" else v for k, v in signed.items()})


def test_wallet_record() -> None:
    record = load("signed.json")[0]
    assert wallet(1).address == record["wallet1_address"]


@pytest.mark.parametrize("index", range(1, 6))
def test_recorded_signatures_verify(index: int) -> None:
    record = load("signed.json")[index]
    msg = _signed(index)
    report = verify(msg)
    assert report.valid, report.failed
    assert signers(msg) == [s.decode() for s in result(record["signers"])]
    assert message_id(msg, "none") == result(record["id_none"]).decode()
    assert message_id(msg, "all") == result(record["id_all"]).decode()
    if "committed_keys" in record:
        assert committed_keys(msg) == [k.decode() for k in result(record["committed_keys"])]
        assert message_id(msg) == result(record["id_default"]).decode()
        assert message_id(msg, "signed") == result(record["id_signed"]).decode()


@pytest.mark.parametrize("index", range(1, 6))
def test_wire_form_is_byte_exact_and_decodes(index: int) -> None:
    record = load("signed.json")[index]
    wire = {k: v.encode() for k, v in raw_result(record["wire_bundle"]).items()}
    assert encode_fields(_signed(index), bundle=True) == wire
    decoded = decode_fields_to_message(wire)
    if "decoded_from_wire" in record:
        assert decoded == result(record["decoded_from_wire"])
        assert message_id(decoded, "all") == result(record["decoded_id_all"]).decode()
    assert verify(decoded).valid


def test_two_signers_sum() -> None:
    msg = _signed(5)
    ids = [cid for cid, c in msg["commitments"].items() if "committer" in c]
    assert accumulate(ids) == message_id(msg, "all")


def test_tampered_wire_fails_and_names_the_commitment() -> None:
    wire = {k: v.encode() for k, v in raw_result(load("signed.json")[1]["wire_bundle"]).items()}
    wire["a"] = b"c"
    report = verify(decode_fields_to_message(wire))
    assert not report.valid
    assert {c.type for c in report.failed} == {"rsa-pss-sha512", "hmac-sha256"}


@pytest.mark.parametrize("index", range(1, 5))
def test_fresh_signature_relations(index: int) -> None:
    """RSA-PSS is randomised: check relations, not bytes."""
    record = load("signed.json")[index]
    msg = decode(record["message"])
    signed = commit(msg, wallet(1))
    report = verify(signed)
    assert report.valid
    assert report.committers == [wallet(1).address]
    assert message_id(signed, "none") == result(record["id_none"]).decode()
    rsa = [cid for cid, c in signed["commitments"].items() if "committer" in c]
    assert message_id(signed, "all") == rsa[0]
    assert committed_keys(signed) == [k.decode() for k in result(record["committed_keys"])]
    parts = httpsig_encode(signed)
    back = httpsig_decode(parts.headers, parts.body)
    assert verify(back).valid
    assert signers(back) == [wallet(1).address]


def test_second_signer_and_tag() -> None:
    once = commit(Message(basic=b"value"), wallet(1), tag="abc/def")
    twice = commit(once, wallet(2))
    assert verify(twice).valid
    assert sorted(signers(twice)) == sorted([wallet(1).address, wallet(2).address])
    tagged = [c for c in twice["commitments"].values() if c.get("tag") == b"abc/def"]
    assert len(tagged) == 1
    parts = httpsig_encode(twice)
    assert 'tag="abc/def"' in (parts.header("signature-input") or "")
    assert verify(httpsig_decode(parts.headers, parts.body)).valid


def test_bundle_mode_commitment_travels_bundled() -> None:
    msg = Message(a=Message(b=Message(c=b"d", n=1), l=(1, 2)), k=b"v")
    signed = commit(msg, wallet(1), bundle=True)
    assert {c.get("bundle") for c in signed["commitments"].values()} == {b"true"}
    assert verify(signed).valid
    parts = httpsig_encode(signed, bundle=True)
    assert 'bundle="true"' in (parts.header("signature-input") or "")
    back = httpsig_decode(parts.headers, parts.body)
    assert verify(back).valid
    assert message_id(back) == message_id(signed)
    assert not verify(back.set("k", b"w")).valid


@pytest.mark.parametrize(
    "msg",
    [
        Message(a=Message(b=Message(c=b"d", n=1), l=(1, 2, Message(x=b"y"))), body=b"hi", data=b"D"),
        Message(big=b"x" * 5000, nested=Message(big=b"y" * 5000, s=b"s")),
        Message(e=b"", m=Message(), l=()),
        Message(path=b"/a/b", method=b"POST", status=200),
    ],
)
def test_signed_messages_survive_both_wire_modes(msg: Message) -> None:
    signed = commit(msg, wallet(1))
    for bundle in (True, False):
        parts = httpsig_encode(signed, bundle=bundle)
        back = httpsig_decode(parts.headers, parts.body)
        assert verify(back).valid
        assert message_id(back, "all") == message_id(signed, "all")
        if bundle:
            assert back.without("commitments") == msg
