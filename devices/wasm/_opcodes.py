"""An instruction decoder that walks WebAssembly function bodies.

It knows the immediates of every opcode of the MVP, sign-extension, non-trapping float-to-int,
bulk memory, reference types, typed function references (calls/branches), tail calls, legacy and
exnref exception handling, SIMD (0xFD) and threads (0xFE), with memory64/multi-memory memargs.
GC (0xFB) instructions are rejected. Each instruction is reported as ``(op, start, end, arg)``:
``op`` is the opcode (prefixed ones as ``prefix << 16 | sub``), ``start``/``end`` are byte positions
in the body, and ``arg`` carries the immediates the translator needs (``None`` for the rest).
"""

from __future__ import annotations

from typing import Final

from ._binary import REF_WITH_HEAPTYPE, SIMPLE_VALTYPES, read_s, read_u, read_valtype
from ._errors import WasmDecodeError

# Control and exception-handling opcodes.
BLOCK: Final = 0x02
LOOP: Final = 0x03
IF: Final = 0x04
ELSE: Final = 0x05
TRY: Final = 0x06
CATCH: Final = 0x07
THROW: Final = 0x08
RETHROW: Final = 0x09
THROW_REF: Final = 0x0A
END: Final = 0x0B
BR: Final = 0x0C
BR_IF: Final = 0x0D
BR_TABLE: Final = 0x0E
DELEGATE: Final = 0x18
CATCH_ALL: Final = 0x19
TRY_TABLE: Final = 0x1F
BR_ON_NULL: Final = 0xD5
BR_ON_NON_NULL: Final = 0xD6
LEGACY_EH: Final = frozenset({TRY, CATCH, RETHROW, DELEGATE, CATCH_ALL})

_NONE, _BT, _IDX, _IDX2, _BRT, _MEM, _MIDX, _I32, _I64, _F32, _F64, _SELT, _TT, _HEAP, _LABEL = range(15)
_PREFIX_FC, _PREFIX_FD, _PREFIX_FE = 100, 101, 102

_KIND: list[int | None] = [None] * 256
for _op in (0x00, 0x01, 0x05, 0x0A, 0x0B, 0x0F, 0x19, 0x1A, 0x1B, 0xD1, 0xD3, 0xD4):
    _KIND[_op] = _NONE
for _op in (BLOCK, LOOP, IF, TRY):
    _KIND[_op] = _BT
for _op in (0x07, 0x08, 0x10, 0x12, 0x14, 0x15, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0xD2):
    _KIND[_op] = _IDX
for _op in (BR, BR_IF, RETHROW, DELEGATE, BR_ON_NULL, BR_ON_NON_NULL):
    _KIND[_op] = _LABEL
for _op in range(0x28, 0x3F):
    _KIND[_op] = _MEM
for _op in range(0x45, 0xC5):
    _KIND[_op] = _NONE
_KIND[0x11] = _KIND[0x13] = _IDX2
_KIND[BR_TABLE] = _BRT
_KIND[0x3F] = _KIND[0x40] = _MIDX
_KIND[0x41] = _I32
_KIND[0x42] = _I64
_KIND[0x43] = _F32
_KIND[0x44] = _F64
_KIND[0x1C] = _SELT
_KIND[TRY_TABLE] = _TT
_KIND[0xD0] = _HEAP
_KIND[0xFC] = _PREFIX_FC
_KIND[0xFD] = _PREFIX_FD
_KIND[0xFE] = _PREFIX_FE

# 0xFC sub-opcodes: number of u32 immediates (0..7 saturating truncations take none).
_FC_IMMS: Final = {
    **dict.fromkeys(range(8), 0),
    8: 2, 9: 1, 10: 2, 11: 1, 12: 2, 13: 1, 14: 2, 15: 1, 16: 1, 17: 1,
}  # fmt: skip
_FD_MEMARG: Final = frozenset({*range(12), 92, 93})
_FD_MEMARG_LANE: Final = frozenset(range(84, 92))
_FD_LANE: Final = frozenset(range(21, 35))

Instr = tuple[int, int, int, object]


def read_blocktype(code: bytes, pos: int) -> tuple[int | None, int]:
    """Read a block type; returns (type index or None for the short forms, new position)."""
    if pos >= len(code):
        raise WasmDecodeError("truncated block type", offset=pos)
    b = code[pos]
    if b == 0x40 or b in SIMPLE_VALTYPES:
        return None, pos + 1
    if b in REF_WITH_HEAPTYPE:
        return None, read_valtype(code, pos)[1]
    idx, end = read_s(code, pos, 33)
    if idx < 0:
        raise WasmDecodeError("bad block type", offset=pos)
    return idx, end


def _skip_memarg(code: bytes, pos: int) -> int:
    flags, pos = read_u(code, pos, 32)
    if flags & 0x40:
        _, pos = read_u(code, pos, 32)
    _, pos = read_u(code, pos, 64)
    return pos


