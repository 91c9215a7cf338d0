"""Live events: what the scheduler commits and what processes compute reaches the subscription hub.

1. ``on_assignments`` is the scheduler's commit listener. It runs only after an assignment batch
   is durable, never blocks (a bounded queue; overflow is counted and logged, and subscribers
   fill the gap from history), queues one ``assignment`` event per assignment and marks the
   process as having new slots.
2. ``publish`` is the devices' ``Context.publish``: ``process@1.0`` offers one ``result`` event
   per computed slot, the peering layer its ``attestation`` events. It never blocks either.
3. ``run`` owns two tasks: the pump signs queued events with the node wallet (off the event loop)
   and publishes them on the hub; the computer folds newly assigned slots of processes that have
   result subscribers (or every process, with ``eager``) through ``compute``, so subscribers get
   results without anyone polling.
4. ``on_attestations`` is the peering layer's listener. Besides one ``attestation`` event per claim,
   it queues the slots of processes with result subscribers that ``agreed(process, slot)`` says
   trusted peers now agree on (set by the node once peering runs: agreement reached and the slot not
   computed here); the computer serves each of them through ``compute``, which answers from the
   attestations and publishes the ``result`` with ``attested-by``. So a subscriber on a peer that
   neither schedules nor computes a process still gets its results.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, final

import trio

from devices._errors import DeviceError
from devices.core import CoreError, Message
from node._evmsg import KIND_NAMES, EventKind

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from trio_typing import TaskStatus

    from devices.scheduler import Assignment
    from node._events import EventHub
    from node._ws_sources import EventSigner

log = logging.getLogger(__name__)

_Queued = tuple[EventKind, str, int | None, Message, str | None]
MAX_ATTESTED_QUEUE = 1024  # agreed slots queued per process; beyond it they are not pushed (log below)


@final
class LiveEvents:
    def __init__(
        self,
        hub: EventHub,
        signer: EventSigner,
        *,
        compute: Callable[[str, int], Awaitable[None]] | None = None,
        eager: bool = False,
        queue_events: int = 4096,
    ) -> None:
        self._hub = hub
        self._signer = signer
        self._compute = compute
        self._eager = eager
        self._send, self._recv = trio.open_memory_channel[_Queued](queue_events)
        self._dirty: dict[str, int] = {}
        self._attested: dict[str, set[int]] = {}
        self._wake = trio.Event()
        self.dropped = 0
        #: ``(process, slot) -> bool``: trusted peers agree on a result this node did not compute.
        self.agreed: Callable[[str, int], bool] | None = None

    def offer(self, kind: EventKind, process: str, slot: int | None, body: Message,
              attester: str | None = None) -> None:
        """Queue one event for signing and publishing; never blocks."""
        try:
            self._send.send_nowait((kind, process, slot, body, attester))
        except trio.WouldBlock:
            self.dropped += 1
            log.warning("event queue full: dropped a %s event of %s slot %s", kind, process, slot)

    def on_assignments(self, assignments: Iterable[Assignment]) -> None:
        """The scheduler's commit listener (called after the batch is durable)."""
        for a in assignments:
            self.offer("assignment", a.process, a.slot, a.message)
            self._dirty[a.process] = max(a.slot, self._dirty.get(a.process, -1))
        self._wake.set()

    async def publish(self, topic: str, message: Message) -> None:
        """``Context.publish``: ``message`` carries ``process``, ``body`` and optionally ``slot``
        and ``attester``. Unknown topics and incomplete messages are ignored with a log line."""
        kind = KIND_NAMES.get(topic)
        process = message.get_text("process")
        body = message.get_message("body")
        if kind is None or process is None or body is None:
            log.warning("not publishing %r: need a known topic, 'process' and 'body'", topic)
            return
        self.offer(kind, process, message.get_int("slot"), body, message.get_text("attester"))

    def on_attestations(self, records: Iterable[Any]) -> None:
        """The peering layer's listener: one ``attestation`` event per verified claim, and the slots
        subscribers want that trusted peers now agree on queued for the computer."""
        agreed = self.agreed
        for r in records:
            body = Message({"process": r.process, "slot": r.slot, "attester": r.attester,
                            "result": r.result, "hashpath": r.hashpath, "hardware": r.hardware,
                            "origin": r.origin})
            self.offer("attestation", r.process, r.slot, body, r.attester)
            if agreed is None or self._compute is None or not self._hub.has_subscribers("result", r.process):
                continue
            queued = self._attested.get(r.process, ())
            if r.slot in queued or not agreed(r.process, r.slot):  # queued already: no second index read
                continue
            if len(queued) >= MAX_ATTESTED_QUEUE:
                log.warning("not pushing agreed slot %d of %s: %d slots already queued",
                            r.slot, r.process, len(queued))
                continue
            self._attested.setdefault(r.process, set()).add(r.slot)
            self._wake.set()

    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Pump and compute until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump)
            if self._compute is not None:
                nursery.start_soon(self._computer, self._compute)
            task_status.started()

    async def _pump(self) -> None:
        async for kind, process, slot, body, attester in self._recv:
            try:
                event = await self._signer.sign(kind, process, body, slot=slot, attester=attester)
            except Exception:  # one event: log it and keep serving the others
                log.exception("could not sign a %s event of %s", kind, process)
                continue
            self._hub.publish(event)

    async def _computer(self, compute: Callable[[str, int], Awaitable[None]]) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._dirty or self._attested:
                if self._dirty:
                    process, slot = self._dirty.popitem()
                    if self._eager or self._hub.has_subscribers("result", process):
                        await self._compute_one(compute, process, slot)
                    continue
                process, slots = self._attested.popitem()
                for slot in sorted(slots):  # each slot on its own: subscribers get every one, in order
                    if self._hub.has_subscribers("result", process):
                        await self._compute_one(compute, process, slot)

    @staticmethod
    async def _compute_one(compute: Callable[[str, int], Awaitable[None]], process: str, slot: int) -> None:
        try:
            await compute(process, slot)
        except Exception:  # one process: log it and keep computing the others
            log.warning("eager compute of %s up to slot %d failed", process, slot, exc_info=True)


