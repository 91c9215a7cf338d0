"""Property: however stores, publishes, history passes and reads interleave, a feed delivers each
slot from its start exactly once and in order."""

from __future__ import annotations

import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from node._events import EventHub, Filter
from node._feed import Feed

from ._support import PID, FakeStore, results

EVENTS = results()
N = 40

# An op: 0 = store then publish the next slot, 1 = publish now and store it at the next op,
# 2 = let the feed read one event (when called from a test step).
ops_strategy = st.lists(st.integers(0, 2), min_size=N, max_size=3 * N)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(ops=ops_strategy, start=st.integers(0, 10), hooked=st.booleans(), stored_first=st.integers(0, N))
def test_no_gap_no_duplicate_under_any_interleaving(
    ops: list[int], start: int, hooked: bool, stored_first: int
) -> None:
    trio.run(_scenario, ops, start, hooked, stored_first)


async def _scenario(ops: list[int], start: int, hooked: bool, stored_first: int) -> None:
    hub = EventHub(buffer_events=10 * N)
    store = FakeStore(hub)
    for ev in EVENTS[:stored_first]:
        store.store(ev)
    state = {"next": stored_first, "late": None}
    pending = list(ops)

    def emit_one() -> None:
        if state["late"] is not None:  # a publish-before-store event gets stored now
            store.store(EVENTS[state["late"]])
            state["late"] = None
        if not pending or state["next"] >= N:
            return
        op = pending.pop(0)
        slot = state["next"]
        if op == 0:
            store.store_and_publish(EVENTS[slot])
            state["next"] += 1
        elif op == 1:
            hub.publish(EVENTS[slot])
            state["late"] = slot
            state["next"] += 1

    if hooked:  # emissions also happen in the middle of history passes
        store.on_yield = lambda _slot: emit_one()
        store.on_pass_start = lambda _n: [emit_one() for _ in range(3)]  # attached, snapshot not taken
        store.on_pass_end = lambda _n: emit_one()
    got: list[int] = []
    with trio.fail_after(10):
        async with Feed(hub, store.history, Filter("result", PID), start) as feed:
            while pending and state["next"] < N:
                if pending[0] == 2:
                    pending.pop(0)
                    stored = {e.slot for e in store.events.get(("result", PID), [])}
                    if feed.next_slot in stored:  # read only what the node has durably stored
                        got.append((await feed.receive()).slot)  # type: ignore[arg-type]
                else:
                    emit_one()
            emit_one()  # store the last late one, if any
            while state["next"] < N:  # then the rest, stored first
                store.store_and_publish(EVENTS[state["next"]])
                state["next"] += 1
            store.store_and_publish(EVENTS[N])  # a sentinel: anything repeated would come before it
            while not got or got[-1] != N:
                got.append((await feed.receive()).slot)  # type: ignore[arg-type]
    assert got == list(range(start, N + 1))
    assert feed.gaps == 0
