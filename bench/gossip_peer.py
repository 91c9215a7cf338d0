"""One benchmark peer in its own OS process (``bench/gossip.py --procs``), driven over a pipe.

``peer_main(spec, conn)`` is the entry point (``multiprocessing`` "spawn" target). The peer starts its
node on 127.0.0.1 port 0, sends ``("ready", listen_addr, peer_id)``, then serves commands until
``("stop",)`` or until the pipe closes (the parent died: the peer exits too). Every reply is a tuple;
a failure is reported as ``("error", traceback)`` and ends the peer.

Commands (both kinds, ``spec.kind`` "peering" = ``node.peering.Peering`` over ``Libp2pNode``, "raw" =
py-libp2p GossipSub directly, as ``gossip_raw.raw_node``):

* ``("link", dial_addrs, mesh_ids)``: dial each address (chain: the previous peer; mesh: every lower
  index), wait (bounded) until this peer's mesh for the topic holds each of ``mesh_ids`` → ``("linked",)``.
* ``("send", tag, count, rate, size)``: peering: build ``count`` result messages and their ids before
  the timed part, then ``announce`` them under process ``tag`` (on a trio timer schedule, see ``paced``, when
  ``rate`` > 0) → ``("sent", send_times, id_us)``; raw: publish ``count`` ``size``-byte messages →
  ``("sent", send_times, 0.0)``.
* ``("collect", tag, count, idle_s, cap_s)``: wait until ``count`` arrivals of ``tag``, ``idle_s``
  without one, or ``cap_s`` in all → ``("arrived", {slot or seq: perf_counter}, stats)``.
* ``("probe",)`` (peering) → ``("probed", ms, statements)``: ``verify_gossip`` on the largest batch
  message this peer published, timed here (what each receiving hop's validator spends on it).
* ``("stats",)`` → ``("stats", {...})`` (peering: batches and statements published, rejections, bytes
  and count of the gossip messages published).

Times are ``time.perf_counter()`` (CLOCK_MONOTONIC on Linux: comparable across processes).
"""

from __future__ import annotations

import cProfile
import hashlib
import logging
import os
import signal
import time
import traceback
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
import trio.lowlevel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from multiprocessing.connection import Connection

LINK_TIMEOUT_S = 30.0


def hashpath_for(tag: str, slot: int) -> str:
    """A hashpath as long as a node's (43 characters: the slot's assignment hash chain, base64url), so
    statements, and the batches they make, have the size they have in use."""
    from devices.core import b64u_encode  # here: the module stays light for the spawn of a raw peer

    return b64u_encode(hashlib.sha256(f"{tag}/{slot}".encode()).digest())


@dataclass(frozen=True)
class PeerSpec:
    kind: str  # "peering" | "raw"
    index: int
    data_dir: str = ""
    wallet_path: str = ""
    trusted: tuple[str, ...] = ()
    batch_size: int = 1024
    batch_delay_s: float = 0.04


def quiet_logs() -> None:
    logging.basicConfig(level=logging.ERROR)
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("libp2p")] + ["libp2p"]:
        logging.getLogger(name).setLevel(logging.CRITICAL)


async def receive(conn: Connection) -> tuple[Any, ...]:
    """The next command; ``EOFError`` when the parent is gone."""
    while not conn.poll():
        await trio.lowlevel.wait_readable(conn.fileno())
    command: tuple[Any, ...] = conn.recv()
    return command


class Arrivals:
    """First arrival time per (tag, key), and a wake-up for whoever waits on a count."""

    def __init__(self) -> None:
        self.times: dict[str, dict[int, float]] = {}
        self._changed = trio.Event()

    def note(self, tag: str, key: int, now: float) -> None:
        self.times.setdefault(tag, {}).setdefault(key, now)
        self._changed.set()

    async def collect(self, tag: str, count: int, idle_s: float, cap_s: float) -> dict[int, float]:
        """Arrivals of ``tag`` once ``count`` are in, nothing came for ``idle_s``, or after ``cap_s``."""
        with trio.move_on_after(cap_s):
            while len(self.times.get(tag, {})) < count:
                self._changed = trio.Event()
                with trio.move_on_after(idle_s) as idle:
                    await self._changed.wait()
                if idle.cancelled_caught:
                    break
        return self.times.pop(tag, {})


