"""Feed: history replay, then live, with no gap and no duplicate; resume; cut-off; attestations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from node._events import EventHub, Filter
from node._feed import Feed
from node._suberrors import BadSubscription, SubscriptionClosed, UnknownProcess

from ._support import OTHER, PID, FakeStore, attestation, results

if TYPE_CHECKING:
    from node._evmsg import Event

EVENTS = results()


async def take(feed: Feed, n: int) -> list[int]:
    with trio.fail_after(5):
        return [(await feed.receive()).slot for _ in range(n)]  # type: ignore[misc]


async def test_replay_then_live_in_order() -> None:
    hub = EventHub()
    store = FakeStore(hub)
    for ev in EVENTS[:50]:
        store.store(ev)
    async with Feed(hub, store.history, Filter("result", PID), 0) as feed:
        assert await take(feed, 50) == list(range(50))
        for ev in EVENTS[50:]:
            store.store_and_publish(ev)
        assert await take(feed, 50) == list(range(50, 100))
        assert feed.next_slot == 100
        assert feed.gaps == 0


async def test_publishes_during_replay_are_neither_lost_nor_repeated() -> None:
    hub = EventHub()
    store = FakeStore(hub)
    for ev in EVENTS[:40]:
        store.store(ev)
    published = iter(EVENTS[40:])

    def publish_some(_slot: int) -> None:
        # Each history step the node stores and publishes 2 more: during the replay (not yet
        # attached to the hub) and during the catch-up pass (attached: live duplicates history).
        for ev in (next(published, None), next(published, None)):
            if ev is not None:
                store.store_and_publish(ev)

    store.on_yield = publish_some
    async with Feed(hub, store.history, Filter("result", PID), 10) as feed:
        got = await take(feed, 90)
    assert got == list(range(10, 100))
    assert store.passes >= 2


async def test_published_before_stored_is_filled_from_history() -> None:
    hub = EventHub()
    store = FakeStore(hub)
    for ev in EVENTS[:50]:
        store.store(ev)

    def on_start(n: int) -> None:
        if n == 0:  # before the feed attaches: live misses these, and they are not stored yet
            for ev in EVENTS[50:55]:
                hub.publish(ev)

    def on_end(n: int) -> None:
        if n == 1:  # after the catch-up pass: the store gets them late
            for ev in EVENTS[50:55]:
                store.store(ev)

    store.on_pass_start, store.on_pass_end = on_start, on_end
    async with Feed(hub, store.history, Filter("result", PID), 0) as feed:
        assert await take(feed, 50) == list(range(50))
        got: list[Event] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, feed, 6, got)
            await trio.testing.wait_all_tasks_blocked()  # the feed waits on the hub now
            assert store.passes == 2
            store.store_and_publish(EVENTS[55])  # live jumps ahead: 50..54 come from a gap fill
        assert [e.slot for e in got] == list(range(50, 56))
        assert feed.gaps == 0
        assert store.passes == 3


async def _collect(feed: Feed, n: int, into: list[Event]) -> None:
    with trio.fail_after(5):
        into.extend([await feed.receive() for _ in range(n)])


async def test_a_gap_nobody_can_fill_is_counted_not_hidden() -> None:
    hub = EventHub()
    store = FakeStore(hub)
    async with Feed(hub, store.history, Filter("result", PID), 0) as feed:
        got: list[Event] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, feed, 2, got)
            await trio.testing.wait_all_tasks_blocked()
            hub.publish(EVENTS[0])
            hub.publish(EVENTS[3])
        assert [e.slot for e in got] == [0, 3]
        assert feed.gaps == 1


async def test_resume_from_next_slot_has_no_gap_or_duplicate() -> None:
    hub = EventHub()
    store = FakeStore(hub)
    got: list[int] = []
    async with Feed(hub, store.history, Filter("result", PID), 0) as feed, trio.open_nursery() as nursery:
        nursery.start_soon(_publish_all, store)
        got += await take(feed, 50)
        resume = feed.next_slot
    assert resume == 50
    async with Feed(hub, store.history, Filter("result", PID), resume) as feed:
        got += await take(feed, 50)
    assert got == list(range(100))


async def _publish_all(store: FakeStore) -> None:
    for ev in EVENTS:
        store.store_and_publish(ev)
        await trio.lowlevel.checkpoint()


async def test_cut_off_feed_reports_where_to_resume() -> None:
    hub = EventHub()
    store = FakeStore(hub)
    feed = Feed(hub, store.history, Filter("result", PID), None, buffer_events=4)
    for ev in EVENTS[:10]:
        store.store_and_publish(ev)
    assert await take(feed, 4) == [0, 1, 2, 3]
    with pytest.raises(SubscriptionClosed) as info:
        await feed.receive()
    assert info.value.resume_from == 4
    await feed.aclose()
    async with Feed(hub, store.history, Filter("result", PID), info.value.resume_from) as again:
        assert await take(again, 6) == list(range(4, 10))


async def test_hub_close_during_replay_gives_resume_slot() -> None:
    hub = EventHub()
    store = FakeStore(hub)
    for ev in EVENTS[:3]:
        store.store(ev)
    store.on_pass_end = lambda n: hub.close("bye")
    async with Feed(hub, store.history, Filter("result", PID), 0) as feed:
        assert await take(feed, 3) == [0, 1, 2]
        with pytest.raises(SubscriptionClosed, match="bye") as info:
            await feed.receive()
        assert info.value.resume_from == 3


async def test_unknown_process_comes_from_history() -> None:
    hub = EventHub()
    store = FakeStore(hub)
    async with Feed(hub, store.history, Filter("result", "nope"), 0) as feed:
        with pytest.raises(UnknownProcess, match="nope"):
            await feed.receive()


async def test_bad_feed_requests() -> None:
    hub = EventHub()
    store = FakeStore(hub)
    with pytest.raises(BadSubscription, match="non-negative"):
        Feed(hub, store.history, Filter("result", PID), -1)
    with pytest.raises(BadSubscription, match="live only"):
        Feed(hub, store.history, Filter("attestation"), 0)
    with pytest.raises(BadSubscription, match="no history"):
        Feed(hub, None, Filter("result", PID), 0)


async def test_attestations_replay_then_live_without_repeats() -> None:
    hub = EventHub()
    store = FakeStore(hub)
    old = [attestation(PID, 1, "alice"), attestation(PID, 1, "bob"), attestation(PID, 2, "alice")]
    for ev in old:
        store.store(ev)
    async with Feed(hub, store.history, Filter("attestation", PID), 0) as feed:
        with trio.fail_after(5):
            first = [await feed.receive() for _ in range(3)]
        got: list[Event] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, feed, 1, got)
            await trio.testing.wait_all_tasks_blocked()
            hub.publish(old[1])  # already replayed: dropped
            hub.publish(attestation(OTHER, 9, "carol"))  # other process: filtered by the hub
            hub.publish(attestation(PID, 1, "carol"))  # same slot, new attester: delivered
    assert [(e.slot, e.attester) for e in first] == [(1, "alice"), (1, "bob"), (2, "alice")]
    assert [(e.slot, e.attester) for e in got] == [(1, "carol")]
    assert feed.next_slot == 2


async def test_events_both_live_and_in_the_catch_up_pass_are_delivered_once() -> None:
    hub = EventHub()
    store = FakeStore(hub)
    for ev in EVENTS[:10]:
        store.store(ev)

    def on_start(n: int) -> None:
        if n == 1:  # attached to the hub, history not read yet: both will hold 10..14
            for ev in EVENTS[10:15]:
                store.store_and_publish(ev)

    store.on_pass_start = on_start
    async with Feed(hub, store.history, Filter("result", PID), 0) as feed:
        assert await take(feed, 15) == list(range(15))
        store.store_and_publish(EVENTS[15])
        assert await take(feed, 1) == [15]
