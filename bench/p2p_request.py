"""Request latency through ``Libp2pNode.request`` (lazy multistream-select: header, protocol and request in
one write) against py-libp2p's plain path measured in the same run: ``host.new_stream(peer, [protocol])``
(negotiated first, two round trips) then the same framed exchange, then close.

Two nodes in this one process and Trio loop on 127.0.0.1, already connected; a 1-byte request, a reply of
``--reply-bytes``. The paths take turns request by request, so load from elsewhere on the machine hits all alike; each
round's p50/p99 are taken and the medians over rounds printed. Also timed: the raw stream open alone
(``network.new_stream``, no negotiation) and ``host.new_stream`` alone.

``--two-processes`` runs the responder in a child process instead (its own core on this 2-core machine,
closer to two hosts; the gap then is mostly the two saved round trips).

Run: ``python -m bench.p2p_request [--rounds 7] [--count 200] [--reply-bytes 1024] [--two-processes]``
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import trio

from bench.gossip_procs import pct
from p2p import Libp2pNode
from p2p._streams import LibraryStream, client_exchange

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

PROTO = "/hyperpeer/bench-request/1.0.0"


async def interleaved(
    paths: Mapping[str, Callable[[], Awaitable[object]]], count: int
) -> dict[str, list[float]]:
    """``count`` timings (ms) of each path, taken in turn, so drifting load hits all paths alike."""
    out: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(count):
        for name, fn in paths.items():
            start = time.perf_counter()
            await fn()
            out[name].append((time.perf_counter() - start) * 1e3)
    return out


def _responder_node(reply_bytes: int) -> Libp2pNode:
    node = Libp2pNode(seed=b"\x62" * 32)
    reply = b"r" * reply_bytes

    async def serve(peer: str, payload: bytes) -> bytes:
        return reply

    node.set_request_handler(PROTO, serve)
    return node


@asynccontextmanager
async def responder(reply_bytes: int, two_processes: bool) -> AsyncIterator[str]:
    """The responder's full multiaddr: a node in this loop, or in a child process (its own core)."""
    if not two_processes:
        async with _responder_node(reply_bytes) as node:
            yield node.listen_addrs[0]
        return
    argv = [sys.executable, "-m", "bench.p2p_request", "--serve", "--reply-bytes", str(reply_bytes)]
    async with trio.open_nursery() as nursery:
        run = functools.partial(trio.run_process, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        proc: trio.Process = await nursery.start(run)
        assert proc.stdin is not None and proc.stdout is not None
        line = b""
        with trio.fail_after(30):
            while not line.endswith(b"\n"):
                chunk = await proc.stdout.receive_some()
                if not chunk:
                    raise SystemExit("the responder process exited before it listened")
                line += chunk
        yield line.decode().strip()
        await proc.stdin.aclose()  # the child stops when its stdin closes


async def serve_until_stdin_closes(reply_bytes: int) -> None:
    async with _responder_node(reply_bytes) as node:
        print(node.listen_addrs[0], flush=True)
        stdin = trio.lowlevel.FdStream(os.dup(0))
        while await stdin.receive_some():
            pass


async def main(rounds: int, count: int, reply_bytes: int, two_processes: bool) -> None:
    a = Libp2pNode(seed=b"\x61" * 32)
    async with responder(reply_bytes, two_processes) as addr, a:
        b_peer_id = await a.connect(addr)
        host: Any = a._host  # the bench reaches past the adapter on purpose, for the reference path
        (peer,) = [p for p in host.get_connected_peers() if p.to_base58() == b_peer_id]
        cap = a.config.max_response_bytes

        def adapt(stream: Any) -> LibraryStream:
            return LibraryStream(stream, eof=EOFError, errors=(Exception,))

        async def lazy() -> None:
            assert len(await a.request(b_peer_id, PROTO, b"x", timeout_s=5)) == reply_bytes

        async def plain() -> None:
            stream = adapt(await host.new_stream(peer, [PROTO]))
            assert len(await client_exchange(stream, b"x", cap)) == reply_bytes
            await stream.aclose()

        async def raw_open() -> None:
            await (await host.get_network().new_stream(peer)).reset()

        async def negotiated_open() -> None:
            await (await host.new_stream(peer, [PROTO])).reset()

        paths = {
            "lazy request": lazy,
            "plain request": plain,
            "raw open": raw_open,
            "new_stream": negotiated_open,
        }

        await interleaved(paths, 20)  # warm up
        p50: dict[str, list[float]] = {name: [] for name in paths}
        p99: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(rounds):
            for name, samples in (await interleaved(paths, count)).items():
                p50[name].append(pct(samples, 0.5))
                p99[name].append(pct(samples, 0.99))
    where = "responder in a child process" if two_processes else "both nodes in this process"
    print(f"{rounds} rounds x {count} sequential requests, 1 B -> {reply_bytes} B, {where}; medians (ms)")
    for name in paths:
        low, high = min(p50[name]), max(p50[name])
        print(
            f"  {name:14s} p50 {statistics.median(p50[name]):6.2f}  p99 {statistics.median(p99[name]):6.2f}"
            f"  (round p50s {low:.2f}..{high:.2f})"
        )
    ratio = statistics.median(p50["plain request"]) / statistics.median(p50["lazy request"])
    ratio99 = statistics.median(p99["plain request"]) / statistics.median(p99["lazy request"])
    print(f"lazy is faster than plain by: p50 {ratio:.2f}x, p99 {ratio99:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--reply-bytes", type=int, default=1024)
    parser.add_argument("--two-processes", action="store_true", help="run the responder in a child process")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        trio.run(serve_until_stdin_closes, args.reply_bytes)
    else:
        trio.run(main, args.rounds, args.count, args.reply_bytes, args.two_processes)
