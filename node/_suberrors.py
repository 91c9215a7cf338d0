"""Errors of the subscription layer (hub, feeds, websocket edge, subscribe client).

    NodeError (node._errors)
    └── SubscriptionError       root of this layer; ``reason`` names the problem
        ├── EventInvalid            an event message is malformed or does not verify (remote)
        ├── UnknownProcess          a subscription names a process the node does not know
        ├── BadSubscription         a subscribe request is malformed (bad kind, slot, filter)
        └── SubscriptionClosed      the subscription ended; ``resume_from`` is the slot to ask for next

``SubscriptionClosed`` is raised by ``Subscription.receive``/``Feed.receive`` after the events
already buffered have been delivered: when the subscriber was too slow (its bounded buffer
filled), when the hub closed, or when the connection was cut off.
"""

from __future__ import annotations

from ._errors import NodeError


class SubscriptionError(NodeError):
    """Root of the subscription layer's errors."""

    status = 400


class EventInvalid(SubscriptionError):
    """An event message is malformed or does not verify."""

    status = 500


class UnknownProcess(SubscriptionError):
    """The node knows no process of that id (raised by ``history`` or ``known_process``)."""

    status = 404

    def __init__(self, process: str) -> None:
        self.process = process
        super().__init__(f"unknown process {process!r}")


class BadSubscription(SubscriptionError):
    """A subscription request is malformed."""


class SubscriptionClosed(SubscriptionError):
    """The subscription ended; ask again from ``resume_from`` (``None``: no slot position)."""

    def __init__(self, reason: str, resume_from: int | None) -> None:
        self.resume_from = resume_from
        super().__init__(reason)
