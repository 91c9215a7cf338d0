"""The gateway's HTTP surface as a plain ASGI application (spec §4.2).

Routes (everything else goes to ``fallback``, or answers 404 JSON without one):

* ``GET``/``HEAD /`` and ``/info`` — Arweave-node-shaped info JSON; ``height`` is the index height.
* ``POST /graphql`` — GraphQL (``GraphQLService``); ``OPTIONS`` answers CORS preflights.
* ``GET``/``HEAD /raw/{id}`` — the item's data, ``Content-Type`` from its tag, ``Range`` → 206/416.
* ``GET``/``HEAD /{id}`` (no query string, id indexed) — the same bytes plus each tag as a plain header.
* ``GET /tx/{id}/status`` — always 404: every item here is a data item, and the SU reads 2xx as "L1".
* ``POST /tx`` and ``/tx/{token}`` — bundler ingress: parse and verify one ANS-104 item, store, index.

Storage and verification are injected (sync or async callables), so this module never touches a store
or a signature scheme itself.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from devices.core import CoreError, b64u_encode

from ._errors import GatewayError, ItemConflict, ItemRejected
from ._graphql import GraphQLService
from ._http import (
    ASGIApp,
    BodyTooLarge,
    Disconnected,
    Headers,
    Receive,
    Scope,
    Send,
    content_type,
    parse_ranges,
    read_body,
    respond,
    respond_json,
    tag_headers,
)
from ._items import bundle_members, parse_verified_item

if TYPE_CHECKING:
    from ._index import ItemIndex
    from ._record import ItemRecord

log = logging.getLogger(__name__)

T = TypeVar("T")
ReadRaw = Callable[[str], "bytes | Awaitable[bytes | None] | None"]
StoreRaw = Callable[[str, bytes], "Awaitable[None] | None"]
ParseItem = Callable[[bytes], "ItemRecord | Awaitable[ItemRecord]"]
Unbundle = Callable[[bytes, "ItemRecord"], "Sequence[tuple[ItemRecord, bytes]]"]

_ID = r"[A-Za-z0-9_-]{43}"
_RAW = re.compile(rf"^/raw/({_ID})/?$")
_BARE = re.compile(rf"^/({_ID})/?$")
_STATUS = re.compile(rf"^/tx/({_ID})/status/?$")
_UPLOAD = re.compile(r"^/tx(/[A-Za-z0-9_.-]{1,64})?/?$")


async def _call(fn: Callable[..., T | Awaitable[T]], *args: object) -> T:
    result = fn(*args)
    if inspect.isawaitable(result):
        return await result
    return result


class GatewayApp:
    """ASGI gateway routes over an ``ItemIndex``.

    Args:
        index: the item index (also queried by GraphQL).
        read_raw: ``id -> raw item bytes | None``.
        store_raw: ``(id, raw item bytes) -> None``; must be durable when it returns.
        parse_item: ``raw bytes -> ItemRecord`` after parsing *and verifying* the item; raises a
            ``CoreError`` (or ``GatewayError``) naming the problem when the item is invalid.
            Default: ``parse_verified_item`` (strict ANS-104 parse, signature types 1-4).
        unbundle: ``(raw, record) -> [(member record, member bytes)]`` for an uploaded bundle item;
            members are stored and indexed with ``bundledIn`` set. Default: ``bundle_members``;
            ``None`` disables unbundling.
        fallback: the ASGI app for every request these routes do not handle (and for lifespan).
        peers: the number of known peers, reported by ``/info``.
    """

    def __init__(
        self,
        index: ItemIndex,
        *,
        read_raw: ReadRaw,
        store_raw: StoreRaw,
        parse_item: ParseItem = parse_verified_item,
        unbundle: Unbundle | None = bundle_members,
        fallback: ASGIApp | None = None,
        network: str = "hyperpeer.N.1",
        release: int = 1,
        peers: Callable[[], int] = lambda: 0,
        max_upload_bytes: int = 64 * 1024 * 1024,
        max_graphql_bytes: int = 256 * 1024,
    ) -> None:
        self.index = index
        self.graphql = GraphQLService(index)
        self._read_raw = read_raw
        self._store_raw = store_raw
        self._parse_item = parse_item
        self._unbundle = unbundle
        self._fallback = fallback
        self._network = network
        self._release = release
        self._peers = peers
        self._max_upload = max_upload_bytes
        self._max_graphql = max_graphql_bytes

    def handles(self, method: str, path: str, query_string: bytes = b"") -> bool:
        """Whether a request is for these routes (the node can use this to pick an app)."""
        if method in ("GET", "HEAD"):
            if path in ("/", "/info") and not query_string:
                return True
            if _RAW.match(path) or (method == "GET" and _STATUS.match(path)):
                return True
            bare = _BARE.match(path)
            return bool(bare and not query_string and bare.group(1) in self.index)
        if method == "POST":
            return path == "/graphql" or bool(_UPLOAD.match(path))
        return method == "OPTIONS" and path == "/graphql"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if self._fallback is not None:
                await self._fallback(scope, receive, send)
            elif scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        method, path, qs = scope["method"], scope["path"], scope.get("query_string", b"")
        if not self.handles(method, path, qs):
            if self._fallback is not None:
                await self._fallback(scope, receive, send)
            else:
                await respond_json(send, 404, {"error": "not found"}, head=method == "HEAD")
            return
        try:
            await self._route(scope, receive, send, method, path)
        except Disconnected:
            return

    async def _route(self, scope: Scope, receive: Receive, send: Send, method: str, path: str) -> None:
        head = method == "HEAD"
        if method == "OPTIONS":
            await respond(send, 204, b"", _PREFLIGHT)
        elif path in ("/", "/info"):
            await respond_json(send, 200, self.info(), head=head)
        elif path == "/graphql":
            try:
                body = await read_body(receive, self._max_graphql)
            except BodyTooLarge:
                await respond_json(send, 413, {"errors": [{"message": "request body too large"}]})
                return
            result = self.graphql.execute_request(body)
            await respond_json(send, result.status, result.body)
        elif m := _STATUS.match(path):
            await respond_json(send, 404, {"error": "not an L1 transaction", "id": m.group(1)})
        elif m := _RAW.match(path):
            await self._data(scope, send, m.group(1), head=head, with_tags=False)
        elif m := _BARE.match(path):
            await self._data(scope, send, m.group(1), head=head, with_tags=True)
        else:
            await self._upload(receive, send)

    def info(self) -> dict[str, object]:
        """The ``/info`` document (Arweave node shape; ``height``/``blocks`` are the index height)."""
        latest = self.index.latest()
        height = latest.height if latest is not None else 0
        return {
            "network": self._network,
            "version": 5,
            "release": self._release,
            "height": height,
            "current": latest.id if latest is not None else "",
            "blocks": height,
            "peers": self._peers(),
            "queue_length": 0,
            "node_state_latency": 0,
        }

    async def _data(self, scope: Scope, send: Send, item_id: str, *, head: bool, with_tags: bool) -> None:
        record = self.index.get(item_id)
        raw = await _call(self._read_raw, item_id) if record is not None else None
        if record is None or raw is None:
            await respond_json(send, 404, {"error": "not found", "id": item_id}, head=head)
            return
        data = raw[record.data_offset :]
        headers: Headers = [
            (b"content-type", content_type(record.content_type)),
            (b"accept-ranges", b"bytes"),
            (b"etag", f'"{item_id}"'.encode()),
            (b"cache-control", b"public, max-age=2592000, immutable"),
            # ar.io's digest of the whole data (b64url SHA-256): wayfinder's HashVerificationStrategy
            # reads it from a trusted gateway (HEAD /{id} or /raw/{id}) and compares its own hash
            (b"x-ar-io-digest", b64u_encode(hashlib.sha256(data).digest()).encode()),
        ]
        if with_tags:
            headers += tag_headers(record.tags)
        range_header = next((v for k, v in scope.get("headers", []) if k.lower() == b"range"), None)
        ranges = parse_ranges(range_header, len(data)) if range_header is not None else None
        if ranges is None:
            await respond(send, 200, data, headers, head=head)
        elif not ranges:
            headers = [(b"content-range", f"bytes */{len(data)}".encode()), *headers[1:]]
            await respond(send, 416, b"", headers, head=head)
        elif len(ranges) == 1:
            start, end = ranges[0]
            headers.append((b"content-range", f"bytes {start}-{end}/{len(data)}".encode()))
            await respond(send, 206, data[start : end + 1], headers, head=head)
        else:
            boundary = secrets.token_hex(12)
            ctype = headers[0][1]
            parts = []
            for start, end in ranges:
                parts.append(
                    f"--{boundary}\r\nContent-Type: ".encode()
                    + ctype
                    + f"\r\nContent-Range: bytes {start}-{end}/{len(data)}\r\n\r\n".encode()
                    + data[start : end + 1]
                    + b"\r\n"
                )
            body = b"".join(parts) + f"--{boundary}--\r\n".encode()
            headers[0] = (b"content-type", f"multipart/byteranges; boundary={boundary}".encode())
            await respond(send, 206, body, headers, head=head)

    async def ingest(self, raw: bytes) -> ItemRecord:
        """Parse, verify, store and index one data item (and a bundle's verified members).

        The node calls this for items that reach it by other routes, so they are served here too.
        Storing the same bytes again is a no-op that returns the indexed record.

        Raises:
            ItemRejected: the item does not parse or verify (nothing is stored).
            ItemConflict: different bytes are already stored under this id (spec A19).
        """
        try:
            record = await _call(self._parse_item, raw)
        except CoreError as exc:
            raise ItemRejected(f"invalid data item: {exc}") from exc
        except GatewayError as exc:
            raise ItemRejected(f"invalid data item: {exc.reason}") from exc
        existing = self.index.get(record.id)
        if existing is not None:
            stored = await _call(self._read_raw, record.id)
            if stored is not None and stored != raw:
                raise ItemConflict(f"a different data item is stored under {record.id}")
            if stored is not None:
                return existing
            record = existing
        members = self._unbundle(raw, record) if self._unbundle is not None else []
        for member, member_raw in members:
            await _call(self._store_raw, member.id, member_raw)
        await _call(self._store_raw, record.id, raw)
        return self.index.add_many([record, *(m for m, _ in members)])[0]

    async def _upload(self, receive: Receive, send: Send) -> None:
        try:
            raw = await read_body(receive, self._max_upload)
        except BodyTooLarge:
            await respond_json(send, 413, {"error": f"data item larger than {self._max_upload} bytes"})
            return
        try:
            record = await self.ingest(raw)
        except (ItemRejected, ItemConflict) as exc:
            await respond_json(send, exc.status_hint, {"error": exc.reason})
            return
        await respond_json(
            send,
            200,
            {
                "id": record.id,
                "timestamp": record.timestamp * 1000,
                "owner": record.owner_address,
                "signature": b64u_encode(record.signature),
                "winc": "0",
                "version": "1.0.0",
                "deadlineHeight": record.height,
                "dataCaches": [],
                "fastFinalityIndexes": [],
            },
        )


_PREFLIGHT: Headers = [
    (b"access-control-allow-methods", b"GET, HEAD, POST, OPTIONS"),
    (b"access-control-allow-headers", b"content-type, accept"),
    (b"access-control-max-age", b"86400"),
]


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
