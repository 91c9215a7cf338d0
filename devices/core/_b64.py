"""Base64 helpers: base64url without padding (ids, addresses) and standard base64."""

from __future__ import annotations

import base64
import binascii
import re

from ._errors import DecodeError

_B64URL = re.compile(rb"^[A-Za-z0-9_-]*={0,2}$")


def b64u_encode(data: bytes) -> str:
    """base64url without padding, as Arweave and AO write ids and addresses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str | bytes) -> bytes:
    """Decode base64url with or without padding.

    Raises:
        DecodeError: the text is not base64url.
    """
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    if not _B64URL.match(raw):
        raise DecodeError("not base64url")
    raw = raw.rstrip(b"=")
    if len(raw) % 4 == 1:
        raise DecodeError("base64url text has an impossible length")
    try:
        return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DecodeError("not base64url") from exc


def b64_encode(data: bytes) -> str:
    """Standard base64 with padding (Structured-Field byte sequences)."""
    return base64.b64encode(data).decode("ascii")


def b64_decode(text: str | bytes) -> bytes:
    """Decode standard base64 (padding optional).

    Raises:
        DecodeError: the text is not base64.
    """
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    raw = raw.rstrip(b"=")
    try:
        return base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError("not base64") from exc
