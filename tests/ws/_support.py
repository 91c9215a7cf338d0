"""Shared helpers for the websocket/subscription tests: signed events and a fake history store."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import trio

from devices.core import Message, RsaWallet
from node._evmsg import Event, EventKind, sign_event
from node._suberrors import UnknownProcess

if TYPE_CHECKING:
    from node._events import EventHub

PID = "P" * 42 + "A"
OTHER = "Q" * 42 + "B"


@functools.cache
def wallet() -> RsaWallet:
    return RsaWallet.generate(2048)


def body(slot: int, *, pad: int = 0) -> Message:
    return Message({"Output": {"data": f"slot {slot}"}, "GasUsed": slot, "pad": "x" * pad})


@functools.cache
def results(process: str = PID, n: int = 100, pad: int = 0) -> tuple[Event, ...]:
    """``n`` signed result events for slots 0..n-1 (signed once per test session)."""
    return tuple(sign_event(wallet(), "result", process, body(s, pad=pad), slot=s) for s in range(n))


def attestation(process: str, slot: int, attester: str) -> Event:
    payload = Message({"attests": f"{process}/{slot}", "by": attester})
    return sign_event(wallet(), "attestation", process, payload, slot=slot, attester=attester)


Hook = Callable[[int], None]


class FakeStore:
    """The node's catch-up source, in memory: ``history`` yields stored events from a slot.

    ``on_pass_start(n)``/``on_pass_end(n)``/``on_yield(slot)`` let tests interleave publishes with
    a history pass (``n`` counts the passes, from 0).
    """

    def __init__(self, hub: EventHub, known: tuple[str, ...] = (PID, OTHER)) -> None:
        self.hub = hub
        self.known = set(known)
        self.events: dict[tuple[str, str], list[Event]] = {}
        self.passes = 0
        self.on_pass_start: Hook | None = None
        self.on_pass_end: Hook | None = None
        self.on_yield: Hook | None = None

    def store(self, event: Event) -> None:
        self.events.setdefault((event.kind, event.process), []).append(event)

    def store_and_publish(self, event: Event) -> None:
        self.store(event)
        self.hub.publish(event)

    async def known_process(self, process: str) -> bool:
        await trio.lowlevel.checkpoint()
        return process in self.known

    async def history(self, kind: EventKind, process: str, from_slot: int) -> AsyncIterator[Event]:
        if process not in self.known:
            raise UnknownProcess(process)
        n = self.passes
        self.passes += 1
        if self.on_pass_start:
            self.on_pass_start(n)
        snapshot = list(self.events.get((kind, process), []))  # one read transaction
        for event in snapshot:
            if event.slot is not None and event.slot >= from_slot:
                await trio.lowlevel.checkpoint()
                if self.on_yield:
                    self.on_yield(event.slot)
                yield event
        if self.on_pass_end:
            self.on_pass_end(n)
