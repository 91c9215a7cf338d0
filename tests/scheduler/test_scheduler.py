from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing

from devices._errors import BadRequest, DeviceError, NotFound, Unavailable
from devices.core import Message
from devices.scheduler import AssignmentLog, MessageOps, Scheduler
from tests.scheduler._support import NODE_ADDR, fake_ops, open_env, process_def, signer, user_msg

if TYPE_CHECKING:
    import lmdb

ROOT = Path(__file__).resolve().parents[2]


async def _spawn(s: Scheduler) -> str:
    proc = process_def()
    pid = s.ops.message_id(proc)
    a = await s.schedule(pid, proc)
    assert a.slot == 0
    return pid


async def test_sixteen_concurrent_writers_one_process(scheduler: Scheduler) -> None:
    pid = await _spawn(scheduler)
    got: dict[int, list[int]] = {}

    async def writer(w: int) -> None:
        slots = got.setdefault(w, [])
        for i in range(40):
            a = await scheduler.schedule(pid, user_msg(i, pid, w=w))
            slots.append(a.slot)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for w in range(16):
                nursery.start_soon(writer, w)
    every = sorted(s for slots in got.values() for s in slots)
    assert every == list(range(1, 16 * 40 + 1))  # no duplicate, no gap
    for slots in got.values():  # each writer's messages keep their order
        assert slots == sorted(slots)
    assert scheduler.current(pid) == 640
    assert scheduler.log.verify_chain(pid) == 641
    items, more = scheduler.assignments(pid, 0, 9)
    assert [a.slot for a in items] == list(range(10))
    assert not more


async def test_unknown_process_is_not_found(scheduler: Scheduler) -> None:
    with pytest.raises(NotFound, match="not scheduled by this node"):
        await scheduler.schedule("X" * 43, user_msg(1, "X" * 43))
    with pytest.raises(NotFound):
        scheduler.current("X" * 43)
    # ... unless its definition names this node as scheduler: user messages then start at slot 0
    proc = process_def("unposted")
    pid = scheduler.ops.message_id(proc)
    a = await scheduler.schedule(pid, user_msg(1, pid), definition=proc)
    assert a.slot == 0
    other = process_def("elsewhere", scheduler="someone-else")
    with pytest.raises(NotFound):
        await scheduler.schedule("Y" * 43, user_msg(1, "Y" * 43), definition=other)


async def test_bad_signature_is_rejected_and_nothing_assigned(scheduler: Scheduler) -> None:
    pid = await _spawn(scheduler)
    forged = user_msg(1, pid).set("n", 999)  # signed body altered after signing
    with pytest.raises(BadRequest, match="Message is not valid"):
        await scheduler.schedule(pid, forged)
    assert scheduler.current(pid) == 0
    assert scheduler.log.get(pid, 1) is None


async def test_slot_beyond_current(scheduler: Scheduler, autojump_clock: trio.testing.MockClock) -> None:
    pid = await _spawn(scheduler)
    with pytest.raises(NotFound, match="current slot is 0"):
        scheduler.assignment(pid, 3)
    with pytest.raises(trio.TooSlowError):
        with trio.fail_after(5):
            await scheduler.wait_for_slot(pid, 1)


async def test_wait_for_slot_wakes_on_commit(scheduler: Scheduler) -> None:
    pid = await _spawn(scheduler)
    woke = trio.Event()

    async def waiter() -> None:
        await scheduler.wait_for_slot(pid, 1)
        woke.set()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await trio.testing.wait_all_tasks_blocked()
            assert not woke.is_set()
            await scheduler.schedule(pid, user_msg(1, pid))
            await woke.wait()
    assert scheduler.assignment(pid, 1).slot == 1


async def test_signing_failure_fails_only_that_caller(env: lmdb.Environment) -> None:
    base = fake_ops()

    def sign(m: Message) -> Message:
        body = m.get_message("body")
        if body is not None and body.get_int("n") == 13:
            raise ValueError("hsm unplugged")
        return base.sign(m)

    ops = MessageOps(message_id=base.message_id, sign=sign, verify=base.verify)
    s = Scheduler(AssignmentLog(env), ops, address=NODE_ADDR)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        pid = await _spawn(s)
        results: dict[int, object] = {}

        async def one(n: int) -> None:
            try:
                results[n] = (await s.schedule(pid, user_msg(n, pid))).slot
            except DeviceError as exc:
                results[n] = exc

        with trio.fail_after(10):
            async with trio.open_nursery() as inner:
                for n in (12, 13, 14):
                    inner.start_soon(one, n)
        nursery.cancel_scope.cancel()
    assert isinstance(results[13], DeviceError)
    assert sorted(v for v in results.values() if isinstance(v, int)) == [1, 2]
    assert s.log.verify_chain(pid) == 3


