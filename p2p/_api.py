"""The interface the rest of the node uses to talk to peers, independent of the backend.

Nothing from libp2p crosses this interface: peers are ``str`` peer IDs, addresses are ``str``
multiaddrs, payloads are ``bytes``. Two implementations exist: ``Libp2pNode`` (real network)
and ``MemoryNode`` (an in-process hub for unit tests); both follow the rules below.

1. ``publish`` checks the size cap first (``MessageTooLarge``), then waits while the outbound
   queues are full (back-pressure), and always checkpoints.
2. Every inbound gossip message passes, in order: ban check, size cap, per-(forwarder, topic) rate
   limit, the topic validator. Only ``ACCEPT`` delivers it locally and forwards it. ``REJECT``
   lowers the forwarder's score; ``IGNORE`` drops silently. Our own publications skip validation.
3. A forwarder whose score falls to ``P2PConfig.score_disconnect_threshold`` is disconnected and
   banned for ``ban_duration_s``.
4. Subscribers each get a bounded channel; a full channel drops (counted in ``statistics()``),
   it never stalls delivery to other subscribers.
5. ``request`` payloads and responses are capped in size and bounded in time.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    import trio

#: The request/response protocol used to fetch content too large for gossip.
FETCH_PROTOCOL = "/hyperpeer/fetch/1.0.0"


class ValidationResult(enum.Enum):
    """What a topic validator decides about one inbound gossip message."""

    ACCEPT = "accept"  # deliver locally and forward
    REJECT = "reject"  # drop, and penalise the forwarder's score
    IGNORE = "ignore"  # drop without penalty (duplicate, stale, not interesting)


@dataclass(frozen=True, slots=True)
class GossipMessage:
    """One gossip message as subscribers see it.

    ``from_peer`` is the authenticated origin (it signed the pubsub envelope);
    ``received_from`` is the neighbour that forwarded it to us.
    """

    topic: str
    data: bytes
    from_peer: str
    received_from: str


#: ``fn(origin_peer_id, data) -> ValidationResult``; called before a message is delivered or forwarded.
Validator = Callable[[str, bytes], ValidationResult]
#: ``async fn(requesting_peer_id, payload) -> response``; raise ``RequestFailed(reason)`` to refuse.
RequestHandler = Callable[[str, bytes], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class P2PConfig:
    """Limits and policy shared by every backend (units in the names)."""

    max_message_bytes: int = 256 * 1024  # gossip payload cap, well under libp2p's silent 1 MiB drop
    subscription_buffer: int = 1024  # per-subscriber channel size
    publish_high_water: int = 16  # back-pressure: wait while any outbound queue holds this many
    rate_limit_per_s: float = 500.0  # per (forwarder, topic); excess is IGNOREd
    rate_limit_burst: float = 1000.0
    score_reject_penalty: float = 1.0
    score_accept_reward: float = 0.05
    score_max: float = 5.0
    score_disconnect_threshold: float = -5.0
    score_half_life_s: float = 60.0  # scores decay towards 0 with this half-life
    ban_duration_s: float = 600.0
    max_request_bytes: int = 64 * 1024
    max_response_bytes: int = 16 * 1024 * 1024
    request_timeout_s: float = 10.0
    max_inbound_requests: int = 64  # concurrent request handlers per node
    dial_timeout_s: float = 10.0
    bootstrap_interval_s: float = 30.0  # redial dropped bootstrap peers this often
    # GossipSub mesh (libp2p backend only; the memory backend floods to subscribed neighbours)
    mesh_degree: int = 6
    mesh_degree_low: int = 4
    mesh_degree_high: int = 12
    heartbeat_interval_s: int = 1

    def __post_init__(self) -> None:
        if self.max_message_bytes <= 0 or self.max_message_bytes > 1_000_000:
            raise ValueError("max_message_bytes must be in 1..1_000_000 (libp2p drops 1 MiB RPCs)")
        if self.score_disconnect_threshold >= 0:
            raise ValueError("score_disconnect_threshold must be negative")
        if not 0 < self.mesh_degree_low <= self.mesh_degree <= self.mesh_degree_high:
            raise ValueError("need 0 < mesh_degree_low <= mesh_degree <= mesh_degree_high")
        for name in (
            "heartbeat_interval_s",
            "dial_timeout_s",
            "bootstrap_interval_s",
            "subscription_buffer",
            "publish_high_water",
            "max_request_bytes",
            "max_response_bytes",
            "max_inbound_requests",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")


@dataclass(frozen=True, slots=True)
class P2PStatistics:
    """An immutable snapshot of a node's counters (see ``P2P.statistics``)."""

    peer_id: str
    connected_peers: int
    published: int
    accepted: int  # inbound messages that passed validation
    rejected: int
    ignored: int
    rate_limited: int
    oversize_dropped: int
    banned_dropped: int
    subscription_overflows: int
    forward_drops: int  # memory backend only: relays lost to a full neighbour queue
    disconnects_for_score: int
    banned_peers: int
    requests_sent: int
    requests_served: int
    requests_failed: int


class P2P(Protocol):
    """A running peer-to-peer node."""

    @property
    def peer_id(self) -> str: ...

    @property
    def listen_addrs(self) -> list[str]: ...

    async def publish(self, topic: str, data: bytes) -> None:
        """Publish ``data``; waits while outbound queues are full.

        Raises:
            MessageTooLarge: ``data`` exceeds ``max_message_bytes``.
            NodeClosed: the node is not running.
        """

    def subscribe(self, topic: str) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[GossipMessage]]:
        """Subscribe for the duration of the ``async with`` block; yields a bounded receive channel."""

    def set_validator(self, topic: str, fn: Validator | None) -> None:
        """Install (or with ``None`` remove) the validator for ``topic``."""

    async def request(self, peer_id: str, protocol: str, payload: bytes, *, timeout_s: float) -> bytes:
        """Send one request and return the response.

        Raises:
            MessageTooLarge: the payload exceeds ``max_request_bytes``.
            PeerUnreachable / PeerBanned: no connection to the peer.
            RequestTimeout: no complete response within ``timeout_s``.
            RequestFailed / ProtocolNotSupported: the remote refused or failed.
            ProtocolViolation: the response was malformed or over ``max_response_bytes``.
        """

    def set_request_handler(self, protocol: str, fn: RequestHandler | None) -> None:
        """Serve ``protocol`` with ``fn`` (or stop serving it with ``None``)."""

    async def connect(self, multiaddr: str) -> str:
        """Dial a full multiaddr ending in ``/p2p/<id>``; returns the peer ID.

        Raises:
            PeerUnreachable: the dial failed or the address is invalid.
            PeerBanned: the peer is currently banned.
        """

    def peers(self) -> list[str]:
        """Currently connected peer IDs (sorted)."""

    async def disconnect(self, peer_id: str) -> None:
        """Close every connection to ``peer_id`` (no error if none)."""

    async def wait_peer_state(self, peer_id: str, *, connected: bool) -> None:
        """Wait until ``peer_id`` is (``connected=True``) or is no longer connected; no timeout of its own.

        Raises:
            NodeClosed: the node is not running, or stops while waiting.
        """

    def score(self, peer_id: str) -> float:
        """The peer's current application score (0 for unknown peers)."""

    def statistics(self) -> P2PStatistics:
        """An immutable snapshot of the counters."""
