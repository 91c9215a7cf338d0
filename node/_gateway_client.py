"""Gateway client: load data items from Arweave gateways (or other hyperpeer nodes) and verify them.

``load_item(id)`` runs the spec's §4.1 algorithm: GraphQL for the item's fields, ``GET /raw/{id}`` for its
data, rebuild the ANS-104 bytes, and hand them to the injected verifier; metadata that does not verify is
never returned. Gateways are tried in order; transport errors, timeouts, 429 and 5xx answers are retried
with bounded exponential backoff, while a 404 or an empty GraphQL answer is definitive for that gateway.

Errors (``devices.gateway``): ``NotFoundOnGateways`` when every gateway answered and none had a verifiable
item; ``GatewayUnavailable`` when at least one gateway never answered within the attempts.

Cancellation: every call is a checkpoint and can be cancelled at any point; nothing is left running.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import struct
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urljoin, urlsplit

import h11
import trio

from devices.core import CoreError, DecodeError, b64u_decode, b64u_encode
from devices.gateway import GatewayUnavailable, NotFoundOnGateways

T = TypeVar("T")
R = TypeVar("R")

QUERY = (
    "query($ids: [ID!]!) { transactions(ids: $ids, first: 1) { edges { node { id anchor signature recipient "
    "owner { key } tags { name value } data { size } bundledIn { id } } } } }"
)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


Transport = Callable[[HttpRequest], Awaitable[HttpResponse]]


class _Transient(Exception):
    """This gateway failed in a way worth retrying."""


class _Definitive(Exception):
    """This gateway answered: it does not have a (verifiable) item."""


@dataclass(frozen=True, slots=True)
class LoadedItem(Generic[T]):
    """A verified item: the rebuilt ANS-104 bytes, the verifier's result and the gateway it came from."""

    id: str
    raw: bytes
    verified: T
    gateway: str
    bundled_in: str = ""


async def h11_transport(
    request: HttpRequest,
    *,
    max_body_bytes: int = 256 * 1024 * 1024,
    ssl_context: ssl.SSLContext | None = None,
) -> HttpResponse:
    """One HTTP/1.1 exchange over a fresh TCP (or TLS) connection, using h11.

    Raises:
        OSError, trio.BrokenResourceError, h11.ProtocolError: transport failures (the client retries).
        _Transient: the response body is larger than ``max_body_bytes``.
    """
    url = urlsplit(request.url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"unsupported gateway URL: {request.url}")
    port = url.port or (443 if url.scheme == "https" else 80)
    stream: trio.abc.Stream = await trio.open_tcp_stream(url.hostname, port)
    if url.scheme == "https":
        stream = trio.SSLStream(
            stream, ssl_context or ssl.create_default_context(), server_hostname=url.hostname
        )
    async with stream:
        conn = h11.Connection(h11.CLIENT)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        headers = [
            ("host", url.netloc),
            ("user-agent", "hyperpeer-gateway-client/1"),
            ("connection", "close"),
            ("content-length", str(len(request.body))),
            *request.headers,
        ]
        await stream.send_all(conn.send(h11.Request(method=request.method, target=target, headers=headers)))
        if request.body:
            await stream.send_all(conn.send(h11.Data(data=request.body)))
        await stream.send_all(conn.send(h11.EndOfMessage()))
        status, resp_headers, chunks, size = 0, [], [], 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await stream.receive_some(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                resp_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers]
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > max_body_bytes:
                    raise _Transient(f"response larger than {max_body_bytes} bytes")
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                if status == 0:
                    raise h11.RemoteProtocolError("connection closed before a response")
                return HttpResponse(status, tuple(resp_headers), b"".join(chunks))


def _anchor(text: str | None) -> bytes:
    """GraphQL anchors are b64url of 32 bytes; tolerate 32-character raw text from non-conforming indexers."""
    if not text:
        return b""
    if len(text) == 43:
        try:
            raw = b64u_decode(text)
        except DecodeError:
            raw = b""
        if len(raw) == 32:
            return raw
    if len(text.encode()) == 32:
        return text.encode()
    raise _Definitive(f"anchor {text!r} is neither b64url of 32 bytes nor 32 raw bytes")


