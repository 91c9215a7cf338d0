"""The in-process event hub: results, assignments and attestations fanned out to subscribers.

Theory of operation:

1. ``EventHub.publish(event)`` is synchronous and never blocks: it offers the event to every
   matching subscription with ``send_nowait`` and returns how many took it.
2. Each ``Subscription`` owns a bounded buffer (a trio memory channel, ``buffer_events`` deep).
   When it is full the subscription is *cut off*: the hub records the reason and the slot of the
   first event it missed, closes the buffer and forgets the subscription. Nothing waits for a
   slow subscriber, so neither the publisher nor other subscribers are held up.
3. The subscriber first drains what its buffer holds, then ``receive`` raises
   ``SubscriptionClosed(reason, resume_from)``.
4. Filters (``Filter``): results or assignments of one process; attestations of every process,
   of one process, of one attester, or both. Slot positions (``from``) and the history→live
   switch are the business of ``Feed`` (``_feed``), not of the hub.

Cancellation/shutdown: ``EventHub.close(reason)`` cuts every subscription off with ``reason``;
later ``subscribe`` calls raise ``SubscriptionClosed``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

import trio

from ._evmsg import ORDERED_KINDS, Event, EventKind
from ._suberrors import BadSubscription, SubscriptionClosed

if TYPE_CHECKING:
    from types import TracebackType

DEFAULT_BUFFER_EVENTS = 256


@final
@dataclass(frozen=True, slots=True)
class Filter:
    """What a subscription receives.

    ``result``/``assignment``: ``process`` is required, ``attester`` must be ``None``.
    ``attestation``: ``process`` and ``attester`` are optional restrictions.
    """

    kind: EventKind
    process: str | None = None
    attester: str | None = None

    def __post_init__(self) -> None:
        if self.kind in ORDERED_KINDS:
            if not self.process:
                raise BadSubscription(f"a {self.kind} subscription names its process")
            if self.attester is not None:
                raise BadSubscription("only attestation subscriptions filter by attester")
        elif self.kind != "attestation":
            raise BadSubscription(f"unknown event kind {self.kind!r}")

    def matches(self, event: Event) -> bool:
        return (
            event.kind == self.kind
            and (self.process is None or event.process == self.process)
            and (self.attester is None or event.attester == self.attester)
        )


@final
@dataclass(frozen=True, slots=True)
class HubStatistics:
    published: int
    delivered: int
    cut_off: int
    subscriptions: int


@final
class Subscription:
    """A live subscription; make it with ``EventHub.subscribe`` and close it when done."""

    __slots__ = ("_hub", "_id", "_reason", "_recv", "_resume_from", "_send", "filter")

    def __init__(self, hub: EventHub, sub_id: int, flt: Filter, buffer_events: int) -> None:
        self._hub = hub
        self._id = sub_id
        self.filter = flt
        self._send, self._recv = trio.open_memory_channel[Event](buffer_events)
        self._reason: str | None = None
        self._resume_from: int | None = None

    @property
    def closed_reason(self) -> str | None:
        """Why the hub cut this subscription off (``None`` while it is live)."""
        return self._reason

    def buffered(self) -> int:
        return self._recv.statistics().current_buffer_used

    async def receive(self) -> Event:
        """The next event.

        Raises:
            SubscriptionClosed: after the buffered events, once the hub cut the subscription off.
            trio.ClosedResourceError: the subscriber closed it itself.
        """
        try:
            return await self._recv.receive()
        except trio.EndOfChannel:
            raise SubscriptionClosed(self._reason or "closed", self._resume_from) from None

    def receive_nowait(self) -> Event:
        """The next buffered event; raises ``trio.WouldBlock`` or ``SubscriptionClosed``."""
        try:
            return self._recv.receive_nowait()
        except trio.EndOfChannel:
            raise SubscriptionClosed(self._reason or "closed", self._resume_from) from None

    def close(self) -> None:
        """Stop receiving (idempotent)."""
        self._hub._forget(self)
        self._send.close()
        self._recv.close()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _offer(self, event: Event) -> bool:
        try:
            self._send.send_nowait(event)
        except trio.WouldBlock:
            self._cut(f"slow consumer: buffer of {self._capacity()} events full", event.slot)
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            self._hub._forget(self)
            return False
        return True

    def _capacity(self) -> int | float:
        return self._send.statistics().max_buffer_size

    def _cut(self, reason: str, resume_from: int | None) -> None:
        if self._reason is None:
            self._reason = reason
            self._resume_from = resume_from
        self._hub._forget(self, cut=True)
        self._send.close()


@final
class EventHub:
    """Fan-out of events to bounded subscriptions; see the module docstring."""

    def __init__(self, *, buffer_events: int = DEFAULT_BUFFER_EVENTS) -> None:
        if buffer_events < 1:
            raise BadSubscription("buffer_events must be at least 1")
        self._buffer_events = buffer_events
        self._ids = itertools.count()
        # (kind, process) → subscriptions; attestation subscriptions on every process use None.
        self._index: dict[tuple[str, str | None], dict[int, Subscription]] = {}
        self._closed: str | None = None
        self._published = 0
        self._delivered = 0
        self._cut_off = 0

    def subscribe(self, flt: Filter, *, buffer_events: int | None = None) -> Subscription:
        """Register a live subscription (not a checkpoint: nothing published is missed after it).

        Raises:
            SubscriptionClosed: the hub is closed.
            BadSubscription: a buffer size below 1.
        """
        if self._closed is not None:
            raise SubscriptionClosed(self._closed, None)
        size = self._buffer_events if buffer_events is None else buffer_events
        if size < 1 or size == math.inf:
            raise BadSubscription("a subscription buffer holds at least 1 and finitely many events")
        sub = Subscription(self, next(self._ids), flt, size)
        self._index.setdefault((flt.kind, flt.process), {})[sub._id] = sub
        return sub

    def publish(self, event: Event) -> int:
        """Offer ``event`` to every matching subscription; never blocks. Returns the deliveries."""
        self._published += 1
        targets = list(self._index.get((event.kind, event.process), {}).values())
        if event.kind == "attestation":
            targets.extend(self._index.get((event.kind, None), {}).values())
        count = 0
        for sub in targets:
            if sub.filter.matches(event) and sub._offer(event):
                count += 1
        self._delivered += count
        return count

    def close(self, reason: str = "node shutting down") -> None:
        """Cut every subscription off with ``reason``; later subscribes fail."""
        self._closed = reason
        for subs in list(self._index.values()):
            for sub in list(subs.values()):
                sub._cut(reason, None)

    def statistics(self) -> HubStatistics:
        return HubStatistics(
            published=self._published,
            delivered=self._delivered,
            cut_off=self._cut_off,
            subscriptions=sum(len(s) for s in self._index.values()),
        )

    def _forget(self, sub: Subscription, *, cut: bool = False) -> None:
        key = (sub.filter.kind, sub.filter.process)
        subs = self._index.get(key)
        if subs is not None and subs.pop(sub._id, None) is not None:
            if cut:
                self._cut_off += 1
            if not subs:
                del self._index[key]
