from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest
import trio

from devices._errors import BadRequest, DeviceError, NotFound
from devices.core import Message, b64u_decode, b64u_encode, message_id
from devices.scheduler import StateCache
from devices.test_exec import INITIAL_HASH
from tests.scheduler._harness import Node, make_node, new_scheduler
from tests.scheduler._support import process_def, user_msg

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import lmdb


@pytest.fixture
async def node(env: lmdb.Environment) -> AsyncIterator[Node]:
    s = new_scheduler(env)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        yield make_node(env, s, snapshot_every=4)
        nursery.cancel_scope.cancel()


def _definition() -> Message:
    return process_def("counter", **{"execution-device": "stack@1.0", "device-stack": ["test-exec@1.0"]})


async def _spawn(node: Node, messages: int) -> tuple[Message, str, list[Message]]:
    proc = _definition()
    pid = node.scheduler.ops.message_id(proc)
    bodies = [proc]
    await node.scheduler.schedule(pid, proc)
    for i in range(messages):
        msg = user_msg(i, pid)
        await node.scheduler.schedule(pid, msg)
        bodies.append(msg)
    return proc, pid, bodies


def _fold(bodies: list[Message]) -> tuple[int, str]:
    running = b64u_decode(INITIAL_HASH)
    for b in bodies:
        running = hashlib.sha256(running + message_id(b, "all").encode()).digest()
    return len(bodies), b64u_encode(running)


async def test_compute_slot_n_is_the_fold_of_0_to_n(node: Node) -> None:
    proc, _pid, bodies = await _spawn(node, 9)
    for n in (0, 4, 9):
        state = await node.get(proc, path="compute", slot=n)
        assert isinstance(state, Message)
        counter, running = _fold(bodies[: n + 1])
        assert state["at-slot"] == n
        assert state["counter"] == counter
        assert state.get_text("running-hash") == running
        assert state["results"]["data"] == f"{counter}:{running}".encode()  # type: ignore[index]
        assert state["device"] == b"process@1.0"
        assert state["process"] == proc


async def test_snapshot_resume_equals_full_replay(env: lmdb.Environment, node: Node) -> None:
    proc, pid, bodies = await _spawn(node, 13)
    a = await node.get(proc, path="compute", slot=9)
    assert node.cache.snapshot_slots(pid) == [3, 7]
    steps = node.steps
    b = await node.get(proc, path="compute", slot=13)  # resumes from the live state at 9
    assert node.steps - steps < 4 * 4  # 4 slots (+ a snapshot), not 14
    assert b.get_text("running-hash") == _fold(bodies)[1]  # type: ignore[union-attr]
    # A fresh cache (as after a restart) restores the latest snapshot ≤ 13 and replays the rest.
    fresh = make_node(env, node.scheduler, snapshot_every=4)
    c = await fresh.get(proc, path="compute", slot=13)
    assert fresh.steps < 8
    assert c == b
    assert isinstance(a, Message)


async def test_older_slot_is_recomputed_from_a_snapshot(node: Node) -> None:
    proc, _pid, bodies = await _spawn(node, 9)
    await node.get(proc, path="compute", slot=9)
    old = await node.get(proc, path="compute", slot=5)  # behind the live state: no error
    assert old["counter"] == 6  # type: ignore[index]
    assert old.get_text("running-hash") == _fold(bodies[:6])[1]  # type: ignore[union-attr]
    assert (await node.get(proc, path="compute"))["at-slot"] == 9  # type: ignore[index]  # live kept


async def test_aoconnect_results_form_honours_n(node: Node) -> None:
    proc, _pid, bodies = await _spawn(node, 6)
    await node.get(proc, path="compute", slot=6)
    res = await node.get(proc, path="results", results="3")
    counter, running = _fold(bodies[:4])
    assert res["data"] == f"{counter}:{running}".encode()  # type: ignore[index]
    state = await node.get(proc, path="compute", compute="2")  # the /compute=2 form
    assert state["at-slot"] == 2  # type: ignore[index]
    same = await node.resolve(state, Message(path="results"))  # type: ignore[arg-type]
    assert same == state["results"]  # type: ignore[index]
    now = await node.get(proc, path="now")
    assert now["at-slot"] == 6  # type: ignore[index]


async def test_slot_beyond_current_and_bad_slots(node: Node) -> None:
    proc, pid, _ = await _spawn(node, 2)
    with pytest.raises(NotFound, match="current slot is 2"):
        await node.get(proc, path="compute", slot=5)
    for bad in ("abc", "-1", "1.5"):
        with pytest.raises(BadRequest):
            await node.get(proc, path="compute", slot=bad)
    for bad_wait in ("soon", "nan", "inf"):
        with pytest.raises(BadRequest, match="wait"):
            await node.get(proc, path="compute", slot=3, wait=bad_wait)
    with pytest.raises(NotFound):  # a negative wait is no wait
        await node.get(proc, path="compute", slot=3, wait="-5")
    with pytest.raises(NotFound):
        await node.get(process_def("never-scheduled"), path="compute", slot=0)

    async def later() -> None:
        await node.scheduler.schedule(pid, user_msg(9, pid))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(later)
            state = await node.get(proc, path="compute", slot=3, wait="5")
    assert state["at-slot"] == 3  # type: ignore[index]


async def test_bounded_wait_times_out(node: Node, autojump_clock: trio.testing.MockClock) -> None:
    proc, _pid, _ = await _spawn(node, 0)
    with pytest.raises(NotFound, match="not assigned yet"):
        await node.get(proc, path="compute", slot=1, wait="2")


async def test_compute_error_names_phase_and_slot(node: Node) -> None:
    proc, pid, _ = await _spawn(node, 1)
    await node.scheduler.schedule(pid, user_msg(2, pid, fail=True))
    with pytest.raises(DeviceError, match="phase: compute, attempted-slot: 2"):
        await node.get(proc, path="compute", slot=2)
    ok = await node.get(proc, path="compute", slot=1)
    assert ok["at-slot"] == 1  # type: ignore[index]


async def test_state_cache_persists_results(env: lmdb.Environment, node: Node) -> None:
    proc, pid, _ = await _spawn(node, 3)
    await node.get(proc, path="compute", slot=3)
    again = StateCache(env)
    assert again.results(pid, 2) is not None
    assert again.results(pid, 4) is None
    assert again.latest_snapshot(pid, 100) is not None
    assert again.latest_snapshot("nope", 100) is None
