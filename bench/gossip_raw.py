"""GossipSub publish capacity over a chain of local peers: our adapter (``Libp2pNode``) against raw libp2p.

Both runs happen in this one process and Trio loop, one after the other, with the same settings that matter
(Noise, Yamux, ``max_connections_per_peer=1``, 1 s heartbeat, libp2p's 10 msg/s spam limit off) and the same
topology: N peers in a chain, node 0 publishes a burst (unpaced, or paced with ``--rate``), node N-1 measures.

* "raw" is what a direct libp2p user writes: ``await pubsub.publish()`` in a loop with a checkpoint between
  publishes (without one the receiver never runs). libp2p drops silently once its 32-RPC queue is full.
* "adapter" is ``Libp2pNode.publish``: back-pressure on the outbound queues, nothing dropped.

Prints delivered/sent, end-to-end messages/s (delivered over first-send to last-receive), p50/p99 latency, and
the adapter/raw ratios. Usage: ``python bench/gossip_raw.py [--peers 3] [--messages 1000] [--size 64]
[--rate 0]``. Everything shares one core here, so absolute numbers depend on what else the machine runs;
compare the ratios.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import struct
import sys
import threading
import time
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import multiaddr
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.tools.anyio_service import background_trio_service

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from typing import TYPE_CHECKING

import trio.lowlevel

from p2p import Libp2pNode, P2PConfig

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

TOPIC = "bench/gossip"
IDLE_S = 3.0  # the receiver gives up this long after the last message
HEADER = struct.Struct(">QI")  # send time (perf_counter_ns), sequence number


@dataclass
class Result:
    sent: int
    delivered: int
    publish_s: float
    span_s: float
    latencies_ms: list[float]

    def rate(self) -> float:
        return self.delivered / self.span_s if self.span_s > 0 else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def payload(seq: int, size: int) -> bytes:
    head = HEADER.pack(time.perf_counter_ns(), seq)
    return head + b"\x00" * max(0, size - len(head))


async def measure(
    publish: Callable[[bytes], Awaitable[None]],
    receive: Callable[[], Awaitable[bytes]],
    count: int,
    size: int,
    rate: float,
) -> Result:
    latencies: list[float] = []
    seen: set[int] = set()
    first_send = last_recv = 0.0
    publish_s = 0.0

    async def receiver() -> None:
        nonlocal last_recv
        while len(seen) < count:
            with trio.move_on_after(IDLE_S) as scope:
                data = await receive()
            if scope.cancelled_caught:
                return
            now = time.perf_counter_ns()
            sent_ns, seq = HEADER.unpack_from(data)
            if seq not in seen:
                seen.add(seq)
                latencies.append((now - sent_ns) / 1e6)
                last_recv = now / 1e9

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver)
        first_send = time.perf_counter()
        start = trio.current_time()
        for seq in range(count):
            if rate > 0:
                await trio.sleep_until(start + seq / rate)
            await publish(payload(seq, size))
        publish_s = time.perf_counter() - first_send
    return Result(count, len(seen), publish_s, max(0.0, last_recv - first_send), latencies)


# -- libp2p directly ------------------------------------------------------------------------------


@asynccontextmanager
async def raw_node(index: int) -> AsyncIterator[tuple[object, Pubsub]]:
    kp = create_new_key_pair(bytes([100 + index]) * 32)
    host = new_host(
        key_pair=kp,
        sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(kp, noise_privkey=create_x25519_key_pair().private_key)},
        muxer_opt={YAMUX_PROTOCOL_ID: Yamux},  # type: ignore[dict-item]  # libp2p typing gap
        connection_config=ConnectionConfig(max_connections_per_peer=1),
    )
    router = GossipSub(
        protocols=[PROTOCOL_ID_V11, PROTOCOL_ID],
        degree=6,
        degree_low=4,
        degree_high=12,
        heartbeat_interval=1,
        spam_protection_enabled=False,
    )
    pubsub = Pubsub(host, router)
    try:
        async with (
            host.run([multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]),
            background_trio_service(pubsub),
            background_trio_service(router),
        ):
            await pubsub.wait_until_ready()
            yield host, pubsub
    finally:
        pubsub.seen_messages.stop()


async def raw_connect(host: object, addr: str) -> None:
    """Dial ``addr`` (a ``/p2p/``-suffixed multiaddr) from a ``raw_node`` host."""
    await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(addr)))  # type: ignore[attr-defined]


async def raw_wait_for_mesh(pubsub: Pubsub, peer_id: str, topic: str, timeout_s: float) -> None:
    await pubsub.wait_for_mesh(ID.from_base58(peer_id), topic, timeout_s)


async def run_raw(peers: int, count: int, size: int, rate: float) -> Result:
    async with AsyncExitStack() as stack:
        nodes = [await stack.enter_async_context(raw_node(i)) for i in range(peers)]
        for i in range(1, peers):
            host, _ = nodes[i]
            prev_host, _ = nodes[i - 1]
            await host.connect(info_from_p2p_addr(prev_host.get_addrs()[0]))  # type: ignore[attr-defined]
        subs = [await ps.subscribe(TOPIC) for _, ps in nodes]
        with trio.fail_after(10):
            for i in range(peers - 1):
                (host_a, ps_a), (host_b, ps_b) = nodes[i], nodes[i + 1]
                await ps_a.wait_for_mesh(host_b.get_id(), TOPIC)  # type: ignore[attr-defined]
                await ps_b.wait_for_mesh(host_a.get_id(), TOPIC)  # type: ignore[attr-defined]
        publisher = nodes[0][1]

        async def drain(sub: object) -> None:  # keep intermediate subscriptions from overflowing
            async for _ in sub:  # type: ignore[attr-defined]
                pass

        async def publish(data: bytes) -> None:
            await publisher.publish(TOPIC, data)
            await trio.lowlevel.checkpoint()

        async def receive() -> bytes:
            msg = await subs[-1].get()
            return bytes(msg.data)

        async with trio.open_nursery() as nursery:
            for sub in subs[:-1]:
                nursery.start_soon(drain, sub)
            result = await measure(publish, receive, count, size, rate)
            nursery.cancel_scope.cancel()
        return result


# -- through the adapter --------------------------------------------------------------------------


async def run_adapter(peers: int, count: int, size: int, rate: float) -> Result:
    config = P2PConfig(rate_limit_per_s=1e6, rate_limit_burst=1e6)
    async with AsyncExitStack() as stack:
        nodes = [
            await stack.enter_async_context(Libp2pNode(seed=bytes([200 + i]) * 32, config=config))
            for i in range(peers)
        ]
        for i in range(1, peers):
            await nodes[i].connect(nodes[i - 1].listen_addrs[0])
        channels = [await stack.enter_async_context(n.subscribe(TOPIC)) for n in nodes]
        with trio.fail_after(10):
            for a, b in itertools.pairwise(nodes):
                await a.wait_for_mesh(b.peer_id, TOPIC)
                await b.wait_for_mesh(a.peer_id, TOPIC)

        async def drain(channel: trio.MemoryReceiveChannel[object]) -> None:
            async for _ in channel:
                pass

        async def publish(data: bytes) -> None:
            await nodes[0].publish(TOPIC, data)

        async def receive() -> bytes:
            return (await channels[-1].receive()).data

        async with trio.open_nursery() as nursery:
            for channel in channels[:-1]:
                nursery.start_soon(drain, channel)
            result = await measure(publish, receive, count, size, rate)
            nursery.cancel_scope.cancel()
        return result


def report(name: str, r: Result) -> None:
    print(
        f"{name:8s} delivered {r.delivered:5d}/{r.sent:<5d}  publish loop {r.sent / r.publish_s:8.0f} msg/s  "
        f"end-to-end {r.rate():7.0f} msg/s  p50 {r.pct(0.5):8.1f} ms  p99 {r.pct(0.99):8.1f} ms"
    )


async def main(peers: int, count: int, size: int, rate: float) -> None:
    raw = await run_raw(peers, count, size, rate)
    adapter = await run_adapter(peers, count, size, rate)
    pacing = f"paced at {rate:g}/s" if rate > 0 else "unpaced"
    print(f"GossipSub, {peers} peers in a chain, {count} x {size} B {pacing}, node 0 -> node {peers - 1}")
    report("raw", raw)
    report("adapter", adapter)
    print(
        f"ratio adapter/raw: delivered {adapter.delivered / max(1, raw.delivered):.2f}x, "
        f"end-to-end rate {adapter.rate() / max(1e-9, raw.rate()):.2f}x, "
        f"p50 latency {adapter.pct(0.5) / raw.pct(0.5):.2f}x"
    )
    print(f"threads left after both runs: {threading.active_count() - 1}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=int, default=3, choices=range(3, 6))
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--rate", type=float, default=0.0, help="messages/s offered; 0 = unpaced")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("libp2p")] + ["libp2p"]:
        logging.getLogger(name).setLevel(logging.CRITICAL)  # the raw run floods warnings by design
    trio.run(main, args.peers, args.messages, max(args.size, HEADER.size), args.rate)
