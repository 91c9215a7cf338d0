"""The HTTP edge against a node served in-process on 127.0.0.1, port 0."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.node._client import request

if TYPE_CHECKING:
    from node._server import Running


async def test_hello_world(node: Running) -> None:
    resp = await request(node.port, "GET", "/~message@1.0&hello=world/hello")
    assert resp.status == 200, resp.body
    assert resp.body == b"world"
    assert resp.headers["access-control-allow-origin"] == "*"


async def test_meta_info_address(node: Running) -> None:
    resp = await request(node.port, "GET", "/~meta@1.0/info/address")
    assert resp.status == 200
    assert resp.body == node.node.wallet.address.encode()


async def test_meta_info_json(node: Running) -> None:
    resp = await request(node.port, "GET", "/~meta@1.0/info", headers=[("accept", "application/json")])
    assert resp.status == 200
    info = resp.json()
    assert info["address"] == node.node.wallet.address
    assert info["operator"] == node.node.wallet.address
    assert info["devices"] == ["message@1.0", "meta@1.0"]
    assert "wallet_path" not in info
    assert info["http"]["port"] == 0
    assert resp.headers["content-type"] == "application/json"


async def test_options_and_root(node: Running) -> None:
    resp = await request(node.port, "OPTIONS", "/anything")
    assert resp.status == 204
    assert resp.body == b""
    # ``/`` is the gateway-style info document (AO tools read it); HyperBEAM paths keep working.
    resp = await request(node.port, "GET", "/")
    assert resp.status == 200
    info = json.loads(resp.body)
    assert info["network"].startswith("hyperpeer")
    assert "height" in info
    assert (await request(node.port, "GET", "/~meta@1.0/info/address")).status == 200
