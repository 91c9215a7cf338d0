"""Where a gossiped attestation batch spends its CPU, stage by stage, in µs per statement.

One batch of ``--batch`` statements by one RSA-4096 attester, signed and sent the way ``Peering``
publishes it (compact form: the leaves plus the signed header, deflated), then received the way a peer
takes it in: ``verify_gossip`` (inflate, envelope, leaf hashes and Merkle root, strict statement decode, header
signature), ``records_of`` (index records), ``AttestationIndex.prepare`` (keys and values encoded)
and ``prepare`` + ``commit`` (one durable LMDB transaction, fresh keys each round). Every stage is
timed ``--reps`` times per round over ``--rounds`` rounds; the median of the rounds is printed, and
the receiver's total (verify + records + prepare + commit). The sender's stages are printed too.

Usage: ``python -m bench.gossip_stages [--batch 1000] [--rounds 7] [--reps 5] [--cpu]``. Timings depend on the
machine and on whatever else runs on it: compare medians of runs on the same machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import TYPE_CHECKING

from attest import Statement, VerifierPolicy, sign_compact
from bench.gossip_peer import hashpath_for
from devices.core import Message, RsaWallet, message_id
from node._serial import encode_message
from node._store import LmdbStore
from node.peering import verify_gossip
from node.peering._ingest import records_of
from node.peering._records import AttestationIndex
from node.peering._verify import EvidenceChecker
from p2p import Envelope, Kind, encode_envelope

if TYPE_CHECKING:
    from collections.abc import Callable

_RECEIVER = ("verify_gossip", "records_of", "prepare+commit")

PROCESS = "S" * 43  # a process id's length


def _time(fn: Callable[[], object], reps: int, n: int, clock: Callable[[], float]) -> float:
    """µs per statement of one call of ``fn`` (which handles ``n`` statements), over ``reps`` calls."""
    fn()
    start = clock()
    for _ in range(reps):
        fn()
    return (clock() - start) / reps / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time this process's CPU time, not wall time (steadier on a busy machine)",
    )
    args = parser.parse_args()
    n: int = args.batch

    wallet = RsaWallet.generate(4096)
    address = wallet.address
    index = AttestationIndex(LmdbStore(tempfile.mkdtemp(), map_size_bytes=1 << 30))
    messages = [Message({"slot": s, "data": b"x" * 64}) for s in range(n)]
    ids = [message_id(m) for m in messages]
    hashpaths = [hashpath_for(PROCESS, i) for i in range(n)]

    def statements() -> list[Statement]:
        return [
            Statement(
                process=PROCESS,
                slot=i,
                result=ids[i],
                hashpath=hashpaths[i],
                device_stack=("test-exec@1.0",),
                attester=address,
                evidence=None,
            )
            for i in range(n)
        ]

    made = statements()
    header, leaves = sign_compact(made, wallet)
    envelope = Envelope(Kind.ATTESTATION_BATCH, {"header": header.to_dict(), "leaves": leaves})
    data = encode_envelope(envelope, compress=True)  # as peers send it: deflated
    checker = EvidenceChecker(VerifierPolicy())
    item = verify_gossip(data, checker)
    records, blobs = records_of(item, "peer")
    rounds = [0]

    def commit() -> object:
        rounds[0] += 1
        shift = n * rounds[0]
        fresh = [r._replace(slot=r.slot + shift) for r in records]
        return index.commit(index.prepare([(f"{item.item_id}{rounds[0]}", fresh, blobs)]))

    def commit_baseline() -> object:  # the _replace above, not part of the receiver's work
        rounds[0] += 1
        shift = n * rounds[0]
        return [r._replace(slot=r.slot + shift) for r in records]

    stages: dict[str, Callable[[], object]] = {
        "sender: message_id": lambda: [message_id(Message({"slot": s, "data": b"x" * 64})) for s in range(n)],
        "sender: encode_message": lambda: [encode_message(m) for m in messages],
        "sender: Statement()": statements,
        "sender: to_cbor (fresh)": lambda: [s.to_cbor() for s in statements()],
        "sender: sign_compact (memo)": lambda: sign_compact(made, wallet),
        "sender: encode_envelope": lambda: encode_envelope(envelope),
        "sender: encode_envelope+deflate": lambda: encode_envelope(envelope, compress=True),
        "verify_gossip": lambda: verify_gossip(data, checker),
        "records_of": lambda: records_of(item, "peer"),
        "prepare": lambda: index.prepare([(item.item_id, records, blobs)]),
        "prepare+commit": commit,
        "(prepare+commit baseline)": commit_baseline,
    }
    clock = time.process_time if args.cpu else time.perf_counter
    samples: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(args.rounds):
        for name, fn in stages.items():
            samples[name].append(_time(fn, args.reps, n, clock))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    medians["prepare+commit"] -= medians.pop("(prepare+commit baseline)")
    what = "CPU" if args.cpu else "wall"
    print(f"batch of {n} statements, median of {args.rounds} rounds x {args.reps} reps, {what} µs/statement")
    for name, value in medians.items():
        print(f"  {name:32s} {value:8.2f}")
    receiver = sum(medians[name] for name in _RECEIVER)
    print(f"  {'receiver total':32s} {receiver:8.2f}   (verify_gossip + records_of + prepare+commit)")


if __name__ == "__main__":
    main()
