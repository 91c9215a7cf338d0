"""The store's internal form of a message: canonical CBOR with type tags (pure, sans-io).

A ``Message`` is a CBOR map with text keys; ``bytes``, ``int``, ``float`` and ``bool`` are native
CBOR; a tuple is an array; an ``Atom`` is tag 40001 around its name and a ``Link`` tag 40002 around
its id. Canonical encoding makes equal messages encode to equal bytes. This form never leaves the
node; the wire forms are the codecs of ``devices.core``.
"""

from __future__ import annotations

from typing import Any

import cbor2

from devices.core import Atom, Link, Message, Value
from node._errors import StoreError

_ATOM = 40001
_LINK = 40002


def _plain(value: Value) -> Any:
    if isinstance(value, Message):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Atom):
        return cbor2.CBORTag(_ATOM, value.name)
    if isinstance(value, Link):
        return cbor2.CBORTag(_LINK, value.id)
    return value


def encode_message(msg: Message) -> bytes:
    """The canonical CBOR form of ``msg`` (private keys included: this form stays on the node)."""
    return cbor2.dumps(_plain(msg), canonical=True)


def _tag_hook(*args: Any) -> Any:
    # cbor2 5 passes (decoder, tag), cbor2 6 passes (tag, immutable): take the tag.
    tag = next(a for a in args if isinstance(a, cbor2.CBORTag))
    if tag.tag == _ATOM and isinstance(tag.value, str):
        return Atom(tag.value)
    if tag.tag == _LINK and isinstance(tag.value, str):
        return Link(tag.value)
    raise StoreError(f"unknown CBOR tag {tag.tag} in stored message")


def _model(obj: Any) -> Value:
    if isinstance(obj, dict):
        return Message({str(k): _model(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return tuple(_model(v) for v in obj)
    if isinstance(obj, str):  # never written by encode_message; tolerate as UTF-8 bytes
        return obj.encode("utf-8")
    if isinstance(obj, bytes | bool | int | float | Atom | Link):
        return obj
    raise StoreError(f"unexpected {type(obj).__name__} in stored message")


def decode_message(blob: bytes) -> Message:
    """Inverse of ``encode_message``.

    Raises:
        StoreError: the blob is not a stored message (corruption).
    """
    try:
        obj = cbor2.loads(blob, tag_hook=_tag_hook)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise StoreError(f"stored message is corrupt: {exc}") from exc
    msg = _model(obj)
    if not isinstance(msg, Message):
        raise StoreError("stored value is not a message")
    return msg
