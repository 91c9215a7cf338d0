"""``@ar.io/wayfinder-core`` (pinned) fetching ``ar://{id}`` from a real node on loopback.

What applies without the ar.io network, and is driven here: ``StaticGatewaysProvider`` and
``StaticRoutingStrategy`` with the node as the one gateway, and ``HashVerificationStrategy`` (strict)
with the node as the trusted gateway, which reads our ``X-AR-IO-Digest`` header. A tampered body
must fail verification.

Not driven, with the reason: ``NetworkGatewaysProvider`` (reads the ar.io gateway registry from the
ARIO AO process through ``@ar.io/sdk``, i.e. a CU on the internet; ``@ar.io/sdk`` itself is the
client of the ar.io contracts and has nothing to do against one local node), ``TrustedPeersGatewaysProvider``
(``/ar-io/peers`` of ar.io gateways), ``SignatureVerificationStrategy`` and
``DataRootVerificationStrategy`` (they need the item's root L1 transaction, ar.io's
``X-AR-IO-Root-Transaction-Id`` / data-item offset headers and Arweave chunks; items on our node
are unbundled and not on L1).
"""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from devices.core import RsaWallet
from devices.core.ans104 import UnsignedItem, sign_item
from node._config import load_config
from node._server import Running, run_node
from tests.conftest import vector_path
from tests.node._client import request

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (HERE / "node_modules" / "@ar.io" / "wayfinder-core").exists(),
        reason="tests/interop/node_modules missing: run scripts/setup.sh --test (npm ci)",
    ),
]


async def test_wayfinder_fetches_and_verifies(tmp_path: Path) -> None:
    user = RsaWallet.load(vector_path("hyperbeam-test-data", "key-2.json"))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    RsaWallet.generate(2048).save(data_dir / "wallet.json")
    config = load_config(ROOT / "configs" / "test.toml", {"data_dir": str(data_dir)})
    data = "hello wayfinder ✓ " * 50
    item = sign_item(UnsignedItem(data.encode(), [(b"Content-Type", b"text/plain; charset=utf-8")]), user)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(partial(run_node, config))
            up = await request(running.port, "POST", "/tx", body=item.serialize())
            assert up.status == 200, up.body
            url = running.url.rstrip("/")
            done = await trio.run_process(
                ["node", str(HERE / "wayfinder_gateway.mjs"), url, item.id],
                cwd=HERE,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
            nursery.cancel_scope.cancel()
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    # wayfinder's stream hasher logs to stdout through its default logger; the report is the last line
    out: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert out["version"] == "1.9.2"
    assert out["resolve"] == f"{url}/{item.id}"
    got = out["request"]
    assert got["status"] == 200, got
    assert got["text"] == data
    assert got["events"]
    assert all(e == {"ok": True, "txId": item.id} for e in got["events"])
    assert out["tampered"] == {"thrown": "Verification failed"}
    assert out["hosts"] == [url.split("://", 1)[1]]