def _avro_tags(tags: Sequence[tuple[bytes, bytes]]) -> bytes:
    def varint(n: int) -> bytes:
        z, out = n << 1, bytearray()  # zigzag of a non-negative n
        while z >= 0x80:
            out.append((z & 0x7F) | 0x80)
            z >>= 7
        out.append(z)
        return bytes(out)

    if not tags:
        return b""
    body = b"".join(varint(len(n)) + n + varint(len(v)) + v for n, v in tags)
    return varint(len(tags)) + body + b"\x00"


def candidate_items(node: dict[str, Any], data: bytes) -> list[bytes]:
    """The ANS-104 byte strings a GraphQL node plus its data can stand for (one per plausible type).

    Raises:
        _Definitive: the node's fields cannot form an item.
    """
    try:
        sig = b64u_decode(node["signature"])
        owner = b64u_decode(node["owner"]["key"])
        target = b64u_decode(node.get("recipient") or "")
        tags = [(t["name"].encode(), t["value"].encode()) for t in node.get("tags") or ()]
    except (CoreError, KeyError, TypeError, AttributeError) as exc:
        raise _Definitive(f"malformed GraphQL node: {exc}") from exc
    anchor = _anchor(node.get("anchor"))
    types = {(512, 512): [1], (64, 32): [2, 4], (65, 65): [3]}.get((len(sig), len(owner)))
    if types is None or len(target) not in (0, 32):
        raise _Definitive("signature, owner or recipient lengths fit no ANS-104 signature type")
    tag_bytes = _avro_tags(tags)
    body = (
        sig
        + owner
        + (b"\x01" + target if target else b"\x00")
        + (b"\x01" + anchor if anchor else b"\x00")
        + struct.pack("<QQ", len(tags), len(tag_bytes))
        + tag_bytes
        + data
    )
    return [struct.pack("<H", t) + body for t in types]


