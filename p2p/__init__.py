"""Peer-to-peer layer: gossip and request/response behind a small backend-neutral interface.

Theory of operation:

1. The rest of the node talks to a ``P2P`` (``_api``): publish/subscribe on topics with per-topic
   validators, request/response on named protocols, connections by multiaddr, peer scoring.
2. ``Libp2pNode`` (``_libp2p_host``, imported lazily because ``import libp2p`` costs ~1 s) is the real
   backend and the only module that imports libp2p; ``MemoryNetwork``/``MemoryNode`` are the in-process test
   double with the same semantics.
3. Both backends apply the same inbound policy (``_policy``): ban check, size cap, rate limit, validator,
   scoring and bans.
4. ``_wire`` is the sans-io codec for our gossip envelopes, fetch frames and stream framing;
   ``_multistream`` the sans-io initiator of multistream-select, used to negotiate requests lazily.

Errors (``_errors``)::

    P2PError
    ├── ProtocolViolation
    │   └── WireError
    │       └── EnvelopeTooLarge
    ├── MessageTooLarge
    ├── PeerUnreachable
    │   └── PeerBanned
    ├── RequestTimeout
    ├── RequestFailed
    │   └── ProtocolNotSupported
    ├── NodeClosed
    └── IdentityError            (the persisted seed file is unusable)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from p2p._api import FETCH_PROTOCOL as FETCH_PROTOCOL
from p2p._api import P2P as P2P
from p2p._api import GossipMessage as GossipMessage
from p2p._api import P2PConfig as P2PConfig
from p2p._api import P2PStatistics as P2PStatistics
from p2p._api import RequestHandler as RequestHandler
from p2p._api import ValidationResult as ValidationResult
from p2p._api import Validator as Validator
from p2p._errors import EnvelopeTooLarge as EnvelopeTooLarge
from p2p._errors import MessageTooLarge as MessageTooLarge
from p2p._errors import NodeClosed as NodeClosed
from p2p._errors import P2PError as P2PError
from p2p._errors import PeerBanned as PeerBanned
from p2p._errors import PeerUnreachable as PeerUnreachable
from p2p._errors import ProtocolNotSupported as ProtocolNotSupported
from p2p._errors import ProtocolViolation as ProtocolViolation
from p2p._errors import RequestFailed as RequestFailed
from p2p._errors import RequestTimeout as RequestTimeout
from p2p._errors import WireError as WireError
from p2p._identity import IdentityError as IdentityError
from p2p._identity import load_or_create_seed as load_or_create_seed
from p2p._wire import Envelope as Envelope
from p2p._wire import FetchRequest as FetchRequest
from p2p._wire import FetchResponse as FetchResponse
from p2p._wire import Kind as Kind
from p2p._wire import What as What
from p2p._wire import decode_envelope as decode_envelope
from p2p._wire import decode_request as decode_request
from p2p._wire import decode_response as decode_response
from p2p._wire import encode_envelope as encode_envelope
from p2p._wire import encode_request as encode_request
from p2p._wire import encode_response as encode_response

if TYPE_CHECKING:
    from p2p._libp2p_host import Libp2pNode as Libp2pNode
    from p2p._memory import MemoryNetwork as MemoryNetwork
    from p2p._memory import MemoryNode as MemoryNode

# Imported on first use: the memory backend needs trio, and ``import libp2p`` costs about a second,
# so ``import p2p`` (and the sans-io ``p2p._wire``) stays light.
_LAZY = {
    "MemoryNetwork": "p2p._memory",
    "MemoryNode": "p2p._memory",
    "Libp2pNode": "p2p._libp2p_host",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'p2p' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "FETCH_PROTOCOL",
    "P2P",
    "Envelope",
    "EnvelopeTooLarge",
    "FetchRequest",
    "FetchResponse",
    "GossipMessage",
    "IdentityError",
    "Kind",
    "Libp2pNode",
    "MemoryNetwork",
    "MemoryNode",
    "MessageTooLarge",
    "NodeClosed",
    "P2PConfig",
    "P2PError",
    "P2PStatistics",
    "PeerBanned",
    "PeerUnreachable",
    "ProtocolNotSupported",
    "ProtocolViolation",
    "RequestFailed",
    "RequestHandler",
    "RequestTimeout",
    "ValidationResult",
    "Validator",
    "What",
    "WireError",
    "decode_envelope",
    "decode_request",
    "decode_response",
    "encode_envelope",
    "encode_request",
    "encode_response",
    "load_or_create_seed",
]
