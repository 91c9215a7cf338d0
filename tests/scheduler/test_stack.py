from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from devices._errors import BadRequest, DeviceError
from devices.core import Message
from tests.scheduler._harness import AppendDevice, make_node, new_scheduler

if TYPE_CHECKING:
    import lmdb


def _node(env: lmdb.Environment, *devices: AppendDevice):
    return make_node(env, new_scheduler(env), extra=list(devices))


def _base(*names: str, **extra: object) -> Message:
    return Message({"device": "stack@1.0", "device-stack": list(names), "result": "INIT", **extra})


async def test_fold_two_devices(env: lmdb.Environment) -> None:
    node = _node(env, AppendDevice("d1@1.0", "!D1!"), AppendDevice("d2@1.0", "_D2_"))
    out = await node.get(_base("d1@1.0", "d2@1.0"), path="append", bin="2")
    assert isinstance(out, Message)
    assert out["result"] == b"INIT!D1!2_D2_2"
    assert out["device"] == b"stack@1.0"  # restored
    assert "pass" not in out


async def test_many_devices_and_reinvocation(env: lmdb.Environment) -> None:
    devs = [AppendDevice(f"d{i}@1.0", f"+D{i}") for i in range(1, 9)]
    node = _node(env, *devs)
    out = await node.get(_base(*[d.id for d in devs]), path="append", bin="2")
    assert out["result"] == b"INIT+D12+D22+D32+D42+D52+D62+D72+D82"  # type: ignore[index]
    two = _base("d1@1.0", "d2@1.0")
    first = await node.get(two, path="append", bin="2")
    again = await node.resolve(first, Message(path="append", bin="3"))  # type: ignore[arg-type]
    assert again["result"] == b"INIT+D12+D22+D13+D23"  # type: ignore[index]


async def test_skip_stops_the_fold(env: lmdb.Environment) -> None:
    node = _node(env, AppendDevice("d1@1.0", "+D1", control="skip"), AppendDevice("d2@1.0", "+D2"))
    out = await node.get(_base("d1@1.0", "d2@1.0"), path="append", bin="2")
    assert out["result"] == b"INIT+D12"  # type: ignore[index]


async def test_pass_reruns_the_stack(env: lmdb.Environment) -> None:
    node = _node(env, AppendDevice("d1@1.0", "+D1", control="pass", until_pass=2))
    out = await node.get(_base("d1@1.0"), path="append", bin="_")
    assert out["result"] == b"INIT+D1_+D1_"  # type: ignore[index]
    forever = _node(env, AppendDevice("d9@1.0", "+D9", control="pass", until_pass=10**6))
    with pytest.raises(DeviceError, match="passes"):
        await forever.get(_base("d9@1.0", **{"max-passes": 5}), path="append", bin="_")


async def test_unexported_key_skips_device(env: lmdb.Environment) -> None:
    node = _node(env, AppendDevice("d1@1.0", "+D1"), AppendDevice("d2@1.0", "+D2", special=True))
    out = await node.get(_base("d1@1.0", "d2@1.0"), path="special")
    assert out["special"]["output"] == 1337  # type: ignore[index]


async def test_map_mode(env: lmdb.Environment) -> None:
    node = _node(env, AppendDevice("d1@1.0", "+D1"), AppendDevice("d2@1.0", "+D2"))
    out = await node.get(_base("d1@1.0", "d2@1.0", mode="Map"), path="append", bin="/")
    assert isinstance(out, Message)
    assert out["1"]["result"] == b"INIT+D1/"  # type: ignore[index]
    assert out["2"]["result"] == b"INIT+D2/"  # type: ignore[index]


async def test_bad_stack_definitions(env: lmdb.Environment) -> None:
    node = _node(env)
    with pytest.raises(BadRequest, match="device-stack"):
        await node.get(Message(device="stack@1.0"), path="append")
    with pytest.raises(BadRequest, match="mode"):
        await node.get(_base("message@1.0", mode="Zigzag"), path="append")


async def test_error_strategy(env: lmdb.Environment) -> None:
    class Boom(AppendDevice):
        async def resolve(self, key, base, req, ctx):
            raise BadRequest("boom")

    node = _node(env, AppendDevice("d1@1.0", "+D1"), Boom("boom@1.0", ""))
    with pytest.raises(BadRequest, match="boom"):
        await node.get(_base("d1@1.0", "boom@1.0"), path="append", bin="2")
    out = await node.get(_base("d1@1.0", "boom@1.0", **{"error-strategy": "stop"}), path="append", bin="2")
    assert out["result"] == b"INIT+D12"  # type: ignore[index]
