"""Peers in their own OS processes, driven from this (parent) process over pipes.

``Cluster(specs, topology)`` spawns one ``gossip_peer.peer_main`` per spec ("spawn" context), waits
(bounded) for each to listen, then links them (``links``): "chain" 0→1→…→N-1 (each peer dials the
previous one; N-1 sequential hops), or "mesh" (each peer dials every lower index: all pairs connected,
which GossipSub's default degree 6 turns into a full mesh among 5 peers). It waits until every peer's
mesh for the topic holds each of its links (each peer reports it over its pipe: no sleeps).
``phase(...)`` has peer 0 send while every other peer notes arrivals, and returns a ``Phase`` measured
at the receivers: chain, peer N-1; mesh, all of 1…N-1 (a message counts as delivered once it is on
every one of them). Leaving the ``with`` block stops the peers, then terminates/kills any that do not
exit.
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
TOPOLOGIES = ("chain", "mesh")
REPLIES = {"link": "linked", "send": "sent", "collect": "arrived", "stats": "stats", "probe": "probed"}


def links(topology: str, n: int) -> list[tuple[list[int], list[int]]]:
    """Per peer: the indices it dials, and those it waits to have in its mesh."""
    if topology == "chain":
        return [([i - 1] if i else [], [j for j in (i - 1, i + 1) if 0 <= j < n]) for i in range(n)]
    if topology == "mesh":
        return [(list(range(i)), [j for j in range(n) if j != i]) for i in range(n)]
    raise ValueError(f"unknown topology {topology!r}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Phase:
    sent: int
    delivered: int  # on every receiver
    span_s: float  # first send to the last arrival that completed a delivery
    send_s: float  # first send to last send
    latencies_ms: list[float]
    id_us: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)  # peer 0's counters over the phase
    signed_ms: list[float] = field(default_factory=list)  # announce → its batch signed on peer 0
    hop_ms: list[float] = field(default_factory=list)  # batch signed on peer 0 → stored on a receiver
    per_hop_p50_ms: list[float] = field(default_factory=list)  # chain: peer i-1 → peer i (from peer 0)
    per_peer: list[tuple[int, int, float]] = field(default_factory=list)  # receiver, delivered, p50 ms
    cpu_s: list[float] = field(default_factory=list)  # CPU seconds each peer's process spent in the phase

    def rate(self) -> float:
        return self.delivered / self.span_s if self.span_s > 0 else 0.0

    def pct(self, q: float) -> float:
        return pct(self.latencies_ms, q)


class PeerFailed(RuntimeError):
    pass


class Cluster:
    def __init__(self, specs: list[PeerSpec], topology: str = "chain") -> None:
        self.specs = specs
        self.topology = topology
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
            for i, (dial, mesh) in enumerate(links(self.topology, len(self.specs))):
                self.send(i, ("link", [ready[j][1] for j in dial], [ready[j][2] for j in mesh]))
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
        > 0) under ``tag``; every other peer reports when each arrived."""
        n = len(self.conns)
        receivers = list(range(1, n)) if self.topology == "mesh" else [n - 1]
        before = self.ask(0, ("stats",))[1]
        for i in range(1, n):
            self.send(i, ("collect", tag, count, IDLE_S, CAP_S))
        self.send(0, ("send", tag, count, rate, size))
        budget = CAP_S + (count / rate if rate > 0 else 0.0)
        _, sends, id_us = self.expect(0, "sent", budget)
        replies = {i: self.expect(i, "arrived", budget + IDLE_S) for i in range(1, n)}
        got = {i: reply[1] for i, reply in replies.items()}
        signed: dict[int, float] = {}
        if self.specs[0].kind == "peering":  # peer 0 indexes its statements once their batch is signed
            _, signed, after = self.ask(0, ("collect", tag, count, 1.0, 10.0), 15.0)
        else:
            after = self.ask(0, ("stats",))[1]
        arrivals = [{k: t for k, t in got[i].items() if 0 <= k < len(sends)} for i in receivers]
        full = set(range(len(sends))).intersection(*arrivals)  # delivered on every receiver
        done = [max(a[k] for a in arrivals) for k in full] or [t for a in arrivals for t in a.values()]
        span = max(done) - sends[0] if sends and done else 0.0
        latencies = [(t - sends[k]) * 1000 for a in arrivals for k, t in a.items()]
        stats = {k: after[k] - before.get(k, 0) for k in after if k in before}
        cpu = [stats.get("cpu_s", 0.0)] + [replies[i][2].get("cpu_collect_s", 0.0) for i in range(1, n)]
        phase = Phase(count, len(full), span, sends[-1] - sends[0] if sends else 0.0, latencies, id_us, stats)
        phase.cpu_s = cpu
        phase.signed_ms = [(t - sends[k]) * 1000 for k, t in signed.items() if 0 <= k < len(sends)]
        phase.hop_ms = [(a[k] - t) * 1000 for a in arrivals for k, t in signed.items() if k in a]
        phase.per_peer = [
            (i, len(a), pct([(t - sends[k]) * 1000 for k, t in a.items()], 0.5))
            for i, a in zip(receivers, arrivals, strict=True)
        ]
        if self.topology == "chain":  # every peer noted its arrivals: where along the chain the time goes
            stations = [signed or dict(enumerate(sends))] + [got[i] for i in range(1, n)]
            phase.per_hop_p50_ms = [
                pct([(b[k] - a[k]) * 1000 for k in b if k in a], 0.5) for a, b in itertools.pairwise(stations)
            ]
        return phase
