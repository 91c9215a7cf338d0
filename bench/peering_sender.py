"""The sender side of attestation gossip: what one ``Peering`` spends per announced statement.

Run: ``python bench/peering_sender.py [--rsa-bits 4096] [--burst 5000] [--rate 2000] [--seconds 3]
[--rounds 3]``. One ``Peering`` over a ``MemoryNode`` (no peers: publishing is nearly free) with an
LMDB store in a temporary directory. Two phases, each repeated ``--rounds`` times (medians printed):

* **burst**: ``--burst`` announcements back to back; CPU (the whole process, and the event loop's
  thread alone) from the first announce until the listener has seen every own record.
* **paced**: ``--rate`` announcements per second for ``--seconds`` on a trio timer (one
  ``sleep_until`` per statement, as ``bench/gossip_peer.py`` paces); latency from ``announce`` to the
  listener seeing the own record (the batch stored, signed and indexed), p50 and p99, and CPU per
  statement, also net of the pacing loop's own CPU (the same schedule run with nothing announced).

Every CPU figure is also printed as a ratio against a reference measured in the same run: the time
``cbor2.dumps(facts, canonical=True)`` takes for one statement's facts (machine speed, nothing of ours).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cbor2
import trio
import trio.testing

from bench.gossip_peer import hashpath_for
from bench.gossip_procs import pct
from devices.core import Message, RsaWallet, message_id
from node._store import LmdbStore
from node.peering import Peering, TrustPolicy
from p2p import MemoryNetwork

if TYPE_CHECKING:
    from node.peering import Record

PROCESS = "P" * 43


def reference_us() -> float:
    """µs for one canonical CBOR encoding of a statement-sized facts map."""
    facts = {
        "process": PROCESS,
        "slot": 12345,
        "result": "R" * 43,
        "hashpath": "hp-12345",
        "device-stack": ["test-exec@1.0"],
        "attester": "A" * 43,
    }
    reps = 20000
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            cbor2.dumps(facts, canonical=True)
        best = min(best, (time.perf_counter() - t0) / reps * 1e6)
    return best


def messages(tag: int, count: int) -> list[Message]:
    out = [Message({"slot": s, "tag": tag, "data": b"x" * 64}) for s in range(count)]
    for msg in out:
        message_id(msg)  # memoised on the instance: announce reuses it (as the gossip bench does)
    return out


class Seen:
    """The listener: when each own slot was indexed."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, int], float] = {}
        self.event = trio.Event()
        self.want = 0

    def __call__(self, records: list[Record]) -> None:
        now = time.perf_counter()
        for r in records:
            self.at.setdefault((r.process, r.slot), now)
        if len(self.at) >= self.want:
            self.event.set()

    def expect(self, count: int) -> None:
        self.at.clear()
        self.event = trio.Event()
        self.want = count


async def burst(peering: Peering, seen: Seen, tag: str, msgs: list[Message]) -> tuple[float, float]:
    """(process CPU µs, loop-thread CPU µs) per statement."""
    seen.expect(len(msgs))
    cpu0, loop0 = time.process_time(), time.thread_time()
    for slot, msg in enumerate(msgs):
        await peering.announce(tag, slot, msg, hashpath_for(tag, slot), ["test-exec@1.0"])
    with trio.fail_after(60):
        await seen.event.wait()
    n = len(msgs)
    return (time.process_time() - cpu0) / n * 1e6, (time.thread_time() - loop0) / n * 1e6


async def pacing(count: int, rate: float) -> float:
    """Loop-thread CPU µs per tick of the paced schedule alone (nothing announced)."""
    loop0 = time.thread_time()
    start = trio.current_time()
    for k in range(count):
        await trio.sleep_until(start + k / rate)
    return (time.thread_time() - loop0) / count * 1e6


