"""EventHub: ordering, filters, bounded buffers and cut-off, close."""

from __future__ import annotations

import pytest
import trio

from node._events import EventHub, Filter
from node._suberrors import BadSubscription, SubscriptionClosed

from ._support import OTHER, PID, attestation, results


async def test_events_arrive_in_publish_order() -> None:
    hub = EventHub()
    with hub.subscribe(Filter("result", PID)) as sub:
        for ev in results()[:20]:
            assert hub.publish(ev) == 1
        got = [(await sub.receive()).slot for _ in range(20)]
    assert got == list(range(20))
    assert hub.statistics().subscriptions == 0


async def test_filters_by_kind_and_process() -> None:
    hub = EventHub()
    mine = hub.subscribe(Filter("result", PID))
    theirs = hub.subscribe(Filter("result", OTHER))
    assignments = hub.subscribe(Filter("assignment", PID))
    hub.publish(results()[0])
    hub.publish(results(OTHER, 3)[1])
    assert (await mine.receive()).process == PID
    assert (await theirs.receive()).slot == 1
    with pytest.raises(trio.WouldBlock):
        assignments.receive_nowait()
    with pytest.raises(trio.WouldBlock):
        mine.receive_nowait()


async def test_attestation_filters() -> None:
    hub = EventHub()
    every = hub.subscribe(Filter("attestation"))
    by_process = hub.subscribe(Filter("attestation", OTHER))
    by_attester = hub.subscribe(Filter("attestation", attester="alice"))
    both = hub.subscribe(Filter("attestation", PID, "bob"))
    evs = [attestation(PID, 1, "alice"), attestation(OTHER, 2, "bob"), attestation(PID, 3, "bob")]
    for ev in evs:
        hub.publish(ev)

    def drain(sub):
        out = []
        while True:
            try:
                out.append(sub.receive_nowait())
            except trio.WouldBlock:
                return [(e.process, e.slot, e.attester) for e in out]

    assert drain(every) == [(PID, 1, "alice"), (OTHER, 2, "bob"), (PID, 3, "bob")]
    assert drain(by_process) == [(OTHER, 2, "bob")]
    assert drain(by_attester) == [(PID, 1, "alice")]
    assert drain(both) == [(PID, 3, "bob")]


def test_bad_filters_are_rejected() -> None:
    with pytest.raises(BadSubscription, match="names its process"):
        Filter("result")
    with pytest.raises(BadSubscription, match="attester"):
        Filter("assignment", PID, "alice")
    with pytest.raises(BadSubscription, match="unknown event kind"):
        Filter("bogus")  # type: ignore[arg-type]
    with pytest.raises(BadSubscription, match="at least 1"):
        EventHub(buffer_events=0)


async def test_full_buffer_cuts_off_the_slow_subscriber_only() -> None:
    hub = EventHub()
    slow = hub.subscribe(Filter("result", PID), buffer_events=4)
    fast = hub.subscribe(Filter("result", PID), buffer_events=100)
    delivered = [hub.publish(ev) for ev in results()[:10]]
    assert delivered == [2, 2, 2, 2, 1, 1, 1, 1, 1, 1]  # publish never waited for anyone
    assert [(await slow.receive()).slot for _ in range(4)] == [0, 1, 2, 3]
    with pytest.raises(SubscriptionClosed) as info:
        await slow.receive()
    assert info.value.resume_from == 4
    assert "buffer of 4 events full" in info.value.reason
    assert slow.closed_reason == info.value.reason
    assert [(await fast.receive()).slot for _ in range(10)] == list(range(10))
    stats = hub.statistics()
    assert (stats.published, stats.delivered, stats.cut_off, stats.subscriptions) == (10, 14, 1, 1)


async def test_publish_never_blocks_on_a_subscriber_that_never_reads() -> None:
    hub = EventHub(buffer_events=1)
    hub.subscribe(Filter("result", PID))
    for ev in results():
        hub.publish(ev)  # synchronous: a stuck reader cannot hold it up, and nothing awaits
    assert hub.statistics().cut_off == 1


async def test_close_cuts_everyone_off_and_refuses_new_subscriptions() -> None:
    hub = EventHub()
    sub = hub.subscribe(Filter("result", PID))
    hub.publish(results()[0])
    hub.close("maintenance")
    assert (await sub.receive()).slot == 0
    with pytest.raises(SubscriptionClosed, match="maintenance"):
        await sub.receive()
    with pytest.raises(SubscriptionClosed, match="maintenance"):
        hub.subscribe(Filter("result", PID))


async def test_receive_after_own_close_is_closed_resource() -> None:
    hub = EventHub()
    sub = hub.subscribe(Filter("result", PID))
    sub.close()
    sub.close()
    assert hub.publish(results()[0]) == 0
    with pytest.raises(trio.ClosedResourceError):
        await sub.receive()
