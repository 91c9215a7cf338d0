"""Errors of the AO-Core core library.

    CoreError                    root of every error this package raises
    ├── DecodeError              remote: the input is malformed (reason, byte offset where known)
    │   └── LimitExceeded        remote: the input is larger or deeper than the configured bound
    ├── SignatureInvalid         remote: a signature or commitment does not verify
    ├── EncodeError              local: a value cannot be represented in the requested form
    └── KeyMaterialError         local: a wallet or key file is unusable

Each carries a ``status_hint`` (the HTTP status an edge should answer with).
"""

from __future__ import annotations


class CoreError(Exception):
    """Root of the core library's errors."""

    status_hint: int = 400

    def __init__(self, reason: str, *, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason if offset is None else f"{reason} (at byte {offset})")


class DecodeError(CoreError):
    """The input is malformed; ``offset`` names the byte where that was found, if known."""


class LimitExceeded(DecodeError):
    """The input exceeds a configured size, count or depth bound."""

    status_hint = 413


class SignatureInvalid(CoreError):
    """A signature or commitment does not verify."""


class EncodeError(CoreError):
    """A value cannot be represented in the requested encoding."""

    status_hint = 500


class KeyMaterialError(CoreError):
    """A wallet or key is malformed or unusable."""

    status_hint = 500
