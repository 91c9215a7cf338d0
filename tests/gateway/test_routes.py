"""The gateway routes through an in-process ASGI harness (fake receive/send)."""

from __future__ import annotations

import hashlib
import json

import pytest

from devices.core import b64u_encode
from devices.gateway import GatewayApp, ItemIndex


async def call(
    app, method: str, path: str, body: bytes = b"", headers=(), query: bytes = b"", chunk: int = 0
):
    """Run one request through ``app``; returns (status, headers dict, body)."""
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk and body else [body]
    events = [
        {"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)
    ]
    sent: list[dict] = []

    async def receive():
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
    }
    await app(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    hdrs: dict[str, str] = {}
    for k, v in sent[0]["headers"]:
        hdrs.setdefault(k.decode(), v.decode("latin-1"))
    return sent[0]["status"], hdrs, b"".join(m.get("body", b"") for m in sent[1:])


class Store:
    def __init__(self) -> None:
        self.raw: dict[str, bytes] = {}

    def get(self, item_id: str) -> bytes | None:
        return self.raw.get(item_id)

    async def put(self, item_id: str, raw: bytes) -> None:  # async, to check both kinds are accepted
        self.raw[item_id] = raw


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def app(index: ItemIndex, store: Store, toy_parser) -> GatewayApp:
    return GatewayApp(index, read_raw=store.get, store_raw=store.put, parse_item=toy_parser, peers=lambda: 3)


async def upload(app, raw: bytes, path: str = "/tx") -> dict:
    status, hdrs, body = await call(app, "POST", path, raw, [("content-type", "application/octet-stream")])
    assert status == 200, body
    assert hdrs["content-type"].startswith("application/json")
    return json.loads(body)


async def test_upload_then_raw_and_bare(app, toy, store) -> None:
    raw = toy(
        tags=[("Content-Type", "text/plain"), ("Type", "Process"), ("Data-Protocol", "ao")], data=b"hello"
    )
    reply = await upload(app, raw, "/tx/arweave")
    item_id = reply["id"]
    assert len(item_id) == 43
    assert store.raw[item_id] == raw
    assert {"timestamp", "owner", "signature"} <= set(reply)
    status, hdrs, body = await call(app, "GET", f"/raw/{item_id}")
    assert (status, body) == (200, b"hello")
    assert hdrs["content-type"] == "text/plain"
    assert hdrs["content-length"] == "5"
    assert hdrs["accept-ranges"] == "bytes"
    assert "type" not in hdrs  # /raw carries no tag headers
    status, hdrs, body = await call(app, "GET", f"/{item_id}")
    assert (status, body) == (200, b"hello")
    assert hdrs["type"] == "Process"
    assert hdrs["data-protocol"] == "ao"
    assert hdrs["content-type"] == "text/plain"
    status, hdrs, body = await call(app, "HEAD", f"/{item_id}")
    assert (status, body, hdrs["content-length"]) == (200, b"", "5")
    status, _, body = await call(app, "HEAD", f"/raw/{item_id}/")
    assert (status, body) == (200, b"")


async def test_ar_io_digest_header(app, toy) -> None:
    """``X-AR-IO-Digest`` = b64url(SHA-256(whole data)) on /raw and /{id}, GET and HEAD, also on a
    range answer (wayfinder's HashVerificationStrategy reads it from a trusted gateway)."""
    data = bytes(range(256)) * 3
    item_id = (await upload(app, toy(tags=[("Type", "Process")], data=data)))["id"]
    expected = b64u_encode(hashlib.sha256(data).digest())
    for method in ("GET", "HEAD"):
        for path in (f"/raw/{item_id}", f"/{item_id}"):
            status, hdrs, _ = await call(app, method, path)
            assert (status, hdrs["x-ar-io-digest"]) == (200, expected), (method, path)
    status, hdrs, body = await call(app, "GET", f"/raw/{item_id}", headers=[("range", "bytes=0-9")])
    assert (status, body, hdrs["x-ar-io-digest"]) == (206, data[:10], expected)


async def test_unknown_ids_are_404_json(app) -> None:
    for method, path in [("GET", "/raw/" + "a" * 43), ("GET", "/" + "a" * 43), ("GET", "/nope")]:
        status, hdrs, body = await call(app, method, path)
        assert status == 404
        assert hdrs["content-type"].startswith("application/json")
        assert "error" in json.loads(body)
    status, _, body = await call(app, "HEAD", "/" + "a" * 43)
    assert (status, body) == (404, b"")


async def test_tx_status_is_404_for_data_items(app, toy) -> None:
    item_id = (await upload(app, toy(data=b"x")))["id"]
    status, _, body = await call(app, "GET", f"/tx/{item_id}/status")
    assert status == 404
    assert json.loads(body)["id"] == item_id


async def test_unsafe_content_type_tag_is_not_sent(app, toy) -> None:
    item_id = (await upload(app, toy(tags=[("Content-Type", "text/html\r\nSet-Cookie: x=1")], data=b"a")))[
        "id"
    ]
    status, hdrs, _ = await call(app, "GET", f"/raw/{item_id}")
    assert status == 200
    assert hdrs["content-type"] == "application/octet-stream"
    assert "set-cookie" not in hdrs


async def test_default_content_type_and_unsafe_tag_headers(app, toy) -> None:
    tags = [
        ("Content-Length", "999"),
        ("Bad Name", "v"),
        ("Multi", "line\r\nInjected: 1"),
        ("Access-Control-Allow-Origin", "evil"),
        ("Type", "Message"),
        ("type", "Second"),
        ("Ünïcode", "v"),
        ("Binary", "\x00"),
    ]
    tags = [(n, v.encode().decode("unicode_escape")) for n, v in tags]
    item_id = (await upload(app, toy(tags=tags, data=b"abc")))["id"]
    status, hdrs, _ = await call(app, "GET", f"/{item_id}")
    assert status == 200
    assert hdrs["content-type"] == "application/octet-stream"
    assert hdrs["content-length"] == "3"
    assert hdrs["type"] == "Message"
    assert hdrs["access-control-allow-origin"] == "*"
    assert "multi" not in hdrs
    assert "bad name" not in hdrs
    assert "binary" not in hdrs


@pytest.mark.parametrize(
    ("range_", "status", "expected", "content_range"),
    [
        ("bytes=0-3", 206, b"0123", "bytes 0-3/10"),
        ("bytes=7-", 206, b"789", "bytes 7-9/10"),
        ("bytes=-2", 206, b"89", "bytes 8-9/10"),
        ("bytes=5-100", 206, b"56789", "bytes 5-9/10"),
        ("bytes=10-12", 416, b"", "bytes */10"),
        ("bytes=abc", 200, b"0123456789", None),
        ("items=0-1", 200, b"0123456789", None),
    ],
)
async def test_single_ranges(app, toy, range_, status, expected, content_range) -> None:
    item_id = (await upload(app, toy(data=b"0123456789")))["id"]
    got_status, hdrs, body = await call(app, "GET", f"/raw/{item_id}", headers=[("Range", range_)])
    assert (got_status, body) == (status, expected)
    assert hdrs.get("content-range") == content_range


async def test_multiple_ranges(app, toy) -> None:
    item_id = (await upload(app, toy(data=b"0123456789", tags=[("Content-Type", "text/plain")])))["id"]
    status, hdrs, body = await call(app, "GET", f"/raw/{item_id}", headers=[("Range", "bytes=0-1, 8-9")])
    assert status == 206
    ctype = hdrs["content-type"]
    assert ctype.startswith("multipart/byteranges; boundary=")
    boundary = ctype.split("=", 1)[1].encode()
    parts = body.split(b"--" + boundary)
    assert parts[-1] == b"--\r\n"
    assert b"Content-Range: bytes 0-1/10\r\n\r\n01\r\n" in parts[1]
    assert b"Content-Range: bytes 8-9/10\r\n\r\n89\r\n" in parts[2]
    assert int(hdrs["content-length"]) == len(body)


async def test_invalid_upload_is_400_and_stores_nothing(app, toy, store, index) -> None:
    status, _, body = await call(app, "POST", "/tx", toy(data=b"x", valid=False))
    assert status == 400
    assert "signature" in json.loads(body)["error"]
    status, _, body = await call(app, "POST", "/tx", b"garbage")
    assert status == 400
    assert "at byte 0" in json.loads(body)["error"]
    assert store.raw == {}
    assert index.height() == 0


async def test_upload_is_idempotent_and_conflicts_are_409(app, toy, store, index) -> None:
    raw = toy(data=b"same", tags=[("a", "b")])
    first = await upload(app, raw)
    again = await upload(app, raw)
    assert first["id"] == again["id"]
    assert index.height() == 1
    store.raw[first["id"]] = raw + b"!"  # pretend a different byte string is stored under the id
    status, _, _ = await call(app, "POST", "/tx", raw)
    assert status == 409


async def test_upload_body_bound_and_chunked_body(index, store, toy, toy_parser) -> None:
    ok = toy(data=b"y" * 50)
    limit = len(ok)
    small = GatewayApp(
        index, read_raw=store.get, store_raw=store.put, parse_item=toy_parser, max_upload_bytes=limit
    )
    status, _, _ = await call(small, "POST", "/tx", toy(data=b"x" * 51), chunk=64)
    assert status == 413
    status, _, _ = await call(small, "POST", "/tx", ok, chunk=7)
    assert status == 200
    assert index.height() == 1


async def test_info_and_root(app, toy) -> None:
    status, _, body = await call(app, "GET", "/info")
    info = json.loads(body)
    assert status == 200
    assert info["height"] == 0
    assert info["current"] == ""
    assert info["peers"] == 3
    assert set(info) >= {
        "network",
        "version",
        "height",
        "current",
        "blocks",
        "peers",
        "queue_length",
        "node_state_latency",
    }
    item_id = (await upload(app, toy(data=b"x")))["id"]
    status, _, body = await call(app, "GET", "/")
    root = json.loads(body)
    assert status == 200
    assert (root["height"], root["current"], root["blocks"]) == (1, item_id, 1)


async def test_graphql_route(app, toy) -> None:
    item_id = (await upload(app, toy(data=b"x", tags=[("Type", "Process")])))["id"]
    query = {"query": '{ transactions(tags: {name: "Type", values: ["Process"]}) { edges { node { id } } } }'}
    status, hdrs, body = await call(app, "POST", "/graphql", json.dumps(query).encode(), chunk=10)
    assert status == 200
    assert json.loads(body)["data"]["transactions"]["edges"] == [{"node": {"id": item_id}}]
    status, _, body = await call(app, "POST", "/graphql", b'{"query": "{ nope }"}')
    assert status == 400
    assert json.loads(body)["errors"]
    status, _, _ = await call(app, "POST", "/graphql", b"x" * 300_000, chunk=65536)
    assert status == 413
    status, hdrs, _ = await call(app, "OPTIONS", "/graphql")
    assert status == 204
    assert "POST" in hdrs["access-control-allow-methods"]


async def test_fallback_and_lifespan(index, store, toy_parser, toy) -> None:
    seen = []

    async def fallback(scope, receive, send):
        seen.append((scope["type"], scope.get("path")))
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 299, "headers": []})
            await send({"type": "http.response.body", "body": b"node"})

    app = GatewayApp(index, read_raw=store.get, store_raw=store.put, parse_item=toy_parser, fallback=fallback)
    assert (await call(app, "GET", "/~meta@1.0/info/address"))[0] == 299
    # an unknown bare id, or one with a query string, belongs to the node
    assert (await call(app, "GET", "/" + "b" * 43))[0] == 299
    item_id = (await upload(app, toy(data=b"z")))["id"]
    assert (await call(app, "GET", f"/{item_id}", query=b"require-codec=application/json"))[0] == 299
    assert (await call(app, "GET", f"/{item_id}"))[2] == b"z"
    assert app.handles("GET", f"/{item_id}")
    assert not app.handles("GET", f"/{item_id}", b"x=1")
    assert app.handles("POST", "/graphql")
    assert app.handles("GET", "/raw/" + "c" * 43)
    assert not app.handles("DELETE", "/info")
    assert [p for t, p in seen] == ["/~meta@1.0/info/address", "/" + "b" * 43, f"/{item_id}"]


async def test_lifespan_without_fallback(app) -> None:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        return incoming.pop(0)

    async def send(m):
        sent.append(m["type"])

    await app({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_client_disconnect_during_upload(app, store) -> None:
    sent = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(m):
        sent.append(m)

    await app({"type": "http", "method": "POST", "path": "/tx", "headers": []}, receive, send)
    assert sent == []
    assert store.raw == {}


async def test_ingest_api(app, toy, store) -> None:
    from devices.gateway import ItemConflict, ItemRejected

    raw = toy(data=b"direct", tags=[("k", "v")])
    rec = await app.ingest(raw)
    assert store.raw[rec.id] == raw
    assert (await app.ingest(raw)) == rec
    with pytest.raises(ItemRejected, match="signature"):
        await app.ingest(toy(data=b"bad", valid=False))
    store.raw[rec.id] = b"other"
    with pytest.raises(ItemConflict):
        await app.ingest(raw)
    del store.raw[rec.id]  # indexed but its bytes are gone: storing again repairs it
    assert (await app.ingest(raw)) == rec
    assert store.raw[rec.id] == raw
