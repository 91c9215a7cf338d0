"""Query any peer: C is asked over its real resolver for a slot of a process that only A schedules
and computed. C loads the process message from A (verified), converges on A's attestation and
answers with ``attested-by``; C's execution device never runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lmdb
import trio

from devices import process, push, scheduler_device, stack, test_exec
from devices.core import Message, commit, message_id
from devices.scheduler import AssignmentLog, Scheduler, StateCache
from node._config import load_config
from node._node import Node
from node.peering import Peering, ResultsSlot, TrustPolicy
from p2p import MemoryNetwork
from tests.converge.test_process import CountingExec

if TYPE_CHECKING:
    from pathlib import Path

    from devices.core import RsaWallet


def _node(
    tmp_path: Path, name: str, wallet: RsaWallet, trust: TrustPolicy, exec_device: Any
) -> tuple[Node, Any]:
    data = tmp_path / name
    data.mkdir()
    wallet.save(data / "wallet.json")
    env = lmdb.open(str(tmp_path / f"{name}-sched"), max_dbs=8, map_size=64 << 20)
    slot = ResultsSlot(trust)
    services = {
        "scheduler": Scheduler.for_wallet(AssignmentLog(env), wallet),
        "process-cache": StateCache(env, snapshot_every=2),
        "results": slot,
        "peer-loader": slot,
    }
    devices = [process.DEVICE, push.DEVICE, scheduler_device.DEVICE, stack.DEVICE, exec_device]
    node = Node.open(load_config(None, {"data_dir": str(data)}), extra_devices=devices, services=services)
    return node, env


async def _req(node: Node, path: str, **keys: object) -> object:
    return (await node.handle(Message({"path": path, **keys}))).value


async def test_a_peer_that_holds_nothing_answers_from_attestations(
    tmp_path: Path, wallets: list[RsaWallet]
) -> None:
    trust = TrustPolicy(frozenset({wallets[0].address}), 1)
    counting = CountingExec()
    (a, env_a), (c, env_c) = (
        _node(tmp_path, "a", wallets[0], trust, test_exec.DEVICE),
        _node(tmp_path, "c", wallets[1], trust, counting),
    )
    net = MemoryNetwork()
    try:
        async with trio.open_nursery() as nursery:
            peers = []
            for node in (a, c):
                await nursery.start(node.services["scheduler"].run)
                peering = Peering(net.node(), node.store, node.wallet, trust, batch_delay_s=0.005)
                await nursery.start(peering.run)
                node.services["results"].bind(peering)
                peers.append(peering)
            await peers[1].p2p.connect(peers[0].p2p.listen_addrs[0])
            proc = commit(
                Message(
                    {
                        "type": "Process",
                        "device": "process@1.0",
                        "scheduler": a.wallet.address,
                        "execution-device": "stack@1.0",
                        "device-stack": ["test-exec@1.0"],
                    }
                ),
                wallets[3],
            )
            pid = message_id(proc, "all")
            with trio.fail_after(30):
                await _req(a, "/~scheduler@1.0/schedule", method="POST", body=proc)
                for i in range(1, 4):
                    msg = commit(Message({"type": "Message", "target": pid, "n": i}), wallets[3])
                    await _req(a, f"/{pid}/schedule", method="POST", body=msg)
                computed = await _req(a, f"/{pid}~process@1.0/compute&slot=3")
                assert isinstance(computed, Message)
                await peers[1].wait_for(pid, 3, 1)
                assert c.store.read_message(pid) is None  # C holds neither the process nor its schedule
                served = await _req(c, f"/{pid}~process@1.0/compute&slot=3")
            assert isinstance(served, Message)
            assert served.get("attested-by") == (a.wallet.address.encode(),)
            # the state A computed, as attested: the same id (C's copy went through the store's form)
            assert message_id(served.without("attested-by")) == message_id(computed)
            assert counting.computes == 0  # C's execution device never ran
            assert c.store.read_message(pid) is not None  # loaded from A, verified, stored
            assert peers[1].stats.fetched_messages == 1
            nursery.cancel_scope.cancel()
    finally:
        for node, env in ((a, env_a), (c, env_c)):
            node.close()
            env.close()