def _prefixed(kind: int, code: bytes, pos: int, start: int) -> tuple[int, int]:
    sub, pos = read_u(code, pos, 32)
    if kind == _PREFIX_FC:
        n = _FC_IMMS.get(sub)
        if n is None:
            raise WasmDecodeError(f"unknown opcode 0xfc {sub}", offset=start)
        for _ in range(n):
            _, pos = read_u(code, pos, 32)
        return 0xFC0000 | sub, pos
    if kind == _PREFIX_FD:
        if sub in _FD_MEMARG:
            pos = _skip_memarg(code, pos)
        elif sub in _FD_MEMARG_LANE:
            pos = _skip_memarg(code, pos) + 1
        elif sub in _FD_LANE:
            pos += 1
        elif sub in (12, 13):
            pos += 16
        elif sub > 0x113:
            raise WasmDecodeError(f"unknown opcode 0xfd {sub}", offset=start)
        return 0xFD0000 | sub, pos
    if sub == 0x03:  # atomic.fence
        pos += 1
    elif sub <= 0x4E:
        pos = _skip_memarg(code, pos)
    else:
        raise WasmDecodeError(f"unknown opcode 0xfe {sub}", offset=start)
    return 0xFE0000 | sub, pos


def decode(code: bytes, base: int = 0) -> list[Instr]:
    """Decode every instruction of one function body (``code`` ends with the final ``end``).

    ``base`` is added to positions in error offsets so they point into the module file.

    Raises:
        WasmDecodeError: unknown opcode, truncated immediate or unbalanced ``end``.
    """
    try:
        out, pos = _decode(code)
    except IndexError as exc:
        raise WasmDecodeError("truncated instruction", offset=base + len(code)) from exc
    except WasmDecodeError as exc:  # positions inside the body -> positions in the module
        raise WasmDecodeError(exc.reason, offset=base + (exc.offset or 0)) from exc
    if pos != len(code):
        raise WasmDecodeError("function body does not end with a balanced 'end'", offset=pos)
    return out


def _decode(code: bytes) -> tuple[list[Instr], int]:
    out: list[Instr] = []
    append = out.append
    pos = 0
    n = len(code)
    depth = 1
    kinds = _KIND
    while pos < n:
        start = pos
        op = code[pos]
        pos += 1
        kind = kinds[op]
        arg: object = None
        if kind == _NONE:
            if op == END:
                depth -= 1
        elif kind == _MEM:
            pos = _skip_memarg(code, pos)
        elif kind == _IDX:
            arg, pos = read_u(code, pos, 32)
        elif kind == _I32:
            _, pos = read_s(code, pos, 32)
        elif kind == _I64:
            _, pos = read_s(code, pos, 64)
        elif kind == _BT:
            arg, pos = read_blocktype(code, pos)
            arg = (arg, start + 1, pos)
            depth += 1
        elif kind == _LABEL:
            arg, pos = read_u(code, pos, 32)
            if op == DELEGATE:
                depth -= 1
        elif kind == _BRT:
            count, pos = read_u(code, pos, 32)
            labels = []
            for _ in range(count + 1):
                lab, pos = read_u(code, pos, 32)
                labels.append(lab)
            arg = labels
        elif kind == _F32:
            pos += 4
        elif kind == _F64:
            pos += 8
        elif kind == _IDX2:
            _, pos = read_u(code, pos, 32)
            _, pos = read_u(code, pos, 32)
        elif kind == _MIDX:
            _, pos = read_u(code, pos, 32)
        elif kind == _SELT:
            count, pos = read_u(code, pos, 32)
            for _ in range(count):
                _, pos = read_valtype(code, pos)
        elif kind == _HEAP:
            _, pos = read_s(code, pos, 33)
        elif kind == _TT:
            bt, bt_end = read_blocktype(code, pos)
            bt_start, pos = pos, bt_end
            count, pos = read_u(code, pos, 32)
            catches = []
            for _ in range(count):
                ck = code[pos]
                pos += 1
                tag = None
                if ck in (0, 1):
                    tag, pos = read_u(code, pos, 32)
                elif ck not in (2, 3):
                    raise WasmDecodeError(f"bad try_table catch kind {ck}", offset=pos - 1)
                lab, pos = read_u(code, pos, 32)
                catches.append((ck, tag, lab))
            arg = (bt, bt_start, bt_end, catches)
            depth += 1
        elif kind is None:
            raise WasmDecodeError(f"unknown or unsupported opcode 0x{op:02x}", offset=start)
        else:
            op, pos = _prefixed(kind, code, pos, start)
        append((op, start, pos, arg))
        if depth == 0:
            return out, pos
    raise WasmDecodeError("function body does not end with a balanced 'end'", offset=pos)


def has_legacy_eh(instrs: list[Instr]) -> bool:
    """Whether any instruction is a legacy exception-handling one (try/catch/catch_all/rethrow/delegate)."""
    return any(ins[0] in LEGACY_EH for ins in instrs)
