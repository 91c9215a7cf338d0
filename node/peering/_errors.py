"""Errors of the peering service (part of the node's ``NodeError`` tree)::

NodeError
└── PeeringError
    ├── ItemRejected    a gossiped or fetched item is malformed, forged or does not verify
    └── ItemIgnored     a well-formed item this node does not take (wrong kind)
"""

from __future__ import annotations

from node._errors import NodeError


class PeeringError(NodeError):
    """Root of the peering errors."""


class ItemRejected(PeeringError):
    status = 400


class ItemIgnored(PeeringError):
    status = 400
