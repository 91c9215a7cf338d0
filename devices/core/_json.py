"""``json@1.0``: messages ↔ JSON objects.

Encoding writes native JSON for everything JSON can hold: byte strings (UTF-8) as strings,
integers and floats as numbers, booleans as ``true``/``false``, the symbol ``null`` as ``null``,
lists as arrays and maps as objects (keys sorted). Other symbols become strings typed ``atom`` in
an ``ao-types`` sibling (as HyperBEAM does); a link is ``<key>+link: <id>``. Unlike HyperBEAM we
never stringify ``true``/``false``/``null`` (§13.8.3).

Decoding accepts HyperBEAM's output too: ``ao-types`` siblings type string values (so
``"Error": "null"`` with ``Error="atom"`` reads as the symbol ``null``), ``.="list"`` turns an
object into a list, ``+link`` keys become links. JSON ``null`` reads as the symbol ``null``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from ._errors import DecodeError, EncodeError, LimitExceeded
from ._message import Atom, Link, Message, Value, is_private
from ._structured import (
    MAX_DEPTH,
    decode_ao_types,
    decode_value,
    encode_ao_types,
    numbered_to_tuple,
    sort_key,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_JSON = 64 << 20


def json_encode(msg: Mapping[str, Any]) -> bytes:
    """The JSON text of a message (UTF-8, compact, sorted keys).

    Raises:
        EncodeError: byte strings that are not UTF-8, or non-finite floats.
    """
    return json.dumps(_obj(msg, 0), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


def _obj(msg: Mapping[str, Any], depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise EncodeError("message nested too deeply")
    out: dict[str, Any] = {}
    types: dict[str, str] = {}
    for key in sorted(msg, key=sort_key):
        if is_private(key):
            continue
        value = msg[key]
        if isinstance(value, Link):
            out[key + "+link"] = value.id
        elif isinstance(value, Atom) and value.name != "null":
            types[key] = "atom"
            out[key] = value.name
        else:
            out[key] = _val(value, depth)
    if types:
        out["ao-types"] = encode_ao_types(types).decode("utf-8")
    return out


def _val(value: Value, depth: int) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EncodeError("json@1.0 holds only UTF-8 text") from exc
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EncodeError("json@1.0 holds only finite numbers")
        return value
    if isinstance(value, Atom):
        return None if value.name == "null" else value.name
    if isinstance(value, Message):
        return _obj(value, depth + 1)
    if isinstance(value, tuple):
        if any(isinstance(v, Atom | Link) and v != Atom("null") for v in value):
            numbered = _obj(Message({str(i): v for i, v in enumerate(value, 1)}), depth + 1)
            types = decode_ao_types(numbered.get("ao-types", "").encode())
            types["."] = "list"
            numbered["ao-types"] = encode_ao_types(types).decode("utf-8")
            return numbered
        return [_val(v, depth + 1) for v in value]
    raise EncodeError(f"json@1.0 cannot hold a {type(value).__name__}")


def json_decode(data: bytes) -> Message:
    """Parse a JSON object into a message.

    Raises:
        DecodeError: not JSON, not an object, or malformed ``ao-types``/typed values.
        LimitExceeded: larger than the bound.
    """
    if len(data) > MAX_JSON:
        raise LimitExceeded("JSON body too large")
    try:
        parsed = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise DecodeError("a json@1.0 message is a JSON object")
    result = _from_obj(parsed, 0)
    if not isinstance(result, Message):
        return Message({str(i): v for i, v in enumerate(result, 1)})
    return result


def _no_constant(name: str) -> None:
    raise DecodeError(f"JSON constant {name} is not allowed")


def _from_obj(obj: dict[str, Any], depth: int) -> Message | tuple[Value, ...]:
    if depth > MAX_DEPTH:
        raise LimitExceeded("JSON nested too deeply")
    raw_types = obj.get("ao-types")
    types = decode_ao_types(raw_types.encode("utf-8")) if isinstance(raw_types, str) else {}
    out: dict[str, Value] = {}
    for key, value in obj.items():
        if key == "ao-types" and isinstance(value, str):
            continue
        if key.endswith("+link") and len(key) > 5 and isinstance(value, str):
            out[key[:-5]] = Link(value)
            continue
        kind = types.get(key)
        if isinstance(value, str) and kind and not kind.startswith("empty-"):
            out[key] = decode_value(kind, value.encode("utf-8"))
        else:
            out[key] = _from_json(value, depth + 1)
    for key, kind in types.items():
        if key not in out and key != ".":
            empties: dict[str, Value] = {"empty-binary": b"", "empty-list": (), "empty-message": Message()}
            if kind in empties:
                out[key] = empties[kind]
    if types.get(".") == "list":
        return numbered_to_tuple(out)
    return Message(out)


def _from_json(value: Any, depth: int) -> Value:
    if isinstance(value, str):
        return value.encode("utf-8")
    if value is None:
        return Atom("null")
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list):
        if depth > MAX_DEPTH:
            raise LimitExceeded("JSON nested too deeply")
        return tuple(_from_json(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return _from_obj(value, depth)
    raise DecodeError(f"unexpected JSON value {type(value).__name__}")
