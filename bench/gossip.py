"""Attestation gossip across 5 peers against raw GossipSub capacity, and converged vs recomputed results.

All in one process and Trio loop, on 127.0.0.1:

1. **Raw GossipSub** (reference, ``gossip_raw.run_raw``): N peers in a chain, node 0 publishes a burst of
   messages the size of one attestation batch envelope; delivered msg/s and p50/p99 at node N-1.
2. **Attestations**: the same chain of ``Libp2pNode``s, each running ``node.peering.Peering`` with its own
   LMDB store; node 0 ``announce``s M results (batched, RSA-4096 signed, gossiped in the compact batch form:
   all statements + the signed header, receivers recompute the Merkle root); node N-1 verifies and stores
   them. Reported: attestations/s end to end, p50/p99 from ``announce`` to stored at node N-1, statements
   and bytes per batch, and the ratio of batches/s to the raw messages/s (raw messages are the mean size
   of the batches node 0 published).
3. **Converged vs recomputed**: ``process@1.0`` with ``test-exec@1.0`` over S slots. Two peers compute and
   attest slot S; a third peer without the schedule serves it from their attestations (lookup, fetch over
   libp2p, id check, store); against recomputing slots 0..S from scratch on a peer that has the schedule.

Usage: ``python bench/gossip.py [--peers 5] [--attestations 2000] [--slots 200]``. Absolute numbers depend on
the machine (everything shares the loop); compare the ratios.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import gossip_raw  # noqa: E402

from devices.core import Message, RsaWallet, message_id  # noqa: E402
from node._store import LmdbStore  # noqa: E402
from node.peering import Peering, TrustPolicy  # noqa: E402
from p2p import Libp2pNode, P2PConfig  # noqa: E402

PROCESS = "B" * 43


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def start_peers(
    stack: AsyncExitStack, nursery: trio.Nursery, tmp: Path, wallets: list[RsaWallet], k: int, chain: bool
) -> list[Peering]:
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
        for a, b in zip(peers, peers[1:], strict=False):
            assert isinstance(a.p2p, Libp2pNode) and isinstance(b.p2p, Libp2pNode)
            await a.p2p.wait_for_mesh(b.p2p.peer_id, "hyperpeer/attestations/1")
            await b.p2p.wait_for_mesh(a.p2p.peer_id, "hyperpeer/attestations/1")
    return peers


async def attestations(peer_count: int, count: int, wallets: list[RsaWallet]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncExitStack() as stack, trio.open_nursery() as nursery:
            peers = await start_peers(stack, nursery, Path(tmp), wallets[:peer_count], 1, chain=True)
            first, last = peers[0], peers[-1]
            sent: dict[int, float] = {}
            arrived: dict[int, float] = {}
            done = trio.Event()

            def arrival(records: list[Any]) -> None:
                now = time.perf_counter()
                for record in records:
                    arrived.setdefault(record.slot, now)
                if len(arrived) >= count:
                    done.set()

            last.add_listener(arrival)
            sizes: list[int] = []
            publish = first.p2p.publish

            async def sized_publish(topic: str, data: bytes) -> None:
                sizes.append(len(data))
                await publish(topic, data)

            first.p2p.publish = sized_publish  # type: ignore[method-assign]
            messages = [Message({"slot": slot, "data": b"x" * 64}) for slot in range(count)]
            for msg in messages:
                message_id(msg)  # results are identified where they are computed (memoised on the message)
            start = time.perf_counter()
            for slot, msg in enumerate(messages):
                sent[slot] = time.perf_counter()
                await first.announce(PROCESS, slot, msg, f"hp-{slot}", ["test-exec@1.0"])
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
            }
            nursery.cancel_scope.cancel()
    return out


async def converged_vs_recomputed(slots: int, wallets: list[RsaWallet]) -> tuple[float, float, int]:
    from devices.scheduler import StateCache
    from tests.converge.test_process import CountingExec, device_node
    from tests.scheduler._harness import new_scheduler
    from tests.scheduler._support import open_env, process_def, user_msg

    proc = process_def("bench", **{"execution-device": "stack@1.0", "device-stack": ["test-exec@1.0"]})
    with tempfile.TemporaryDirectory() as tmp:
        envs = [open_env(Path(tmp) / f"db-{i}", sync=False) for i in range(3)]
        async with AsyncExitStack() as stack, trio.open_nursery() as nursery:
            peers = await start_peers(stack, nursery, Path(tmp), wallets[:3], 2, chain=False)
            schedulers = [new_scheduler(env) for env in envs]
            for s in schedulers:
                await nursery.start(s.run)
            counters = [CountingExec() for _ in range(3)]
            nodes = [
                device_node(schedulers[i], StateCache(envs[i], snapshot_every=10**9), counters[i], peers[i])
                for i in range(3)
            ]
            pid = schedulers[0].ops.message_id(proc)
            for s in schedulers[:2]:
                await s.schedule(pid, proc)
                for n in range(slots):
                    await s.schedule(pid, user_msg(n, pid))
            t0 = time.perf_counter()
            await nodes[0].get(proc, path="compute", slot=slots)
            recompute_s = time.perf_counter() - t0
            await nodes[1].get(proc, path="compute", slot=slots)
            with trio.fail_after(30):
                await peers[2].wait_for(pid, slots, 2)
            t0 = time.perf_counter()
            served = await nodes[2].get(proc, path="compute", slot=slots)
            converged_s = time.perf_counter() - t0
            assert isinstance(served, Message) and "attested-by" in served
            nursery.cancel_scope.cancel()
        for env in envs:
            env.close()
    return converged_s, recompute_s, counters[2].computes


async def main(peer_count: int, count: int, slots: int) -> None:
    wallets = [RsaWallet.generate(4096)] + [RsaWallet.generate(2048) for _ in range(peer_count - 1)]
    att = await attestations(peer_count, count, wallets)
    envelope = int(att["batch_bytes"])  # the mean size of the batch messages node 0 published
    raw = await gossip_raw.run_raw(peer_count, 300, envelope, 0.0)
    print(f"attestation gossip, {peer_count} peers in a chain, {count} results announced on node 0:")
    print(f"  delivered {att['delivered']:.0f}/{count} at node {peer_count - 1}, {att['rate']:.0f} attestations/s, "
          f"p50 {att['p50']:.1f} ms, p99 {att['p99']:.1f} ms, {att['batches']:.0f} batches "
          f"({att['batch_rate']:.1f} batches/s, {count / max(att['batches'], 1):.0f} statements and "
          f"{att['batch_bytes'] / 1024:.1f} KiB per batch), {att['rejected']:.0f} rejected")
    print(f"  raw GossipSub, same chain, {envelope} B messages: {raw.delivered}/{raw.sent} delivered, "
          f"{raw.rate():.0f} msg/s, p50 {raw.pct(0.5):.1f} ms, p99 {raw.pct(0.99):.1f} ms")
    print(f"  ratio: batches/s vs raw msg/s {att['batch_rate'] / max(raw.rate(), 1e-9):.2f}x; "
          f"attestations/s vs raw msg/s {att['rate'] / max(raw.rate(), 1e-9):.1f}x")
    converged_s, recompute_s, ran = await converged_vs_recomputed(slots, wallets)
    print(f"process@1.0 + test-exec@1.0, slot {slots}: served from 2 attestations in {converged_s * 1000:.1f} ms "
          f"(execution device ran {ran} times) vs recomputed in {recompute_s * 1000:.1f} ms: "
          f"{recompute_s / converged_s:.1f}x faster to converge")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=int, default=5, choices=range(3, 6))
    parser.add_argument("--attestations", type=int, default=2000)
    parser.add_argument("--slots", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("libp2p")] + ["libp2p"]:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    trio.run(main, args.peers, args.attestations, args.slots)
