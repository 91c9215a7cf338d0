"""The HTTP edge: an ASGI application served by ``hypercorn.trio.serve``.

One request walks: limits (431 headers, 413 body) → ``OPTIONS`` (204) / bare ``/`` (302) →
singleton (decoder chosen by ``codec-device``, ``application/ans104`` bodies by the ans104 codec)
→ every commitment verified (400 naming the failing one) → upload (``POST /``) or path parse and
resolution → reply (httpsig by default, JSON when asked) signed by the node wallet with the
result's hashpath. Every error leaves as a short JSON body ``{"error", "status"}``; 500 is only for
genuine internal faults, logged with a correlation id and never showing a trace.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, final

import trio

from devices._errors import DeviceError
from devices.core import CoreError, Message, Value, is_private
from node import _codec_io
from node._errors import BodyTooLarge, HeadersTooLarge, NodeError, RequestError, SignatureRejected
from node._resolve import canonical_id

if TYPE_CHECKING:
    from devices.core.ans104 import DataItem
    from node._node import Node

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_CORS = [
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", "GET, POST, PUT, DELETE, OPTIONS, PATCH"),
    ("access-control-expose-headers", "*"),
]


def _status_of(value: Value) -> int:
    if isinstance(value, Message):
        status = value.get("status")
        if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
            return status
        if isinstance(status, bytes) and status.isdigit() and 100 <= int(status) <= 599:
            return int(status)
    return 200


def reply_message(value: Value) -> Message:
    """A result as a message: lists become numbered messages, bare values ``{ao-result: body}``."""
    if isinstance(value, Message):
        return value.public()
    if isinstance(value, tuple):
        return Message({str(i): v for i, v in enumerate(value, start=1)})
    return Message({"ao-result": b"body", "body": value})


def reply_codec(singleton: Message) -> str:
    """``require-codec`` first, then ``accept-codec``, then ``accept`` (spec §13.8.1, D7)."""
    for key in ("require-codec", "accept-codec", "accept"):
        text = (singleton.get_text(key) or "").strip().lower()
        for choice in text.split(","):
            choice = choice.split(";")[0].strip()
            if choice in ("application/json", "json@1.0", "device/json@1.0"):
                return "json@1.0"
            if choice in ("httpsig@1.0", "device/httpsig@1.0"):
                return "httpsig@1.0"
    return "httpsig@1.0"


class _ClientGone(NodeError):  # control flow inside this module, never raised out of it
    """The client disconnected before its request body was complete."""


@final
class HttpApp:
    """The ASGI application of a node."""

    def __init__(self, node: Node, *, upload_limiter: trio.CapacityLimiter | None = None,
                 on_item: Callable[[DataItem, bytes], None] | None = None,
                 websocket: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None) -> None:
        self.node = node
        self.limits = node.config.limits
        self._limiter = upload_limiter or trio.CapacityLimiter(4)
        self._on_item = on_item
        self._websocket = websocket
        self.started = trio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            if self._websocket is not None:
                await self._websocket(scope, receive, send)
            else:  # no subscriptions on this node: refuse the handshake
                await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                self.started.set()
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, headers, body = await self._serve(scope, receive)
        except _ClientGone:
            return  # nobody to answer
        except (NodeError, DeviceError) as exc:
            status, headers, body = self._error(exc.status, exc.reason)
        except CoreError as exc:
            status, headers, body = self._error(exc.status_hint, exc.reason)
        except Exception:  # task boundary: one request; logged, never shown
            ref = secrets.token_hex(6)
            log.exception("internal error serving %s %s (ref %s)", scope.get("method"),
                          scope.get("path"), ref)
            status, headers, body = self._error(500, f"internal error (ref {ref})")
        request_headers = dict(scope.get("headers") or [])
        allow = request_headers.get(b"access-control-request-headers", b"*").decode("latin-1")
        out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in [*_CORS, *headers]
               if not is_private(k) and k.lower() != "content-length"]
        out.append((b"access-control-allow-headers", allow.encode("latin-1")))
        out.append((b"content-length", str(len(body)).encode("ascii")))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _error(status: int, reason: str) -> tuple[int, list[tuple[str, str]], bytes]:
        status = status if 400 <= status <= 599 else 500
        body = _codec_io.json_body({"error": reason, "status": status})
        return status, [("content-type", "application/json")], body

    async def _read_body(self, scope: Scope, receive: Receive, headers: dict[str, str]) -> bytes:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limits.max_body_bytes:
            raise BodyTooLarge(f"body of {declared} bytes exceeds {self.limits.max_body_bytes}")
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await receive()
            if event["type"] == "http.disconnect":
                raise _ClientGone("the client disconnected mid-body")  # a cut body may read as a valid one
            chunk = event.get("body", b"")
            size += len(chunk)
            if size > self.limits.max_body_bytes:
                raise BodyTooLarge(f"body exceeds {self.limits.max_body_bytes} bytes")
            chunks.append(chunk)
            if not event.get("more_body", False):
                break
        return b"".join(chunks)

    async def _serve(self, scope: Scope, receive: Receive) -> tuple[int, list[tuple[str, str]], bytes]:
        raw_headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        size = sum(len(k) + len(v) + 4 for k, v in raw_headers)
        if size > self.limits.max_header_bytes:
            raise HeadersTooLarge(f"headers of {size} bytes exceed {self.limits.max_header_bytes}")
        method = str(scope.get("method", "GET")).upper()
        if method == "OPTIONS":
            return 204, [], b""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
        body = await self._read_body(scope, receive, headers)
        raw_path: bytes = scope.get("raw_path") or str(scope.get("path", "/")).encode("utf-8")
        query: bytes = scope.get("query_string") or b""
        if raw_path == b"/" and not query and method in ("GET", "HEAD"):
            return 302, [("location", self.node.config.http.default_req)], b""
        target = raw_path + (b"?" + query if query else b"")
        codec = self._request_codec(headers)
        if method == "POST" and raw_path == b"/" and not query:
            return await self._upload(codec, headers, body)
        singleton = self._singleton(codec, method, target, headers, body)
        negotiation = Message({**{k: v.encode("latin-1") for k, v in headers.items()}, **singleton})
        reply_with = reply_codec(negotiation)
        raw_item = self._raw_read(raw_path, query, reply_with)
        if raw_item is not None:
            return 200, [("content-type", "application/ans104"), ("codec-device", "ans104@1.0")], raw_item
        outcome = await self.node.handle(singleton)
        return await self._reply(outcome.value, lambda: outcome.hashpath, reply_with, negotiation)

    @staticmethod
    def _request_codec(headers: dict[str, str]) -> str:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        return headers.get("codec-device", "").strip().lower() or (
            "ans104@1.0" if content_type == "application/ans104" else "httpsig@1.0")

    def _verified(self, msg: Message) -> tuple[Message, tuple[str, ...]]:
        """Verify every commitment (spec §11 D1); a signed message keeps only its committed keys."""
        try:
            signers = _codec_io.verify_request(msg)
        except CoreError as exc:
            if self.node.config.bad_signatures == "reject":
                raise SignatureRejected(exc.reason) from exc
            return msg.without("commitments"), ()
        return (_codec_io.only_committed(msg) if signers else msg), signers

    def _singleton(self, codec: str, method: str, target: bytes, headers: dict[str, str],
                   body: bytes) -> Message:
        pairs = tuple((k, v) for k, v in headers.items() if k != "content-length")
        msg, signers = self._verified(_codec_io.decode_request(codec, pairs, body))
        fields: dict[str, Any] = {k: v for k, v in msg.items() if not is_private(k)}
        if codec == "ans104@1.0":  # the item is the message; only these headers join it
            for key in ("accept", "accept-bundle"):
                if key in headers and key not in fields:
                    fields[key] = headers[key].encode("latin-1")
        # HyperBEAM's defaults for requests that state neither (spec §13.3).
        fields.setdefault("accept", b"*/*")
        if codec != "ans104@1.0":
            fields.setdefault("accept-bundle", False)
        own_path = msg.get("path") if codec != "ans104@1.0" else None
        if isinstance(own_path, bytes) and own_path:
            if own_path != target:  # spec §11 D20: the message's own path is what runs
                log.info("request path %r differs from the URL %r", own_path[:200], target[:200])
            fields["path"] = own_path
        else:
            fields["path"] = target
        fields["method"] = method.encode("ascii", "replace")
        fields["priv"] = Message(committers=[s.encode("utf-8") for s in signers])
        return Message(fields)

    def _raw_read(self, raw_path: bytes, query: bytes, codec: str) -> bytes | None:
        """``GET /{id}`` of an uploaded item answers its exact bytes (unless JSON is asked for)."""
        if query or codec == "json@1.0" or raw_path.count(b"/") != 1:
            return None
        ident = canonical_id(raw_path[1:].decode("utf-8", "replace"))
        return None if ident is None else self.node.store.read_raw(ident)

    async def _upload(self, codec: str, headers: dict[str, str],
                      raw: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """``POST /``: store a signed ANS-104 item (byte-exact) or a signed message, durably."""
        store = self.node.store
        if codec == "ans104@1.0":
            item = _codec_io.parse_item(raw)
            msg = _codec_io.item_message(item)
            ids = [item.id]

            def write() -> None:
                store.write_upload(raw, msg, ids)
                if self._on_item is not None:
                    self._on_item(item, raw)
        else:
            pairs = tuple((k, v) for k, v in headers.items() if k != "content-length")
            signed, signers = self._verified(_codec_io.decode_request(codec, pairs, raw))
            if not signers:
                raise RequestError("uploads must be signed (no verified signature on the request)")
            ids = _codec_io.message_ids(signed)
            ids = [ids[1], ids[0], *ids[2:]] if len(ids) > 1 else ids  # the signed id first

            def write() -> None:
                store.write_message(signed, ids)

        await trio.to_thread.run_sync(write, limiter=self._limiter)
        result = Message({"id": ids[0], "ids": list(ids)})
        return await self._reply(result, lambda: None, reply_codec(Message(
            {k: v.encode("latin-1") for k, v in headers.items()})), Message())

    async def _reply(self, value: Value, hashpath: Callable[[], str | None], codec: str,
                     negotiation: Message) -> tuple[int, list[tuple[str, str]], bytes]:
        msg = reply_message(value)
        status = _status_of(msg)
        bundle = negotiation.get("accept-bundle") in (True, b"true")
        # Like HyperBEAM's maybe_sign: a result that already carries a signature (a stored,
        # signed message) goes out as it is; everything the node computed is signed.
        sign = self.node.config.http.sign_responses and not _codec_io.signers(msg)
        wallet = self.node.wallet

        def encode() -> tuple[list[tuple[str, str]], bytes]:
            signed = _codec_io.sign_reply(msg, wallet, hashpath()) if sign else msg
            return _codec_io.encode_reply(signed, codec, bundle=bundle)

        # RSA-4096 signing takes milliseconds: keep it off the event loop.
        headers, body = await trio.to_thread.run_sync(encode, limiter=self._limiter) if sign else encode()
        return status, headers, body
