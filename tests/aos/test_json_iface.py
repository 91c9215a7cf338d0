"""``json-iface@1.0`` / ``genesis-wasm@1.0``: aos-2 processes folded by ``process@1.0``."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import trio

from devices._errors import DeviceError
from devices.core import Message, b64u_encode
from tests.aos.conftest import read_vector, store_image
from tests.conftest import vector_path
from tests.scheduler._support import process_def, user_msg

if TYPE_CHECKING:
    from tests.scheduler._harness import Node


@pytest.fixture
def aos_image(node: Node) -> str:
    return store_image(node, read_vector("aos-2-pure-xs.wasm"))


async def spawn(node: Node, image: str, name: str = "aos") -> tuple[Message, str]:
    proc = process_def(name, **{"execution-device": "genesis-wasm@1.0", "module": image})
    pid = node.scheduler.ops.message_id(proc)
    await node.scheduler.schedule(pid, proc)
    return proc, pid


async def send(node: Node, proc: Message, pid: str, n: int, **keys: Any) -> Message:
    a = await node.scheduler.schedule(pid, user_msg(n, pid, **keys))
    state = await node.get(proc, path="compute", slot=a.slot)
    assert isinstance(state, Message)
    results = state["results"]
    assert isinstance(results, Message)
    return results


async def test_eval_output_state_and_errors(node: Node, aos_image: str) -> None:
    with trio.fail_after(40):
        proc, pid = await spawn(node, aos_image)
        r = await send(node, proc, pid, 1, action="Eval", data="return 1+1")
        assert r["data"] == b"2"
        assert r["raw"]["Output"]["data"] == b"2"  # type: ignore[index]
        assert r["raw"]["Messages"] == ()  # type: ignore[index]
        assert isinstance(r["raw"]["GasUsed"], int)  # type: ignore[index]
        await send(node, proc, pid, 2, action="Eval", data="X = 42")
        r = await send(node, proc, pid, 3, action="Eval", data="error('boom')")
        assert b"boom" in r["raw"]["Error"]  # type: ignore[index,operator]
        r = await send(node, proc, pid, 4, action="Eval", data="return X")
        assert r["data"] == b"42"


async def test_send_fills_the_outbox(node: Node, aos_image: str) -> None:
    with trio.fail_after(40):
        proc, pid = await spawn(node, aos_image)
        r = await send(
            node, proc, pid, 1, action="Eval", data="Send({Target=ao.id, Action='State', Data='hello'})"
        )
        entry = r["outbox"]["1"]  # type: ignore[index]
        assert entry["data"] == b"hello"  # type: ignore[index]
        assert entry["Action"] == b"State"  # type: ignore[index]
        assert entry["from-process"] == pid.encode()  # type: ignore[index]
        assert r["raw"]["Messages"][0]["Target"] == pid.encode()  # type: ignore[index]


async def test_infinite_loop_runs_out_of_fuel_and_is_rolled_back(node: Node, aos_image: str) -> None:
    with trio.fail_after(50):
        proc, pid = await spawn(node, aos_image)
        await send(node, proc, pid, 1, action="Eval", data="Y = 7")
        r = await send(node, proc, pid, 2, action="Eval", data="Y = 8; while true do end")
        assert b"fuel" in r["raw"]["Error"].lower()  # type: ignore[index,union-attr]
        r = await send(node, proc, pid, 3, action="Eval", data="return Y")
        assert r["data"] == b"7"


async def test_restore_from_snapshot_is_bit_identical(node: Node, aos_image: str) -> None:
    wasm = node.services["wasm"]
    with trio.fail_after(50):
        proc, pid = await spawn(node, aos_image)
        for n, code in enumerate(
            ["A = 1", "A = A + 1", "B = 'x'", "A = A * 10", "C = {}", "return A"], start=1
        ):
            await node.scheduler.schedule(pid, user_msg(n, pid, action="Eval", data=code))
        state = await node.get(proc, path="compute", slot=6)
        assert state["results"]["data"] == b"20"  # type: ignore[index]
        straight = await wasm.run(wasm.guest("aos", pid, 6).proc.snapshot)
        wasm.drop_guests()
        node.cache._live.clear()  # type: ignore[attr-defined]
        assert node.cache.snapshot_at(pid, 6) is None
        again = await node.get(proc, path="compute", slot=6)  # slot-5 snapshot, then slot 6
        assert again["results"]["data"] == b"20"  # type: ignore[index]
        resumed = await wasm.run(wasm.guest("aos", pid, 6).proc.snapshot)
        assert resumed.digest() == straight.digest()
        # reading an older slot restores a second guest; the newest keeps going
        older = await node.get(proc, path="compute", slot=5)
        assert older["results"]["data"] == b""  # type: ignore[index]  # "C = {}"
        await node.scheduler.schedule(pid, user_msg(7, pid, action="Eval", data="return A + 1"))
        state = await node.get(proc, path="compute", slot=7)
        assert state["results"]["data"] == b"21"  # type: ignore[index]
        assert wasm.guest_count() <= 2


async def test_hyperbeam_aos_stack_definition(node: Node, aos_image: str) -> None:
    """HyperBEAM's test process: ``stack@1.0`` over WASI, JSON-Iface, WASM-64, Multipass. Our
    ``json-iface@1.0`` runs aos itself; ``wasm-64@1.0`` has no function to call; the other two are
    not devices here and the stack skips them."""
    stack = ["WASI@1.0", "JSON-Iface@1.0", "WASM-64@1.0", "Multipass@1.0"]
    proc = process_def(
        "hb",
        **{
            "execution-device": "stack@1.0",
            "device-stack": stack,
            "image": aos_image,
            "output-prefix": "wasm",
            "passes": 2,
        },
    )
    pid = node.scheduler.ops.message_id(proc)
    with trio.fail_after(40):
        await node.scheduler.schedule(pid, proc)
        r = await send(node, proc, pid, 1, action="Eval", data="Z = 6*7; return Z")
        assert r["data"] == b"42"
        assert node.services["wasm"].guest_count() == 1  # wasm-64 stood aside
        node.services["wasm"].drop_guests()
        node.cache._live.clear()  # type: ignore[attr-defined]
        r = await send(node, proc, pid, 2, action="Eval", data="return Z + 1")  # via the stack snapshot
    assert r["data"] == b"43"


async def test_dry_run_neither_schedules_nor_persists(node: Node, aos_image: str) -> None:
    with trio.fail_after(40):
        proc, pid = await spawn(node, aos_image)
        await send(node, proc, pid, 1, action="Eval", data="K = 1")
        base = proc.set("device", "genesis-wasm@1.0")
        alice = b64u_encode(hashlib.sha256(b"alice").digest())
        out = await node.get(base, path="compute", Action="Eval", data="K = K + 100; return K", owner=alice)
        assert out["raw"]["Output"]["data"] == b"101"  # type: ignore[index]
        assert out["results"]["raw"]["Output"]["data"] == b"101"  # type: ignore[index]
        assert node.scheduler.current(pid) == 1
        r = await send(node, proc, pid, 2, action="Eval", data="return K")
    assert r["data"] == b"1"


class FakeGateway:
    """The ``gateway-client`` service: serves one signed item by id."""

    def __init__(self, raw: bytes, item_id: str) -> None:
        self.raw, self.item_id, self.calls = raw, item_id, 0

    async def load_item(self, item_id: str) -> Any:
        from devices.gateway import NotFoundOnGateways

        self.calls += 1
        if item_id != self.item_id:
            raise NotFoundOnGateways(f"no {item_id}")
        return SimpleNamespace(raw=self.raw)


async def test_module_from_a_gateway(node: Node) -> None:
    from devices.core import RsaWallet
    from devices.core.ans104 import UnsignedItem, sign_item

    wallet = RsaWallet.load(vector_path("hyperbeam-test-data", "key-2.json"))
    item = sign_item(UnsignedItem(read_vector("aos-2-pure-xs.wasm"), [(b"Type", b"Module")]), wallet)
    gateway = FakeGateway(item.serialize(), item.id)
    node.services["gateway-client"] = gateway
    with trio.fail_after(40):
        proc, pid = await spawn(node, item.id)
        r = await send(node, proc, pid, 1, action="Eval", data="return 3*3")
        assert r["data"] == b"9"
        assert gateway.calls == 1
        missing, _ = await spawn(node, "A" * 43, name="missing")
        with pytest.raises(DeviceError, match="AAAA"):
            await node.get(missing, path="compute", slot=0)
