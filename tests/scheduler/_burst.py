"""Child process for the kill -9 test: schedules in a loop and prints each acknowledged slot.

Usage: python -m tests.scheduler._burst <db dir>. Prints "READY <pid>" then one line
"<pid> <slot> <hash-chain>" per acknowledged assignment, flushed at once, until killed.
"""

from __future__ import annotations

import sys

import trio

from devices.core import Message
from devices.scheduler import AssignmentLog, Scheduler
from tests.scheduler._support import NODE_ADDR, fake_ops, open_env, process_def


async def main(path: str) -> None:
    env = open_env(__import__("pathlib").Path(path))
    ops = fake_ops()
    sched = Scheduler(AssignmentLog(env), ops, address=NODE_ADDR, max_batch=64)
    procs = [process_def(f"p{i}") for i in range(3)]
    pids = [ops.message_id(p) for p in procs]
    async with trio.open_nursery() as nursery:
        await nursery.start(sched.run)
        for pid, proc in zip(pids, procs, strict=True):
            if not sched.knows(pid):
                await sched.schedule(pid, proc)
        sys.stdout.write("READY\n")
        sys.stdout.flush()

        async def writer(k: int) -> None:
            i = 0
            while True:
                pid = pids[(k + i) % len(pids)]
                a = await sched.schedule(pid, Message({"type": "Message", "target": pid, "k": k, "i": i}))
                sys.stdout.write(f"{a.process} {a.slot} {a.hash_chain}\n")
                sys.stdout.flush()
                i += 1

        for k in range(12):
            nursery.start_soon(writer, k)


if __name__ == "__main__":
    trio.run(main, sys.argv[1])
