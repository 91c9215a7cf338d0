"""Peers in their own OS processes, chained 0→1→…→N-1, driven from this (parent) process over pipes.

``Cluster(specs)`` spawns one ``gossip_peer.peer_main`` per spec ("spawn" context), waits (bounded) for
each to listen, links the chain and waits until every peer's mesh holds its neighbours (each peer
reports it over its pipe: no sleeps). ``phase(...)`` has peer 0 send and peer N-1 collect, and returns
a ``Phase``. Leaving the ``with`` block stops the peers, then terminates/kills any that do not exit.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.gossip_peer import PeerSpec, peer_main

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

READY_TIMEOUT_S = 120.0  # spawn + imports of 5 peers on 2 cores
LINK_TIMEOUT_S = 60.0
IDLE_S = 5.0  # the collector gives up this long after the last arrival
CAP_S = 120.0
REPLIES = {"link": "linked", "send": "sent", "collect": "arrived", "stats": "stats", "probe": "probed"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Phase:
    sent: int
    delivered: int
    span_s: float  # first send to last arrival
    send_s: float  # first send to last send
    latencies_ms: list[float]
    id_us: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)  # peer 0's counters over the phase
    signed_ms: list[float] = field(default_factory=list)  # announce → its batch signed on peer 0
    hop_ms: list[float] = field(default_factory=list)  # batch signed on peer 0 → stored on peer N-1
    per_hop_p50_ms: list[float] = field(default_factory=list)  # peer i-1 → peer i (signed/sent on peer 0)

    def rate(self) -> float:
        return self.delivered / self.span_s if self.span_s > 0 else 0.0

    def pct(self, q: float) -> float:
        return pct(self.latencies_ms, q)


class PeerFailed(RuntimeError):
    pass


class Cluster:
    def __init__(self, specs: list[PeerSpec]) -> None:
        self.specs = specs
        self.conns: list[Connection] = []
        self.procs: list[BaseProcess] = []

    def __enter__(self) -> Cluster:
        ctx = mp.get_context("spawn")
        try:
            for spec in self.specs:
                parent, child = ctx.Pipe()
                proc = ctx.Process(
                    target=peer_main, args=(spec, child), daemon=True, name=f"peer-{spec.index}"
                )
                proc.start()
                child.close()
                self.conns.append(parent)
                self.procs.append(proc)
            ready = self.expect_all("ready", READY_TIMEOUT_S)
            n = len(self.specs)
            for i in range(n):
                prev = ready[i - 1] if i > 0 else (None, None, None)
                nxt = ready[i + 1][2] if i + 1 < n else None
                self.send(i, ("link", prev[1], prev[2], nxt))
            self.expect_all("linked", LINK_TIMEOUT_S)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for conn in self.conns:
            with suppress(OSError):
                conn.send(("stop",))
        deadline = time.monotonic() + 10
        for proc in self.procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        for conn in self.conns:
            conn.close()
        failed = [(p.name, p.exitcode) for p in self.procs if p.exitcode != 0]
        if failed:
            print(f"warning: peers exited abnormally: {failed}", file=sys.stderr)

    def send(self, i: int, command: tuple[Any, ...]) -> None:
        self.conns[i].send(command)

    def expect(self, i: int, kind: str, timeout_s: float) -> tuple[Any, ...]:
        conn = self.conns[i]
        if not conn.poll(timeout_s):
            raise PeerFailed(f"peer {i}: no {kind!r} within {timeout_s:.0f} s")
        try:
            reply: tuple[Any, ...] = conn.recv()
        except EOFError:
            raise PeerFailed(f"peer {i} exited (code {self.procs[i].exitcode}) before {kind!r}") from None
        if reply[0] == "error":
            raise PeerFailed(f"peer {i} failed:\n{reply[1]}")
        if reply[0] != kind:
            raise PeerFailed(f"peer {i}: expected {kind!r}, got {reply[0]!r}")
        return reply

    def expect_all(self, kind: str, timeout_s: float) -> list[tuple[Any, ...]]:
        deadline = time.monotonic() + timeout_s
        return [self.expect(i, kind, max(0.0, deadline - time.monotonic())) for i in range(len(self.conns))]

    def ask(self, i: int, command: tuple[Any, ...], timeout_s: float = 30.0) -> tuple[Any, ...]:
        self.send(i, command)
        return self.expect(i, REPLIES[command[0]], timeout_s)

    def phase(self, tag: str, count: int, rate: float = 0.0, size: int = 64) -> Phase:
        """Peer 0 sends ``count`` (announcements or raw messages of ``size`` B; paced at ``rate``/s if
        > 0) under ``tag``; peer N-1 reports when each arrived."""
        last = len(self.conns) - 1
        before = self.ask(0, ("stats",))[1]
        self.send(last, ("collect", tag, count, IDLE_S, CAP_S))
        self.send(0, ("send", tag, count, rate, size))
        budget = CAP_S + (count / rate if rate > 0 else 0.0)
        _, sends, id_us = self.expect(0, "sent", budget)
        _, arrived, _ = self.expect(last, "arrived", budget + IDLE_S)
        signed: dict[int, float] = {}
        if self.specs[0].kind == "peering":  # peer 0 indexes its statements once their batch is signed
            _, signed, after = self.ask(0, ("collect", tag, count, 1.0, 10.0), 15.0)
        else:
            after = self.ask(0, ("stats",))[1]
        latencies = [(t - sends[k]) * 1000 for k, t in arrived.items() if 0 <= k < len(sends)]
        span = max(arrived.values(), default=sends[0]) - sends[0] if sends else 0.0
        stats = {k: after[k] - before.get(k, 0) for k in after}
        phase = Phase(
            count, len(arrived), span, sends[-1] - sends[0] if sends else 0.0, latencies, id_us, stats
        )
        phase.signed_ms = [(t - sends[k]) * 1000 for k, t in signed.items() if 0 <= k < len(sends)]
        phase.hop_ms = [(arrived[k] - t) * 1000 for k, t in signed.items() if k in arrived]
        # every peer noted its arrivals too: where along the chain the time goes
        stations = [signed or dict(enumerate(sends))]
        stations += [self.ask(i, ("collect", tag, count, 1.0, 10.0), 15.0)[1] for i in range(1, last)]
        stations.append(arrived)
        phase.per_hop_p50_ms = [
            pct([(b[k] - a[k]) * 1000 for k in b if k in a], 0.5) for a, b in itertools.pairwise(stations)
        ]
        return phase
