"""Errors of the gateway package (index, GraphQL, routes and the gateway client).

    GatewayError                 root of every error this package raises
    ├── QueryError               remote: a query or filter is malformed or over a bound (400)
    ├── ItemRejected             remote: an uploaded data item does not parse or verify (400)
    ├── ItemConflict             remote: a different byte string claims a stored id (409)
    └── FetchError               a gateway fetch failed
        ├── GatewayUnavailable   every gateway failed with transport errors or 5xx (503)
        └── NotFoundOnGateways   no configured gateway has the id (404)

Each carries a ``status_hint`` (the HTTP status an edge should answer with).
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of the gateway package's errors."""

    status_hint: int = 500

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class QueryError(GatewayError):
    """A query, filter or cursor is malformed or exceeds a configured bound."""

    status_hint = 400


class ItemRejected(GatewayError):
    """An uploaded data item failed to parse or verify; nothing was stored."""

    status_hint = 400


class ItemConflict(GatewayError):
    """A byte string that differs from the stored one claims the same id (spec A19)."""

    status_hint = 409


class FetchError(GatewayError):
    """Fetching from remote gateways failed."""

    status_hint = 502


class GatewayUnavailable(FetchError):
    """Every configured gateway failed with a transport error, a timeout or a 5xx answer."""

    status_hint = 503


class NotFoundOnGateways(FetchError):
    """No configured gateway has the requested id."""

    status_hint = 404