class PeeringPeer:
    def __init__(self, spec: PeerSpec) -> None:
        self.spec = spec
        self.arrivals = Arrivals()

    async def enter(self, stack: AsyncExitStack) -> None:
        from node._store import LmdbStore

        self.store = LmdbStore(Path(self.spec.data_dir), map_size_bytes=1 << 30)
        stack.callback(self.store.close)

    async def start(self, nursery: trio.Nursery) -> tuple[str, str]:
        from devices.core import RsaWallet
        from node.peering import Peering, TrustPolicy
        from p2p import Libp2pNode, P2PConfig

        store = self.store
        node = Libp2pNode(
            seed=bytes([50 + self.spec.index]) * 32,
            config=P2PConfig(rate_limit_per_s=1e6, rate_limit_burst=1e6),
        )
        trust = TrustPolicy(frozenset(self.spec.trusted), 1)
        self.node = node
        self.peering = Peering(
            node,
            store,
            RsaWallet.load(self.spec.wallet_path),
            trust,
            batch_size=self.spec.batch_size,
            batch_delay_s=self.spec.batch_delay_s,
        )
        await nursery.start(self.peering.run)
        self.sizes: list[int] = []
        self.largest = b""
        publish = node.publish

        async def sized_publish(topic: str, data: bytes) -> None:
            self.sizes.append(len(data))
            if len(data) >= len(self.largest):
                self.largest = data
            await publish(topic, data)

        node.publish = sized_publish  # type: ignore[method-assign]

        def arrived(records: list[Any]) -> None:
            now = time.perf_counter()
            for record in records:
                self.arrivals.note(record.process, record.slot, now)

        self.peering.add_listener(arrived)
        return node.listen_addrs[0], node.peer_id

    async def link(self, dial: list[str], mesh: list[str]) -> None:
        from node.peering import TOPIC

        for addr in dial:
            await self.node.connect(addr)
        with trio.fail_after(LINK_TIMEOUT_S):
            for other in mesh:
                await self.node.wait_for_mesh(other, TOPIC)

    async def send(self, tag: str, count: int, rate: float, size: int) -> tuple[list[float], float]:
        from devices.core import Message, message_id

        messages = [Message({"slot": slot, "data": b"x" * size}) for slot in range(count)]
        hashpaths = [hashpath_for(tag, slot) for slot in range(count)]
        t0 = time.perf_counter()
        for msg in messages:
            message_id(msg)  # memoised on the instance where Message supports it: announce reuses it
        id_us = (time.perf_counter() - t0) / max(count, 1) * 1e6
        sends: list[float] = []
        async for due in paced(count, rate):
            for slot in due:
                sends.append(time.perf_counter())
                await self.peering.announce(tag, slot, messages[slot], hashpaths[slot], ["test-exec@1.0"])
        return sends, id_us

    def probe(self, reps: int = 5) -> tuple[float, int]:
        """What one receiving hop's validator spends on the largest batch message published here:
        ``verify_gossip`` (decode, root recomputed, signature) in ms, and its statement count."""
        from node.peering import verify_gossip

        item = verify_gossip(self.largest, self.peering.evidence_checker)
        t0 = time.perf_counter()
        for _ in range(reps):
            verify_gossip(self.largest, self.peering.evidence_checker)
        return (time.perf_counter() - t0) / reps * 1000, len(item.claims)

    def stats(self) -> dict[str, float]:
        s = self.peering.stats
        return {
            "batches": s.batches_published,
            "statements": s.statements_published,
            "rejected": s.rejected,
            "messages": len(self.sizes),
            "bytes": sum(self.sizes),
            "cpu_s": time.process_time(),
        }


async def paced(count: int, rate: float) -> AsyncIterator[range]:
    """The indexes ``0..count-1`` in order, each once it is due at ``rate`` per second (all at once when
    ``rate`` <= 0), grouped: one timer wakeup yields everything due by then, as a producer that polls
    would, rather than one wakeup per message (a Trio timer wakeup costs this process far more CPU than an
    announcement). The offered load is unchanged; every message's latency is still timed from its own send.
    """
    if rate <= 0:
        yield range(count)
        return
    start, sent = trio.current_time(), 0
    while sent < count:
        due = min(count, int((trio.current_time() - start) * rate) + 1)
        if due <= sent:
            await trio.sleep_until(start + sent / rate)
            continue
        yield range(sent, due)
        sent = due


