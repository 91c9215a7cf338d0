"""Expose a module's mutable globals as exports, so snapshots can capture and restore them.

wasmtime only gives the host access to *exported* globals. A snapshot that must reproduce an
instance exactly (memory **and** globals, e.g. a C stack pointer) therefore needs every mutable,
module-defined numeric global exported. ``expose_mutable_globals`` appends one export per such
global, named ``GLOBAL_EXPORT_PREFIX + <global index>``; nothing else in the module changes.
"""

from __future__ import annotations

from typing import Final

from ._binary import SEC_CODE, enc_u, encode_module, parse_module, read_s, read_u, read_valtype
from ._errors import WasmDecodeError

EXPORT_PREFIX: Final = "hyperpeer."
GLOBAL_EXPORT_PREFIX: Final = "hyperpeer.global."
MEMORY_EXPORT: Final = "hyperpeer.memory"
SEC_MEMORY: Final = 5
SEC_GLOBAL: Final = 6
SEC_EXPORT: Final = 7
_NUMERIC: Final = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64"}
# Sections that must precede the export section, in canonical order (the tag section sits
# between memory and global).
_BEFORE_EXPORT: Final = frozenset({1, 2, 3, 4, 5, 13, 6})


def _skip_const_expr(data: bytes, pos: int) -> int:
    """Skip a constant expression ending in ``end``; returns the position after it."""
    while True:
        if pos >= len(data):
            raise WasmDecodeError("truncated constant expression", offset=pos)
        op = data[pos]
        pos += 1
        if op == 0x0B:
            return pos
        if op == 0x41:
            _, pos = read_s(data, pos, 32)
        elif op == 0x42:
            _, pos = read_s(data, pos, 64)
        elif op == 0x43:
            pos += 4
        elif op == 0x44:
            pos += 8
        elif op in (0x23, 0xD2):
            _, pos = read_u(data, pos, 32)
        elif op == 0xD0:
            _, pos = read_s(data, pos, 33)
        elif op == 0xFD:
            sub, pos = read_u(data, pos, 32)
            if sub != 12:
                raise WasmDecodeError("unsupported constant expression", offset=pos)
            pos += 16
        elif op not in (0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E):
            raise WasmDecodeError(f"unsupported constant expression opcode 0x{op:02x}", offset=pos - 1)


def mutable_globals(payload: bytes, first_index: int) -> list[tuple[int, str]]:
    """(global index, value type) of every mutable numeric global defined in a global section."""
    found: list[tuple[int, str]] = []
    count, pos = read_u(payload, 0, 32)
    for i in range(count):
        vt, pos = read_valtype(payload, pos)
        if pos >= len(payload):
            raise WasmDecodeError("truncated global", offset=pos)
        mutable = payload[pos] == 1
        pos = _skip_const_expr(payload, pos + 1)
        if mutable and vt[0] in _NUMERIC:
            found.append((first_index + i, _NUMERIC[vt[0]]))
    if pos != len(payload):
        raise WasmDecodeError("global section size mismatch", offset=pos)
    return found


def _exports_memory0(payload: bytes) -> bool:
    count, pos = read_u(payload, 0, 32)
    for _ in range(count):
        n, pos = read_u(payload, pos, 32)
        pos += n
        if pos >= len(payload):
            raise WasmDecodeError("truncated export", offset=pos)
        kind = payload[pos]
        index, pos = read_u(payload, pos + 1, 32)
        if kind == 0x02 and index == 0:
            return True
    return False


def expose_mutable_globals(image: bytes) -> tuple[bytes, tuple[tuple[int, str], ...]]:
    """Return (module with its state exported, the exposed (global index, type) pairs).

    Exports every mutable numeric global as ``hyperpeer.global.<index>`` and, if the module defines
    a memory it does not export, that memory as ``hyperpeer.memory``. A module needing neither is
    returned unchanged (the same bytes object).

    Raises:
        WasmDecodeError: the module is malformed.
    """
    mod = parse_module(image)
    exposed: list[tuple[int, str]] = []
    has_memory = memory_exported = False
    for sid, payload in mod.sections:
        if sid == SEC_GLOBAL:
            exposed = mutable_globals(payload, mod.num_imported_globals)
        elif sid == SEC_MEMORY:
            has_memory = read_u(payload, 0, 32)[0] > 0
        elif sid == SEC_EXPORT:
            memory_exported = _exports_memory0(payload)
    entries = [(f"{GLOBAL_EXPORT_PREFIX}{index}".encode(), 0x03, index) for index, _ in exposed]
    if has_memory and not memory_exported:
        entries.append((MEMORY_EXPORT.encode(), 0x02, 0))
    if not entries:
        return image, ()
    extra = b"".join(enc_u(len(name)) + name + bytes([kind]) + enc_u(index) for name, kind, index in entries)
    sections = list(mod.sections)
    for i, (sid, payload) in enumerate(sections):
        if sid == SEC_EXPORT:
            count, pos = read_u(payload, 0, 32)
            sections[i] = (sid, enc_u(count + len(entries)) + payload[pos:] + extra)
            break
    else:
        at = 0
        for i, (sid, _) in enumerate(sections):
            if sid in _BEFORE_EXPORT:
                at = i + 1
            elif sid == SEC_CODE:
                break
        sections.insert(at, (SEC_EXPORT, enc_u(len(entries)) + extra))
    return encode_module(sections), tuple(exposed)
