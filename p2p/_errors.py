"""Errors of the peer-to-peer layer.

    P2PError                     root of every error this package raises
    ├── ProtocolViolation        remote: a peer broke the stream or gossip protocol
    │   └── WireError            remote: an envelope or frame is malformed, oversize or unknown
    ├── MessageTooLarge          local: a payload exceeds a configured size cap
    ├── PeerUnreachable          a dial failed, or the peer is not connected
    │   └── PeerBanned           the peer was disconnected for bad behaviour and is still banned
    ├── RequestTimeout           a request/response exchange did not finish in time
    ├── RequestFailed            the remote handler refused or failed the request
    │   └── ProtocolNotSupported the remote does not serve the requested protocol
    ├── NodeClosed               the node is not running (not started yet, or shut down)
    └── IdentityError            the persisted identity seed is unusable (defined in ``_identity``)

Each carries a ``reason`` and a ``status_hint`` (the HTTP status an edge should answer with);
``WireError`` also carries the byte ``offset`` where the problem was found, when known.
Library exceptions (libp2p, trio) never cross this package's boundary; they are mapped to these.
"""

from __future__ import annotations


class P2PError(Exception):
    """Root of the peer-to-peer layer's errors."""

    status_hint: int = 502

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ProtocolViolation(P2PError):
    """A remote peer broke the stream or gossip protocol."""


class WireError(ProtocolViolation):
    """An envelope or frame is malformed, oversize or of an unknown kind or version."""

    status_hint = 400

    def __init__(self, reason: str, *, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(reason if offset is None else f"{reason} (at byte {offset})")
        self.reason = reason


class EnvelopeTooLarge(WireError):
    """An envelope to send exceeds the wire cap (even deflated): send its content in smaller parts."""


class MessageTooLarge(P2PError):
    """A payload exceeds a configured size cap (raised before anything is sent)."""

    status_hint = 413


class PeerUnreachable(P2PError):
    """A dial failed, or the peer is not connected."""


class PeerBanned(PeerUnreachable):
    """The peer was disconnected for failing validation and its ban has not expired."""

    status_hint = 403


class RequestTimeout(P2PError):
    """A request/response exchange did not complete before its deadline."""

    status_hint = 504


class RequestFailed(P2PError):
    """The remote handler refused or failed the request; ``reason`` is what it said."""


class ProtocolNotSupported(RequestFailed):
    """The remote peer does not serve the requested protocol."""


class NodeClosed(P2PError):
    """The node is not running: it was not started yet, or it has shut down."""

    status_hint = 503
