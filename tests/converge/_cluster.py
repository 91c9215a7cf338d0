"""Helpers for the convergence tests: clusters of ``Peering`` nodes on a
``MemoryNetwork`` (each peer with its own LMDB store), fully connected."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from devices.core import Message, RsaWallet
from node._store import LmdbStore
from node.peering import Peering, TrustPolicy
from p2p import MemoryNetwork

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from trio_typing import TaskStatus

PROCESS = "P" * 43


@dataclass
class Peer:
    """One running peering node, plus a count of the results it computed itself."""

    peering: Peering
    scope: trio.CancelScope
    store: LmdbStore
    executions: int = 0
    done: trio.Event = field(default_factory=trio.Event)

    @property
    def id(self) -> str:
        return self.peering.p2p.peer_id

    @property
    def address(self) -> str:
        return self.peering.wallet.address


def result_for(process: str, slot: int, variant: str = "") -> tuple[Message, str]:
    """What the (deterministic) test computation yields: a result message and its hashpath."""
    msg = Message(
        {
            "process": process.encode(),
            "slot": slot,
            "output": f"out-{slot}{variant}".encode(),
            "blob": bytes(range(256)),
        }
    )
    return msg, f"hp-{process[:6]}-{slot}{variant}"


async def compute(peer: Peer, process: str, slot: int, variant: str = "") -> Message:
    """Compute and attest, without asking peers first."""
    peer.executions += 1
    msg, hashpath = result_for(process, slot, variant)
    await peer.peering.announce(process, slot, msg, hashpath, ["test-exec@1.0"])
    return msg


async def serve(peer: Peer, process: str, slot: int, variant: str = "") -> tuple[Message, tuple[str, ...]]:
    """The process-device pattern: converge from peers if possible, else compute and announce."""
    converged = await peer.peering.lookup(process, slot)
    if converged is not None:
        return converged.message, converged.attested_by
    peer.executions += 1
    msg, hashpath = result_for(process, slot, variant)
    await peer.peering.announce(process, slot, msg, hashpath, ["test-exec@1.0"])
    return msg, ()


class Cluster:
    def __init__(self, nursery: trio.Nursery, tmp_path: Path, wallets: list[RsaWallet]) -> None:
        self.nursery = nursery
        self.tmp_path = tmp_path
        self.wallets = wallets
        self.net = MemoryNetwork()
        self.peers: list[Peer] = []

    async def start(self, i: int, trust: TrustPolicy, **kwargs: Any) -> Peer:
        store = LmdbStore(self.tmp_path / f"peer-{i}", map_size_bytes=64 << 20)
        peering = Peering(
            self.net.node(f"peer-{i}"), store, self.wallets[i], trust, batch_delay_s=0.005, **kwargs
        )
        scope = trio.CancelScope()
        done = trio.Event()

        async def runner(task_status: TaskStatus[Peering] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                with scope:
                    await peering.run(task_status=task_status)
            finally:
                store.close()
                done.set()

        await self.nursery.start(runner)
        peer = Peer(peering, scope, store, done=done)
        for other in self.peers:
            if other.done.is_set():
                continue
            await peering.p2p.connect(other.peering.p2p.listen_addrs[0])
        self.peers.append(peer)
        return peer

    async def stop(self, peer: Peer) -> None:
        peer.scope.cancel()
        with trio.fail_after(5):
            await peer.done.wait()


@asynccontextmanager
async def cluster(tmp_path: Path, wallets: list[RsaWallet]) -> AsyncIterator[Cluster]:
    async with trio.open_nursery() as nursery:
        yield Cluster(nursery, tmp_path, wallets)
        nursery.cancel_scope.cancel()


def trust_all(wallets: list[RsaWallet], k: int, **kwargs: Any) -> TrustPolicy:
    return TrustPolicy(frozenset(w.address for w in wallets), k, **kwargs)
