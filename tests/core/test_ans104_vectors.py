"""ans104@1.0 at the message layer: hyperbeam-2025-09/ans104.json and the captured aoconnect requests."""

from __future__ import annotations

import base64

import pytest

from devices.core import (
    Link,
    Message,
    RsaWallet,
    committed_keys,
    httpsig_decode,
    item_to_message,
    message_id,
    message_to_item_fields,
    signers,
    verify,
)
from devices.core.ans104 import DataItem, UnsignedItem, sign_item
from tests.core._vectors import decode, load, raw_result, result


def _serialized(record: dict[str, object]) -> bytes:
    raw = raw_result(record["serialized"])
    return raw.encode("utf-8") if isinstance(raw, str) else base64.b64decode(raw["$b64"])


def _unlink(msg: Message, original: Message) -> Message:
    return Message({k: original[k] if isinstance(v, Link) else v for k, v in msg.items()})


@pytest.mark.parametrize("index", range(6))
def test_message_to_item(index: int) -> None:
    record = load("ans104.json")[index]
    msg = decode(record["message"])
    fields = message_to_item_fields(msg)
    assert [(n.decode(), v.decode()) for n, v in fields.tags] == [tuple(t) for t in record["tx_tags"]]
    assert fields.data == decode(record["tx_data"])
    assert fields.target == decode(record["tx_target"])
    assert fields.unsigned_item().serialize() == _serialized(record)
    assert message_id(msg, "none") == result(record["hb_id_none"]).decode()


@pytest.mark.parametrize("index", range(6))
def test_item_to_message(index: int) -> None:
    record = load("ans104.json")[index]
    back = item_to_message(DataItem.parse(_serialized(record)))
    expected = result(record["roundtrip"])
    original = decode(record["message"])
    assert _unlink(back, original) == _unlink(expected, original)
    assert verify(back).valid


def test_signed_item_record() -> None:
    record = load("ans104.json")[6]
    item = DataItem.parse(_serialized(record))
    assert item.verify()
    assert item.id == record["tx_id"]
    msg = item_to_message(item)
    assert msg == result(record["signed"])
    report = verify(msg)
    assert report.valid
    assert report.committers == [item.owner_address]
    assert message_id(msg, "all") == result(record["id_all"]).decode()
    assert message_id(msg, "signed") == result(record["id_signed"]).decode()
    assert message_id(msg, "none") == result(record["id_none"]).decode()
    assert committed_keys(msg) == ["data", "action", "k"]
    assert message_to_item_fields(msg).tags == item.tags


def test_tampered_item_message_fails() -> None:
    msg = item_to_message(DataItem.parse(_serialized(load("ans104.json")[6])))
    assert not verify(msg.set("action", b"Other")).valid
    assert not verify(msg.set("data", b"X")).valid


def test_fresh_signed_item_round_trip(wallet1: RsaWallet) -> None:
    msg = Message({"Action": b"Eval", "n": 1, "data": b"payload"})
    fields = message_to_item_fields(msg)
    item = sign_item(UnsignedItem(tags=fields.tags, data=fields.data, target=fields.target), wallet1)
    back = item_to_message(DataItem.parse(item.serialize()))
    assert back.without("commitments") == Message({"action": b"Eval", "n": 1, "data": b"payload"})
    assert verify(back).valid
    assert signers(back) == [wallet1.address]
    assert message_id(back, "all") == item.id


def _requests() -> list[tuple[dict[str, object], dict[str, object]]]:
    reqs = [r for r in load("aoconnect_requests.json") if "method" in r]
    return list(zip(reqs, load("aoconnect.json"), strict=True))


@pytest.mark.parametrize("index", range(9))
def test_aoconnect_requests(index: int) -> None:
    request, reference = _requests()[index]
    assert request["label"] == reference["label"]
    body = base64.b64decode(request["body_b64"]) if request["body_b64"] else b""
    headers = {k.lower(): v for k, v in request["headers"].items()}
    expected = result(reference["req_to_tabm_singleton"])
    if headers.get("content-type") == "application/ans104":
        item = DataItem.parse(body)
        assert item.verify()
        msg = item_to_message(item)
        added = set(expected) - set(msg)
        assert added <= {"method", "path", "accept", "accept-bundle"}
        assert all(expected[k] == msg[k] for k in msg)
        assert verify(msg).valid
        assert signers(msg) == [s.decode() for s in result(reference["signers"])]
        assert message_id(msg, "all") == result(reference["id_all"]).decode() == item.id
        assert message_id(msg, "signed") == result(reference["id_signed"]).decode()
        return
    msg = httpsig_decode(headers, body)
    if isinstance(expected, Message):
        assert all(expected[k] == msg[k] for k in msg if k != "commitments")
        assert message_id(expected, "all") == result(reference["id_all"]).decode()
    # Sep ignores non-`comm-` signatures; we verify them as the RFC 9421 signatures they are.
    if "signature" in headers:
        report = verify(msg)
        assert report.valid
        assert report.committers == ["vcaPe4JWnrSOCktDHBgXge-zWUb6JRkqbom5w9t7i-4"]
        assert not verify(msg.set("foo" if "foo" in msg else "k", b"tampered")).valid


def test_ed25519_item_maps_and_verifies() -> None:
    from devices.core import Ed25519Key

    key = Ed25519Key.from_seed(bytes(range(32)))
    item = sign_item(UnsignedItem(tags=((b"Action", b"Eval"),), data=b"x"), key)
    msg = item_to_message(DataItem.parse(item.serialize()))
    assert msg["commitments"][item.id]["type"] == b"ed25519"
    assert verify(msg).valid
    assert signers(msg) == [key.address]
    assert message_id(msg, "all") == item.id
    assert not verify(msg.set("data", b"y")).valid
