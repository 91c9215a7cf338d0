"""The node-local storage form of message values: CBOR with tags for atoms and links (pure).

Not a wire format: it only has to round-trip our own values exactly. ``Message`` ↔ CBOR map with
text keys (plain ``dict`` records holding message values are written the same way), ``tuple`` ↔
array, ``bytes``/``int``/``float``/``bool`` ↔ themselves, ``Atom`` ↔ tag 40001 around its name,
``Link`` ↔ tag 40002 around its id. The store and the scheduler's log share this one encoding.
"""

from __future__ import annotations

from typing import Any

import cbor2

from ._errors import CoreError, DecodeError
from ._message import Atom, Link, Message, Value, freeze, is_private

ATOM_TAG = 40001
LINK_TAG = 40002


def _plain(value: Any, drop_private: bool) -> Any:
    if isinstance(value, bytes | bool | int | float | str):
        return value
    if isinstance(value, Message | dict):
        return {k: _plain(v, drop_private) for k, v in value.items()
                if not (drop_private and isinstance(value, Message) and is_private(k))}
    if isinstance(value, tuple | list):
        return [_plain(v, drop_private) for v in value]
    if isinstance(value, Atom):
        return cbor2.CBORTag(ATOM_TAG, value.name)
    if isinstance(value, Link):
        return cbor2.CBORTag(LINK_TAG, value.id)
    raise DecodeError(f"cannot store a value of type {type(value).__name__}")


_FLAT_SCALARS = (bytes, str, int, bool)


def _canonical_flat(msg: Message) -> bytes | None:
    """The canonical encoding of a message whose values are all bytes, text, integers or booleans,
    without cbor2's canonical mode: the keys go in already in canonical order (shorter UTF-8 first,
    then bytewise) and these values have one encoding in either mode. None for other messages."""
    items = msg._items
    if not all(type(v) in _FLAT_SCALARS for v in items.values()):
        return None
    ordered = sorted(items, key=lambda k: (len(k.encode("utf-8")), k.encode("utf-8")))
    return cbor2.dumps({k: items[k] for k in ordered})


def encode_local(value: Value | dict[str, Any], *, canonical: bool = False,
                 drop_private: bool = False) -> bytes:
    """CBOR bytes of a message value (or a plain ``dict`` record of message values).
    ``canonical`` makes equal values encode to equal bytes; ``drop_private`` leaves ``priv*``
    keys of messages out."""
    if canonical and not drop_private and type(value) is Message:
        flat = _canonical_flat(value)
        if flat is not None:
            return flat
    return cbor2.dumps(_plain(value, drop_private), canonical=canonical)


def _tag_hook(*args: Any) -> Any:
    # cbor2 5 passes (decoder, tag), cbor2 6 passes (tag, immutable): take the tag.
    tag = next(a for a in args if isinstance(a, cbor2.CBORTag))
    if tag.tag == ATOM_TAG and isinstance(tag.value, str):
        return Atom(tag.value)
    if tag.tag == LINK_TAG and isinstance(tag.value, str):
        return Link(tag.value)
    raise DecodeError(f"unknown CBOR tag {tag.tag} in a stored value")


def decode_local(data: bytes) -> Any:
    """Decode to plain data (maps stay ``dict``, arrays ``list``) with atoms and links restored.

    Raises:
        DecodeError: the bytes are not a value this module wrote.
    """
    try:
        return cbor2.loads(data, tag_hook=_tag_hook)
    except DecodeError:
        raise
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise DecodeError(f"stored value does not decode: {exc}") from exc


def thaw(value: Any) -> Value:
    """Plain decoded data as message values: maps become ``Message``, arrays tuples.

    Raises:
        DecodeError: a value the message model cannot hold (e.g. CBOR null).
    """
    try:
        if isinstance(value, dict):
            return Message({str(k): thaw(v) for k, v in value.items()})
        if isinstance(value, list):
            return tuple(thaw(v) for v in value)
        return freeze(value)
    except CoreError as exc:
        raise DecodeError(f"stored value is not a message value: {exc.reason}") from exc
