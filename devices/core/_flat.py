"""``flat@1.0``: nested TABM keys joined by ``/``, and its text form ``key: value`` per line.

Encoding converts the message to TABM (bundle mode), flattens nested maps to ``a/b`` keys and
writes one ``key: value\\n`` line per key in sorted order; a nested message's ``commitments`` are
flattened too, each commitment in TABM form (as in httpsig bundle mode). We refuse values or keys
holding LF and keys holding ``": "`` or ``/`` (they would not read back; D19). Empty nested maps have no
line and are lost, as in the reference. Decoding splits each line at its **first** ``": "`` (the
reference drops lines with several), ignores lines without one, nests the keys and honours
``ao-types``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import DecodeError, EncodeError, LimitExceeded
from ._http import commitments_tabm, unflatten
from ._message import Message
from ._structured import from_tabm, sort_key, to_tabm

MAX_FLAT = 16 << 20


def flatten(tabm: Mapping[str, Any], prefix: str = "") -> dict[str, bytes]:
    """TABM → ``{"a/b": value}``.

    Raises:
        EncodeError: a key holding ``/`` or a value that is neither bytes nor a map.
    """
    out: dict[str, bytes] = {}
    for key, value in tabm.items():
        if "/" in key:
            raise EncodeError(f"flat@1.0 keys cannot contain '/': {key!r}")
        path = f"{prefix}/{key}" if prefix else key
        if key == "commitments" and isinstance(value, Mapping):
            value = commitments_tabm(value)
        if isinstance(value, Mapping):
            out.update(flatten(value, path))
        elif isinstance(value, bytes):
            out[path] = value
        else:
            raise EncodeError(f"key {path!r} holds a {type(value).__name__}, not bytes or a map")
    return out


def flat_encode(msg: Mapping[str, Any]) -> bytes:
    """The ``flat@1.0`` text of a message (commitments are not carried).

    Raises:
        EncodeError: keys or values the text form cannot hold.
    """
    tabm = to_tabm(msg if isinstance(msg, Message) else Message(msg), bundle=True)
    flat = flatten(tabm.without("commitments"))
    lines: list[bytes] = []
    for key in sorted(flat, key=sort_key):
        value = flat[key]
        raw_key = key.encode("utf-8")
        if b"\n" in value or b"\n" in raw_key or b": " in raw_key:
            raise EncodeError(f"flat@1.0 cannot hold key {key!r} or its value")
        lines.append(raw_key + b": " + value + b"\n")
    return b"".join(lines)


def flat_decode(data: bytes) -> Message:
    """Parse ``flat@1.0`` text into a structured message.

    Raises:
        DecodeError: path collisions, bad UTF-8 keys or malformed ``ao-types``.
        LimitExceeded: larger than the bound.
    """
    if len(data) > MAX_FLAT:
        raise LimitExceeded("flat@1.0 text too large")
    flat: dict[str, bytes] = {}
    for line in data.split(b"\n"):
        key, sep, value = line.partition(b": ")
        if not sep:
            continue
        try:
            flat[key.decode("utf-8")] = value
        except UnicodeDecodeError as exc:
            raise DecodeError("flat@1.0 keys are UTF-8") from exc
    return from_tabm(unflatten(flat))
