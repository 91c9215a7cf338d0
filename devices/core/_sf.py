"""HTTP Structured Fields in HyperBEAM's dialect (``hb_structured_fields``).

Differences from RFC 8941 that are part of the wire format:

* dictionary keys may contain upper case and ``%`` (``ao-ids``, escaped ``ao-types`` keys); the
  first key may start with ``.`` (``.="list"``); we also accept ``/ ? & +`` inside keys, which
  HyperBEAM's escaper can emit but its parser refuses (D18: read more than we write);
* tokens may contain ``:`` and ``/``;
* integers have at most 15 digits; decimals at most 12 integer and 3 fractional digits;
* strings are serialized without validation (only ``\\`` and ``"`` are escaped); on input we
  also accept raw bytes >= 0x80 inside strings (D18);
* members are joined by ``", "`` (comma and one space).

Values: a string is ``bytes``; a token is ``Token``; a byte sequence is ``ByteSeq``; integers,
floats (decimals) and booleans are Python values. An ``Item`` is ``(value, params)``; an
``InnerList`` is ``(items, params)``; params are a tuple of ``(name, value)`` pairs.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias, final

from ._errors import DecodeError, EncodeError


@final
@dataclass(frozen=True, slots=True)
class Token:
    """An SF token (``tok``, ``multipart/form-data``)."""

    value: str


@final
@dataclass(frozen=True, slots=True)
class ByteSeq:
    """An SF byte sequence (``:base64:``)."""

    value: bytes


Bare: TypeAlias = "bytes | Token | ByteSeq | int | float | bool"
Params: TypeAlias = "tuple[tuple[str, Bare], ...]"


class Item(NamedTuple):
    value: Bare
    params: Params = ()


class InnerList(NamedTuple):
    items: tuple[Item, ...]
    params: Params = ()


Member: TypeAlias = "Item | InnerList"

_DIGITS = frozenset(b"0123456789")
_ALPHA = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LCALPHA = frozenset(b"abcdefghijklmnopqrstuvwxyz")
_TCHAR = _ALPHA | _DIGITS | frozenset(b"!#$%&'*+-.^_`|~")
_TOKEN_CHARS = _TCHAR | frozenset(b":/")
_KEY_FIRST = _ALPHA | _DIGITS | frozenset(b"*%_-.")
_KEY_CHARS = _ALPHA | _DIGITS | frozenset(b"_-.*%/?&+")
_PARAM_CHARS = _LCALPHA | _DIGITS | frozenset(b"_-.*")
_B64_CHARS = _ALPHA | _DIGITS | frozenset(b"+/=")
MAX_INPUT = 1 << 20


class _Parser:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        if len(data) > MAX_INPUT:
            raise DecodeError("structured field too long")
        self.data = data
        self.pos = 0

    def fail(self, reason: str) -> DecodeError:
        return DecodeError(f"structured field: {reason}", offset=self.pos)

    def peek(self) -> int:
        return self.data[self.pos] if self.pos < len(self.data) else -1

    def skip_ws(self, tabs: bool = True) -> None:
        while self.peek() == 0x20 or (tabs and self.peek() == 0x09):
            self.pos += 1

    def bare(self) -> Bare:
        c = self.peek()
        if c == 0x2D or c in _DIGITS:
            return self.number()
        if c == 0x22:
            return self.string()
        if c in _ALPHA or c == 0x2A:
            return self.token()
        if c == 0x3A:
            return self.byteseq()
        if c == 0x3F:
            nxt = self.data[self.pos + 1 : self.pos + 2]
            if nxt in (b"0", b"1"):
                self.pos += 2
                return nxt == b"1"
        raise self.fail("expected a bare item")

    def number(self) -> int | float:
        start = self.pos
        if self.peek() == 0x2D:
            self.pos += 1
        int_start = self.pos
        while self.peek() in _DIGITS:
            self.pos += 1
        int_digits = self.pos - int_start
        if int_digits == 0:
            raise self.fail("a number needs digits")
        if self.peek() != 0x2E:
            if int_digits > 15:
                raise self.fail("integer longer than 15 digits")
            return int(self.data[start : self.pos])
        self.pos += 1
        frac_start = self.pos
        while self.peek() in _DIGITS:
            self.pos += 1
        frac_digits = self.pos - frac_start
        if int_digits > 12 or not 1 <= frac_digits <= 3:
            raise self.fail("decimal out of range")
        return float(self.data[start : self.pos])

    def string(self) -> bytes:
        self.pos += 1
        out = bytearray()
        data = self.data
        while True:
            if self.pos >= len(data):
                raise self.fail("unterminated string")
            c = data[self.pos]
            if c == 0x5C:
                nxt = data[self.pos + 1] if self.pos + 1 < len(data) else -1
                if nxt not in (0x22, 0x5C):
                    raise self.fail("bad escape in string")
                out.append(nxt)
                self.pos += 2
            elif c == 0x22:
                self.pos += 1
                return bytes(out)
            elif c >= 0x20 and c != 0x7F:
                out.append(c)
                self.pos += 1
            else:
                raise self.fail("control byte in string")

    def token(self) -> Token:
        start = self.pos
        self.pos += 1
        while self.peek() in _TOKEN_CHARS:
            self.pos += 1
        return Token(self.data[start : self.pos].decode("ascii"))

    def byteseq(self) -> ByteSeq:
        self.pos += 1
        start = self.pos
        while self.peek() in _B64_CHARS:
            self.pos += 1
        if self.peek() != 0x3A:
            raise self.fail("unterminated byte sequence")
        raw = self.data[start : self.pos]
        self.pos += 1
        try:
            bare = raw.rstrip(b"=")
            return ByteSeq(base64.b64decode(bare + b"=" * (-len(bare) % 4), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise self.fail("bad base64 in byte sequence") from exc

    def key(self, chars: frozenset[int], first: frozenset[int]) -> str:
        start = self.pos
        if self.peek() not in first:
            raise self.fail("expected a key")
        self.pos += 1
        while self.peek() in chars:
            self.pos += 1
        return self.data[start : self.pos].decode("ascii")

    def params(self) -> Params:
        out: dict[str, Bare] = {}
        while self.peek() == 0x3B:
            self.pos += 1
            self.skip_ws(tabs=False)
            name = self.key(_PARAM_CHARS, _LCALPHA | frozenset(b"*"))
            value: Bare = True
            if self.peek() == 0x3D:
                self.pos += 1
                value = self.bare()
            out[name] = value
        return tuple(out.items())

    def item(self) -> Item:
        value = self.bare()
        return Item(value, self.params())

    def inner_list(self) -> InnerList:
        self.pos += 1
        items: list[Item] = []
        while True:
            self.skip_ws(tabs=False)
            if self.peek() == 0x29:
                self.pos += 1
                return InnerList(tuple(items), self.params())
            items.append(self.item())
            if self.peek() not in (0x20, 0x29):
                raise self.fail("inner list items are separated by spaces")

    def member(self) -> Member:
        return self.inner_list() if self.peek() == 0x28 else self.item()

    def end_of_member(self) -> bool:
        """Skip to the next member; True at the end of input."""
        self.skip_ws()
        if self.pos >= len(self.data):
            return True
        if self.peek() != 0x2C:
            raise self.fail("expected ','")
        self.pos += 1
        self.skip_ws()
        if self.pos >= len(self.data):
            raise self.fail("trailing ','")
        return False


def parse_item(data: bytes) -> Item:
    """Parse an SF item (the whole input must be consumed).

    Raises:
        DecodeError: not an item in the dialect.
    """
    p = _Parser(data)
    item = p.item()
    if p.pos != len(data):
        raise p.fail("trailing bytes after item")
    return item


def parse_list(data: bytes) -> list[Member]:
    """Parse an SF list. Raises DecodeError."""
    p = _Parser(data)
    out: list[Member] = []
    p.skip_ws()
    if p.pos >= len(data):
        return out
    while True:
        out.append(p.member())
        if p.end_of_member():
            return out


def parse_dictionary(data: bytes) -> list[tuple[str, Member]]:
    """Parse an SF dictionary into ordered pairs; a repeated key replaces the earlier value in place.

    Raises:
        DecodeError: not a dictionary in the dialect.
    """
    p = _Parser(data)
    out: dict[str, Member] = {}
    p.skip_ws()
    if p.pos >= len(data):
        return []
    while True:
        name = p.key(_KEY_CHARS, _KEY_FIRST)
        if p.peek() == 0x3D:
            p.pos += 1
            out[name] = p.member()
        else:
            out[name] = Item(True, p.params())
        if p.end_of_member():
            return list(out.items())


# -- serialization --------------------------------------------------------------------------------


def _escape(value: bytes) -> bytes:
    return value.replace(b"\\", b"\\\\").replace(b'"', b'\\"')


def ser_bare(value: Bare) -> bytes:
    """Serialize a bare item exactly as HyperBEAM does."""
    if type(value) is bytes:  # the common case first; subclasses take the checks below
        return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    if isinstance(value, bool):
        return b"?1" if value else b"?0"
    if isinstance(value, bytes):
        return b'"' + _escape(value) + b'"'
    if isinstance(value, Token):
        return value.value.encode("ascii")
    if isinstance(value, ByteSeq):
        return b":" + base64.b64encode(value.value) + b":"
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, float):
        return _ser_decimal(value)
    raise EncodeError(f"not a structured-field value: {type(value).__name__}")


def _ser_decimal(value: float) -> bytes:
    if value != value or value in (float("inf"), float("-inf")):
        raise EncodeError("decimal must be finite")
    text = f"{round(value, 3):.3f}".rstrip("0")
    if text.endswith("."):
        text += "0"
    if len(text.split(".")[0].lstrip("-")) > 12:
        raise EncodeError("decimal out of range")
    return text.encode("ascii")


def ser_params(params: Params) -> bytes:
    if not params:
        return b""
    return b"".join(
        b";" + name.encode("ascii") + (b"" if value is True else b"=" + ser_bare(value))
        for name, value in params
    )


def ser_item(item: Item) -> bytes:
    return ser_bare(item.value) + ser_params(item.params)


def ser_member(member: Member) -> bytes:
    if isinstance(member, InnerList):
        return b"(" + b" ".join(ser_item(i) for i in member.items) + b")" + ser_params(member.params)
    return ser_item(member)


def ser_list(members: list[Member] | tuple[Member, ...]) -> bytes:
    return b", ".join(ser_member(m) for m in members)


def ser_dictionary(pairs: list[tuple[str, Member]] | tuple[tuple[str, Member], ...]) -> bytes:
    """Serialize ordered pairs (callers sort them when HyperBEAM would)."""
    return b", ".join(k.encode("utf-8") + b"=" + ser_member(v) for k, v in pairs)
