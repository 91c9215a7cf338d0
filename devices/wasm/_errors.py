"""Errors of the WASM execution layer.

    WasmError                    root of every error this package raises
    ├── WasmDecodeError          the module bytes are malformed (reason, byte offset where known)
    ├── WasmTranslateError       the legacy-EH translator met a construct it cannot rewrite
    ├── WasmCompileError         wasmtime rejected the module (validation / compilation)
    ├── WasmLinkError            an import cannot be satisfied or an export is missing / mistyped
    ├── WasmTrap                 the guest trapped (unreachable, out-of-bounds, uncaught exception, ...)
    │   └── WasmLimitExceeded    the guest ran out of fuel or hit the memory / table cap
    ├── WasmMemoryError          a host-side memory read/write was out of bounds, or malloc returned 0
    └── WasmInstanceDead         the instance trapped earlier and was discarded

Each carries a ``status_hint`` (the HTTP status an edge should answer with).
"""

from __future__ import annotations


class WasmError(Exception):
    """Root of the WASM layer's errors."""

    status_hint: int = 500

    def __init__(self, reason: str, *, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason if offset is None else f"{reason} (at byte {offset})")


class WasmDecodeError(WasmError):
    """The module bytes are malformed; ``offset`` names the byte where that was found."""

    status_hint = 400


class WasmTranslateError(WasmError):
    """The legacy exception-handling translator cannot rewrite a construct."""

    status_hint = 422


class WasmCompileError(WasmError):
    """wasmtime refused to validate or compile the module."""

    status_hint = 422


class WasmLinkError(WasmError):
    """An import cannot be provided, or a required export is missing or has the wrong type."""

    status_hint = 422


class WasmTrap(WasmError):
    """The guest trapped; the instance that trapped must not be used again."""


class WasmLimitExceeded(WasmTrap):
    """The guest exhausted its fuel budget or its memory/table cap."""

    status_hint = 507


class WasmMemoryError(WasmError):
    """A host-side access to linear memory was out of bounds, or the guest's malloc failed."""


class WasmInstanceDead(WasmError):
    """The instance was discarded after a trap; restore a snapshot or start a new one."""
