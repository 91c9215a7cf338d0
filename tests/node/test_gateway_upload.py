"""An item uploaded through the gateway's bundler ingress (``POST /tx``) is one item everywhere:
its bytes at ``/raw/{id}`` and ``/{id}``, and its message form for AO-Core negotiation
(``GET /{id}?require-codec=application/json``, what scheduler-utils' ``getProcess`` asks first)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from devices.core import RsaWallet
from devices.core.ans104 import UnsignedItem, sign_item
from tests.conftest import vector_path
from tests.node._client import request

if TYPE_CHECKING:
    from node._server import Running


@pytest.fixture(scope="module")
def user() -> RsaWallet:
    return RsaWallet.load(vector_path("hyperbeam-test-data", "key-2.json"))  # ANS-104 needs RSA-4096


TAGS = [(b"Data-Protocol", b"ao"), (b"Type", b"Process"), (b"Scheduler", b"S" * 43), (b"Name", b"gw")]


async def test_tx_upload_resolves_as_bytes_and_as_message(node: Running, user: RsaWallet) -> None:
    item = sign_item(UnsignedItem(b"payload", TAGS), user)
    up = await request(node.port, "POST", "/tx", body=item.serialize())
    assert up.status == 200, up.body
    assert up.json()["id"] == item.id

    raw = await request(node.port, "GET", f"/raw/{item.id}")
    assert raw.status == 200
    assert raw.body == b"payload"
    plain = await request(node.port, "GET", f"/{item.id}")
    assert plain.status == 200
    assert plain.body == b"payload"

    got = await request(
        node.port,
        "GET",
        f"/{item.id}?require-codec=application/json",
        headers=[("accept", "application/json")],
    )
    assert got.status == 200, got.body
    body = got.json()
    commitment = body["commitments"][item.id]
    assert commitment["commitment-device"] == "ans104@1.0"
    assert commitment["type"] == "rsa-pss-sha256"
    assert commitment["committer"] == user.address
    original = [commitment["original-tags"][str(i)] for i in range(1, len(TAGS) + 1)]
    assert original == [{"name": k.decode(), "value": v.decode()} for k, v in TAGS]
    assert body["data"] == "payload"
    assert body["scheduler"] == "S" * 43


async def test_tx_upload_of_an_unsigned_item_is_refused(node: Running, user: RsaWallet) -> None:
    item = sign_item(UnsignedItem(b"x", TAGS), user)
    raw = bytearray(item.serialize())
    raw[-1] ^= 1  # data no longer matches the signature
    up = await request(node.port, "POST", "/tx", body=bytes(raw))
    assert up.status == 400, up.body
    missing = await request(node.port, "GET", f"/{item.id}?require-codec=application/json")
    assert missing.status == 404
