"""Durable scheduling throughput, as a ratio to LMDB's raw durable-commit rate in the same run.

    python bench/scheduler.py [--n 4000] [--callers 64] [--rsa]

Reference: single-record durable write transactions (sync + metasync) on a fresh environment
of the same settings. Measured: durable assignments per second through ``Scheduler.schedule``
(verify, id, slot, hash chain, sign, group-committed durable write, acknowledgement) for one
process and spread over 100 processes. Signing uses a cheap HMAC stand-in by default (the
subject is the scheduler and its log); ``--rsa`` signs with a fresh RSA-4096 node wallet instead.
Target: ratio ≥ 0.5.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import hashlib
import hmac
import tempfile
import time

import lmdb
import trio

from devices.core import Message, b64u_encode
from devices.scheduler import AssignmentLog, MessageOps, Scheduler

KEY = b"bench-node-key"


def cheap_ops() -> MessageOps:
    def message_id(m: Message) -> str:
        return b64u_encode(hashlib.sha256(repr(sorted(m.to_python().items())).encode()).digest())

    def sign(m: Message) -> Message:
        data = repr(sorted(m.to_python().items())).encode()
        sig = b64u_encode(hmac.new(KEY, data, hashlib.sha256).digest())
        return m.set("commitments", {sig: {"committer": "bench", "signature": sig}})

    return MessageOps(message_id=message_id, sign=sign, verify=lambda m: True)


def open_env(path: Path) -> lmdb.Environment:
    return lmdb.open(str(path), map_size=1 << 30, max_dbs=8, sync=True, metasync=True)


def raw_rate(root: Path, n: int) -> float:
    env = open_env(root / "raw")
    db = env.open_db(b"raw")
    value = b"x" * 900
    start = time.perf_counter()
    for i in range(n):
        with env.begin(write=True, db=db) as txn:
            txn.put(i.to_bytes(8, "big"), value)
    rate = n / (time.perf_counter() - start)
    env.close()
    return rate


async def sched_rate(root: Path, name: str, n: int, callers: int, processes: int, ops: MessageOps) -> float:
    env = open_env(root / name)
    s = Scheduler(AssignmentLog(env), ops, address="bench", max_batch=512)
    defs = [Message({"type": "Process", "scheduler": "bench", "n": i}) for i in range(processes)]
    pids = [ops.message_id(d) for d in defs]
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        for pid, d in zip(pids, defs, strict=True):
            await s.schedule(pid, d)

        async def caller(k: int) -> None:
            for i in range(k, n, callers):
                pid = pids[i % processes]
                await s.schedule(pid, Message({"type": "Message", "target": pid, "i": i}))

        start = time.perf_counter()
        async with trio.open_nursery() as inner:
            for k in range(callers):
                inner.start_soon(caller, k)
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    for pid in pids:
        s.log.verify_chain(pid)
    env.close()
    return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--raw", type=int, default=1000)
    ap.add_argument("--callers", type=int, default=64)
    ap.add_argument("--rsa", action="store_true")
    args = ap.parse_args()
    ops = cheap_ops()
    if args.rsa:
        from devices.core import RsaWallet

        ops = MessageOps.for_wallet(RsaWallet.generate())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        raw = raw_rate(root, args.raw)
        one = trio.run(sched_rate, root, "one", args.n, args.callers, 1, ops)
        many = trio.run(sched_rate, root, "many", args.n, args.callers, 100, ops)
    print(f"raw LMDB durable commits/s:          {raw:9.0f}")
    print(f"durable assignments/s, 1 process:    {one:9.0f}  ratio {one / raw:5.2f}")
    print(f"durable assignments/s, 100 processes:{many:9.0f}  ratio {many / raw:5.2f}")
    signing = "RSA-4096 node wallet" if args.rsa else "HMAC stand-in"
    print(f"signing: {signing}; {args.callers} concurrent callers")


if __name__ == "__main__":
    main()
