"""The WASM devices behind a real node over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from devices.core import Message, RsaWallet, commit
from tests.aos._node import AosNode, aos_node
from tests.aos.conftest import image_id, read_vector
from tests.conftest import vector_path
from tests.node._client import request

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from devices.wasm_service import WasmService

JSON = [("require-codec", "application/json")]


@pytest.fixture(scope="module")
def wallet() -> RsaWallet:
    return RsaWallet.load(vector_path("hyperbeam-test-data", "key-1.json"))


@pytest.fixture
async def hnode(tmp_path: Path, wallet: RsaWallet, wasm: WasmService) -> AsyncIterator[AosNode]:
    async with aos_node(tmp_path, wallet, wasm, snapshot_every=2) as n:
        yield n


def put_image(n: AosNode, name: str) -> str:
    data = read_vector(name)
    ident = image_id(data)
    n.node.store.write_message(Message({"body": data}), [ident])
    return ident


async def test_wasm64_fac_over_http(hnode: AosNode) -> None:
    ident = put_image(hnode, "test-64.wasm")
    resp = await request(
        hnode.port,
        "GET",
        f"/~wasm-64@1.0/compute/results?image={ident}&function=fac&parameters=5.0",
        headers=JSON,
    )
    assert resp.status == 200, resp.body
    assert resp.json()["output"] == [120.0]


async def test_wasm64_process_over_http(hnode: AosNode, wallet: RsaWallet) -> None:
    ident = put_image(hnode, "test-64.wasm")
    addr = hnode.node.wallet.address
    proc = commit(
        Message(
            {
                "type": "Process",
                "device": "process@1.0",
                "scheduler": addr,
                "execution-device": "wasm-64@1.0",
                "image": ident,
            }
        ),
        wallet,
    )
    pid = hnode.scheduler.ops.message_id(proc)
    await hnode.scheduler.schedule(pid, proc)
    hnode.node.store.write_message(proc, [pid])
    msg = commit(Message({"type": "Message", "target": pid, "function": "fac", "parameters": [5.0]}), wallet)
    await hnode.scheduler.schedule(pid, msg)
    resp = await request(hnode.port, "GET", f"/{pid}/compute&slot=1/results", headers=JSON, limit_s=30)
    assert resp.status == 200, resp.body
    assert resp.json()["output"] == [120.0]
