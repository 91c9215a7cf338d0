"""Attestation gossip across 5 peers against raw GossipSub capacity, and converged vs recomputed results.

Issue 7's targets: ≥ 10k attestations/s across 5 peers through batching and p99 propagation < 100 ms,
next to raw py-libp2p GossipSub measured in the same run; serving a converged aos ``Eval`` result ≥ 10 times
faster than recomputing it. On 127.0.0.1:

1. **Attestations** (``--procs``, the default: one OS process per peer, ``gossip_peer``/``gossip_procs``;
   ``--in-process``: all peers in this one Trio loop, ``gossip_inproc``, chain only): N ``Peering`` peers
   over ``Libp2pNode``, for each ``--topology`` (default ``both``): ``chain`` 0→…→N-1 (N-1 sequential
   hops, the worst case for latency; peer N-1 measures) and ``mesh`` (every peer dials every other, which
   GossipSub's default degree 6 makes a full mesh; peers 1…N-1 all measure, a message counts once it is on
   all of them). Peer 0 ``announce``s results (ids computed before the timed part, their cost printed
   separately); the receivers note when each is verified and stored. (a) a burst of ``--attestations`` →
   attestations/s from the first announce to the last arrival that completes the delivery (the latency of
   a burst is mostly queueing: printed, but labelled so); (b) ``--paced`` announcements at ``--rate``/s on
   a timer → p50/p99 latency *at that offered load* (mesh: over every (peer, attestation) arrival, plus
   each peer's p50). Both split into announce → batch signed on peer 0 → stored on a receiver, and (chain)
   the p50 of each hop (every peer notes its arrivals); plus ``verify_gossip`` of the largest batch timed
   alone. The "targets" line is printed per topology.
2. **Raw GossipSub** (``gossip_raw``): the same topology of plain py-libp2p peers (one process each with
   ``--procs``), peer 0 publishes a burst of ``--raw-messages`` the size of peer 0's mean batch message,
   then as many messages as the paced run published, of their mean size, at their rate: GossipSub's own
   latency, measured at the same receivers.
3. **Converged vs recomputed** (``gossip_converge``): slot ``--slots`` of an aos process (``Eval`` with a
   Lua loop per message) computed cold on A (and B), served by C from A's and B's attestations; then
   the same with ``test-exec@1.0``. Skipped, with the reason, when the aos module is absent.

Usage: ``python bench/gossip.py [--in-process] [--peers 5] [--topology chain|mesh|both] [--attestations 4000]
[--paced 4000] [--rate 2000] [--raw-messages 500] [--batch-size 1024] [--batch-delay 0.04] [--slots 20]
[--no-gossip] [--no-converge]``. Absolute numbers depend on the machine (here 2 cores for 5 peers); compare
the ratios.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
from pathlib import Path

import trio

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
# bench/ itself must not be on the path: bench/http.py and bench/codecs.py would shadow the stdlib.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

from bench import gossip_converge, gossip_raw  # noqa: E402
from bench.gossip_peer import PeerSpec, quiet_logs  # noqa: E402
from bench.gossip_procs import TOPOLOGIES, Cluster, Phase, pct  # noqa: E402
from devices.core import RsaWallet  # noqa: E402
from node.peering import BATCH_DELAY_S  # noqa: E402

AOS = "aos-2-pure-xs.wasm"


def aos_image() -> tuple[bytes | None, str]:
    """The aos module, or None and where it was looked for."""
    base = Path(os.environ.get("AO_VECTORS", ROOT.parent / "shared" / "vectors"))
    path = base / "hyperbeam-test-data" / AOS
    return (path.read_bytes(), str(path)) if path.is_file() else (None, str(path))


def wallets_for(count: int) -> list[RsaWallet]:
    return [RsaWallet.generate(4096)] + [RsaWallet.generate(2048) for _ in range(count - 1)]


def print_phase(label: str, p: Phase, stats: bool, mesh: bool) -> None:
    where = f"on all {len(p.per_peer)} other peers " if mesh else ""
    line = (
        f"  {label}: delivered {where}{p.delivered}/{p.sent}, {p.rate():.0f}/s end to end "
        f"(sender loop {p.sent / max(p.send_s, 1e-9):.0f}/s), p50 {p.pct(0.5):.1f} ms, p99 {p.pct(0.99):.1f} ms"
    )
    if mesh:
        line += f" over all {len(p.latencies_ms)} (peer, message) arrivals"
    if stats and p.stats.get("batches"):
        s = p.stats
        line += (
            f"; {s['batches']:.0f} batches ({s['statements'] / s['batches']:.0f} statements, "
            f"{s['bytes'] / max(s['messages'], 1) / 1024:.1f} KiB per message), {s['rejected']:.0f} rejected"
        )
    print(line)
    if p.signed_ms:
        print(
            f"    of which announce -> batch signed on peer 0: p50 {pct(p.signed_ms, 0.5):.1f} ms, "
            f"p99 {pct(p.signed_ms, 0.99):.1f} ms; signed on peer 0 -> stored on "
            f"{'each other peer' if mesh else 'the last peer'}: "
            f"p50 {pct(p.hop_ms, 0.5):.1f} ms, p99 {pct(p.hop_ms, 0.99):.1f} ms"
        )
    if p.per_hop_p50_ms and not mesh:
        hops = ", ".join(f"{i}->{i + 1} {ms:.1f}" for i, ms in enumerate(p.per_hop_p50_ms))
        print(f"    p50 per hop (ms; from {'signed' if p.signed_ms else 'sent'} on peer 0): {hops}")
    if mesh:
        peers = ", ".join(f"{i}: {ms:.1f} ({got}/{p.sent})" for i, got, ms in p.per_peer)
        print(f"    p50 per peer (ms from sent on peer 0; delivered): {peers}")
    if p.cpu_s and p.delivered:
        each = ", ".join(f"{i}: {s:.2f}" for i, s in enumerate(p.cpu_s))
        print(
            f"    CPU s per peer process ({each}): {sum(p.cpu_s) / p.delivered * 1e6:.0f} us per delivered "
            f"item in all, {sum(p.cpu_s) / max(p.span_s, 1e-9):.2f} cores busy on average"
        )


SHAPES = {
    "chain": "in a chain 0->1->...->{last} ({hops} sequential hops), node 0 announces, node {last} measures",
    "mesh": "in a full mesh (every peer dials every other), node 0 announces, nodes 1..{last} all measure",
}


def topology_run(
    args: argparse.Namespace, topology: str, tmp: str, paths: list[str], trusted: tuple[str, ...]
) -> None:
    n, mesh = args.peers, topology == "mesh"
    specs = [
        PeerSpec(
            "peering", i, f"{tmp}/{topology}-peer-{i}", paths[i], trusted, args.batch_size, args.batch_delay
        )
        for i in range(n)
    ]
    shape = SHAPES[topology].format(last=n - 1, hops=n - 1)
    print(f"=== topology: {topology.upper()} ===")
    print(
        f"attestation gossip, {n} peers {shape}, one OS process each "
        f"(batch_size {args.batch_size}, batch_delay {args.batch_delay * 1000:g} ms):"
    )
    with Cluster(specs, topology) as cluster:
        cluster.phase("W" * 43, 200)  # warm-up: connections, code paths
        burst = cluster.phase("B" * 43, args.attestations)
        paced = cluster.phase("C" * 43, args.paced, rate=args.rate)
        _, verify_ms, verify_n = cluster.ask(0, ("probe",))
    print(f"  result ids computed before the timed part: {burst.id_us:.1f} us per id")
    print_phase(f"burst of {args.attestations} (latency here is queueing)", burst, True, mesh)
    print_phase(
        f"paced, at offered load {args.rate:g}/s for {args.paced / args.rate:.1f} s", paced, True, mesh
    )
    print(
        f"  one hop's verify_gossip of a {verify_n}-statement batch message (timed alone on peer 0): "
        f"{verify_ms:.1f} ms ({verify_ms / max(verify_n, 1) * 1000:.0f} us per statement)"
    )
    envelope = int(burst.stats["bytes"] / max(burst.stats["messages"], 1))
    # raw at the paced run's own message size and message rate: the latency GossipSub itself adds
    paced_msgs = max(int(paced.stats["messages"]), 10)
    paced_size = int(paced.stats["bytes"] / max(paced.stats["messages"], 1))
    paced_rate = paced_msgs / (args.paced / args.rate) if args.paced > 0 else 0.0
    with Cluster([PeerSpec("raw", i) for i in range(n)], topology) as cluster:
        cluster.phase("", 20, size=envelope)  # warm-up
        raw = cluster.phase("", args.raw_messages, size=envelope)
        raw_paced = cluster.phase("", paced_msgs, rate=paced_rate, size=paced_size) if args.paced > 0 else None
    print(f"raw py-libp2p GossipSub, same {topology}, one OS process each, node 0 publishes:")
    print_phase(
        f"burst of {args.raw_messages} x {envelope} B (the burst's mean batch message)",
        raw,
        False,
        mesh,
    )
    if raw_paced is not None:  # ``--paced 0`` skips the paced runs
        print_phase(
            f"paced, {paced_msgs} x {paced_size} B at {paced_rate:.1f} msg/s (the paced run's batch messages)",
            raw_paced,
            False,
            mesh,
        )
    raw_rate = max(raw.rate(), 1e-9)
    batch_rate = burst.stats["messages"] / max(burst.span_s, 1e-9)
    print(
        f"  ratio: batch messages/s vs raw msg/s {batch_rate / raw_rate:.2f}x; "
        f"attestations/s vs raw msg/s {burst.rate() / raw_rate:.1f}x"
    )
    to = f"to all {n - 1} other peers" if mesh else f"to node {n - 1}"
    print(
        f"  targets ({topology}): >= 10000 attestations/s {to}: {burst.rate():.0f} "
        f"({'met' if burst.rate() >= 1e4 else 'NOT met'}); p99 < 100 ms at {args.rate:g}/s: {paced.pct(0.99):.1f} ms "
        f"({'met' if paced.pct(0.99) < 100 and paced.delivered == paced.sent else 'NOT met'})"
    )


def procs_mode(args: argparse.Namespace) -> None:
    wallets = wallets_for(args.peers)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, wallet in enumerate(wallets):
            paths.append(str(Path(tmp) / f"wallet-{i}.json"))
            wallet.save(paths[-1])
        trusted = tuple(w.address for w in wallets)
        for topology in TOPOLOGIES if args.topology == "both" else (args.topology,):
            topology_run(args, topology, tmp, paths, trusted)


async def in_process_mode(args: argparse.Namespace) -> None:
    from bench.gossip_inproc import attestations

    n = args.peers
    att = await attestations(n, args.attestations, wallets_for(n))
    envelope = int(att["batch_bytes"])
    raw = await gossip_raw.run_raw(n, args.raw_messages, envelope, 0.0)
    print(
        f"attestation gossip, {n} peers in a chain, ALL IN THIS ONE PROCESS AND TRIO LOOP, "
        f"burst of {args.attestations} announced on node 0 (ids computed beforehand, {att['id_us']:.1f} us each):"
    )
    print(
        f"  delivered {att['delivered']:.0f}/{args.attestations} at node {n - 1}, {att['rate']:.0f} attestations/s, "
        f"p50 {att['p50']:.1f} ms, p99 {att['p99']:.1f} ms (queueing), {att['batches']:.0f} batches "
        f"({att['batch_bytes'] / 1024:.1f} KiB per message), {att['rejected']:.0f} rejected"
    )
    print(
        f"  raw GossipSub, same chain in this process, {envelope} B messages: {raw.delivered}/{raw.sent} "
        f"delivered, {raw.rate():.0f} msg/s, p50 {raw.pct(0.5):.1f} ms, p99 {raw.pct(0.99):.1f} ms"
    )
    print(
        f"  ratio: batches/s vs raw msg/s {att['batch_rate'] / max(raw.rate(), 1e-9):.2f}x; "
        f"attestations/s vs raw msg/s {att['rate'] / max(raw.rate(), 1e-9):.1f}x"
    )


async def converge_part(args: argparse.Namespace) -> None:
    wallets = [RsaWallet.generate(2048) for _ in range(3)]
    image, where = aos_image()
    if image is None:
        print(f"converged vs recomputed, aos Eval: SKIPPED: the aos module is absent ({where})")
    else:
        trials = [await gossip_converge.aos_eval(args.slots, wallets, image) for _ in range(args.trials)]
        aos = trials[0]

        def med(attr: str) -> float:
            return float(statistics.median(getattr(t, attr) for t in trials)) * 1000

        def span(attr: str) -> str:
            values = [getattr(t, attr) * 1000 for t in trials]
            return f"{min(values):.1f}..{max(values):.1f}"

        ratio = med("recompute_s") / med("converged_s")
        print(
            f"converged vs recomputed, aos Eval (process@1.0 + genesis-wasm@1.0, {AOS}), slot {args.slots} "
            f"({args.slots} Evals, each a {gossip_converge.EVAL_LOOP}-step Lua loop), median of {len(trials)} "
            "fresh setups:"
        )
        print(
            f"  served by C from {aos.attested_by} attestations in {med('converged_s'):.1f} ms "
            f"({span('converged_s')}; C's execution device ran {max(t.device_runs for t in trials)} times) "
            f"vs recomputed cold in {med('recompute_s'):.1f} ms ({span('recompute_s')}): "
            f"{ratio:.1f}x faster (target >= 10x: {'met' if ratio >= 10 else 'NOT met'})"
        )
        print(
            f"  recompute = {med('recompute_s') / args.slots:.1f} ms per Eval slot (boot included); "
            f"of the converged time, the libp2p fetch of the {aos.state_bytes / 1024:.0f} KiB state: "
            f"{med('fetch_s'):.1f} ms; served again by C (result then in its store): {med('again_s'):.1f} ms"
        )
        print(f"  {aos.detail}")
    te = await gossip_converge.test_exec(args.te_slots, wallets)
    print(
        f"converged vs recomputed, test-exec@1.0, slot {args.te_slots}: served in {te.converged_s * 1000:.1f} ms "
        f"(device ran {te.device_runs} times) vs recomputed in {te.recompute_s * 1000:.1f} ms: {te.ratio():.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--procs", action="store_true", default=True, help="one OS process per peer (default)")
    mode.add_argument("--in-process", action="store_true", help="all peers in this one Trio loop")
    parser.add_argument("--peers", type=int, default=5, choices=range(3, 6))
    parser.add_argument(
        "--topology",
        choices=(*TOPOLOGIES, "both"),
        default="both",
        help="--procs only; --in-process is a chain",
    )
    parser.add_argument("--attestations", type=int, default=4000, help="burst size")
    parser.add_argument("--paced", type=int, default=4000, help="announcements in the paced run")
    parser.add_argument("--rate", type=float, default=2000.0, help="offered load of the paced run, per s")
    parser.add_argument("--raw-messages", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument(
        "--batch-delay", type=float, default=BATCH_DELAY_S, help="seconds (default: the node's)"
    )
    parser.add_argument("--slots", type=int, default=20, help="aos Eval messages before the slot served")
    parser.add_argument("--trials", type=int, default=3, help="fresh aos setups (medians reported)")
    parser.add_argument("--te-slots", type=int, default=200, help="test-exec slots")
    parser.add_argument("--no-gossip", action="store_true", help="skip parts 1 and 2")
    parser.add_argument("--no-converge", action="store_true", help="skip part 3")
    args = parser.parse_args()
    if args.in_process and args.topology == "mesh":
        parser.error("--in-process measures a chain only")
    quiet_logs()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
    if args.no_gossip:
        pass
    elif args.in_process:
        trio.run(in_process_mode, args)
    else:
        # SIGTERM unwinds like Ctrl-C, so the clusters stop their peer processes on the way out
        previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            procs_mode(args)
        finally:
            signal.signal(signal.SIGTERM, previous)
    if not args.no_converge:
        trio.run(converge_part, args)
    print(f"machine: load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