async def test_parallel_signing_failure_rebuilds_the_batch(env: lmdb.Environment) -> None:
    base = fake_ops()
    gate = threading.Event()
    calls: list[int] = []

    def sign(m: Message) -> Message:
        body = m.get_message("body") or Message()
        n = body.get_int("n")
        calls.append(n if n is not None else -1)
        if n == 0:
            gate.wait(10)  # holds the first batch so the next four queue into one batch
        if n == 13:
            raise ValueError("hsm unplugged")
        return base.sign(m)

    ops = MessageOps(message_id=base.message_id, sign=sign, verify=base.verify)
    s = Scheduler(AssignmentLog(env), ops, address=NODE_ADDR, sign_threads=2)
    proc = process_def()
    pid = base.message_id(proc)
    results: dict[int, object] = {}

    async def one(n: int) -> None:
        try:
            results[n] = (await s.schedule(pid, user_msg(n, pid), definition=proc)).slot
        except DeviceError as exc:
            results[n] = exc

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(s.run)
            async with trio.open_nursery() as inner:
                inner.start_soon(one, 0)
                await trio.testing.wait_all_tasks_blocked()
                for n in (12, 13, 14, 15):
                    inner.start_soon(one, n)
                await trio.testing.wait_all_tasks_blocked()
                gate.set()
            nursery.cancel_scope.cancel()
    assert results[0] == 0
    assert isinstance(results[13], DeviceError)
    assert sorted(results[n] for n in (12, 14, 15)) == [1, 2, 3]  # type: ignore[type-var]  # no gap at 13
    assert calls.count(13) == 2  # signed in parallel once, then again one by one
    assert s.log.verify_chain(pid) == 4


async def test_not_running_and_stopped(env: lmdb.Environment) -> None:
    s = Scheduler(AssignmentLog(env), fake_ops(), address=NODE_ADDR)
    proc = process_def()
    with pytest.raises(Unavailable):
        await s.schedule(s.ops.message_id(proc), proc)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        nursery.cancel_scope.cancel()
    with pytest.raises(Unavailable):
        await s.schedule(s.ops.message_id(proc), proc)


async def test_stopping_fails_queued_callers_and_finishes_the_batch_in_flight(env: lmdb.Environment) -> None:
    base = fake_ops()
    gate = threading.Event()

    def slow_sign(m: Message) -> Message:
        gate.wait(10)
        return base.sign(m)

    ops = MessageOps(message_id=base.message_id, sign=slow_sign, verify=base.verify)
    s = Scheduler(AssignmentLog(env), ops, address=NODE_ADDR)
    proc = process_def()
    pid = base.message_id(proc)
    outcomes: dict[int, object] = {}

    async def call(n: int, msg: Message) -> None:
        try:
            outcomes[n] = (await s.schedule(pid, msg, definition=proc)).slot
        except DeviceError as exc:
            outcomes[n] = exc

    with trio.fail_after(20):
        async with trio.open_nursery() as callers, trio.open_nursery() as service:
            await service.start(s.run)
            callers.start_soon(call, 0, proc)
            await trio.testing.wait_all_tasks_blocked()  # batch [proc] is signing, blocked
            callers.start_soon(call, 1, user_msg(1, pid))
            callers.start_soon(call, 2, user_msg(2, pid))
            await trio.testing.wait_all_tasks_blocked()  # both queued behind it
            service.cancel_scope.cancel()
            gate.set()
    assert outcomes[0] == 0  # the batch in flight was committed and acknowledged
    assert isinstance(outcomes[1], Unavailable)
    assert isinstance(outcomes[2], Unavailable)
    assert s.log.verify_chain(pid) == 1


async def test_restart_recovery_after_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "db"
    acked: list[tuple[str, int, str]] = []
    with trio.fail_after(40):
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "tests.scheduler._burst", str(db)],
            cwd=str(ROOT),
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        buf = b""
        ready = False
        while len(acked) < 400:
            chunk = await proc.stdout.receive_some(65536)
            assert chunk, "child exited early"
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line == b"READY":
                    ready = True
                    continue
                pid, slot, chain = line.decode().split()
                acked.append((pid, int(slot), chain))
        proc.send_signal(signal.SIGKILL)  # mid-burst: twelve writers, batches in flight
        await proc.wait()
    assert ready
    assert proc.returncode == -signal.SIGKILL
    env = open_env(db)
    log = AssignmentLog(env)
    for pid, slot, chain in acked:
        a = log.get(pid, slot)
        assert a is not None, f"acknowledged slot {slot} of {pid} lost"
        assert a.hash_chain == chain
    pids = {pid for pid, _, _ in acked}
    for pid in pids:
        n = log.verify_chain(pid)  # contiguous from 0, chain intact, head agrees
        assert n > max(s for p, s, _ in acked if p == pid)
    # the chain continues unbroken after the restart
    s = Scheduler(log, fake_ops(), address=NODE_ADDR)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        pid = sorted(pids)[0]
        before = log.head(pid).next_slot
        a = await s.schedule(pid, signer(b"bob")(Message({"type": "Message", "target": pid})))
        assert a.slot == before
        nursery.cancel_scope.cancel()
    assert log.verify_chain(pid) == before + 1
    env.close()
