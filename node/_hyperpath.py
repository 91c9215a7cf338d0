"""HyperPATH: from a request singleton to the message sequence to resolve (sans-io).

The grammar is HyperBEAM's ``hb_singleton`` as of September 2025 (spec §13.2, §2.2 where
unchanged). Rules, in the order they apply:

1. The whole target is percent-decoded **once** (a malformed escape is a ``PathError``), then split
   at the first top-level ``?``. Splitting is always aware of parenthesis depth and ``"…"`` quotes.
2. The query is form-decoded a second time (``+`` → space); ``?flag`` gives ``flag: true``.
3. The path splits at top-level ``/``; empty segments are dropped; a segment over 512 bytes, more
   than ``max_segments`` segments, or ``(…)`` nesting deeper than ``max_depth`` is a ``PathError``.
4. A segment is, first match wins: an ID (32, 42 or 43 bytes) → that string; ``(sub/path)`` →
   ``Resolve``; ``key~dev@1.0&k=v`` → ``As(dev, {path: key, k: v})``; ``key&k=v`` →
   ``{path: key, k: v}``; ``Part=Value`` / ``Part+type=Value`` / ``b+c`` → ``{path: Part}`` plus the
   segment read as inline keys; otherwise ``{path: key}``.
5. Inline values lose one pair of enclosing quotes; a key ``name+type`` or ``name type`` decodes its
   value with ``decode_value``; ``(…)`` values and ``+resolve`` are refused (spec §11 D12).
6. Global keys = the singleton's keys (except ``path``) overlaid by the query keys, typed, with an
   ``ao-types`` key applied. ``N.key`` applies to element ``N`` only (0 is the base); a one-dot key
   whose prefix is not an integer stays global (spec §11 D16).
7. If the first element is not an ID, ``As`` or ``Resolve``, an empty base message is prepended.
   Each map element gets ``globals | scoped`` under its own keys (inline wins). An ``As`` whose path
   is an ID gets nothing; one with an empty path loses ``path`` and gets the globals; others get
   the globals. IDs and ``Resolve`` elements are kept as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, final

from devices.core import DecodeError, Message, Value
from node._codec_io import decode_ao_types, decode_value
from node._errors import PathError

if TYPE_CHECKING:
    from collections.abc import Mapping


@final
@dataclass(frozen=True, slots=True)
class Resolve:
    """A sub-resolution ``(a/b/c)``: resolve ``steps`` and use the result in this position."""

    steps: tuple[Element, ...]


@final
@dataclass(frozen=True, slots=True)
class As:
    """``key~device``: interpret ``msg`` (whose ``path`` names the key or an ID) with ``device``."""

    device: str | Resolve
    msg: Message


Element: TypeAlias = "Message | str | As | Resolve"


@final
@dataclass(frozen=True, slots=True)
class PathLimits:
    max_segment_bytes: int = 512
    max_segments: int = 64
    max_depth: int = 4
    max_path_bytes: int = 16384


_HEAD_SEPS = frozenset("&~+ =")
_SCOPE = re.compile(r"[0-9]{1,6}")
_HEX = frozenset(b"0123456789abcdefABCDEF")


def is_id(segment: str | bytes) -> bool:
    """ID-shaped by length alone (32, 42 or 43 bytes), as the reference decides."""
    raw = segment.encode("utf-8") if isinstance(segment, str) else segment
    return len(raw) in (32, 42, 43)


def _show(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def percent_decode(text: str | bytes, *, plus_is_space: bool = False) -> str:
    """Strict percent-decoding to UTF-8 text.

    Raises:
        PathError: a malformed escape (naming its byte offset) or a result that is not UTF-8.
    """
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if plus_is_space:
        raw = raw.replace(b"+", b" ")
    if b"%" in raw:
        out = bytearray()
        i, n = 0, len(raw)
        while i < n:
            byte = raw[i]
            if byte != 0x25:
                out.append(byte)
                i += 1
                continue
            hexpair = raw[i + 1 : i + 3]
            if len(hexpair) != 2 or not all(b in _HEX for b in hexpair):
                raise PathError(f"malformed percent escape at byte {i}: {raw[i:i + 3]!r}")
            out.append(int(hexpair, 16))
            i += 3
        raw = bytes(out)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PathError(f"path is not UTF-8 after percent-decoding (byte {exc.start})") from None


def _part(seps: frozenset[str], text: str) -> tuple[str | None, str, str]:
    """Split at the first separator outside parentheses and quotes: ``(sep, before, after)``."""
    depth = 0
    quoted = False
    for i, ch in enumerate(text):
        if quoted:
            if ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if depth > 0:
                depth -= 1
        elif depth == 0 and ch in seps:
            return ch, text[:i], text[i + 1 :]
    return None, text, ""


def _path_parts(sep: str, text: str, limits: PathLimits) -> list[str]:
    seps = frozenset(sep)
    pieces: list[str] = []
    rest: str | None = text
    while rest is not None:
        found, piece, after = _part(seps, rest)
        if piece:
            if len(piece.encode("utf-8")) > limits.max_segment_bytes:
                raise PathError(
                    f"segment too long ({len(piece.encode('utf-8'))} bytes, limit "
                    f"{limits.max_segment_bytes}): {_show(piece)}"
                )
            pieces.append(piece)
            if len(pieces) > limits.max_segments:
                raise PathError(f"too many segments (limit {limits.max_segments})")
        rest = after if found is not None else None
    return pieces


def split_target(target: str | bytes, limits: PathLimits | None = None) -> tuple[list[str], dict[str, Value]]:
    """Decode a raw request target once and split it into path segments and query keys.

    The query values are form-decoded but keep their quotes (HyperBEAM's ``from_path``).

    Raises:
        PathError: malformed escapes, over-long segments, too many segments or an over-long path.
    """
    limits = limits or PathLimits()
    size = len(target.encode("utf-8") if isinstance(target, str) else target)
    if size > limits.max_path_bytes:
        raise PathError(f"path too long ({size} bytes, limit {limits.max_path_bytes})")
    decoded = percent_decode(target)
    sep, base, query = _part(frozenset("?"), decoded)
    segments = _path_parts("/", base, limits)
    keys: dict[str, Value] = {}
    if sep is not None:
        for item in query.split("&"):
            if not item:
                continue
            name, eq, value = item.partition("=")
            key = percent_decode(name, plus_is_space=True)
            keys[key] = percent_decode(value, plus_is_space=True).encode("utf-8") if eq else True
    return segments, keys


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"' and '"' not in value[1:-1]:
        return value[1:-1]
    return value


def _is_subpath(text: str) -> bool:
    return len(text) >= 2 and text[0] == "(" and text[-1] == ")"


def _typed(keys: Mapping[str, Value], *, inline: bool = False) -> dict[str, Value]:
    """Apply ``name+type`` / ``name type`` keys: decode the value and drop the type suffix.

    Inline (path) values may not be ``+list``: the reference rejects them since it decodes the
    target before splitting (spec §13.2 rule 10), so a client cannot rely on them."""
    out: dict[str, Value] = {}
    for key, value in keys.items():
        cut = min((i for i in (key.find("+"), key.find(" ")) if i >= 0), default=-1)
        if cut < 0 or not isinstance(value, bytes):
            out[key] = value
            continue
        name, type_name = key[:cut], key[cut + 1 :].lower()
        if type_name == "resolve":
            raise PathError(f"sub-resolution in keys is not supported: {_show(key)}")
        if inline and type_name == "list":
            raise PathError(f"inline +list values are not supported: {_show(key)}")
        try:
            out[name] = decode_value(type_name, value)
        except DecodeError as exc:
            raise PathError(f"key {_show(key)}: {exc.reason}") from None
    return out


def _inline_keys(text: str, limits: PathLimits) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for item in _path_parts("&", text, limits):
        sep, key, value = _part(frozenset("="), item)
        if sep is None:
            out[key] = True
            continue
        value = _unquote(value)
        if _is_subpath(value):
            raise PathError(f"sub-resolution in keys is not supported: {_show(item)}")
        out[key] = value.encode("utf-8")
    return _typed(out, inline=True)


def _parse_part(part: str, depth: int, limits: PathLimits) -> Element:
    if is_id(part):
        return part
    if _is_subpath(part):
        return Resolve(tuple(_parse_steps(part[1:-1], depth + 1, limits)))
    sep, key, rest = _part(_HEAD_SEPS, part)
    if sep is None:
        return Message(path=key)
    if sep == "~":
        _, dev, inline = _part(frozenset("&"), rest)
        msg = Message({**_inline_keys(inline, limits), "path": key})
        device: str | Resolve = dev
        if _is_subpath(dev):
            device = Resolve(tuple(_parse_steps(dev[1:-1], depth + 1, limits)))
        return As(device, msg)
    if sep == "&":
        return Message({**_inline_keys(rest, limits), "path": key})
    return Message({**_inline_keys(part, limits), "path": key})


def _parse_steps(path: str, depth: int, limits: PathLimits) -> list[Element]:
    if depth > limits.max_depth:
        raise PathError(f"sub-paths nested deeper than {limits.max_depth}")
    elems = [_parse_part(seg, depth, limits) for seg in _path_parts("/", path, limits)]
    if elems and isinstance(elems[0], Message):
        elems.insert(0, Message())
    return elems


def _globals(singleton: Mapping[str, Value], query: Mapping[str, Value]) -> dict[str, Value]:
    merged: dict[str, Value] = {k: v for k, v in singleton.items() if k != "path"}
    for key, value in query.items():
        merged[key] = _unquote(value.decode("utf-8")).encode("utf-8") if isinstance(value, bytes) else value
    typed = _typed(merged)
    types = typed.pop("ao-types", None)
    if isinstance(types, bytes):
        try:
            for key, type_name in decode_ao_types(types).items():
                typed[key] = _apply_type(key, type_name, typed.get(key))
        except DecodeError as exc:
            raise PathError(f"ao-types: {exc.reason}") from None
    elif types is not None:
        typed["ao-types"] = types
    return typed


_EMPTY: dict[str, Value] = {"empty-binary": b"", "empty-list": (), "empty-message": Message()}


def _apply_type(key: str, type_name: str, value: Value | None) -> Value:
    if type_name in _EMPTY:
        return _EMPTY[type_name]
    if not isinstance(value, bytes):
        if value is None:
            raise DecodeError(f"ao-types names {key!r}, which the request does not carry")
        return value
    if type_name == "binary":
        return value
    return decode_value(type_name, value)


def parse(singleton: Mapping[str, Value], limits: PathLimits | None = None) -> list[Element]:
    """Turn a request singleton (``path`` plus header and body keys) into the message sequence.

    Raises:
        PathError: the path or a typed key is malformed, or a limit is exceeded (400).
    """
    limits = limits or PathLimits()
    raw = singleton.get("path", b"")
    if not isinstance(raw, bytes | str):
        raise PathError("the request's path is not text")
    segments, query = split_target(raw, limits)
    elems: list[Element] = [_parse_part(seg, 0, limits) for seg in segments]
    if elems and isinstance(elems[0], Message):
        elems.insert(0, Message())
    glob: dict[str, Value] = {}
    scoped: dict[int, dict[str, Value]] = {}
    for key, value in _globals(singleton, query).items():
        prefix, dot, rest = key.partition(".")
        if dot and "." not in rest and _SCOPE.fullmatch(prefix):
            scoped.setdefault(int(prefix), {})[rest] = value
        else:
            glob[key] = value
    return [_build(elem, {**glob, **scoped.get(i, {})}) for i, elem in enumerate(elems)]


def _build(elem: Element, extra: dict[str, Value]) -> Element:
    if isinstance(elem, Message):
        return Message({**extra, **elem}) if extra else elem
    if isinstance(elem, As):
        path = elem.msg.get("path")
        if isinstance(path, bytes) and is_id(path):
            return elem
        if not path:
            extra = {k: v for k, v in extra.items() if k != "path"}
            return As(elem.device, Message({**extra, **elem.msg.without("path")}))
        return As(elem.device, Message({**extra, **elem.msg}))
    return elem
