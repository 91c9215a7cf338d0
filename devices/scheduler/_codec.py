"""The node-local storage encoding of messages (CBOR), used by the assignment log and the
process state cache.

This is *not* a wire format: it only has to round-trip our own ``Message`` values exactly.
Mapping: ``Message`` ↔ CBOR map with text keys, ``tuple`` ↔ array, ``bytes`` ↔ byte string,
``int``/``float``/``bool`` ↔ themselves, ``Atom`` ↔ tag 40001 (text), ``Link`` ↔ tag 40002 (text).
Private keys (``priv*``) are dropped on encode: they never reach the disk.
"""

from __future__ import annotations

from typing import Any

import cbor2

from devices._errors import DeviceError
from devices.core import Atom, Link, Message, Value

_ATOM_TAG = 40001
_LINK_TAG = 40002


class StorageCorrupt(DeviceError):
    """A stored record cannot be decoded or breaks an invariant of the log (HTTP 500)."""

    status = 500


_SCALARS = (bytes, int, float, bool, str)


def _plain(value: Value | dict[str, Any]) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is Message:
        return {k: _plain(v) for k, v in value.items() if k[:4].lower() != "priv"}  # type: ignore[union-attr]
    if kind is dict:
        return {k: _plain(v) for k, v in value.items()}  # type: ignore[union-attr]
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Atom):
        return cbor2.CBORTag(_ATOM_TAG, value.name)
    if isinstance(value, Link):
        return cbor2.CBORTag(_LINK_TAG, value.id)
    return value


def encode_value(value: Value | dict[str, Any]) -> bytes:
    """CBOR bytes of a message value, or of a plain ``dict`` record holding message values."""
    return cbor2.dumps(_plain(value))


def _tag_hook(tag: cbor2.CBORTag, _immutable: bool) -> object:
    if tag.tag == _ATOM_TAG and isinstance(tag.value, str):
        return Atom(tag.value)
    if tag.tag == _LINK_TAG and isinstance(tag.value, str):
        return Link(tag.value)
    raise StorageCorrupt(f"unknown CBOR tag {tag.tag} in a stored record")


def _thaw(value: Any) -> Any:
    if isinstance(value, dict):
        return Message({k: _thaw(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_thaw(v) for v in value)
    return value


def decode_plain(data: bytes) -> Any:
    """Decode CBOR to plain data (maps stay ``dict``) with atoms and links restored.

    Raises:
        StorageCorrupt: the bytes are not a record we wrote.
    """
    try:
        return cbor2.loads(data, tag_hook=_tag_hook)
    except StorageCorrupt:
        raise
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise StorageCorrupt(f"stored record does not decode: {exc}") from exc


def decode_message(data: bytes) -> Message:
    """Decode bytes written by ``encode_value(message)``.

    Raises:
        StorageCorrupt: the bytes are not a stored message.
    """
    value = decode_plain(data)
    if not isinstance(value, dict):
        raise StorageCorrupt("stored record is not a message")
    return as_message(value)


def as_message(value: Any) -> Message:
    """A decoded CBOR map (nested dicts/lists) as a ``Message``."""
    thawed = _thaw(value)
    if not isinstance(thawed, Message):
        raise StorageCorrupt("stored record is not a message")
    return thawed
