"""Errors raised by the node (the composition root).

    NodeError                    root; ``status`` is the HTTP status the edge answers with
    ├── RequestError             400: the HTTP request is malformed (remote)
    │   ├── PathError            400: the HyperPATH cannot be parsed (names the offending part)
    │   ├── SignatureRejected    400: a commitment of the request does not verify (names it)
    │   ├── BodyTooLarge         413: the body exceeds ``limits.max_body_bytes``
    │   └── HeadersTooLarge      431: the headers exceed ``limits.max_header_bytes``
    ├── ConfigError              500: the node configuration is unusable (local)
    └── StoreError               500: the embedded store failed (local)

Device failures travel as ``devices.DeviceError`` (its own tree, also with a ``status``); the HTTP
edge maps both trees, and nothing else, to client-visible statuses.
"""

from __future__ import annotations


class NodeError(Exception):
    """Root of the node's errors."""

    status: int = 500

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class RequestError(NodeError):
    """The remote sent a malformed request."""

    status = 400


class PathError(RequestError):
    """The request path (HyperPATH) is malformed."""


class SignatureRejected(RequestError):
    """A commitment on the request does not verify."""


class BodyTooLarge(RequestError):
    status = 413


class HeadersTooLarge(RequestError):
    status = 431


class ConfigError(NodeError):
    """The configuration file or flags are unusable."""


class StoreError(NodeError):
    """The embedded store failed."""
