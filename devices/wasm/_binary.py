"""A minimal WebAssembly binary reader/writer: LEB128, sections, types, imports, tags, code bodies.

Only what the legacy-EH translator needs is decoded; every other section is kept as raw bytes so
that re-encoding a module changes nothing but the sections that were deliberately rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ._errors import WasmDecodeError

MAGIC: Final = b"\x00asm\x01\x00\x00\x00"

SEC_TYPE: Final = 1
SEC_IMPORT: Final = 2
SEC_FUNCTION: Final = 3
SEC_CODE: Final = 10
SEC_TAG: Final = 13

# Value types encoded as a single byte (numeric, vector, abstract reference shorthands).
SIMPLE_VALTYPES: Final = frozenset(
    {0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F, 0x69, 0x6E, 0x6D, 0x6C, 0x6B, 0x6A, 0x71, 0x72, 0x73, 0x74}
)
REF_WITH_HEAPTYPE: Final = frozenset({0x63, 0x64})
EXNREF: Final = 0x69


def _read_leb(data: bytes, pos: int, bits: int) -> tuple[int, int, int, int]:
    """The raw LEB128 loop: (accumulated value, bits consumed, last byte, new position)."""
    result = 0
    shift = 0
    start = pos
    while True:
        if pos >= len(data):
            raise WasmDecodeError("truncated LEB128", offset=start)
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, shift, b, pos
        if shift >= bits + 7:
            raise WasmDecodeError("LEB128 too long", offset=start)


def read_u(data: bytes, pos: int, limit: int = 64) -> tuple[int, int]:
    """Decode an unsigned LEB128 integer of at most ``limit`` bits; returns (value, new position)."""
    result, _, _, end = _read_leb(data, pos, limit)
    if result >> limit:
        raise WasmDecodeError("LEB128 value out of range", offset=pos)
    return result, end


def read_s(data: bytes, pos: int, bits: int = 64) -> tuple[int, int]:
    """Decode a signed LEB128 integer; returns (value, new position)."""
    result, shift, last, end = _read_leb(data, pos, bits)
    if last & 0x40:
        result -= 1 << shift
    return result, end


def enc_u(value: int) -> bytes:
    """Encode a non-negative integer as unsigned LEB128."""
    if value < 0:
        raise ValueError("enc_u needs a non-negative value")
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def enc_s(value: int) -> bytes:
    """Encode an integer as signed LEB128."""
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        done = (value == 0 and not b & 0x40) or (value == -1 and b & 0x40)
        out.append(b if done else b | 0x80)
        if done:
            return bytes(out)


def read_valtype(data: bytes, pos: int) -> tuple[bytes, int]:
    """Read one value type; returns its raw encoding and the new position."""
    if pos >= len(data):
        raise WasmDecodeError("truncated value type", offset=pos)
    b = data[pos]
    if b in SIMPLE_VALTYPES:
        return data[pos : pos + 1], pos + 1
    if b in REF_WITH_HEAPTYPE:
        _, end = read_s(data, pos + 1, 33)
        return data[pos:end], end
    raise WasmDecodeError(f"unknown value type 0x{b:02x}", offset=pos)


@dataclass(frozen=True)
class FuncType:
    """A function type: raw parameter and result value-type encodings."""

    params: tuple[bytes, ...]
    results: tuple[bytes, ...]

    def encode(self) -> bytes:
        return (
            b"\x60"
            + enc_u(len(self.params))
            + b"".join(self.params)
            + enc_u(len(self.results))
            + b"".join(self.results)
        )


@dataclass
class FuncBody:
    """One code-section entry.

    ``raw`` is the whole entry (local declarations + instructions) as written; ``groups_raw`` the local
    declaration groups without their count; ``code`` the instruction bytes (ending in ``end``).
    """

    raw: bytes
    groups_raw: bytes
    num_local_groups: int
    code: bytes
    offset: int  # file offset of the instruction bytes, for error messages

    def declared_locals(self) -> int:
        """How many locals the declaration groups declare (parameters not included)."""
        declared, pos = 0, 0
        for _ in range(self.num_local_groups):
            count, pos = read_u(self.groups_raw, pos, 32)
            _, pos = read_valtype(self.groups_raw, pos)
            declared += count
        return declared


@dataclass
class Module:
    """A parsed module: raw sections in order, with the decoded parts the translator uses."""

    sections: list[tuple[int, bytes]]
    types: list[FuncType | None] = field(default_factory=list)  # None = a non-function (GC) type
    tag_types: list[int] = field(default_factory=list)  # type index per tag (imported first)
    num_imported_funcs: int = 0
    num_imported_globals: int = 0
    func_types: list[int] = field(default_factory=list)  # type index per defined function
    bodies: list[FuncBody] = field(default_factory=list)
    code_offset: int = 0

    def type_at(self, index: int) -> FuncType:
        """The function type at ``index``; a bad index raises WasmDecodeError."""
        found = self.types[index] if 0 <= index < len(self.types) else None
        if found is None:
            raise WasmDecodeError(f"type index {index} does not name a function type")
        return found

    def defined_func_type(self, index: int) -> FuncType:
        """The type of the ``index``-th function defined in the code section."""
        if index >= len(self.func_types):
            raise WasmDecodeError("code section has more bodies than the function section declares")
        return self.type_at(self.func_types[index])


def _parse_types(data: bytes, pos: int, end: int, mod: Module) -> None:
    count, pos = read_u(data, pos, 32)
    for _ in range(count):
        if pos >= end:
            raise WasmDecodeError("truncated type section", offset=pos)
        form = data[pos]
        if form != 0x60:
            raise WasmDecodeError(f"unsupported type form 0x{form:02x}", offset=pos)
        pos += 1
        n, pos = read_u(data, pos, 32)
        params = []
        for _ in range(n):
            vt, pos = read_valtype(data, pos)
            params.append(vt)
        n, pos = read_u(data, pos, 32)
        results = []
        for _ in range(n):
            vt, pos = read_valtype(data, pos)
            results.append(vt)
        mod.types.append(FuncType(tuple(params), tuple(results)))
    if pos != end:
        raise WasmDecodeError("type section size mismatch", offset=pos)


def _skip_limits(data: bytes, pos: int) -> int:
    flags, pos = read_u(data, pos, 32)
    _, pos = read_u(data, pos)
    if flags & 1:
        _, pos = read_u(data, pos)
    if flags & 8:  # custom page size
        _, pos = read_u(data, pos, 32)
    return pos


def _parse_imports(data: bytes, pos: int, end: int, mod: Module) -> None:
    count, pos = read_u(data, pos, 32)
    for _ in range(count):
        for _ in range(2):  # module name, field name
            n, pos = read_u(data, pos, 32)
            pos += n
        if pos >= end:
            raise WasmDecodeError("truncated import", offset=pos)
        kind = data[pos]
        pos += 1
        if kind == 0x00:
            _, pos = read_u(data, pos, 32)
            mod.num_imported_funcs += 1
        elif kind == 0x01:  # table: reftype + limits
            _, pos = read_valtype(data, pos)
            pos = _skip_limits(data, pos)
        elif kind == 0x02:
            pos = _skip_limits(data, pos)
        elif kind == 0x03:  # global: valtype + mutability
            _, pos = read_valtype(data, pos)
            pos += 1
            mod.num_imported_globals += 1
        elif kind == 0x04:  # tag: attribute + type index
            pos += 1
            t, pos = read_u(data, pos, 32)
            mod.tag_types.append(t)
        else:
            raise WasmDecodeError(f"unknown import kind 0x{kind:02x}", offset=pos - 1)
    if pos != end:
        raise WasmDecodeError("import section size mismatch", offset=pos)


def _parse_tags(data: bytes, pos: int, end: int, mod: Module) -> None:
    count, pos = read_u(data, pos, 32)
    for _ in range(count):
        if pos >= end or data[pos] != 0:
            raise WasmDecodeError("bad tag attribute", offset=pos)
        t, pos = read_u(data, pos + 1, 32)
        mod.tag_types.append(t)
    if pos != end:
        raise WasmDecodeError("tag section size mismatch", offset=pos)


def _parse_code(data: bytes, pos: int, end: int, mod: Module) -> None:
    count, pos = read_u(data, pos, 32)
    for _ in range(count):
        size, pos = read_u(data, pos, 32)
        body_end = pos + size
        if body_end > end:
            raise WasmDecodeError("function body overruns code section", offset=pos)
        groups, p = read_u(data, pos, 32)
        groups_start = p
        for _ in range(groups):
            _, p = read_u(data, p, 32)
            _, p = read_valtype(data, p)
        if p > body_end:
            raise WasmDecodeError("local declarations overrun the function body", offset=pos)
        mod.bodies.append(FuncBody(data[pos:body_end], data[groups_start:p], groups, data[p:body_end], p))
        pos = body_end
    if pos != end:
        raise WasmDecodeError("code section size mismatch", offset=pos)


def parse_module(data: bytes) -> Module:
    """Split ``data`` into sections and decode types, imports, tags and code bodies.

    Raises:
        WasmDecodeError: the bytes are not a well-formed core WebAssembly module.
    """
    if data[:8] != MAGIC:
        raise WasmDecodeError("not a WebAssembly core module (bad magic/version)", offset=0)
    mod = Module(sections=[])
    pos = 8
    while pos < len(data):
        sid = data[pos]
        size, body = read_u(data, pos + 1, 32)
        end = body + size
        if end > len(data):
            raise WasmDecodeError(f"section {sid} overruns the module", offset=pos)
        mod.sections.append((sid, data[body:end]))
        if sid == SEC_TYPE:
            _parse_types(data, body, end, mod)
        elif sid == SEC_IMPORT:
            _parse_imports(data, body, end, mod)
        elif sid == SEC_FUNCTION:
            count, p = read_u(data, body, 32)
            for _ in range(count):
                t, p = read_u(data, p, 32)
                mod.func_types.append(t)
            if p != end:
                raise WasmDecodeError("function section size mismatch", offset=p)
        elif sid == SEC_TAG:
            _parse_tags(data, body, end, mod)
        elif sid == SEC_CODE:
            mod.code_offset = body
            _parse_code(data, body, end, mod)
        pos = end
    return mod


def encode_section(sid: int, payload: bytes) -> bytes:
    """Frame one section."""
    return bytes([sid]) + enc_u(len(payload)) + payload


def encode_module(sections: list[tuple[int, bytes]]) -> bytes:
    """Re-assemble a module from (id, payload) sections."""
    return MAGIC + b"".join(encode_section(sid, payload) for sid, payload in sections)


def encode_types(types: list[FuncType]) -> bytes:
    """Payload of a type section holding only function types."""
    return enc_u(len(types)) + b"".join(t.encode() for t in types)


def encode_code(bodies: list[FuncBody]) -> bytes:
    """Payload of a code section."""
    out = [enc_u(len(bodies))]
    for body in bodies:
        out.append(enc_u(len(body.raw)))
        out.append(body.raw)
    return b"".join(out)
