"""The node-local storage encoding of messages (CBOR), used by the assignment log and the
process state cache.

This is *not* a wire format: it only has to round-trip our own ``Message`` values exactly.
Mapping: ``Message`` ↔ CBOR map with text keys, ``tuple`` ↔ array, ``bytes`` ↔ byte string,
``int``/``float``/``bool`` ↔ themselves, ``Atom`` ↔ tag 40001 (text), ``Link`` ↔ tag 40002 (text).
Private keys (``priv*``) are dropped on encode: they never reach the disk.
"""

from __future__ import annotations

from typing import Any

from devices._errors import DeviceError
from devices.core import CoreError, Message, Value
from devices.core._localcbor import decode_local, encode_local, thaw


class StorageCorrupt(DeviceError):
    """A stored record cannot be decoded or breaks an invariant of the log (HTTP 500)."""

    status = 500


def encode_value(value: Value | dict[str, Any]) -> bytes:
    """CBOR bytes of a message value, or of a plain ``dict`` record holding message values
    (private keys of messages are left out: they never reach the disk)."""
    return encode_local(value, drop_private=True)


def decode_plain(data: bytes) -> Any:
    """Decode CBOR to plain data (maps stay ``dict``) with atoms and links restored.

    Raises:
        StorageCorrupt: the bytes are not a record we wrote.
    """
    try:
        return decode_local(data)
    except CoreError as exc:
        raise StorageCorrupt(exc.reason) from exc


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
    try:
        thawed = thaw(value)
    except CoreError as exc:
        raise StorageCorrupt(exc.reason) from exc
    if not isinstance(thawed, Message):
        raise StorageCorrupt("stored record is not a message")
    return thawed
