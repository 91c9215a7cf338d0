"""Glue between the node and the subscription layer: signing, publishing and history sources.

* ``EventSigner(wallet)`` signs event envelopes off the event loop (``trio.to_thread``) and
  remembers the last ``cache_events`` it signed, so replaying recent history costs no RSA.
* ``hub_publisher(hub, signer)`` is a ``devices.PublishFn`` (``async (topic, message)``): devices
  and services call ``ctx.publish("result" | "assignment" | "attestation", Message({"process":
  P, "slot": N, "body": <message>[, "attester": A]}))`` and the event reaches every subscriber.
* ``paged_history(pages, signer)`` builds the catch-up source ``history(kind, process, from)`` from
  one *page function* per kind: ``pages[kind](process, from_slot) -> ([(slot, body), ...], more)``
  (sync or async; raises ``UnknownProcess``). ``scheduler_pages(scheduler)`` is that function for
  assignments, over ``devices.scheduler.Scheduler`` (``knows``/``assignments``).
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, final

import trio

from devices.core import Message, RsaWallet, message_id

from ._evmsg import KIND_NAMES, Event, EventKind, sign_event
from ._suberrors import BadSubscription, UnknownProcess

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

    from ._events import EventHub

    Page = tuple[Sequence[tuple[int, Message]], bool]
    PageFn = Callable[[str, int], Page | Awaitable[Page]]

_Key = tuple[str, str, int | None, str | None, str]


@final
class EventSigner:
    """Signs events with the node wallet in a worker thread; caches recent envelopes."""

    def __init__(self, wallet: RsaWallet, *, cache_events: int = 4096, threads: int = 1) -> None:
        self._wallet = wallet
        self._cache: OrderedDict[_Key, Event] = OrderedDict()
        self._size = cache_events
        self._limiter = trio.CapacityLimiter(threads)

    @property
    def address(self) -> str:
        return self._wallet.address

    async def sign(
        self,
        kind: EventKind,
        process: str,
        body: Message,
        *,
        slot: int | None = None,
        attester: str | None = None,
    ) -> Event:
        """The signed event for ``body`` (cached by kind, process, slot, attester and body id)."""
        key: _Key = (kind, process, slot, attester, message_id(body))
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        event = await trio.to_thread.run_sync(
            lambda: sign_event(self._wallet, kind, process, body, slot=slot, attester=attester),
            limiter=self._limiter,
        )
        self._cache[key] = event
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return event


def hub_publisher(hub: EventHub, signer: EventSigner) -> Callable[[str, Message], Awaitable[None]]:
    """A ``devices.PublishFn`` that signs and publishes events on ``hub`` (see the module doc).

    Raises (from the returned function):
        BadSubscription: an unknown topic, or a message without ``process``/``body``.
    """

    async def publish(topic: str, message: Message) -> None:
        kind = KIND_NAMES.get(topic)
        process = message.get_text("process")
        body = message.get_message("body")
        if kind is None or process is None or body is None:
            raise BadSubscription(f"cannot publish {topic!r}: need a known topic, 'process' and 'body'")
        slot = message.get_int("slot")
        event = await signer.sign(kind, process, body, slot=slot, attester=message.get_text("attester"))
        hub.publish(event)

    return publish


def paged_history(
    pages: Mapping[str, PageFn], signer: EventSigner
) -> Callable[[EventKind, str, int], AsyncIterator[Event]]:
    """The catch-up source over page functions (one per kind; missing kinds have no history)."""

    async def history(kind: EventKind, process: str, from_slot: int) -> AsyncIterator[Event]:
        fetch = pages.get(kind)
        if fetch is None:
            return
        start = from_slot
        while True:
            page = fetch(process, start)
            items, more = await page if inspect.isawaitable(page) else page
            for slot, body in items:
                yield await signer.sign(kind, process, body, slot=slot)
                start = slot + 1
            if not more or not items:
                return

    return history


def scheduler_pages(scheduler: Any) -> PageFn:
    """Assignments of a ``devices.scheduler.Scheduler`` as a page function."""

    def page(process: str, from_slot: int) -> Page:
        if not scheduler.knows(process):
            raise UnknownProcess(process)
        items, more = scheduler.assignments(process, from_slot)
        return [(a.slot, a.message) for a in items], more

    return page