_Page = tuple[list[tuple[int, Message]], bool]


def _result_pages(cache: Any, page_size: int = 64) -> Callable[[str, int], _Page]:
    """Computed results of a ``devices.scheduler.StateCache`` as a history page function."""

    def page(process: str, from_slot: int) -> tuple[list[tuple[int, Message]], bool]:
        items: list[tuple[int, Message]] = []
        slot = from_slot
        while len(items) < page_size:
            found = cache.results(process, slot)
            if found is None:
                return items, False
            items.append((slot, found))
            slot += 1
        return items, True

    return page


@final
class Subscriptions:
    """Everything the websocket edge needs, built from the node's services."""

    def __init__(self, hub: EventHub, live: LiveEvents,
                 handler: Callable[[Any, Any, Any], Awaitable[None]]) -> None:
        self.hub = hub
        self.live = live
        self.handler = handler

    @classmethod
    def for_node(cls, node: Any, *, eager: bool = False) -> Subscriptions:
        from devices.core import Message as Msg
        from node._events import EventHub
        from node._hyperpath import parse
        from node._ws import WsConfig, handle_websocket
        from node._ws_sources import EventSigner, paged_history, scheduler_pages

        hub = EventHub()
        signer = EventSigner(node.wallet)
        scheduler = node.services.get("scheduler")
        cache = node.services.get("process-cache")

        async def compute(process: str, slot: int) -> None:
            path = f"/{process}~process@1.0/compute&slot={slot}"
            await node.resolver.resolve_request(parse(Msg(path=path, method="GET"), node.limits))

        live = LiveEvents(hub, signer, compute=compute if scheduler is not None else None, eager=eager)
        node.resolver.publish = live.publish
        pages: dict[str, Any] = {}
        if scheduler is not None:
            scheduler.add_listener(live.on_assignments)
            pages["assignment"] = scheduler_pages(scheduler)
        if cache is not None:
            pages["result"] = _result_pages(cache)  # ``known`` already admitted the process
        history = paged_history(pages, signer)

        async def known(process: str) -> bool:
            """Scheduled here, or a message this node has or can load (gateways, then peers)."""
            if scheduler is None or scheduler.knows(process):
                return True
            try:
                await node.resolver.fetch(process)
            except (DeviceError, CoreError):
                return False
            return True

        config = WsConfig()

        async def handler(scope: Any, receive: Any, send: Any) -> None:
            await handle_websocket(scope, receive, send, hub, history, config, known_process=known)

        return cls(hub, live, handler)
