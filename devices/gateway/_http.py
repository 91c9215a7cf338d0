"""Small HTTP helpers for the gateway's ASGI app: responses, bounded bodies, ranges, tag headers."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

CORS: Headers = [(b"access-control-allow-origin", b"*")]

_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9a-z]+$")
_VALUE = re.compile(rb"^[\x21-\x7e\x80-\xff]([\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?$")
# Headers a tag must not shadow: framing, content, caching, CORS, connection management and our own.
_RESERVED = frozenset(
    {
        b"accept-ranges", b"age", b"allow", b"alt-svc", b"cache-control", b"connection", b"content-digest",
        b"content-disposition", b"content-encoding", b"content-language", b"content-length",
        b"content-location", b"content-range", b"content-security-policy", b"content-type", b"date",
        b"etag", b"expires", b"keep-alive", b"last-modified", b"link", b"location", b"proxy-authenticate",
        b"retry-after", b"server", b"set-cookie", b"signature", b"signature-input", b"status",
        b"strict-transport-security", b"te", b"trailer", b"transfer-encoding", b"upgrade", b"vary", b"via",
        b"www-authenticate", b"host", b"ao-types", b"ao-body-key",
    }
)  # fmt: skip


class BodyTooLarge(Exception):
    """The request body exceeded the route's bound."""


class Disconnected(Exception):
    """The client went away before the body was complete."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """Read the whole request body, refusing more than ``limit`` bytes.

    Raises:
        BodyTooLarge: over ``limit``.
        Disconnected: the client disconnected first.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(
    send: Send, status: int, body: bytes, headers: Headers | None = None, *, head: bool = False
) -> None:
    """Send a complete response; ``head`` keeps the headers (and Content-Length) but drops the body."""
    all_headers = [*(headers or []), *CORS]
    if not any(name == b"content-length" for name, _ in all_headers):
        all_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def respond_json(send: Send, status: int, value: object, *, head: bool = False) -> None:
    body = json.dumps(value, separators=(",", ":")).encode()
    await respond(send, status, body, [(b"content-type", b"application/json; charset=utf-8")], head=head)


def tag_headers(tags: tuple[tuple[bytes, bytes], ...]) -> Headers:
    """Each tag as a lower-cased plain header when it is a valid, non-reserved token (spec A22).

    Only the first tag of a name is emitted; names starting ``x-`` are kept (the MU ignores them anyway).
    """
    out: Headers = []
    seen: set[bytes] = set()
    for name, value in tags:
        lname = name.lower()
        if lname in seen or lname in _RESERVED or lname.startswith(b"access-control-"):
            continue
        if not _TOKEN.match(lname) or not _VALUE.match(value):
            continue
        seen.add(lname)
        out.append((lname, value))
    return out


def content_type(value: str | None) -> bytes:
    """The ``Content-Type`` to send: the tag's value when it is a safe header value, else octet-stream."""
    if value:
        raw = value.encode("utf-8")
        if _VALUE.match(raw):
            return raw
    return b"application/octet-stream"


def parse_ranges(header: bytes, size: int) -> list[tuple[int, int]] | None:
    """Byte ranges of a ``Range`` header as inclusive ``(start, end)`` pairs, clipped to ``size``.

    Returns None when the header is malformed or not in bytes (serve the whole body, RFC 9110 §14.2) and an
    empty list when no range is satisfiable (416).
    """
    text = header.decode("latin-1").strip()
    unit, _, spec = text.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return None
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) > 16:
        return None
    out: list[tuple[int, int]] = []
    for part in parts:
        first, dash, last = part.partition("-")
        if not dash or not (first.isdigit() or last.isdigit()) or (first and not first.isdigit()):
            return None
        if last and not last.isdigit():
            return None
        if not first:  # suffix: the last N bytes
            n = int(last)
            if n == 0 or size == 0:
                continue
            out.append((max(0, size - n), size - 1))
            continue
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None
        if start < size:
            out.append((start, end))
    return out
