"""The libp2p backend of ``P2P`` — the only module in hyperpeer that imports ``libp2p`` (pinned 0.8.1).

What it overrides (see ``spec/p2p-libp2p.md`` §5 and §7):

1. Security: Noise only (a plaintext or secio dialer fails negotiation); muxer: Yamux only; transport: TCP.
2. ``ConnectionConfig(max_connections_per_peer=1)``: avoids the 250 ms wait on every successful dial.
3. GossipSub: explicit mesh degrees, 1 s heartbeat, libp2p's 10 msg/s spam protection off and replaced by
   our per-(forwarder, topic) limiter in the validator (``_policy``), ``strict_signing`` on.
4. Publish back-pressure: publishes are serialised and wait while any per-peer outbound queue (a private
   libp2p attribute, touched only in ``_wait_for_queue_room``) holds ``publish_high_water`` RPCs.
5. A pump drains libp2p's 32-slot subscription channel at once into our bounded per-subscriber channels.
6. Size caps on publish and receive, well under libp2p's silent 1 MiB drop.
7. Request/response on our own stream protocols with varint framing, caps and deadlines (``_streams``).
   A request opens a raw stream and negotiates lazily (``_multistream``): header, protocol and request in
   one write, so one round trip instead of three; the responder is libp2p's own multiselect server.
8. Yamux window updates once per half window, and the advertised addresses cached (``_tuning``): two
   per-message costs of the library.
9. ``seen_messages.stop()`` on exit (its cleanup thread otherwise leaks); the ``libp2p`` logger is
   re-attached to the application's logging.

Cancellation/shutdown: leaving ``async with node`` or cancelling ``run`` closes the subscriptions, our tasks,
the pubsub and router services and the host, in that order; no thread is left behind.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections import OrderedDict
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import multiaddr
import trio
import trio.lowlevel
from libp2p import new_host
from libp2p.abc import INotifee
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.network.config import ConnectionConfig
from libp2p.network.stream.exceptions import StreamEOF, StreamError
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.protocol_muxer.exceptions import MultiselectClientError, ProtocolNotSupportedError
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.tools.anyio_service import background_trio_service

from p2p._api import GossipMessage, P2PConfig, RequestHandler, ValidationResult
from p2p._errors import (
    MessageTooLarge,
    NodeClosed,
    P2PError,
    PeerBanned,
    PeerUnreachable,
    ProtocolNotSupported,
    RequestFailed,
    RequestTimeout,
)
from p2p._identity import load_or_create_seed
from p2p._policy import GossipPolicy
from p2p._service import NodeService, QueueRoom, map_errors, redial_forever
from p2p._streams import Fanout, LibraryStream, NegotiationCut, lazy_request, serve_exchange
from p2p._tuning import batch_window_updates, cache_addresses

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence


# ``import libp2p`` detaches its logger (propagate=False, handlers cleared); give it back to the application.
logging.getLogger("libp2p").propagate = True
logging.getLogger("libp2p").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

_SHUTDOWN_GRACE_S = 5.0
_FORWARDER_MEMORY = 4096  # (origin, seqno) -> forwarder, for GossipMessage.received_from


_LIBRARY_ERRORS = (BaseLibp2pError, OSError, ValueError)


def _adapt(stream: Any) -> LibraryStream:
    return LibraryStream(stream, eof=StreamEOF, errors=(StreamError, BaseLibp2pError))


class _PeerWatch(INotifee):
    """Wakes ``wait_peer_state`` on every connection change and turns banned peers away on connect."""

    def __init__(self, node: Libp2pNode) -> None:
        self._node = node

    async def opened_stream(self, network: Any, stream: Any) -> None:
        return None

    async def closed_stream(self, network: Any, stream: Any) -> None:
        return None

    async def connected(self, network: Any, conn: Any) -> None:
        peer = conn.muxed_conn.peer_id.to_base58()
        if self._node._policy.is_banned(peer):
            self._node._schedule_disconnect(peer)
        self._node._wake_peer_waiters()

    async def disconnected(self, network: Any, conn: Any) -> None:
        self._node._wake_peer_waiters()

    async def listen(self, network: Any, multiaddr: Any) -> None:
        return None

    async def listen_close(self, network: Any, multiaddr: Any) -> None:
        return None


def _is_unsupported_protocol(exc: BaseException | None) -> bool:
    """True if the cause chain says the remote answered "na" to every protocol we offered."""
    while exc is not None and not isinstance(exc, ProtocolNotSupportedError):
        if isinstance(exc, MultiselectClientError) and str(exc).startswith("protocols not supported"):
            return True
        exc = exc.__cause__
    return exc is not None


def _peer_of(peer_id: str) -> ID:
    try:
        return ID.from_base58(peer_id)
    except (ValueError, BaseLibp2pError) as exc:
        raise PeerUnreachable(f"not a peer ID: {peer_id!r}") from exc


class Libp2pNode(NodeService):
    """A ``P2P`` node on py-libp2p. Run it with ``async with`` or ``await nursery.start(node.run)``.

    Args:
        data_dir: where the identity seed lives (``p2p-ed25519.seed``, mode 0600); ignored when ``seed``
            is given.
        listen: multiaddrs to listen on (TCP only).
        bootstrap: full multiaddrs (``.../p2p/<id>``) dialled once started, and redialled when dropped.
        direct_peers: full multiaddrs kept as GossipSub direct peers (the operator's own nodes).
        config: limits and policy; ``P2PConfig()`` by default.
        seed: a 32-byte Ed25519 seed to use instead of the persisted one.
    """

    def __init__(
        self,
        *,
        data_dir: Path | str | None = None,
        listen: Sequence[str] = ("/ip4/127.0.0.1/tcp/0",),
        bootstrap: Sequence[str] = (),
        direct_peers: Sequence[str] = (),
        config: P2PConfig | None = None,
        seed: bytes | None = None,
    ) -> None:
        if seed is None:
            if data_dir is None:
                raise ValueError("Libp2pNode needs data_dir or seed")
            seed = load_or_create_seed(Path(data_dir))
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        self.config = config or P2PConfig()
        self._key_pair = create_new_key_pair(seed)
        self._id = ID.from_pubkey(self._key_pair.public_key)
        self._peer_id = self._id.to_base58()
        self._listen = [multiaddr.Multiaddr(a) for a in listen]
        self._bootstrap = list(bootstrap)
        self._direct = [info_from_p2p_addr(multiaddr.Multiaddr(a)) for a in direct_peers]
        self._policy = GossipPolicy(self.config, self._peer_id, clock=trio.current_time)
        self._fanout = Fanout(self.config.subscription_buffer, self._policy.counters)
        self._handlers: dict[str, RequestHandler] = {}
        self._limiter = trio.CapacityLimiter(self.config.max_inbound_requests)
        self._forwarders: OrderedDict[tuple[bytes, bytes], str] = OrderedDict()
        self._pumps: dict[str, trio.CancelScope] = {}
        self._publish_lock = trio.Lock()
        self._subscription_lock = trio.Lock()
        self._room = QueueRoom()
        self._peers_changed = trio.Event()
        self._host: Any = None
        self._pubsub: Any = None
        self._nursery: trio.Nursery | None = None
        self._disconnect_send, self._disconnect_recv = trio.open_memory_channel[str](64)

    def __repr__(self) -> str:
        return f"Libp2pNode({self._peer_id})"  # never the key

    # -- lifecycle ---------------------------------------------------------------------------

    def _build(self) -> tuple[Any, GossipSub, Pubsub]:
        noise = NoiseTransport(self._key_pair, noise_privkey=create_x25519_key_pair().private_key)
        host = new_host(
            key_pair=self._key_pair,
            sec_opt={NOISE_PROTOCOL_ID: noise},
            muxer_opt={YAMUX_PROTOCOL_ID: Yamux},  # type: ignore[dict-item]  # libp2p's own typing gap
            listen_addrs=self._listen,
            connection_config=ConnectionConfig(max_connections_per_peer=1),
        )
        cfg = self.config
        router = GossipSub(
            protocols=[PROTOCOL_ID_V11, PROTOCOL_ID],
            degree=cfg.mesh_degree,
            degree_low=cfg.mesh_degree_low,
            degree_high=cfg.mesh_degree_high,
            direct_peers=self._direct,
            heartbeat_interval=cfg.heartbeat_interval_s,
            spam_protection_enabled=False,  # we rate-limit per forwarder in the validator instead
        )
        host.get_network().register_notifee(_PeerWatch(self))
        batch_window_updates(host)
        cache_addresses(host)
        return host, router, Pubsub(host, router, strict_signing=True)

    @asynccontextmanager
    async def _running(self) -> AsyncIterator[Libp2pNode]:
        if self._host is not None:
            raise P2PError(f"node {self._peer_id} is already running")
        try:
            host, router, pubsub = self._build()
        except (BaseLibp2pError, ValueError) as exc:
            raise P2PError(f"cannot build the libp2p host: {exc}") from exc
        listen_failed = False
        try:
            # When we leave (normally or by cancellation) this scope is shielded and given a grace deadline,
            # the hypercorn way, so libp2p's teardown runs to completion instead of being cut short.
            with trio.CancelScope() as teardown:
                async with AsyncExitStack() as stack:
                    try:
                        with map_errors(_LIBRARY_ERRORS, lambda e: P2PError(f"cannot start: {e!r}")):
                            await stack.enter_async_context(host.run(self._listen))
                            await stack.enter_async_context(background_trio_service(pubsub))
                            await stack.enter_async_context(background_trio_service(router))
                            await pubsub.wait_until_ready()
                        # libp2p only logs a failed listen; leave the services cleanly, then raise below
                        listen_failed = len(host.get_transport_addrs()) < len(self._listen)
                        if not listen_failed:
                            async with self._serving(host, pubsub):
                                yield self
                    finally:
                        teardown.shield = True
                        teardown.deadline = trio.current_time() + _SHUTDOWN_GRACE_S
        finally:
            self._host = self._pubsub = None
            pubsub.seen_messages.stop()  # its cleanup thread is never stopped by libp2p
        if listen_failed:
            raise P2PError(f"cannot start the libp2p node: failed to listen on {self._listen}")

    @asynccontextmanager
    async def _serving(self, host: Any, pubsub: Any) -> AsyncIterator[None]:
        try:
            async with trio.open_nursery() as nursery:
                self._host, self._pubsub, self._nursery = host, pubsub, nursery
                for protocol in self._handlers:
                    self._register_handler(protocol)
                nursery.start_soon(self._disconnect_worker, host, pubsub)
                if self._bootstrap:
                    nursery.start_soon(
                        redial_forever, self, self._bootstrap, self.config.bootstrap_interval_s
                    )
                try:
                    yield
                finally:
                    self._nursery = None
                    self._fanout.close_all()
                    self._wake_peer_waiters()
                    nursery.cancel_scope.cancel()
        finally:
            # Close connections ourselves before the services go: libp2p can otherwise leave a
            # freshly dialled TCP socket unclosed when shutdown races its identify exchange.
            with trio.move_on_after(2.0) as scope:
                scope.shield = True
                for peer in list(host.get_connected_peers()):
                    await self._close_peer(host, peer)

    def _require_running(self) -> tuple[Any, Any, trio.Nursery]:
        if self._nursery is None or self._host is None:
            raise NodeClosed(f"node {self._peer_id} is not running")
        return self._host, self._pubsub, self._nursery

    # -- identity and connections ------------------------------------------------------------

    @property
    def peer_id(self) -> str:
        return self._peer_id

    @property
    def listen_addrs(self) -> list[str]:
        if self._host is None:
            return []
        return [str(a) for a in self._host.get_addrs()]

    async def connect(self, multiaddr_str: str) -> str:
        host, pubsub, _ = self._require_running()
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(multiaddr_str))
        except (ValueError, TypeError, BaseLibp2pError) as exc:
            raise PeerUnreachable(f"not a full multiaddr with /p2p/<id>: {multiaddr_str!r}") from exc
        peer = info.peer_id.to_base58()
        if self._policy.is_banned(peer):
            raise PeerBanned(f"peer {peer} is banned")
        if pubsub.is_peer_blacklisted(info.peer_id):
            pubsub.remove_from_blacklist(info.peer_id)  # the ban expired
        try:
            with (
                trio.fail_after(self.config.dial_timeout_s),
                map_errors(_LIBRARY_ERRORS, lambda e: PeerUnreachable(f"cannot dial {multiaddr_str}: {e}")),
            ):
                await host.connect(info)
        except trio.TooSlowError as exc:
            raise PeerUnreachable(f"dialling {multiaddr_str} timed out") from exc
        return peer

    def peers(self) -> list[str]:
        if self._host is None:
            return []
        return sorted(p.to_base58() for p in self._host.get_connected_peers())

    async def disconnect(self, peer_id: str) -> None:
        host, _, _ = self._require_running()
        await self._close_peer(host, _peer_of(peer_id))

    async def _close_peer(self, host: Any, peer: ID) -> None:
        try:
            with map_errors(
                _LIBRARY_ERRORS, lambda e: PeerUnreachable(f"disconnecting {peer} failed: {e!r}")
            ):
                await host.disconnect(peer)
        except PeerUnreachable as exc:
            log.info("%s", exc.reason)

    async def _disconnect_worker(self, host: Any, pubsub: Any) -> None:
        async for peer in self._disconnect_recv:
            pid = ID.from_base58(peer)
            pubsub.add_to_blacklist(pid)  # drops its pubsub stream and future messages
            await self._close_peer(host, pid)

    async def wait_for_mesh(self, peer_id: str, topic: str) -> None:
        """Wait until ``peer_id`` is in our GossipSub mesh for ``topic`` (no timeout of its own)."""
        _, pubsub, _ = self._require_running()
        await pubsub.wait_for_mesh(_peer_of(peer_id), topic, timeout=math.inf)

    def _wake_peer_waiters(self) -> None:
        self._peers_changed.set()
        self._peers_changed = trio.Event()

    async def wait_peer_state(self, peer_id: str, *, connected: bool) -> None:
        """Wait until ``peer_id`` is (or is no longer) connected; bound it with ``trio.fail_after``.

        Raises:
            NodeClosed: the node is not running, or stops while waiting.
        """
        while True:
            self._require_running()
            if (peer_id in self.peers()) == connected:
                return
            await self._peers_changed.wait()

    def _schedule_disconnect(self, peer: str) -> None:
        try:
            self._disconnect_send.send_nowait(peer)
        except trio.WouldBlock:
            log.warning("disconnect queue full; %s stays connected for now", peer)

    # -- gossip ------------------------------------------------------------------------------

    def _libp2p_validator(self, topic: str) -> Any:
        def validate(forwarder: ID, msg: Any) -> bool:
            fwd = forwarder.to_base58()
            verdict = self._policy.check_inbound(fwd, ID(msg.from_id).to_base58(), topic, msg.data)
            if verdict.disconnect:
                self._schedule_disconnect(fwd)
            if verdict.result is ValidationResult.ACCEPT:
                if fwd == self._peer_id:
                    return True  # our own publication; the pump skips it
                self._forwarders[(msg.from_id, msg.seqno)] = fwd
                if len(self._forwarders) > _FORWARDER_MEMORY:
                    self._forwarders.popitem(last=False)
                return True
            return False

        return validate

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[trio.MemoryReceiveChannel[GossipMessage]]:
        _, pubsub, nursery = self._require_running()
        send, receive = self._fanout.add(topic)
        try:
            async with self._subscription_lock:  # one libp2p subscription and one pump per topic
                if topic not in self._pumps:
                    pubsub.set_topic_validator(topic, self._libp2p_validator(topic), False)
                    subscription = await pubsub.subscribe(topic)
                    self._pumps[topic] = await nursery.start(self._pump, topic, subscription)
            yield receive
        finally:
            self._fanout.remove(topic, send)
            with trio.move_on_after(1.0) as scope:
                scope.shield = True
                async with self._subscription_lock:
                    if not self._fanout.count(topic) and topic in self._pumps:
                        self._pumps.pop(topic).cancel()
                        if self._pubsub is not None:
                            await self._pubsub.unsubscribe(topic)
                            self._pubsub.remove_topic_validator(topic)

    async def _pump(
        self, topic: str, subscription: Any, *, task_status: Any = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Drain libp2p's 32-slot subscription channel into our subscriber channels, at once."""
        with trio.CancelScope() as scope:
            task_status.started(scope)
            async for msg in subscription:
                origin = ID(msg.from_id).to_base58()
                if origin == self._peer_id:
                    continue  # libp2p hands our own publications back to us
                forwarder = self._forwarders.pop((msg.from_id, msg.seqno), origin)
                self._fanout.deliver(GossipMessage(topic, bytes(msg.data), origin, forwarder))

    async def publish(self, topic: str, data: bytes) -> None:
        _, pubsub, _ = self._require_running()
        if len(data) > self.config.max_message_bytes:
            raise MessageTooLarge(f"{len(data)} bytes exceeds the {self.config.max_message_bytes}-byte cap")
        async with self._publish_lock:
            await self._room.wait(pubsub.peer_queues.values(), self.config.publish_high_water)
            with map_errors(_LIBRARY_ERRORS, lambda e: P2PError(f"publish failed: {e}")):
                await pubsub.publish(topic, bytes(data))
            self._policy.counters.published += 1
        await trio.lowlevel.checkpoint()  # libp2p's publish never checkpoints

    # -- request/response --------------------------------------------------------------------

    def set_request_handler(self, protocol: str, fn: RequestHandler | None) -> None:
        if fn is None:
            self._handlers.pop(protocol, None)
            if self._host is not None:
                self._host.remove_stream_handler(TProtocol(protocol))
            return
        self._handlers[protocol] = fn
        if self._host is not None:
            self._register_handler(protocol)

    def _register_handler(self, protocol: str) -> None:
        async def on_stream(stream: Any) -> None:
            peer = stream.muxed_conn.peer_id.to_base58()  # authenticated by Noise
            adapter = _adapt(stream)
            handler = self._handlers.get(protocol)
            nursery = self._nursery
            if handler is None or nursery is None or self._policy.is_banned(peer):
                with contextlib.suppress(StreamError, BaseLibp2pError):
                    await stream.reset()  # refusing: a failed reset changes nothing
                return
            args = (adapter, peer, handler, self._limiter, self.config, self._policy.counters)
            nursery.start_soon(serve_exchange, *args)  # our nursery owns the exchange

        self._host.set_stream_handler(TProtocol(protocol), on_stream)

    async def request(self, peer_id: str, protocol: str, payload: bytes, *, timeout_s: float) -> bytes:
        host, _, nursery = self._require_running()
        if len(payload) > self.config.max_request_bytes:
            raise MessageTooLarge(f"request of {len(payload)} bytes exceeds {self.config.max_request_bytes}")
        if self._policy.is_banned(peer_id):
            raise PeerBanned(f"peer {peer_id} is banned")
        peer = _peer_of(peer_id)
        self._policy.counters.requests_sent += 1
        deadline = trio.current_time() + timeout_s
        try:
            with trio.fail_at(deadline):
                with map_errors(_LIBRARY_ERRORS, lambda e: PeerUnreachable(f"no stream to {peer}: {e}")):
                    stream = await host.get_network().new_stream(peer)  # raw: negotiated lazily below
                accepted = functools.partial(stream.set_protocol, TProtocol(protocol))  # as new_stream does
                cap = self.config.max_response_bytes
                return await lazy_request(_adapt(stream), protocol, payload, cap, accepted, nursery)
        except NegotiationCut as exc:
            if not exc.pipelined:
                raise
            with trio.move_on_at(deadline):
                raise await self._explain_cut(host, peer, protocol, exc) from exc
            raise RequestTimeout(f"no answer from {peer_id} about {protocol} within {timeout_s} s") from exc
        except trio.TooSlowError as exc:
            raise RequestTimeout(f"no response from {peer_id} within {timeout_s} s") from exc
        except trio.BrokenResourceError as exc:
            raise RequestFailed(f"stream to {peer_id} broke: {exc}") from exc

    async def _explain_cut(self, host: Any, peer: ID, protocol: str, cut: NegotiationCut) -> P2PError:
        """Ask again, without a request, what a cut pipelined negotiation meant (a reset overtook "na"?)."""
        try:
            stream = await host.new_stream(peer, [TProtocol(protocol)])
        except _LIBRARY_ERRORS as exc:
            if _is_unsupported_protocol(exc):
                return ProtocolNotSupported(f"{peer} does not serve {protocol}")
            return RequestFailed(cut.reason)
        with trio.CancelScope(shield=True), trio.move_on_after(1.0):
            await _adapt(stream).reset()
        return RequestFailed(cut.reason)
