"""Signed traffic: request verification, signed replies, operator-only meta POST, uploads."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from devices.core import Message, RsaWallet, commit, httpsig_decode, httpsig_encode, verify
from devices.core.ans104 import DataItem
from tests.conftest import vector_path
from tests.node._client import Response, request

if TYPE_CHECKING:
    from node._server import Running

_TRANSPORT = {"content-length", "date", "server", "connection", "transfer-encoding"}


@pytest.fixture(scope="session")
def other_wallet() -> RsaWallet:
    return RsaWallet.generate(2048)


def _reply_message(resp: Response) -> Message:
    headers = [(k, v) for k, v in resp.headers.items()
               if k not in _TRANSPORT and not k.startswith("access-control-")]
    return httpsig_decode(headers, resp.body)


async def _post(port: int, target: str, msg: Message, **kw: object) -> Response:
    parts = httpsig_encode(msg, bundle=True)
    extra = list(kw.pop("headers", []))  # type: ignore[call-overload]
    return await request(port, "POST", target, headers=[*parts.headers, *extra], body=parts.body)


async def test_replies_are_signed_with_the_hashpath(node: Running) -> None:
    resp = await request(node.port, "GET", "/~message@1.0&hello=world/hello")
    assert resp.status == 200
    assert resp.body == b"world"
    reply = _reply_message(resp)
    report = verify(reply)
    assert report.valid
    assert report.committers == [node.node.wallet.address]
    tags = [c.get("tag") for c in reply["commitments"].values() if isinstance(c, Message)]
    assert any(isinstance(t, bytes) and t.count(b"/") == 1 for t in tags)


async def test_signed_request_is_verified_and_restricted(node: Running, other_wallet: RsaWallet) -> None:
    signed = commit(Message(greeting=b"hi"), other_wallet)
    resp = await _post(node.port, "/greeting", signed, headers=[("x-noise", "uncommitted")])
    assert (resp.status, resp.body) == (200, b"hi")
    resp = await _post(node.port, "/x-noise", signed, headers=[("x-noise", "uncommitted")])
    assert resp.status == 404  # uncommitted keys of a signed request are dropped (spec D22)


async def test_tampered_signature_is_rejected(node: Running, other_wallet: RsaWallet) -> None:
    signed = commit(Message(greeting=b"hi"), other_wallet)
    parts = httpsig_encode(signed, bundle=True)
    headers = [(k, "bye" if k == "greeting" else v) for k, v in parts.headers]
    resp = await request(node.port, "POST", "/greeting", headers=headers, body=parts.body)
    assert resp.status == 400
    error = resp.json()["error"]
    assert "commitment" in error
    assert "does not verify" in error


async def test_meta_post_only_by_operator(node: Running, wallet_jwk: dict[str, str],
                                          other_wallet: RsaWallet) -> None:
    resp = await request(node.port, "POST", "/~meta@1.0/info", headers=[("color", "blue")])
    assert resp.status == 401
    resp = await _post(node.port, "/~meta@1.0/info", commit(Message(color=b"red"), other_wallet))
    assert resp.status == 403
    operator = RsaWallet.from_jwk(dict(wallet_jwk))
    resp = await _post(node.port, "/~meta@1.0/info", commit(Message(color=b"green"), operator))
    assert resp.status == 200, resp.body
    resp = await request(node.port, "GET", "/~meta@1.0/info/color")
    assert resp.body == b"green"


async def test_upload_and_read_back_httpsig(node: Running, other_wallet: RsaWallet) -> None:
    signed = commit(Message(title=b"doc", n=3), other_wallet)
    resp = await _post(node.port, "/", signed, headers=[("accept", "application/json")])
    assert resp.status == 200, resp.body
    ids = resp.json()["ids"]
    assert resp.json()["id"] == ids[0]
    for ident in ids:
        got = await request(node.port, "GET", f"/{ident}/title")
        assert (got.status, got.body) == (200, b"doc")
    got = await request(node.port, "GET", f"/{ids[0]}", headers=[("accept", "application/json")])
    assert json.loads(got.body)["n"] == 3
    assert node.node.store.read_message(ids[0]) is not None
    got = await request(node.port, "GET", f"/{ids[0]}")  # httpsig: the uploader's signature, verifying
    report = verify(_reply_message(got))
    assert report.valid
    assert report.committers == [other_wallet.address]


async def test_upload_unsigned_is_refused(node: Running) -> None:
    resp = await request(node.port, "POST", "/", headers=[("k", "v")])
    assert resp.status == 400
    assert "signed" in resp.json()["error"]


@pytest.mark.parametrize("name", ["type1-target-anchor.bin", "type2-unicode-tags.bin", "type3-many-tags.bin"])
async def test_upload_ans104_byte_exact(node: Running, name: str) -> None:
    raw = vector_path("ans104-arbundles", name).read_bytes()
    item = DataItem.parse(raw)
    resp = await request(node.port, "POST", "/", headers=[("content-type", "application/ans104"),
                                                          ("accept", "application/json")], body=raw)
    assert resp.status == 200, resp.body
    assert resp.json()["id"] == item.id
    got = await request(node.port, "GET", f"/{item.id}", headers=[("accept", "application/ans104")])
    assert got.status == 200
    assert got.body == raw
    assert got.headers["content-type"] == "application/ans104"
    # Without AO-Core negotiation the gateway answers: the item's data, as Arweave tools expect.
    data = await request(node.port, "GET", f"/{item.id}")
    assert data.status == 200
    assert data.body == item.data


@pytest.mark.parametrize("name", ["neg-type1-flipped-signature-byte.bin", "neg-type2-flipped-data-byte.bin",
                                  "neg-type3-truncated-header.bin", "neg-type1-tag-count-mismatch.bin"])
async def test_upload_bad_ans104_rejected(node: Running, name: str) -> None:
    raw = vector_path("ans104-arbundles", name).read_bytes()
    resp = await request(node.port, "POST", "/", headers=[("content-type", "application/ans104")], body=raw)
    assert resp.status == 400
    assert resp.json()["error"]


def _tamper(headers: tuple[tuple[str, str], ...], how: str) -> list[tuple[str, str]]:
    out = []
    for k, v in headers:
        if how == "value" and k == "greeting":
            v = "bye"
        elif how == "sig-bytes" and k == "signature":
            v = v.replace("A", "B", 1) if "A" in v else v.replace("a", "b", 1)
        elif how == "sig-truncated" and k == "signature":
            v = v[: len(v) // 2]
        elif how == "keyid" and k == "signature-input":
            v = v.replace("publickey:", "publickey:AAAA", 1)
        elif how == "input-garbage" and k == "signature-input":
            v = "this is not a structured field"
        elif how == "drop-input" and k == "signature-input":
            continue
        elif how == "component" and k == "signature-input":
            v = v.replace('"greeting"', '"other"', 1)
        out.append((k, v))
    if how == "extra-covered":
        out.append(("other", "x"))
    return out


@pytest.mark.parametrize("how", ["value", "sig-bytes", "sig-truncated", "keyid", "input-garbage",
                                 "component"])
async def test_invalid_signatures_rejected(node: Running, other_wallet: RsaWallet, how: str) -> None:
    parts = httpsig_encode(commit(Message(greeting=b"hi"), other_wallet), bundle=True)
    resp = await request(node.port, "POST", "/greeting", headers=_tamper(parts.headers, how),
                         body=parts.body)
    assert resp.status == 400, (how, resp.body)
    assert resp.json()["error"]


async def test_message_id_and_verify_keys(node: Running, other_wallet: RsaWallet) -> None:
    signed = commit(Message(title=b"doc"), other_wallet)
    resp = await _post(node.port, "/", signed, headers=[("accept", "application/json")])
    ident = resp.json()["id"]
    got = await request(node.port, "GET", f"/{ident}/verify")
    assert got.status == 200
    assert got.body == b"true"
    got = await request(node.port, "GET", f"/{ident}/id&mode=all")
    assert (got.status, got.body) == (200, ident.encode())
    got = await request(node.port, "GET", f"/{ident}/committers", headers=[("accept", "application/json")])
    assert got.json()["1"] == other_wallet.address
    got = await request(node.port, "GET", "/~message@1.0&a=1/id&mode=bogus")
    assert got.status == 400


async def test_signature_without_input_is_unsigned(node: Running, other_wallet: RsaWallet) -> None:
    """A ``signature`` header with no ``signature-input`` cannot be checked: it attributes nothing."""
    parts = httpsig_encode(commit(Message(greeting=b"hi"), other_wallet), bundle=True)
    headers = _tamper(parts.headers, "drop-input")
    resp = await request(node.port, "POST", "/", headers=headers, body=parts.body)
    assert resp.status == 400
    assert "signed" in resp.json()["error"]
