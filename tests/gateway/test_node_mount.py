"""The gateway mounted in front of a real node's HTTP app (the node's router is the fallback)."""

from __future__ import annotations

import json
from pathlib import Path

import lmdb
import trio

from devices.core import Ed25519Key, RsaWallet
from devices.core.ans104 import UnsignedItem, sign_item
from devices.gateway import GatewayApp, ItemIndex, verify_item
from node import HttpApp, Node, load_config
from node._gateway_client import GatewayClient, HttpRequest, h11_transport

ROOT = Path(__file__).resolve().parents[2]


async def test_gateway_in_front_of_the_node(tmp_path: Path, running) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    RsaWallet.generate(2048).save(data_dir / "wallet.json")
    config = load_config(ROOT / "configs" / "test.toml", {"data_dir": str(data_dir)})
    node = Node.open(config)
    env = lmdb.open(str(tmp_path / "gateway"), max_dbs=16, sync=False)
    app = GatewayApp(
        ItemIndex(env),
        read_raw=node.store.read_raw,
        store_raw=lambda item_id, raw: node.store.write_upload(raw, None, [item_id]),
        fallback=HttpApp(node),
    )
    item = sign_item(UnsignedItem(b"from aoconnect", ((b"Type", b"Process"),)), Ed25519Key.generate())
    try:
        with trio.fail_after(30):
            async with running(app) as base:
                resp = await h11_transport(HttpRequest("POST", f"{base}/tx/arweave", body=item.serialize()))
                assert resp.status == 200, resp.body
                assert json.loads(resp.body)["id"] == item.id
                assert node.store.read_raw(item.id) == item.serialize()
                resp = await h11_transport(HttpRequest("GET", f"{base}/{item.id}"))
                assert (resp.status, resp.body, resp.header("type")) == (200, b"from aoconnect", "Process")
                resp = await h11_transport(HttpRequest("HEAD", f"{base}/raw/{item.id}"))
                assert (resp.status, resp.body, resp.header("content-length")) == (200, b"", "14")
                resp = await h11_transport(
                    HttpRequest("GET", f"{base}/raw/{item.id}", (("range", "bytes=5-"),))
                )
                assert (resp.status, resp.body) == (206, b"aoconnect")
                resp = await h11_transport(HttpRequest("GET", f"{base}/tx/{item.id}/status"))
                assert resp.status == 404
                resp = await h11_transport(HttpRequest("GET", f"{base}/info"))
                assert json.loads(resp.body)["current"] == item.id
                # the node's own routes still answer behind the gateway
                resp = await h11_transport(HttpRequest("GET", f"{base}/~meta@1.0/info/address"))
                assert resp.status == 200
                assert node.wallet.address in resp.body.decode("latin-1") + " ".join(
                    v for _, v in resp.headers
                )
                loaded = await GatewayClient([base], verify=verify_item).load_item(item.id)
                assert loaded.raw == item.serialize()
    finally:
        env.close()
        node.close()
