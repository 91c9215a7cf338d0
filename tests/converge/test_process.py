"""``process@1.0`` with the results service: a slot computed (and attested) on A and B is served by C
from their attestations — C's execution device never runs, C does not even hold the schedule."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from devices import test_exec
from devices._registry import Registry
from devices.core import Message
from devices.scheduler import Scheduler, StateCache
from tests.converge._cluster import cluster, trust_all
from tests.scheduler._harness import DEVICES, MemStore, Node, new_scheduler
from tests.scheduler._support import open_env, process_def, user_msg

if TYPE_CHECKING:
    from pathlib import Path

    from devices._base import Context, DeviceInfo
    from devices.core import RsaWallet, Value


class CountingExec:
    """``test-exec@1.0`` that counts its ``compute`` calls."""

    id = "test-exec@1.0"

    def __init__(self) -> None:
        self.computes = 0

    def info(self) -> DeviceInfo:
        return test_exec.DEVICE.info()

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        if key == "compute":
            self.computes += 1
        return await test_exec.DEVICE.resolve(key, base, req, ctx)


def device_node(scheduler: Scheduler, cache: StateCache, counter: CountingExec, results: Any) -> Node:
    registry = Registry([*(d for d in DEVICES if d.id != counter.id), counter])
    node = Node(registry, MemStore(), scheduler, cache)
    node.services.update({"scheduler": scheduler, "process-cache": cache, "results": results})
    return node


async def test_slot_computed_elsewhere_is_served_without_running_the_device(
    tmp_path: Path, wallets: list[RsaWallet]
) -> None:
    proc = process_def("counter", **{"execution-device": "stack@1.0", "device-stack": ["test-exec@1.0"]})
    envs = [open_env(tmp_path / f"db-{i}") for i in range(3)]
    trust = trust_all(wallets[:3], k=2)
    try:
        async with cluster(tmp_path, wallets) as net, trio.open_nursery() as nursery:
            schedulers = [new_scheduler(env) for env in envs]
            for s in schedulers:
                await nursery.start(s.run)  # type: ignore[arg-type]  # trio-typing's stubs vs TaskStatus[None]
            peers = [await net.start(i, trust) for i in range(3)]
            counters = [CountingExec() for _ in range(3)]
            nodes = [
                device_node(
                    schedulers[i], StateCache(envs[i], snapshot_every=4), counters[i], peers[i].peering
                )
                for i in range(3)
            ]
            pid = schedulers[0].ops.message_id(proc)
            for s in schedulers[:2]:  # A and B hold the same schedule; C holds none
                await s.schedule(pid, proc)
                for n in range(3):
                    await s.schedule(pid, user_msg(n, pid))
            states = [await nodes[i].get(proc, path="compute", slot=3) for i in range(2)]
            assert isinstance(states[0], Message)
            assert states[0] == states[1]
            assert counters[0].computes == counters[1].computes == 4
            with trio.fail_after(10):
                await peers[2].peering.wait_for(pid, 3, 2)
                served = await nodes[2].get(proc, path="compute", slot=3)
            assert isinstance(served, Message)
            assert counters[2].computes == 0  # C's execution device never ran
            # C's subscribers get the converged result too, marked with its attesters
            topic, event = nodes[2].published[-1]
            assert (topic, event.get_int("slot"), event.get_text("process")) == ("result", 3, pid)
            body = event.get_message("body")
            assert body is not None
            assert body.get("attested-by") == tuple(sorted(w.address.encode() for w in wallets[:2]))
            assert served.without("attested-by") == states[0]
            attested = served.get("attested-by")
            assert attested == tuple(sorted(w.address.encode() for w in wallets[:2]))
            # A asked again for the slot it computed: served from its own state, not re-attested
            assert await nodes[0].get(proc, path="compute", slot=3) == states[0]
            assert peers[0].peering.stats.statements_published == 1
            nursery.cancel_scope.cancel()
    finally:
        for env in envs:
            env.close()