@dataclass
class GatewayClient(Generic[T]):
    """Loads items from a list of gateways (``https://arweave.net``, another hyperpeer node, …).

    Args:
        gateways: base URLs, tried in order (``/graphql`` and ``/raw/{id}`` are under each).
        graphql_urls: per-gateway GraphQL endpoint when it lives elsewhere (HyperBEAM's default
            routes ask Goldsky's search for GraphQL and arweave.net for ``/raw``).
        verify: ``raw ANS-104 bytes -> T``; raises ``CoreError`` when the item does not verify.
        attempts: rounds over the gateways (≥ 1); backoff doubles from ``backoff_s`` up to ``max_backoff_s``.
        timeout_s: bound on each HTTP exchange.
        transport: the HTTP exchange (default: h11 over TCP/TLS); tests may pass an in-memory one.
    """

    gateways: Sequence[str]
    verify: Callable[[bytes], T]
    graphql_urls: Mapping[str, str] = field(default_factory=dict)
    attempts: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    timeout_s: float = 30.0
    transport: Transport = field(default=h11_transport)

    def __post_init__(self) -> None:
        if not self.gateways:
            raise ValueError("at least one gateway is needed")
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    async def load_item(self, item_id: str) -> LoadedItem[T]:
        """Fetch ``item_id`` and return it only once it verifies.

        Raises:
            NotFoundOnGateways: every gateway answered; none had a verifiable item with this id.
            GatewayUnavailable: some gateway kept failing (transport error, timeout, 429/5xx).
        """

        async def one(base: str) -> LoadedItem[T]:
            return await self._load_from(base, item_id)

        return await self._each_gateway(item_id, one)

    async def load_data(self, item_id: str) -> bytes:
        """``GET /raw/{id}`` from the first gateway that has it. The bytes are *not* verified.

        Raises:
            NotFoundOnGateways, GatewayUnavailable: as ``load_item``.
        """

        async def one(base: str) -> bytes:
            return await self._get(base, f"/raw/{item_id}")

        return await self._each_gateway(item_id, one)

    async def _each_gateway(self, item_id: str, fetch: Callable[[str], Awaitable[R]]) -> R:
        pending = list(dict.fromkeys(self.gateways))
        reasons: dict[str, str] = {}
        for attempt in range(self.attempts):
            if attempt:
                await trio.sleep(min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))
            retry: list[str] = []
            for base in pending:
                try:
                    with trio.fail_after(self.timeout_s):
                        return await fetch(base)
                except _Definitive as exc:
                    reasons[base] = str(exc)
                except trio.TooSlowError:
                    reasons[base] = f"timed out after {self.timeout_s} s"
                    retry.append(base)
                except (_Transient, OSError, trio.BrokenResourceError, h11.ProtocolError) as exc:
                    reasons[base] = f"{type(exc).__name__}: {exc}"
                    retry.append(base)
            pending = retry
            if not pending:
                break
        detail = "; ".join(f"{g}: {r}" for g, r in reasons.items())
        if pending:
            raise GatewayUnavailable(f"{item_id}: gateways failed ({detail})")
        raise NotFoundOnGateways(f"{item_id}: not found on any gateway ({detail})")

    async def _load_from(self, base: str, item_id: str) -> LoadedItem[T]:
        body = json.dumps({"query": QUERY, "variables": {"ids": [item_id]}}).encode()
        resp = await self._exchange(
            base,
            "POST",
            self.graphql_urls.get(base, "/graphql"),
            body,
            (("content-type", "application/json"), ("accept", "application/json")),
        )
        try:
            doc = json.loads(resp)
            edges = doc["data"]["transactions"]["edges"]
        except (ValueError, KeyError, TypeError) as exc:
            raise _Definitive(f"unusable GraphQL answer: {resp[:200]!r}") from exc
        if not edges:
            raise _Definitive("not in the gateway's index")
        node = edges[0]["node"]
        if node.get("id") != item_id:
            raise _Definitive("the gateway answered with another id")
        if node.get("bundledIn") is None:
            raise _Definitive("an L1 transaction, not a data item")
        size = int((node.get("data") or {}).get("size") or 0)
        data = await self._get(base, f"/raw/{item_id}") if size else b""
        if len(data) != size:
            raise _Definitive(f"/raw returned {len(data)} bytes, GraphQL says {size}")
        candidates = candidate_items(node, data)
        if b64u_encode(hashlib.sha256(b64u_decode(node["signature"])).digest()) != item_id:
            raise _Definitive("sha256(signature) is not the id")
        problems = []
        for raw in candidates:
            try:
                verified = self.verify(raw)
            except CoreError as exc:
                problems.append(str(exc))
                continue
            return LoadedItem(item_id, raw, verified, base, node["bundledIn"].get("id") or "")
        raise _Definitive(f"the item does not verify: {'; '.join(problems)}")

    async def _get(self, base: str, path: str) -> bytes:
        return await self._exchange(base, "GET", path, b"", ())

    async def _exchange(
        self, base: str, method: str, path: str, body: bytes, headers: tuple[tuple[str, str], ...]
    ) -> bytes:
        url = path if "://" in path else urljoin(base.rstrip("/") + "/", path.lstrip("/"))
        for _ in range(4):  # follow up to three redirects
            resp = await self.transport(HttpRequest(method, url, headers, body))
            location = resp.header("location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                continue
            if resp.status == 404:
                raise _Definitive(f"{path}: 404")
            if resp.status == 429 or resp.status >= 500:
                raise _Transient(f"{path}: HTTP {resp.status}")
            if resp.status >= 300 and not (method == "POST" and resp.status == 400):  # GraphQL errors
                raise _Definitive(f"{path}: HTTP {resp.status}")
            return resp.body
        raise _Definitive(f"{path}: too many redirects")
