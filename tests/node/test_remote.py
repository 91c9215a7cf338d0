"""Ids missing locally are loaded from the configured gateways (here: another node), verified and
cached; an invalid or absent item is a 404, never a crash."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import trio

from devices.core import RsaWallet
from devices.core.ans104 import UnsignedItem, sign_item
from node._server import Running, run_node
from tests.node._client import request
from tests.node.conftest import make_config

if TYPE_CHECKING:
    from pathlib import Path


async def test_missing_id_is_fetched_from_a_gateway_peer(
    tmp_path: Path, wallet_jwk: dict[str, str], node_wallet: RsaWallet
) -> None:
    signer = RsaWallet.generate(4096)
    item = sign_item(UnsignedItem(tags=((b"Content-Type", b"text/plain"), (b"greeting", b"hello")),
                                  data=b"fetched from a peer"), signer)
    raw = item.serialize()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            a: Running = await nursery.start(
                partial(run_node, make_config(tmp_path / "a", wallet_jwk), wallet=node_wallet))
            cfg_b = make_config(tmp_path / "b", wallet_jwk,
                                **{"gateway.urls": [a.url], "gateway.attempts": 1})
            b: Running = await nursery.start(partial(run_node, cfg_b, wallet=node_wallet))
            up = await request(a.port, "POST", "/", headers=[("content-type", "application/ans104"),
                                                             ("accept", "application/json")], body=raw)
            assert up.status == 200, up.body
            assert b.node.store.read_raw(item.id) is None
            got = await request(b.port, "GET", f"/{item.id}/greeting",
                                headers=[("accept", "application/json")])
            assert got.status == 200, got.body
            assert b"hello" in got.body
            # now cached on B, byte-exact, and served by B's own gateway routes
            assert b.node.store.read_raw(item.id) == raw
            data = await request(b.port, "GET", f"/raw/{item.id}")
            assert data.status == 200
            assert data.body == b"fetched from a peer"
            missing = await request(b.port, "GET", "/" + "A" * 43 + "/x",
                                    headers=[("accept", "application/json")])
            assert missing.status == 404
            nursery.cancel_scope.cancel()