class RawPeer:
    TOPIC = "bench/gossip"

    def __init__(self, spec: PeerSpec) -> None:
        self.spec = spec
        self.arrivals = Arrivals()

    async def enter(self, stack: AsyncExitStack) -> None:
        from bench import gossip_raw

        self.host, self.pubsub = await stack.enter_async_context(gossip_raw.raw_node(self.spec.index))

    async def start(self, nursery: trio.Nursery) -> tuple[str, str]:
        sub = await self.pubsub.subscribe(self.TOPIC)
        nursery.start_soon(self._take, sub)
        return str(self.host.get_addrs()[0]), self.host.get_id().to_base58()  # type: ignore[attr-defined]

    async def _take(self, sub: Any) -> None:
        from bench import gossip_raw

        while True:
            msg = await sub.get()
            now = time.perf_counter()
            _, seq = gossip_raw.HEADER.unpack_from(msg.data)
            self.arrivals.note(self.TOPIC, seq, now)

    async def link(self, dial: list[str], mesh: list[str]) -> None:
        from bench import gossip_raw  # the one bench module that uses libp2p directly

        for addr in dial:
            await gossip_raw.raw_connect(self.host, addr)
        with trio.fail_after(LINK_TIMEOUT_S):
            for other in mesh:
                await gossip_raw.raw_wait_for_mesh(self.pubsub, other, self.TOPIC, LINK_TIMEOUT_S)

    async def send(self, tag: str, count: int, rate: float, size: int) -> tuple[list[float], float]:
        from bench import gossip_raw

        sends: list[float] = []
        async for due in paced(count, rate):
            for seq in due:
                sends.append(time.perf_counter())
                await self.pubsub.publish(self.TOPIC, gossip_raw.payload(seq, size))
                await trio.lowlevel.checkpoint()  # as a direct libp2p user must, or nothing else runs
        return sends, 0.0

    def stats(self) -> dict[str, float]:
        return {"cpu_s": time.process_time()}


async def handle(peer: PeeringPeer | RawPeer, command: tuple[Any, ...]) -> tuple[Any, ...]:
    """Run one command; its reply."""
    if command[0] == "link":
        await peer.link(*command[1:])
        return ("linked",)
    if command[0] == "send":
        return ("sent", *await peer.send(*command[1:]))
    if command[0] == "collect":
        tag = RawPeer.TOPIC if isinstance(peer, RawPeer) else command[1]
        cpu = time.process_time()  # this process, all its threads: what the phase cost it
        arrived = await peer.arrivals.collect(tag, *command[2:])
        return ("arrived", arrived, {**peer.stats(), "cpu_collect_s": time.process_time() - cpu})
    if command[0] == "probe" and isinstance(peer, PeeringPeer):
        return ("probed", *peer.probe())
    if command[0] == "stats":
        return ("stats", peer.stats())
    raise ValueError(f"unknown command {command[0]!r}")


async def serve(spec: PeerSpec, conn: Connection) -> None:
    peer: PeeringPeer | RawPeer = PeeringPeer(spec) if spec.kind == "peering" else RawPeer(spec)
    async with AsyncExitStack() as stack:
        await peer.enter(stack)  # contexts that open nurseries: entered before, left after ours
        async with trio.open_nursery() as nursery:
            addr, peer_id = await peer.start(nursery)
            conn.send(("ready", addr, peer_id))
            while (command := await receive(conn))[0] != "stop":
                conn.send(await handle(peer, command))
            nursery.cancel_scope.cancel()


def peer_main(spec: PeerSpec, conn: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops the peers
    quiet_logs()
    profile_dir = os.environ.get("HYPERPEER_BENCH_PROFILE")  # a directory: one cProfile dump per peer
    profiler = cProfile.Profile() if profile_dir else None
    try:
        if profiler is not None:
            profiler.enable()
        trio.run(serve, spec, conn)
    except EOFError:
        return  # the parent went away: just exit
    except Exception:
        with suppress(OSError):
            conn.send(("error", traceback.format_exc()))
        raise
    finally:
        if profiler is not None and profile_dir:
            profiler.disable()
            profiler.dump_stats(os.path.join(profile_dir, f"peer-{spec.index}-{os.getpid()}.prof"))
        conn.close()
