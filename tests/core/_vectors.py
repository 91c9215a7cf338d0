"""Decoding of the vector files' JSON encoding of Erlang values (see the vectors' README)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from devices.core import Atom, Link, Message
from tests.conftest import vector_path

SEP = "hyperbeam-2025-09"


@dataclass(frozen=True)
class ETuple:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Failure:
    cls: str
    reason: str


def decode(obj: Any) -> Any:
    """JSON → our values: str → bytes, $b64 → bytes, $float → float, $atom → Atom, list → tuple,
    object → Message, link tuples → Link, other tuples → ETuple."""
    if isinstance(obj, str):
        return obj.encode("utf-8")
    if isinstance(obj, bool | int):
        return obj
    if isinstance(obj, list):
        return tuple(decode(x) for x in obj)
    if isinstance(obj, dict):
        if set(obj) == {"$b64"}:
            return base64.b64decode(obj["$b64"])
        if set(obj) == {"$float"}:
            return float(obj["$float"])
        if set(obj) == {"$atom"}:
            return Atom(obj["$atom"])
        if set(obj) == {"$tuple"}:
            items = obj["$tuple"]
            if len(items) == 3 and items[0] == {"$atom": "link"}:
                return Link(items[1])
            return ETuple(tuple(decode(x) for x in items))
        return Message({k: decode(v) for k, v in obj.items()})
    raise TypeError(obj)


def result(obj: Any) -> Any:
    """Unwrap ``{ok, X}`` to X (decoded) or ``{error, {class, reason}}`` to Failure."""
    items = obj["$tuple"]
    if items[0] == {"$atom": "ok"}:
        return decode(items[1])
    detail = items[1]
    return Failure(detail.get("class", "?"), detail.get("reason", "?"))


def raw_result(obj: Any) -> Any:
    items = obj["$tuple"]
    assert items[0] == {"$atom": "ok"}, items
    return items[1]


@cache
def load(name: str, folder: str = SEP) -> list[dict[str, Any]]:
    data = json.loads(vector_path(folder, name).read_text("utf-8"))
    return data if isinstance(data, list) else [data]
