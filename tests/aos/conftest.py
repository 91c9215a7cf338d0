"""Fixtures for the WASM devices: one runtime per session (compiled modules cached on disk),
a fresh ``WasmService`` per test, and the scheduler-harness node with the WASM devices loaded."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trio

from devices import json_iface, wasm_device
from devices.core import Message, b64u_encode
from devices.wasm import WasmLimits, WasmRuntime
from devices.wasm_service import WasmService
from tests.conftest import vector_path
from tests.scheduler._harness import Node, make_node, new_scheduler
from tests.scheduler._support import open_env

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import lmdb

AOS_FUEL = 3_000_000_000


def read_vector(name: str) -> bytes:
    return vector_path("hyperbeam-test-data", name).read_bytes()


def image_id(data: bytes) -> str:
    return b64u_encode(hashlib.sha256(data).digest())


@pytest.fixture(scope="session")
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> WasmRuntime:
    cache = getattr(request.config, "cache", None)
    where = Path(cache.mkdir("hyperpeer-wasm-modules")) if cache else tmp_path_factory.mktemp("wasm")
    return WasmRuntime(where)


@pytest.fixture
def wasm(runtime: WasmRuntime) -> WasmService:
    return WasmService(runtime, limits=WasmLimits(fuel=AOS_FUEL, memory_bytes=512 << 20), threads=2)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[lmdb.Environment]:
    e = open_env(tmp_path / "db")
    yield e
    e.close()


@pytest.fixture
async def node(env: lmdb.Environment, wasm: WasmService) -> AsyncIterator[Node]:
    s = new_scheduler(env)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        n = make_node(env, s, snapshot_every=2, extra=[wasm_device.DEVICE, *json_iface.DEVICES])
        n.services["wasm"] = wasm
        yield n
        nursery.cancel_scope.cancel()


def store_image(node: Node, data: bytes) -> str:
    ident = image_id(data)
    node.store.write_message(Message({"body": data}), [ident])
    return ident
