"""``httpsig@1.0`` for whole messages: structured message ↔ HTTP headers and body.

Header names keep the message's key case, exactly as HyperBEAM's encoder returns them (HTTP
treats names case-insensitively; mixed-case keys survive only inside multipart parts). Header
values are ``str`` holding the raw bytes as Latin-1, so ``value.encode("latin-1")`` gives the wire
bytes back. Signatures are emitted from the message's commitments (one ``comm-…`` entry each,
the HMAC included); on input every label is accepted, ``http-sig-…`` included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import DecodeError, LimitExceeded
from ._http import decode_fields, encode_tabm, strip_transport
from ._message import Message
from ._siginfo import commitments_to_siginfo, siginfo_to_commitments
from ._structured import from_tabm, to_tabm

MAX_HEADERS = 1000


@dataclass(frozen=True, slots=True)
class HttpParts:
    """An encoded HTTP message: ``(name, value)`` headers in wire order and the body bytes."""

    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return None


def encode_fields(msg: Message, *, bundle: bool = True) -> dict[str, bytes]:
    """The HTTP field map of ``msg`` (``body`` included) as HyperBEAM's encoder returns it."""
    tabm = to_tabm(msg, bundle=bundle)
    fields = encode_tabm(tabm)
    commitments = msg.get("commitments")
    if isinstance(commitments, Mapping) and commitments:
        link_tabm = tabm if not bundle else to_tabm(msg, bundle=False)
        fields.update(commitments_to_siginfo(link_tabm, tabm if bundle else None, commitments))
    return fields


def httpsig_encode(msg: Message, *, bundle: bool = True) -> HttpParts:
    """Encode a structured message as HTTP headers and body.

    ``bundle=True`` inlines nested maps and lists as multipart parts; ``bundle=False`` writes them
    as ``<key>+link`` headers (the caller stores the linked messages).

    Raises:
        EncodeError: values that cannot be represented.
    """
    fields = encode_fields(msg, bundle=bundle)
    body = fields.pop("body", b"")
    headers = tuple((k, v.decode("latin-1")) for k, v in sorted(fields.items()))
    return HttpParts(headers, body)


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1", "replace")


def httpsig_decode(
    headers: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]], body: bytes
) -> Message:
    """Decode HTTP headers and body into a structured message with its commitments.

    Header names are taken as given (lower-case them at the HTTP edge); repeated names are
    joined with ``", "``. No signature is checked here (see ``verify``).

    Raises:
        DecodeError: malformed multipart bodies, structured fields, typed values or signatures.
        LimitExceeded: too many headers or parts.
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    fields: dict[str, bytes] = {}
    for count, (name, value) in enumerate(pairs):
        if count >= MAX_HEADERS:
            raise LimitExceeded("too many headers")
        if not isinstance(name, str):
            raise DecodeError("header names are text")
        raw = _as_bytes(value)
        fields[name] = fields[name] + b", " + raw if name in fields else raw
    if body:
        fields["body"] = body
    return decode_fields_to_message(fields)


def decode_fields_to_message(fields: Mapping[str, bytes]) -> Message:
    """An HTTP field map (``body`` included) → structured message."""
    merged, body_keys = decode_fields(fields)
    commitments = siginfo_to_commitments(merged, body_keys)
    tabm: dict[str, Any] = strip_transport(merged)
    if commitments:
        tabm["commitments"] = Message(commitments)
    return from_tabm(tabm, lenient=True)
