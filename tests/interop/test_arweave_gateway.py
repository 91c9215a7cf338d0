"""Gateway interop with arweave-js (npm ``arweave``, pinned): ``api.get('info')``,
``transactions.getData`` and GraphQL via ``api.post('graphql', …)`` against our routes on loopback.

Needs ``node`` and ``tests/interop/node_modules`` (``scripts/setup.sh --test`` installs them).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import lmdb
import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from devices.core import RsaWallet
from devices.core.ans104 import UnsignedItem, sign_item
from devices.gateway import GatewayApp, ItemIndex, parse_verified_item

HERE = Path(__file__).resolve().parent

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (HERE / "node_modules" / "arweave").exists(),
        reason="tests/interop/node_modules missing: run scripts/setup.sh --test (npm ci)",
    ),
]


async def test_arweave_js_reads_our_gateway(tmp_path: Path) -> None:
    env = lmdb.open(str(tmp_path / "db"), max_dbs=16, sync=False)
    store: dict[str, bytes] = {}
    app = GatewayApp(ItemIndex(env), read_raw=store.get, store_raw=store.__setitem__)
    tags = [(b"Data-Protocol", b"ao"), (b"Type", b"Process"), (b"Content-Type", b"application/octet-stream")]
    data = bytes(range(256)) * 5
    item = sign_item(UnsignedItem(data, tags), RsaWallet.generate(4096))
    raw = item.serialize()
    store[item.id] = raw
    app.index.add(parse_verified_item(raw))

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            (base,) = await nursery.start(serve, app, config)
            port = base.rsplit(":", 1)[1]
            done = await trio.run_process(
                ["node", str(HERE / "arweave_gateway.mjs"), port, item.id],
                cwd=HERE,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
            nursery.cancel_scope.cancel()
    env.close()
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert out["info_status"] == 200
    assert out["info"]["height"] == 1
    assert out["info"]["current"] == item.id
    assert bytes.fromhex(out["data_hex"]) == data
    assert out["gql_status"] == 200
    (edge,) = out["gql"]["data"]["transactions"]["edges"]
    assert edge["node"]["id"] == item.id
    assert edge["node"]["owner"]["address"] == item.owner_address
    assert edge["node"]["data"] == {"size": str(len(data)), "type": "application/octet-stream"}
    assert edge["node"]["block"] is None
    assert edge["node"]["bundledIn"] == {"id": ""}
    assert {"name": "Type", "value": "Process"} in edge["node"]["tags"]
    assert out["single"]["data"]["transactions"]["edges"] == [{"node": {"id": item.id}}]
    assert out["bad_status"] == 400
    assert out["bad"]["errors"]