async def paced(
    peering: Peering, seen: Seen, tag: str, msgs: list[Message], rate: float
) -> tuple[float, float, float, float]:
    """(latency p50 ms, p99 ms, process CPU µs, loop-thread CPU µs per statement)."""
    seen.expect(len(msgs))
    sends: list[float] = []
    cpu0, loop0 = time.process_time(), time.thread_time()
    start = trio.current_time()
    for slot, msg in enumerate(msgs):
        await trio.sleep_until(start + slot / rate)
        sends.append(time.perf_counter())
        await peering.announce(tag, slot, msg, hashpath_for(tag, slot), ["test-exec@1.0"])
    with trio.fail_after(60):
        await seen.event.wait()
    n = len(msgs)
    cpu, loop = (time.process_time() - cpu0) / n * 1e6, (time.thread_time() - loop0) / n * 1e6
    lat = [(seen.at[(tag, s)] - sends[s]) * 1000 for s in range(n)]
    return pct(lat, 0.5), pct(lat, 0.99), cpu, loop


async def main(args: argparse.Namespace) -> None:
    ref = reference_us()
    wallet = RsaWallet.generate(args.rsa_bits)
    trust = TrustPolicy(frozenset({wallet.address}), 1)
    with tempfile.TemporaryDirectory() as tmp:
        store = LmdbStore(Path(tmp), map_size_bytes=4 << 30)
        try:
            peering = Peering(MemoryNetwork().node("sender"), store, wallet, trust)
            seen = Seen()
            peering.add_listener(seen)
            bursts: list[tuple[float, float]] = []
            paces: list[tuple[float, float, float, float]] = []
            ticks: list[float] = []
            sizes: list[float] = []
            async with trio.open_nursery() as nursery:
                await nursery.start(peering.run)
                count = int(args.rate * args.seconds)
                await burst(peering, seen, "warm", messages(-1, 500))
                for r in range(args.rounds):
                    bursts.append(await burst(peering, seen, f"burst-{r}", messages(r, args.burst)))
                    before = peering.stats.batches_published
                    paces.append(await paced(peering, seen, f"paced-{r}", messages(r, count), args.rate))
                    await trio.testing.wait_all_tasks_blocked()  # the publisher has counted the last batch
                    sizes.append(count / max(1, peering.stats.batches_published - before))
                    ticks.append(await pacing(count, args.rate))
                nursery.cancel_scope.cancel()
        finally:
            store.close()

    def med(rows: list[tuple[float, ...]], i: int) -> float:
        return statistics.median(row[i] for row in rows)

    print(f"reference: canonical cbor2 of one statement's facts {ref:.2f} us")
    print(f"burst of {args.burst} (median of {args.rounds}):")
    print(f"  CPU, process      {med(bursts, 0):7.1f} us/statement  ({med(bursts, 0) / ref:5.1f}x ref)")
    print(f"  CPU, loop thread  {med(bursts, 1):7.1f} us/statement  ({med(bursts, 1) / ref:5.1f}x ref)")
    print(
        f"paced {args.rate:.0f}/s for {args.seconds:.0f} s, batch window {peering.batch_delay_s * 1000:.0f} ms:"
    )
    print(f"  statements per batch {statistics.median(sizes):.1f} (one RSA signature each)")
    print(f"  announce -> own record indexed  p50 {med(paces, 0):6.1f} ms   p99 {med(paces, 1):6.1f} ms")
    print(f"  CPU, process      {med(paces, 2):7.1f} us/statement  ({med(paces, 2) / ref:5.1f}x ref)")
    print(f"  CPU, loop thread  {med(paces, 3):7.1f} us/statement  ({med(paces, 3) / ref:5.1f}x ref)")
    tick = statistics.median(ticks)
    print(
        f"  of which the pacing loop alone {tick:.1f} us/tick: process {med(paces, 2) - tick:.1f}, "
        f"loop thread {med(paces, 3) - tick:.1f} us/statement net"
    )
    for r, (b, p) in enumerate(zip(bursts, paces, strict=True)):
        print(
            f"  round {r}: burst {b[0]:.1f}/{b[1]:.1f} us; paced p50 {p[0]:.1f} p99 {p[1]:.1f} ms, "
            f"{p[2]:.1f}/{p[3]:.1f} us"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rsa-bits", type=int, default=4096)
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    trio.run(main, parser.parse_args())
