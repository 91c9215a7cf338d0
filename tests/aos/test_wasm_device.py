"""``wasm-64@1.0``: standalone calls, a process whose execution device it is, host imports served
through messages, traps, and the same over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import trio

from devices._base import Context, DeviceInfo
from devices._errors import BadRequest
from devices.core import Message
from devices.wasm_device import parse_params
from tests.aos.conftest import read_vector, store_image
from tests.scheduler._support import process_def, user_msg

if TYPE_CHECKING:
    from tests.scheduler._harness import Node


async def test_standalone_fac_with_both_key_spellings(node: Node) -> None:
    ident = store_image(node, read_vector("test-64.wasm"))
    base = Message({"device": "wasm-64@1.0", "image": ident})
    with trio.fail_after(20):
        out = await node.get(base, path="compute", function="fac", parameters=[5.0])
        assert out["results"]["type"] == b"ok"  # type: ignore[index]
        assert out["results"]["output"] == (120.0,)  # type: ignore[index]
        old = await node.get(
            base.set("output-prefix", "wasm"),
            path="compute",
            **{"wasm-function": "fac", "wasm-params": b"[6.0]"},
        )
        assert old["results"]["wasm"]["output"] == (720.0,)  # type: ignore[index]


async def test_inline_image_and_missing_image(node: Node) -> None:
    base = Message({"device": "wasm-64@1.0", "body": read_vector("test-64.wasm")})
    with trio.fail_after(20):
        out = await node.get(base, path="compute", function="fac", parameters=b"3.0")
        assert out["results"]["output"] == (6.0,)  # type: ignore[index]
        with pytest.raises(BadRequest, match="No viable image"):
            await node.get(Message({"device": "wasm-64@1.0"}), path="init")
        with pytest.raises(BadRequest, match="cannot be loaded"):
            await node.get(Message({"device": "wasm-64@1.0", "body": b"\x00asm-not-really"}), path="init")


async def test_trap_is_an_error_result(node: Node) -> None:
    base = Message({"device": "wasm-64@1.0", "body": read_vector("test-64.wasm")})
    with trio.fail_after(20):
        out = await node.get(base, path="compute", function="no_such_export")
    assert out["results"]["type"] == b"error"  # type: ignore[index]


class MulDevice:
    """``my_lib.mul`` for pow_calculator, served as a device key."""

    id = "mul-test@1.0"
    calls = 0

    def info(self) -> DeviceInfo:
        return DeviceInfo(keys=frozenset({"mul"}))

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Any:
        MulDevice.calls += 1
        a, b = req["args"]  # type: ignore[misc]
        return Message({"results": [int(a) * int(b)]})  # type: ignore[call-overload]


async def test_host_import_through_a_message(node: Node) -> None:
    node.registry.add(MulDevice())
    base = Message(
        {
            "device": "wasm-64@1.0",
            "body": read_vector("pow_calculator.wasm"),
            "stdlib": {"my_lib": {"device": "mul-test@1.0"}},
        }
    )
    MulDevice.calls = 0
    with trio.fail_after(20):
        out = await node.get(base, path="compute", function="pow", parameters=[2, 5])
    assert out["results"]["output"] == (32,)  # type: ignore[index]
    assert MulDevice.calls == 5


async def test_process_with_wasm_execution_device(node: Node) -> None:
    ident = store_image(node, read_vector("test-64.wasm"))
    proc = process_def("fac", **{"execution-device": "wasm-64@1.0", "image": ident})
    pid = node.scheduler.ops.message_id(proc)
    with trio.fail_after(30):
        await node.scheduler.schedule(pid, proc)
        for n in (5, 6, 3):
            await node.scheduler.schedule(pid, user_msg(n, pid, function="fac", parameters=[float(n)]))
        state = await node.get(proc, path="compute", slot=1)
        assert state["results"]["output"] == (120.0,)  # type: ignore[index]
        state = await node.get(proc, path="compute", slot=3)
        assert state["results"]["output"] == (6.0,)  # type: ignore[index]
        node.services["wasm"].drop_guests()  # the next state comes back from a stored snapshot
        node.cache._live.clear()  # type: ignore[attr-defined]
        state = await node.get(proc, path="compute", slot=2)
        assert state["results"]["output"] == (720.0,)  # type: ignore[index]


@pytest.mark.parametrize(
    ("value", "want"),
    [(b"[5.0]", [5.0]), (b"5,2", [5, 2]), ((1, 2.5), [1, 2.5]), (7, [7]), (None, [])],
)
def test_parse_params(value: Any, want: list[float]) -> None:
    assert parse_params(value) == want


@pytest.mark.parametrize("value", [b"[x]", True, b"1;2"])
def test_parse_params_rejects(value: Any) -> None:
    with pytest.raises(BadRequest):
        parse_params(value)


COUNTER = """(module
  (memory (export "memory") 1)
  (func (export "inc") (result i32)
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
    (i32.load (i32.const 0)))
  (func (export "boom") (result i32)
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 100)))
    unreachable))"""


async def test_trap_in_a_process_leaves_no_trace(node: Node) -> None:
    import wasmtime

    ident = store_image(node, bytes(wasmtime.wat2wasm(COUNTER)))
    proc = process_def("counter", **{"execution-device": "wasm-64@1.0", "image": ident})
    pid = node.scheduler.ops.message_id(proc)
    with trio.fail_after(30):
        await node.scheduler.schedule(pid, proc)
        for fn in ("inc", "boom", "inc", "inc"):
            await node.scheduler.schedule(pid, user_msg(0, pid, function=fn))
        outputs = []
        for slot in (1, 2, 3, 4):
            state = await node.get(proc, path="compute", slot=slot)
            outputs.append((state["results"]["type"], state["results"]["output"]))  # type: ignore[index]
    assert outputs[0] == (b"ok", (1,))
    assert outputs[1][0] == b"error"
    assert outputs[2:] == [(b"ok", (2,)), (b"ok", (3,))]
