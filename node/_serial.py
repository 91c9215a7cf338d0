"""The store's internal form of a message: the shared local CBOR form, canonical, private keys
kept (this form never leaves the node; the wire forms are the codecs of ``devices.core``)."""

from __future__ import annotations

from devices.core import CoreError, Message
from devices.core._localcbor import decode_local, encode_local, thaw
from node._errors import StoreError


def encode_message(msg: Message) -> bytes:
    """The canonical CBOR form of ``msg`` (equal messages give equal bytes)."""
    return encode_local(msg, canonical=True)


def decode_message(blob: bytes) -> Message:
    """Inverse of ``encode_message``.

    Raises:
        StoreError: the blob is not a stored message (corruption).
    """
    try:
        msg = thaw(decode_local(blob))
    except CoreError as exc:
        raise StoreError(f"stored message is corrupt: {exc.reason}") from exc
    if not isinstance(msg, Message):
        raise StoreError("stored value is not a message")
    return msg
