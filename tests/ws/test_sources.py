"""Node glue: the signer cache, the PublishFn adapter and paged history sources."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import trio

from devices.core import Message, json_decode, verify
from node._events import EventHub, Filter
from node._evmsg import event_body
from node._feed import Feed
from node._suberrors import BadSubscription, UnknownProcess
from node._ws_sources import EventSigner, hub_publisher, paged_history, scheduler_pages

from ._support import PID, body, wallet


async def test_signer_signs_off_loop_and_caches() -> None:
    signer = EventSigner(wallet(), cache_events=2)
    first = await signer.sign("result", PID, body(1), slot=1)
    assert await signer.sign("result", PID, body(1), slot=1) is first
    assert verify(json_decode(first.message_json())).committers == [signer.address]
    await signer.sign("result", PID, body(2), slot=2)
    await signer.sign("result", PID, body(3), slot=3)  # evicts slot 1
    assert await signer.sign("result", PID, body(1), slot=1) is not first


async def test_publisher_is_a_publish_fn_for_devices() -> None:
    hub = EventHub()
    publish = hub_publisher(hub, EventSigner(wallet()))
    with hub.subscribe(Filter("attestation", attester="alice")) as sub:
        payload = Message({"attests": "x"})
        await publish(
            "attestation", Message({"process": PID, "slot": 4, "attester": "alice", "body": payload})
        )
        event = await sub.receive()
    assert (event.kind, event.process, event.slot, event.attester) == ("attestation", PID, 4, "alice")
    assert event_body(event.message) == payload
    with pytest.raises(BadSubscription, match="cannot publish 'gossip'"):
        await publish("gossip", Message({"process": PID, "body": payload}))
    with pytest.raises(BadSubscription, match="'body'"):
        await publish("result", Message({"process": PID, "slot": 1}))


@dataclass
class FakeAssignment:
    slot: int
    message: Message


class FakeScheduler:
    page = 3

    def __init__(self, n: int) -> None:
        self.log = [FakeAssignment(s, body(s)) for s in range(n)]

    def knows(self, process: str) -> bool:
        return process == PID

    def assignments(self, process: str, first: int = 0) -> tuple[list[FakeAssignment], bool]:
        items = self.log[first : first + self.page]
        return items, first + self.page < len(self.log)


async def test_paged_history_over_the_scheduler_feeds_history_then_live() -> None:
    sched = FakeScheduler(10)
    signer = EventSigner(wallet())
    history = paged_history({"assignment": scheduler_pages(sched)}, signer)
    hub = EventHub()
    publish = hub_publisher(hub, signer)
    got: list[int] = []
    with trio.fail_after(10):
        async with Feed(hub, history, Filter("assignment", PID), 4) as feed:
            got += [(await feed.receive()).slot for _ in range(6)]  # type: ignore[misc]
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_take, feed, got)
                await trio.testing.wait_all_tasks_blocked()
                new = FakeAssignment(10, body(10))
                sched.log.append(new)
                await publish("assignment", Message({"process": PID, "slot": 10, "body": new.message}))
    assert got == list(range(4, 11))
    with pytest.raises(UnknownProcess):
        async for _ in history("assignment", "nobody", 0):
            pass
    assert [e async for e in history("result", PID, 0)] == []


async def _take(feed: Feed, into: list[int]) -> None:
    into.append((await feed.receive()).slot)  # type: ignore[arg-type]
