"""The single-process variant (``bench/gossip.py --in-process``): N ``Peering`` peers over
``Libp2pNode`` in this one process and Trio loop, sharing one core; and ``start_peers``, which the
converged-vs-recomputed part also uses (its peers live in this process, next to the nodes they serve).
"""

from __future__ import annotations

import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import trio

from bench.gossip_peer import hashpath_for
from bench.gossip_procs import pct
from devices.core import Message, RsaWallet, message_id
from node._store import LmdbStore
from node.peering import TOPIC, Peering, TrustPolicy
from p2p import Libp2pNode, P2PConfig

PROCESS = "B" * 43


async def start_peers(
    stack: AsyncExitStack, nursery: trio.Nursery, tmp: Path, wallets: list[RsaWallet], k: int, chain: bool
) -> list[Peering]:
    """One ``Peering`` per wallet (all trusted, ``k`` of them needed), linked in a chain or all to all;
    returns once every link is in both peers' mesh (bounded)."""
    config = P2PConfig(rate_limit_per_s=1e6, rate_limit_burst=1e6)
    trust = TrustPolicy(frozenset(w.address for w in wallets), k)
    peers: list[Peering] = []
    for i, wallet in enumerate(wallets):
        store = LmdbStore(tmp / f"peer-{i}", map_size_bytes=1 << 30)
        stack.callback(store.close)
        node = Libp2pNode(seed=bytes([50 + i]) * 32, config=config)
        peering = Peering(node, store, wallet, trust)
        peers.append(await nursery.start(peering.run))
        targets = peers[-2:-1] if chain else peers[:-1]
        for other in targets:
            await node.connect(other.p2p.listen_addrs[0])
    with trio.fail_after(20):
        for i, a in enumerate(peers):
            for b in peers[i + 1 : i + 2] if chain else peers[i + 1 :]:
                assert isinstance(a.p2p, Libp2pNode) and isinstance(b.p2p, Libp2pNode)
                await a.p2p.wait_for_mesh(b.p2p.peer_id, TOPIC)
                await b.p2p.wait_for_mesh(a.p2p.peer_id, TOPIC)
    return peers


async def attestations(peer_count: int, count: int, wallets: list[RsaWallet]) -> dict[str, float]:
    """A burst of ``count`` announcements on peer 0, timed to their arrival at peer N-1."""
    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncExitStack() as stack, trio.open_nursery() as nursery:
            peers = await start_peers(stack, nursery, Path(tmp), wallets[:peer_count], 1, chain=True)
            first, last = peers[0], peers[-1]
            sent: dict[int, float] = {}
            arrived: dict[int, float] = {}
            done = trio.Event()

            def note(records: list[Any]) -> None:
                now = time.perf_counter()
                for record in records:
                    arrived.setdefault(record.slot, now)
                if len(arrived) >= count:
                    done.set()

            last.add_listener(note)
            sizes: list[int] = []
            publish = first.p2p.publish

            async def sized_publish(topic: str, data: bytes) -> None:
                sizes.append(len(data))
                await publish(topic, data)

            first.p2p.publish = sized_publish  # type: ignore[method-assign]
            messages = [Message({"slot": slot, "data": b"x" * 64}) for slot in range(count)]
            t0 = time.perf_counter()
            for msg in messages:
                message_id(msg)
            id_us = (time.perf_counter() - t0) / max(count, 1) * 1e6
            start = time.perf_counter()
            for slot, msg in enumerate(messages):
                sent[slot] = time.perf_counter()
                await first.announce(PROCESS, slot, msg, hashpath_for(PROCESS, slot), ["test-exec@1.0"])
            with trio.move_on_after(60):
                await done.wait()
            span = max(arrived.values(), default=start) - start
            latencies = [(arrived[s] - sent[s]) * 1000 for s in arrived]
            out = {
                "delivered": len(arrived),
                "rate": len(arrived) / span if span > 0 else 0.0,
                "p50": pct(latencies, 0.5),
                "p99": pct(latencies, 0.99),
                "batches": first.stats.batches_published,
                "batch_rate": first.stats.batches_published / span if span > 0 else 0.0,
                "rejected": sum(p.stats.rejected for p in peers),
                "batch_bytes": sum(sizes) / len(sizes) if sizes else 0.0,
                "id_us": id_us,
            }
            nursery.cancel_scope.cancel()
    return out
