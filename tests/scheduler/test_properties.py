"""Property: any interleaving of callers over several processes and any batch size keeps every
process's schedule contiguous from 0, each caller's messages in order, and every chain valid."""

from __future__ import annotations

import tempfile
from pathlib import Path

import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.core import Message
from devices.scheduler import AssignmentLog, Scheduler
from tests.scheduler._support import NODE_ADDR, fake_ops, open_env, process_def

plans = st.lists(st.lists(st.integers(0, 2), min_size=1, max_size=8), min_size=1, max_size=6)


@settings(max_examples=15, derandomize=True, deadline=None)
@given(plans=plans, max_batch=st.integers(1, 9))
def test_any_interleaving_keeps_schedules_contiguous(plans: list[list[int]], max_batch: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = open_env(Path(tmp) / "db")
        ops = fake_ops()
        s = Scheduler(AssignmentLog(env), ops, address=NODE_ADDR, max_batch=max_batch)
        defs = [process_def(f"p{i}") for i in range(3)]
        pids = [ops.message_id(d) for d in defs]
        seen: dict[int, list[tuple[str, int]]] = {}

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(s.run)
                for pid, d in zip(pids, defs, strict=True):
                    await s.schedule(pid, d)

                async def caller(c: int, plan: list[int]) -> None:
                    for step, p in enumerate(plan):
                        msg = Message({"type": "Message", "target": pids[p], "c": c, "step": step})
                        a = await s.schedule(pids[p], msg)
                        seen.setdefault(c, []).append((a.process, a.slot))

                async with trio.open_nursery() as callers:
                    for c, plan in enumerate(plans):
                        callers.start_soon(caller, c, plan)
                nursery.cancel_scope.cancel()

        trio.run(main)
        for i, pid in enumerate(pids):
            expected = 1 + sum(plan.count(i) for plan in plans)
            assert s.log.verify_chain(pid) == expected
            slots = sorted(slot for got in seen.values() for p, slot in got if p == pid)
            assert slots == list(range(1, expected))
        for got in seen.values():
            for pid in pids:
                mine = [slot for p, slot in got if p == pid]
                assert mine == sorted(mine)
        env.close()


_keys = st.sampled_from(
    [
        "target",
        "from",
        "to",
        "slot",
        "accept",
        "method",
        "address",
        "nonce",
        "url",
        "body",
        "type",
        "compute",
        "results",
        "wait",
        "result-depth",
        "process",
    ]
)
_values = st.one_of(
    st.binary(max_size=24),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.text(max_size=12),
    st.just(b"POST"),
    st.just(b"application/aos-2"),
)
_paths = st.sampled_from(
    ["schedule", "slot", "status", "location", "record", "compute", "results", "now", "push"]
)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(path=_paths, fields=st.dictionaries(_keys, _values, max_size=6), on_process=st.booleans())
def test_garbage_requests_give_a_message_or_a_device_error(
    path: str, fields: dict[str, object], on_process: bool
) -> None:
    from devices._errors import DeviceError
    from tests.scheduler._harness import make_node

    with tempfile.TemporaryDirectory() as tmp:
        env = open_env(Path(tmp) / "db")
        ops = fake_ops()
        s = Scheduler(AssignmentLog(env), ops, address=NODE_ADDR)
        node = make_node(env, s)
        proc = process_def("fuzz", **{"execution-device": "stack@1.0", "device-stack": ["test-exec@1.0"]})

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(s.run)
                await s.schedule(ops.message_id(proc), proc)
                base = proc if on_process else Message(device="scheduler@1.0")
                with trio.fail_after(10):
                    try:
                        out = await node.resolve(base, Message({**fields, "path": path}))
                    except DeviceError:
                        pass
                    else:
                        assert isinstance(out, Message | int | bytes)
                nursery.cancel_scope.cancel()

        trio.run(main)
        env.close()
