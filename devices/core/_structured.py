"""``structured@1.0``: rich messages ↔ TABM, typed scalar values and ``ao-types`` (Sep-2025 rules).

Rules (HyperBEAM ``dev_codec_structured``, commit ``2b638f2b``):

1. Keys keep their case and are processed in bytewise order; private keys, ``commitments`` and the
   regenerable ``unsigned_id`` / ``content-digest`` are not converted (``commitments`` is copied).
2. Byte strings (also empty ones) stay as they are. Integers, floats and symbols become text with
   an ``ao-types`` entry (``integer``, ``float``, ``atom``); booleans are the symbols ``true`` and
   ``false``. Floats use the 20-digit ``%.20e`` form.
3. A list becomes a numbered sub-message whose ``ao-types`` carries ``.="list"``.
4. In bundle mode nested maps and lists stay nested; otherwise (HyperBEAM's default) each becomes
   ``<key>+link: <id>``, the id being the nested value's ``all`` id. A ``Link`` value is always
   written as ``<key>+link``.
5. ``ao-types`` is an SF dictionary of escaped keys (``a-z 0-9 . - _ / ? &`` kept, every other byte
   ``%xx`` in lower-case hex) to SF strings, in key order; it is read in token form too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from math import isfinite
from typing import Any

from . import _sf
from ._errors import DecodeError, EncodeError
from ._message import Atom, Link, Message, Value, is_private

REGEN_KEYS = frozenset({"unsigned_id", "content-digest"})
_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789.-_/?&")
_FLOAT_RE = re.compile(rb"^[+-]?[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?$")
_KNOWN_LIST_TYPES = ("integer", "float", "atom", "list", "map")
MAX_DEPTH = 64


def is_id_key(key: str) -> bool:
    """HyperBEAM's ``?IS_ID``: a key of 32, 42 or 43 bytes."""
    return len(key.encode("utf-8")) in (32, 42, 43)


def sort_key(key: str) -> bytes:
    return key.encode("utf-8")


@lru_cache(maxsize=4096)
def escape_key(key: str) -> str:
    """``hb_escape:encode``: percent-escape every byte outside ``a-z 0-9 . - _ / ? &``."""
    return "".join(chr(b) if b in _KEEP else f"%{b:02x}" for b in key.encode("utf-8"))


def unescape_key(text: str) -> str:
    """``hb_escape:decode``. Raises DecodeError on a bad ``%`` escape or non-UTF-8 result."""
    raw = text.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25:
            try:
                out.append(int(raw[i + 1 : i + 3].decode("ascii"), 16))
            except (ValueError, UnicodeDecodeError) as exc:
                raise DecodeError("bad percent escape in key", offset=i) from exc
            if len(raw[i + 1 : i + 3]) != 2:
                raise DecodeError("truncated percent escape in key", offset=i)
            i += 3
        else:
            out.append(raw[i])
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError("escaped key is not UTF-8") from exc


def encode_ao_types(types: Mapping[str, str]) -> bytes:
    """The ``ao-types`` SF dictionary for ``key → type`` (sorted by raw key)."""
    pairs: list[tuple[str, _sf.Member]] = [
        (escape_key(k), _sf.Item(types[k].encode("utf-8"))) for k in sorted(types, key=sort_key)
    ]
    return _sf.ser_dictionary(pairs)


def decode_ao_types(raw: bytes) -> dict[str, str]:
    """Parse ``ao-types`` (string or token values). Raises DecodeError."""
    out: dict[str, str] = {}
    for key, member in _sf.parse_dictionary(raw):
        value = member.value if isinstance(member, _sf.Item) else None
        if isinstance(value, _sf.Token):
            out[unescape_key(key)] = value.value
        elif isinstance(value, bytes):
            out[unescape_key(key)] = value.decode("utf-8", "replace")
        else:
            raise DecodeError(f"ao-types entry {key!r} is not a type name")
    return out


# -- scalar values --------------------------------------------------------------------------------


def _is_token(name: str) -> bool:
    raw = name.encode("utf-8", "replace")
    try:
        item = _sf.parse_item(raw)
    except DecodeError:
        return False
    return isinstance(item.value, _sf.Token) and not item.params


def encode_value(value: Value) -> tuple[str, bytes]:
    """Encode a scalar (or an old-style list) as ``(type name, text)``.

    Raises:
        EncodeError: a value HyperBEAM's parser could not read back (D18), or an unsupported type.
    """
    if isinstance(value, bool):
        return "atom", b"true" if value else b"false"
    if isinstance(value, int):
        text = str(value).encode("ascii")
        if len(text.lstrip(b"-")) > 15:
            raise EncodeError("integers are limited to 15 digits on the wire")
        return "integer", text
    if isinstance(value, float):
        if not isfinite(value):
            raise EncodeError("floats must be finite")
        return "float", (b"%.20e" % value)
    if isinstance(value, Atom):
        if not _is_token(value.name):
            raise EncodeError(f"symbol {value.name!r} is not a structured-field token")
        return "atom", value.name.encode("utf-8")
    if isinstance(value, bytes):
        return "binary", value
    if isinstance(value, tuple):
        members: list[_sf.Member] = []
        for item in value:
            if isinstance(item, bytes):
                members.append(_sf.Item(item))
            else:
                kind, text = encode_value(item)
                members.append(_sf.Item(b"(ao-type-" + kind.encode() + b") " + text))
        return "list", _sf.ser_list(members)
    raise EncodeError(f"cannot encode a {type(value).__name__} as a typed scalar")


