"""The devices behind the node's real resolver and store, with real signatures: the HTTP route
shapes (as request singletons) that aoconnect and HyperBEAM clients use."""

from __future__ import annotations

from typing import TYPE_CHECKING

import lmdb
import pytest
import trio

from devices import process, push, scheduler_device, stack, test_exec
from devices.core import Message, RsaWallet, commit, message_id
from devices.scheduler import AssignmentLog, Scheduler, StateCache
from node._config import load_config
from node._node import Node
from tests.conftest import vector_path

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[Node, RsaWallet]]:
    wallet = RsaWallet.load(vector_path("hyperbeam-test-data", "key-1.json"))
    user = RsaWallet.load(vector_path("hyperbeam-test-data", "key-2.json"))
    data = tmp_path / "data"
    data.mkdir()
    wallet.save(data / "wallet.json")
    env = lmdb.open(str(tmp_path / "sched"), max_dbs=8, map_size=64 << 20, sync=True, metasync=True)
    sched = Scheduler.for_wallet(AssignmentLog(env), wallet)
    services = {"scheduler": sched, "process-cache": StateCache(env, snapshot_every=2)}
    devices = [process.DEVICE, push.DEVICE, scheduler_device.DEVICE, stack.DEVICE, test_exec.DEVICE]
    node = Node.open(load_config(None, {"data_dir": str(data)}), extra_devices=devices, services=services)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(sched.run)
            yield node, user
            nursery.cancel_scope.cancel()
    finally:
        node.close()
        env.close()


async def _req(node: Node, path: str, **keys: object) -> object:
    return (await node.handle(Message({"path": path, **keys}))).value


async def test_routes_through_the_real_resolver(app: tuple[Node, RsaWallet]) -> None:
    node, user = app
    addr = node.wallet.address
    proc = commit(
        Message(
            {
                "type": "Process",
                "device": "process@1.0",
                "scheduler": addr,
                "execution-device": "stack@1.0",
                "device-stack": ["test-exec@1.0"],
            }
        ),
        user,
    )
    pid = message_id(proc, "all")
    with trio.fail_after(30):
        a0 = await _req(node, "/~scheduler@1.0/schedule", method="POST", body=proc)
        assert isinstance(a0, Message)
        assert a0["slot"] == 0
        assert await _req(node, f"/{pid}/slot/current") == 0
        for i in range(1, 4):
            msg = commit(Message({"type": "Message", "target": pid, "n": i}), user)
            ai = await _req(node, f"/{pid}/schedule", method="POST", body=msg)
            assert ai["slot"] == i  # type: ignore[index]
        assert await _req(node, f"/{pid}/slot/current") == 3
        data = await _req(node, f"/{pid}/compute&slot=1/results/data")
        assert isinstance(data, bytes)
        assert data.startswith(b"2:")
        results = await _req(node, f"/{pid}~process@1.0/compute/results=2")
        assert isinstance(results, Message)
        assert results["data"].startswith(b"3:")  # type: ignore[union-attr]  # N honoured
        status = await _req(node, "/~scheduler@1.0/status")
        assert pid.encode() in status["processes"]  # type: ignore[index,operator]
        page = await _req(node, "/~scheduler@1.0/schedule", target=pid)
        assert sorted(page["assignments"]) == ["0", "1", "2", "3"]  # type: ignore[index,arg-type]
