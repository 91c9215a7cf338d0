"""Instance snapshots: the whole linear memory plus the mutable globals, as one byte string.

Encoding (all integers little-endian)::

    b"HPWSNAP1"
    u32 global count, then per global: u32 index, u8 value type (0x7F i32, 0x7E i64, 0x7D f32,
        0x7C f64), 8 bytes value (integers as signed 64-bit, f32/f64 as IEEE bits zero-extended)
    u64 memory length, memory bytes
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Final

from ._errors import WasmDecodeError

MAGIC: Final = b"HPWSNAP1"
_TYPE_CODES: Final = {"i32": 0x7F, "i64": 0x7E, "f32": 0x7D, "f64": 0x7C}
_TYPE_NAMES: Final = {v: k for k, v in _TYPE_CODES.items()}

Number = int | float


def _pack_value(kind: str, value: Number) -> bytes:
    if kind in ("i32", "i64"):
        return struct.pack("<q", int(value))
    if kind == "f32":
        return struct.pack("<f", value) + bytes(4)
    return struct.pack("<d", value)


def _unpack_value(kind: str, raw: bytes) -> Number:
    if kind in ("i32", "i64"):
        return int(struct.unpack("<q", raw)[0])
    if kind == "f32":
        return float(struct.unpack("<f", raw[:4])[0])
    return float(struct.unpack("<d", raw)[0])


@dataclass(frozen=True)
class WasmSnapshot:
    """A copy of an instance's state: linear memory bytes and (global index, type, value) triples."""

    memory: bytes
    globals: tuple[tuple[int, str, Number], ...] = ()

    @property
    def pages(self) -> int:
        """Memory size in 64 KiB pages."""
        return len(self.memory) // 65536

    def digest(self) -> str:
        """sha256 hex of the encoded snapshot (memory and globals)."""
        return hashlib.sha256(self.encode()).hexdigest()

    def encode(self) -> bytes:
        """The snapshot as bytes (see the module docstring)."""
        parts = [MAGIC, struct.pack("<I", len(self.globals))]
        for index, kind, value in self.globals:
            parts.append(struct.pack("<IB", index, _TYPE_CODES[kind]) + _pack_value(kind, value))
        parts.append(struct.pack("<Q", len(self.memory)))
        parts.append(self.memory)
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes) -> WasmSnapshot:
        """Parse ``encode()`` output.

        Raises:
            WasmDecodeError: the bytes are not a well-formed snapshot.
        """
        if data[:8] != MAGIC:
            raise WasmDecodeError("not a hyperpeer WASM snapshot", offset=0)
        try:
            (count,) = struct.unpack_from("<I", data, 8)
            pos = 12
            entries: list[tuple[int, str, Number]] = []
            for _ in range(count):
                index, code = struct.unpack_from("<IB", data, pos)
                kind = _TYPE_NAMES.get(code)
                if kind is None:
                    raise WasmDecodeError(f"unknown global type 0x{code:02x}", offset=pos + 4)
                entries.append((index, kind, _unpack_value(kind, data[pos + 5 : pos + 13])))
                pos += 13
            (length,) = struct.unpack_from("<Q", data, pos)
        except struct.error as exc:
            raise WasmDecodeError("truncated snapshot", offset=len(data)) from exc
        pos += 8
        if pos + length != len(data):
            raise WasmDecodeError("snapshot memory length mismatch", offset=pos)
        return cls(bytes(data[pos:]), tuple(entries))
