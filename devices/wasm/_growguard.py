"""Make failed ``memory.grow`` visible to the host.

wasmtime's store limiter makes ``memory.grow`` return -1 at the memory cap; it does not trap, so the
host cannot tell a guest that died of a full memory from any other trap. This rewrite appends one
mutable i32 global, exported as ``GROW_FAILED_EXPORT``, and after every ``memory.grow`` of memory 0
sets it to 1 when the result is -1::

    memory.grow            ;; as before
    local.tee $r           ;; a new local of the memory's index type
    i32.const -1 | i64.const -1
    i32.eq | i64.eq
    if  i32.const 1  global.set $grow_failed  end
    local.get $r

Only functions containing ``memory.grow`` are re-encoded; branch depths are unaffected (the added
``if`` is closed before any original instruction).
"""

from __future__ import annotations

from typing import Final

from ._binary import (
    SEC_CODE,
    FuncBody,
    enc_u,
    encode_code,
    encode_module,
    parse_module,
    read_u,
)
from ._opcodes import decode

GROW_FAILED_EXPORT: Final = "hyperpeer.grow_failed"
_MEMORY_GROW: Final = 0x40
_SEC_MEMORY: Final = 5
_SEC_GLOBAL: Final = 6
_SEC_EXPORT: Final = 7
# Canonical order of the sections that precede global / export (tag 13 sits between memory and global).
_ORDER: Final = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}


def _memory0_is_64(payload: bytes) -> bool:
    count, pos = read_u(payload, 0, 32)
    return count > 0 and bool(payload[pos] & 0x04)


def _insert_section(sections: list[tuple[int, bytes]], sid: int, payload: bytes) -> None:
    rank = _ORDER[sid]
    at = 0
    for i, (other, _) in enumerate(sections):
        if other in _ORDER and _ORDER[other] < rank:
            at = i + 1
    sections.insert(at, (sid, payload))


def guard_memory_grow(image: bytes) -> bytes:
    """Return ``image`` instrumented so that a failed ``memory.grow`` sets an exported flag.

    A module without ``memory.grow`` (of memory 0) is returned unchanged (the same bytes object).

    Raises:
        WasmDecodeError: the module is malformed.
    """
    mod = parse_module(image)
    memory = next((payload for sid, payload in mod.sections if sid == _SEC_MEMORY), None)
    if memory is None or read_u(memory, 0, 32)[0] == 0:
        return image
    wide = _memory0_is_64(memory)
    globals_payload = next((payload for sid, payload in mod.sections if sid == _SEC_GLOBAL), None)
    defined = read_u(globals_payload, 0, 32)[0] if globals_payload is not None else 0
    flag = mod.num_imported_globals + defined
    const, eq, vt = (b"\x42\x7f", b"\x51", b"\x7e") if wide else (b"\x41\x7f", b"\x46", b"\x7f")
    changed = False
    bodies: list[FuncBody] = []
    for index, body in enumerate(mod.bodies):
        grows = [
            ins
            for ins in decode(body.code, body.offset)
            if ins[0] == _MEMORY_GROW and body.code[ins[1] + 1 : ins[2]] == b"\x00"
        ]
        if not grows:
            bodies.append(body)
            continue
        ftype = mod.defined_func_type(index)
        local = enc_u(len(ftype.params) + body.declared_locals())
        check = b"\x22" + local + const + eq + b"\x04\x40\x41\x01\x24" + enc_u(flag) + b"\x0b\x20" + local
        out = bytearray()
        last = 0
        for _, _start, end, _ in grows:
            out += body.code[last:end]
            out += check
            last = end
        out += body.code[last:]
        groups = body.groups_raw + b"\x01" + vt
        raw = enc_u(body.num_local_groups + 1) + groups + bytes(out)
        bodies.append(FuncBody(raw, groups, body.num_local_groups + 1, bytes(out), body.offset))
        changed = True
    if not changed:
        return image
    global_entry = b"\x7f\x01\x41\x00\x0b"  # (mut i32) (i32.const 0)
    name = GROW_FAILED_EXPORT.encode()
    export_entry = enc_u(len(name)) + name + b"\x03" + enc_u(flag)
    sections = list(mod.sections)
    for i, (sid, payload) in enumerate(sections):
        if sid == SEC_CODE:
            sections[i] = (sid, encode_code(bodies))
        elif sid == _SEC_GLOBAL:
            sections[i] = (sid, enc_u(defined + 1) + payload[read_u(payload, 0, 32)[1] :] + global_entry)
        elif sid == _SEC_EXPORT:
            count, pos = read_u(payload, 0, 32)
            sections[i] = (sid, enc_u(count + 1) + payload[pos:] + export_entry)
    if globals_payload is None:
        _insert_section(sections, _SEC_GLOBAL, b"\x01" + global_entry)
    if not any(sid == _SEC_EXPORT for sid, _ in sections):
        _insert_section(sections, _SEC_EXPORT, b"\x01" + export_entry)
    return encode_module(sections)
