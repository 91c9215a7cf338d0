"""Catch-up feeds: replay a process's history from slot N, then follow live, with no gap or duplicate.

The node provides the history as one callable (the *catch-up source*)::

    def history(kind: EventKind, process: str, from_slot: int) -> AsyncIterator[Event]

typically an ``async def`` generator over its store, yielding signed events of ``kind`` for
``process`` in increasing slot order from ``from_slot`` (inclusive) up to what it holds now. It may
raise ``UnknownProcess``. (A coroutine that returns such an iterator is accepted too.)

``Feed.receive`` works in four phases:

1. *replay* — iterate ``history(kind, process, from)``; the hub is not involved yet, so a long
   replay cannot overflow a live buffer;
2. *attach* — subscribe to the hub (from here nothing published is missed);
3. *catch up* — iterate ``history`` again from the next slot: it covers what was published during
   phase 1, and may overlap what the live buffer already holds;
4. *live* — take events from the hub, dropping slots already delivered. A live event beyond the
   next expected slot (published before it was stored, or before phase 2) triggers a *gap fill*
   from ``history`` up to that slot first.

For results and assignments, delivered slots strictly increase and each slot is delivered once.
Attestations are not slot-ordered: a feed on one process replays those from ``from`` and drops
live ones already replayed (same slot and attester); feeds on every process are live only.

The node should store an event before publishing it. If it publishes first, an event that is
published before the feed attaches (phase 2) and stored only after the catch-up pass (phase 3)
is delivered by the gap fill that the next live event triggers, not before.

The resume position (``next_slot`` and ``SubscriptionClosed.resume_from``) is the slot after the
last one delivered, so ``Feed(..., from_slot=resume_from)`` continues exactly where it stopped.
For attestations it is the last slot delivered (later attestations may share it).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, final

import trio

from ._evmsg import ORDERED_KINDS, Event, EventKind
from ._suberrors import BadSubscription, SubscriptionClosed

if TYPE_CHECKING:
    from types import TracebackType

    from ._events import EventHub, Filter, Subscription

History = Callable[[EventKind, str, int], AsyncIterator[Event] | Awaitable[AsyncIterator[Event]]]


async def _open(history: History, kind: EventKind, process: str, start: int) -> AsyncIterator[Event]:
    it = history(kind, process, start)
    if inspect.isawaitable(it):
        it = await it
    return it


async def _aclose(it: AsyncIterator[Event] | None) -> None:
    closer = getattr(it, "aclose", None)
    if closer is not None:
        with trio.CancelScope(shield=True):
            await closer()


@final
class Feed:
    """History then live for one filter; use as ``async with Feed(...) as feed``."""

    def __init__(
        self,
        hub: EventHub,
        history: History | None,
        flt: Filter,
        from_slot: int | None = None,
        *,
        buffer_events: int | None = None,
    ) -> None:
        if from_slot is not None and (isinstance(from_slot, bool) or from_slot < 0):
            raise BadSubscription(f"'from' must be a non-negative integer, got {from_slot!r}")
        replay = from_slot is not None and flt.process is not None
        if from_slot is not None and flt.process is None:
            raise BadSubscription("'from' needs a process: feeds on every process are live only")
        if replay and history is None:
            raise BadSubscription("this node keeps no history to replay from")
        self._hub = hub
        self._history = history
        self.filter = flt
        self._ordered = flt.kind in ORDERED_KINDS
        self._next = from_slot
        self._buffer = buffer_events
        self._sub: Subscription | None = None if replay else hub.subscribe(flt, buffer_events=buffer_events)
        self._phase = "replay" if replay else "live"
        self._it: AsyncIterator[Event] | None = None
        self._stop: int | None = None  # gap fill: replay slots below this one
        self._held: Event | None = None  # the live event that triggered a gap fill
        self._seen: set[tuple[int | None, str | None]] = set()
        self.gaps = 0  # slots skipped because neither live nor history had them
        self.delivered = 0

    @property
    def next_slot(self) -> int | None:
        """Where a new feed would resume (see the module docstring)."""
        return self._next

    async def __aenter__(self) -> Feed:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        it, self._it = self._it, None
        await _aclose(it)
        if self._sub is not None:
            self._sub.close()

    async def receive(self) -> Event:
        """The next event in order.

        Raises:
            SubscriptionClosed: the live subscription was cut off (its buffered events were
                delivered first); ``resume_from`` is ``next_slot``.
            UnknownProcess: from the history source.
        """
        while True:
            event = await self._step()
            if event is not None and self._accept(event):
                self.delivered += 1
                return event

    async def _step(self) -> Event | None:
        if self._phase in ("replay", "catchup", "fill"):
            return await self._from_history()
        assert self._sub is not None
        try:
            event = await self._sub.receive()
        except SubscriptionClosed as exc:
            raise SubscriptionClosed(exc.reason, self._next) from None
        if (
            self._ordered
            and self._next is not None
            and event.slot is not None
            and event.slot > self._next
            and self._history is not None
        ):
            self._phase, self._stop, self._held = "fill", event.slot, event
            return None
        return event

    async def _from_history(self) -> Event | None:
        assert self._history is not None
        assert self.filter.process is not None
        if self._it is None:
            start = self._next if self._next is not None else 0
            self._it = await _open(self._history, self.filter.kind, self.filter.process, start)
        try:
            event = await self._it.__anext__()
        except StopAsyncIteration:
            event = None
        if event is not None and (self._stop is None or event.slot is None or event.slot < self._stop):
            return event if self.filter.matches(event) else None
        return await self._end_history()

    async def _end_history(self) -> Event | None:
        """Close the history pass; after a gap fill, hand back the live event that caused it."""
        it, self._it = self._it, None
        await _aclose(it)
        if self._phase == "replay":
            try:
                self._sub = self._hub.subscribe(self.filter, buffer_events=self._buffer)
            except SubscriptionClosed as exc:
                raise SubscriptionClosed(exc.reason, self._next) from None
            self._phase = "catchup"
            return None
        self._phase = "live"
        held, self._held, self._stop = self._held, None, None
        return held

    def _accept(self, event: Event) -> bool:
        if not self._ordered:
            if event.key in self._seen:
                return False
            if self._phase in ("replay", "catchup"):
                self._seen.add(event.key)
            if event.slot is not None:
                self._next = event.slot if self._next is None else max(self._next, event.slot)
            return True
        assert event.slot is not None
        if self._next is not None and event.slot < self._next:
            return False
        if self._next is not None and event.slot > self._next:
            self.gaps += 1
        self._next = event.slot + 1
        return True