def _from_bare(value: _sf.Bare) -> Value:
    if isinstance(value, _sf.Token):
        return _symbol(value.value)
    if isinstance(value, _sf.ByteSeq):
        return value.value
    return value


def _symbol(name: str) -> Value:
    if name == "true":
        return True
    if name == "false":
        return False
    return Atom(name)


def _lenient_list_items(raw: bytes) -> list[bytes]:
    """ao-core-libs writes ``(ao-type-integer) 1,(ao-type-binary) a`` (not SF): split at commas."""
    return [part.strip() for part in raw.split(b",")] if raw.strip() else []


def decode_value(type_name: str, raw: bytes, *, lenient: bool = False) -> Value:
    """Decode the text of a typed value (``ao-types`` entry or ``key+type`` path syntax).

    ``lenient`` also accepts ao-core-libs' unquoted lists and its ``(ao-type-binary)`` items.

    Raises:
        DecodeError: the text does not parse as that type, or the type is unknown.
    """
    kind = type_name.lower()
    if kind == "integer":
        item = _sf.parse_item(raw)
        if isinstance(item.value, bool) or not isinstance(item.value, int):
            raise DecodeError("not an integer")
        return item.value
    if kind == "float":
        if not _FLOAT_RE.match(raw):
            raise DecodeError("a float needs digits, a decimal point and digits")
        return float(raw)
    if kind == "atom":
        item = _sf.parse_item(raw)
        if isinstance(item.value, _sf.Token):
            return _symbol(item.value.value)
        if isinstance(item.value, bytes):
            try:
                return _symbol(item.value.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise DecodeError("symbol is not UTF-8") from exc
        raise DecodeError("not a symbol")
    if kind == "list":
        return _decode_list(raw, lenient)
    if kind == "map":
        out: dict[str, Value] = {}
        for key, member in _sf.parse_dictionary(raw):
            if not isinstance(member, _sf.Item):
                raise DecodeError("inner lists are not map values")
            out[key] = _from_bare(member.value)
        return Message(out)
    raise DecodeError(f"unknown value type {type_name!r}")


def _decode_typed_item(text: bytes, lenient: bool) -> Value:
    head, sep, rest = text[len(b"(ao-type-") :].partition(b") ")
    if not sep:
        raise DecodeError("malformed (ao-type-...) list item")
    kind = head.decode("ascii", "replace").lower()
    if lenient and kind == "binary":
        return rest
    if kind not in _KNOWN_LIST_TYPES:
        raise DecodeError(f"unknown list item type {kind!r}")
    return decode_value(kind, rest, lenient=lenient)


def _decode_list(raw: bytes, lenient: bool) -> tuple[Value, ...]:
    try:
        members = _sf.parse_list(raw)
    except DecodeError:
        if not lenient:
            raise
        return tuple(
            _decode_typed_item(p, True) if p.startswith(b"(ao-type-") else p for p in _lenient_list_items(raw)
        )
    out: list[Value] = []
    for member in members:
        if not isinstance(member, _sf.Item):
            raise DecodeError("inner lists are not list items")
        value = member.value
        if isinstance(value, bytes) and value.startswith(b"(ao-type-"):
            out.append(_decode_typed_item(value, lenient))
        else:
            out.append(_from_bare(value))
    return tuple(out)


# -- structured → TABM ----------------------------------------------------------------------------


def to_tabm(msg: Mapping[str, Any], *, bundle: bool = True) -> Message:
    """Convert a structured message to TABM.

    ``bundle=True`` keeps nested maps and lists inline; ``bundle=False`` replaces each by a
    ``<key>+link`` holding its id (HyperBEAM's default, offloading mode).

    Raises:
        EncodeError: a value that cannot be represented.
    """
    return _map_to_tabm(msg if isinstance(msg, Message) else Message(msg), bundle, 0)


def _link_id(value: Message | tuple[Value, ...]) -> bytes:
    from ._ids import message_id  # ids are computed over link-mode TABMs; avoid an import cycle

    return message_id(value, "all").encode("ascii")


def _map_to_tabm(msg: Mapping[str, Value], bundle: bool, depth: int) -> Message:
    if depth > MAX_DEPTH:
        raise EncodeError("message nested too deeply")
    types: dict[str, str] = {}
    values: dict[str, Value] = {}
    for key in sorted(msg, key=sort_key):
        if key in REGEN_KEYS or key == "commitments" or is_private(key):
            continue
        value = msg[key]
        if isinstance(value, bytes):
            values[key] = value
        elif isinstance(value, Link):
            values[key + "+link"] = value.id.encode("ascii")
        elif isinstance(value, Message | tuple):
            if bundle:
                values[key] = _nested_to_tabm(value, bundle, depth + 1)
            else:
                values[key + "+link"] = _link_id(value)
        else:
            kind, text = encode_value(value)
            types[key] = kind
            values[key] = text
    if types:
        values["ao-types"] = encode_ao_types(types)
    if "commitments" in msg:
        values["commitments"] = msg["commitments"]
    return Message(values)


def linked_values(msg: Mapping[str, Any]) -> dict[str, Message | tuple[Value, ...]]:
    """Every nested map and list that default (``+link``) mode replaces by ``<key>+link``, by its
    link id, at any depth: what a caller stores so the links of a default-mode encoding resolve.
    Each value keeps its own commitments (``commitments`` is copied, never linked).

    Raises:
        EncodeError: a nested value that cannot be represented (no id).
    """
    out: dict[str, Message | tuple[Value, ...]] = {}
    _collect_links(msg, out, 0)
    return out


def _collect_links(msg: Mapping[str, Any] | tuple[Value, ...], out: dict[str, Any], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise EncodeError("message nested too deeply")
    if isinstance(msg, tuple):
        children: list[Value] = list(msg)
    else:
        children = [
            v for k, v in msg.items() if k not in REGEN_KEYS and k != "commitments" and not is_private(k)
        ]
    for value in children:
        if isinstance(value, Message | tuple):
            out[_link_id(value).decode("ascii")] = value
            _collect_links(value, out, depth + 1)


def _nested_to_tabm(value: Message | tuple[Value, ...], bundle: bool, depth: int) -> Message:
    if isinstance(value, Message):
        return _map_to_tabm(value, bundle, depth)
    return list_to_tabm(value, bundle=bundle, depth=depth)


def list_to_tabm(items: tuple[Value, ...], *, bundle: bool = True, depth: int = 0) -> Message:
    """A list as its numbered TABM sub-message, typed ``.="list"``."""
    tabm = _map_to_tabm(Message({str(i): v for i, v in enumerate(items, 1)}), bundle, depth + 1)
    raw_types = tabm.get("ao-types")
    types = decode_ao_types(raw_types) if isinstance(raw_types, bytes) else {}
    types["."] = "list"
    return tabm.set("ao-types", encode_ao_types(types))


# -- TABM → structured ----------------------------------------------------------------------------


def from_tabm(tabm: Mapping[str, Any], *, lenient: bool = False) -> Message:
    """Convert a TABM back to a structured message (a top-level list stays a numbered message).

    ``lenient`` reads ao-core-libs' non-SF list values (see ``decode_value``).

    Raises:
        DecodeError: malformed ``ao-types`` or typed values.
    """
    result = _tabm_to_value(tabm, 0, lenient, top=True)
    if not isinstance(result, Message):
        raise DecodeError("a TABM decodes to a message")
    return result


def _tabm_to_value(tabm: Mapping[str, Any], depth: int, lenient: bool, *, top: bool = False) -> Value:
    if depth > MAX_DEPTH:
        raise DecodeError("message nested too deeply")
    raw_types = tabm.get("ao-types")
    types = decode_ao_types(raw_types) if isinstance(raw_types, bytes) else {}
    out: dict[str, Value] = {}
    for key, value in tabm.items():
        if key == "ao-types":
            continue
        if key.endswith("+link") and len(key) > 5 and isinstance(value, bytes):
            out[key[:-5]] = Link(value.decode("ascii", "replace"))
        elif isinstance(value, bytes):
            kind = types.get(key)
            if kind and not kind.startswith("empty-"):
                out[key] = decode_value(kind, value, lenient=lenient)
            else:
                out[key] = value
        elif isinstance(value, Mapping):
            out[key] = _tabm_to_value(value, depth + 1, lenient)
        else:
            out[key] = value
    for key, kind in types.items():  # May-2025 empty markers: the key has no field of its own
        if key not in out and key != ".":
            if kind == "empty-binary":
                out[key] = b""
            elif kind == "empty-list":
                out[key] = ()
            elif kind == "empty-message":
                out[key] = Message()
    if types.get(".") == "list" and not top:
        return numbered_to_tuple(out)
    return Message(out)


def numbered_to_tuple(numbered: Mapping[str, Value]) -> tuple[Value, ...]:
    """Values of keys ``1..n`` in order (``priv``/``commitments`` ignored). Raises DecodeError."""
    keys = set(numbered)
    keys.discard("priv")
    keys.discard("commitments")
    names = [str(i) for i in range(1, len(keys) + 1)]
    if not keys.issuperset(names):  # n distinct keys, each one of 1..n: exactly 1..n
        raise DecodeError("a list message's keys are not 1..n")
    return tuple([numbered[name] for name in names])
