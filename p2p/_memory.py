"""An in-memory ``P2P`` backend: a ``MemoryNetwork`` hub joining ``MemoryNode``s inside one Trio loop.

Same rules as the libp2p backend (see ``_api``), minus the sockets: the same inbound policy
(``_policy``), the same subscriber fan-out and request/response framing (``_streams``), the same errors.
Gossip is flooded along connections to neighbours subscribed to the topic (as GossipSub's mesh would),
deduplicated by (origin, sequence number). Addresses look like ``/memory/<id>/p2p/<id>``.

Cancellation/shutdown: leaving ``async with node`` (or cancelling ``run``) unlinks the node from every
peer, closes its subscriber channels and cancels its internal tasks.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio
import trio.testing

from p2p._api import GossipMessage, P2PConfig, RequestHandler, ValidationResult
from p2p._errors import (
    MessageTooLarge,
    NodeClosed,
    PeerBanned,
    PeerUnreachable,
    ProtocolNotSupported,
    RequestTimeout,
)
from p2p._policy import GossipPolicy
from p2p._service import NodeService
from p2p._streams import Fanout, client_exchange, serve_exchange

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


log = logging.getLogger(__name__)

_SEEN_LIMIT = 65_536


@dataclass(frozen=True, slots=True)
class _Item:
    forwarder: str
    origin: str
    seqno: int
    topic: str
    data: bytes


class MemoryNetwork:
    """The hub: which nodes run and which pairs are connected."""

    def __init__(self, config: P2PConfig | None = None) -> None:
        self.config = config or P2PConfig()
        self._nodes: dict[str, MemoryNode] = {}
        self._links: dict[str, set[str]] = {}
        self._names = itertools.count(1)
        self._changed = trio.Event()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def node(self, peer_id: str | None = None, *, config: P2PConfig | None = None) -> MemoryNode:
        """A new, not yet running node (enter it with ``async with`` or ``nursery.start(node.run)``)."""
        return MemoryNode(self, peer_id or f"mem-{next(self._names)}", config or self.config)

    def _links_of(self, peer: str) -> set[str]:
        return self._links.setdefault(peer, set())

    def _link(self, a: str, b: str) -> None:
        self._links_of(a).add(b)
        self._links_of(b).add(a)
        self._wake()

    def _unlink(self, a: str, b: str) -> None:
        self._links_of(a).discard(b)
        self._links_of(b).discard(a)
        self._wake()


class MemoryNode(NodeService):
    """One in-memory peer implementing ``P2P``."""

    def __init__(self, network: MemoryNetwork, peer_id: str, config: P2PConfig) -> None:
        self._net = network
        self._id = peer_id
        self.config = config
        self._policy = GossipPolicy(config, peer_id, clock=trio.current_time)
        self._fanout = Fanout(config.subscription_buffer, self._policy.counters)
        self._handlers: dict[str, RequestHandler] = {}
        self._limiter = trio.CapacityLimiter(config.max_inbound_requests)
        self._seqno = itertools.count(1)
        self._seen: set[tuple[str, int]] = set()
        self._seen_order: deque[tuple[str, int]] = deque()
        self._inbound_send, self._inbound_recv = trio.open_memory_channel[_Item](config.subscription_buffer)
        self._nursery: trio.Nursery | None = None

    def __repr__(self) -> str:
        return f"MemoryNode({self._id!r})"

    # -- lifecycle ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _running(self) -> AsyncIterator[MemoryNode]:
        if self._id in self._net._nodes:
            raise NodeClosed(f"a node with id {self._id!r} is already running")
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._net._nodes[self._id] = self
            nursery.start_soon(self._process_inbound)
            try:
                yield self
            finally:
                self._net._nodes.pop(self._id, None)
                for peer in list(self._net._links_of(self._id)):
                    self._net._unlink(self._id, peer)
                self._fanout.close_all()
                self._nursery = None
                self._net._wake()
                nursery.cancel_scope.cancel()

    def _require_running(self) -> trio.Nursery:
        if self._nursery is None:
            raise NodeClosed(f"node {self._id} is not running")
        return self._nursery

    # -- identity and connections ------------------------------------------------------------

    @property
    def peer_id(self) -> str:
        return self._id

    @property
    def listen_addrs(self) -> list[str]:
        return [f"/memory/{self._id}/p2p/{self._id}"]

    async def connect(self, multiaddr: str) -> str:
        self._require_running()
        await trio.lowlevel.checkpoint()
        parts = multiaddr.split("/")
        if len(parts) < 3 or parts[-2] != "p2p" or not parts[-1]:
            raise PeerUnreachable(f"not a full multiaddr with /p2p/<id>: {multiaddr!r}")
        peer = parts[-1]
        if self._policy.is_banned(peer):
            raise PeerBanned(f"peer {peer} is banned")
        target = self._net._nodes.get(peer)
        if target is None or peer == self._id:
            raise PeerUnreachable(f"no running node at {multiaddr!r}")
        if target._policy.is_banned(self._id):
            raise PeerUnreachable(f"peer {peer} refused the connection")
        self._net._link(self._id, peer)
        return peer

    def peers(self) -> list[str]:
        return sorted(self._net._links_of(self._id))

    async def disconnect(self, peer_id: str) -> None:
        await trio.lowlevel.checkpoint()
        self._net._unlink(self._id, peer_id)

    async def wait_peer_state(self, peer_id: str, *, connected: bool) -> None:
        """Wait until ``peer_id`` is (or is no longer) connected; bound it with ``trio.fail_after``."""
        while True:
            self._require_running()
            if (peer_id in self.peers()) == connected:
                await trio.lowlevel.checkpoint()
                return
            await self._net._changed.wait()

    # -- gossip ------------------------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[trio.MemoryReceiveChannel[GossipMessage]]:
        self._require_running()
        send, receive = self._fanout.add(topic)
        try:
            yield receive
        finally:
            self._fanout.remove(topic, send)

    def _neighbours_on(self, topic: str, *exclude: str) -> list[MemoryNode]:
        out = []
        for peer in sorted(self._net._links_of(self._id)):
            node = self._net._nodes.get(peer)
            if node is not None and peer not in exclude and node._fanout.count(topic):
                out.append(node)
        return out

    async def publish(self, topic: str, data: bytes) -> None:
        self._require_running()
        if len(data) > self.config.max_message_bytes:
            raise MessageTooLarge(f"{len(data)} bytes exceeds the {self.config.max_message_bytes}-byte cap")
        item = _Item(self._id, self._id, next(self._seqno), topic, bytes(data))
        self._mark_seen(item)
        self._policy.counters.published += 1
        await trio.lowlevel.checkpoint()
        for node in self._neighbours_on(topic):
            try:
                await node._inbound_send.send(item)  # back-pressure from the neighbour's queue
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                continue

    def _mark_seen(self, item: _Item) -> bool:
        key = (item.origin, item.seqno)
        if key in self._seen:
            return False
        self._seen.add(key)
        self._seen_order.append(key)
        if len(self._seen_order) > _SEEN_LIMIT:
            self._seen.discard(self._seen_order.popleft())
        return True

    async def _process_inbound(self) -> None:
        async for item in self._inbound_recv:
            if item.forwarder not in self._net._links_of(self._id):
                continue  # the link went away while the item was queued
            if item.origin == self._id or (item.origin, item.seqno) in self._seen:
                continue
            verdict = self._policy.check_inbound(item.forwarder, item.origin, item.topic, item.data)
            if verdict.disconnect:
                self._net._unlink(self._id, item.forwarder)
            if verdict.result is not ValidationResult.ACCEPT:
                if verdict.result is ValidationResult.REJECT:
                    self._mark_seen(item)
                continue
            self._mark_seen(item)
            self._fanout.deliver(GossipMessage(item.topic, item.data, item.origin, item.forwarder))
            relay = _Item(self._id, item.origin, item.seqno, item.topic, item.data)
            for node in self._neighbours_on(item.topic, item.forwarder, item.origin):
                try:
                    node._inbound_send.send_nowait(relay)
                except trio.WouldBlock:
                    self._policy.counters.forward_drops += 1
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    continue
            await trio.lowlevel.checkpoint()

    # -- request/response --------------------------------------------------------------------

    def set_request_handler(self, protocol: str, fn: RequestHandler | None) -> None:
        if fn is None:
            self._handlers.pop(protocol, None)
        else:
            self._handlers[protocol] = fn

    async def request(self, peer_id: str, protocol: str, payload: bytes, *, timeout_s: float) -> bytes:
        self._require_running()
        if len(payload) > self.config.max_request_bytes:
            raise MessageTooLarge(f"request of {len(payload)} bytes exceeds {self.config.max_request_bytes}")
        if self._policy.is_banned(peer_id):
            raise PeerBanned(f"peer {peer_id} is banned")
        target = self._net._nodes.get(peer_id)
        if target is None or peer_id not in self._net._links_of(self._id) or target._nursery is None:
            raise PeerUnreachable(f"not connected to {peer_id}")
        handler = target._handlers.get(protocol)
        if handler is None:
            raise ProtocolNotSupported(f"peer {peer_id} does not serve {protocol}")
        self._policy.counters.requests_sent += 1
        client, server = trio.testing.memory_stream_pair()
        target._nursery.start_soon(
            serve_exchange, server, self._id, handler, target._limiter, target.config, target._policy.counters
        )
        try:
            with trio.fail_after(timeout_s):
                return await client_exchange(client, bytes(payload), self.config.max_response_bytes)
        except trio.TooSlowError as exc:
            raise RequestTimeout(f"no response from {peer_id} within {timeout_s} s") from exc
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise PeerUnreachable(f"stream to {peer_id} broke") from exc
        finally:
            with trio.CancelScope(shield=True):
                await client.aclose()
