"""The WASM devices behind a real node over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import pytest
import trio

from devices.core import Message, RsaWallet, commit
from devices.wasm_service import WasmService
from tests.aos._node import AosNode, aos_node
from tests.aos.conftest import image_id, read_vector
from tests.conftest import vector_path
from tests.node._client import Response, request

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path


T = TypeVar("T")
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


class ProbeService(WasmService):
    """Sets ``entered`` whenever a guest call is handed to a worker thread."""

    def __init__(self, base: WasmService) -> None:
        super().__init__(base.runtime, limits=base.limits, threads=2)
        self.entered = trio.Event()

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        self.entered.set()
        return await super().run(fn, *args)


async def test_runaway_lua_loop_does_not_stall_the_node(
    tmp_path: Path, wallet: RsaWallet, wasm: WasmService
) -> None:
    probe = ProbeService(wasm)
    async with aos_node(tmp_path, wallet, probe) as n:
        ident = put_image(n, "aos-2-pure-xs.wasm")
        proc = commit(
            Message(
                {
                    "type": "Process",
                    "device": "process@1.0",
                    "scheduler": wallet.address,
                    "execution-device": "genesis-wasm@1.0",
                    "module": ident,
                }
            ),
            wallet,
        )
        pid = n.scheduler.ops.message_id(proc)
        await n.scheduler.schedule(pid, proc)
        n.node.store.write_message(proc, [pid])
        for code in ("while true do end", "return 6*7"):
            msg = commit(Message({"type": "Message", "target": pid, "action": "Eval", "data": code}), wallet)
            await n.scheduler.schedule(pid, msg)
        with trio.fail_after(60):
            first = await request(n.port, "GET", f"/{pid}/compute&slot=0/results", headers=JSON, limit_s=30)
            assert first.status == 200, first.body
            probe.entered = trio.Event()
            loop_done = trio.Event()
            replies: list[Response] = []

            async def run_loop() -> None:
                replies.append(
                    await request(n.port, "GET", f"/{pid}/compute&slot=1/results", headers=JSON, limit_s=50)
                )
                loop_done.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(run_loop)
                await probe.entered.wait()
                worst = 0.0
                for _ in range(5):
                    t0 = trio.current_time()
                    info = await request(n.port, "GET", "/~meta@1.0/info/address")
                    worst = max(worst, trio.current_time() - t0)
                    assert info.status == 200
                assert not loop_done.is_set()  # the other requests were answered during the loop
                assert worst < 0.5
            (looped,) = replies
            assert looped.status == 200, looped.body
            assert "fuel" in looped.json()["raw"]["Error"].lower()
            after = await request(n.port, "GET", f"/{pid}/compute&slot=2/results", headers=JSON, limit_s=30)
            assert after.json()["raw"]["Output"]["data"] == "42"
