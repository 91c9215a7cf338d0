"""The gateway client against real in-test HTTP servers (127.0.0.1, port 0) and under autojump_clock."""

from __future__ import annotations

import socket

import pytest
import trio

from devices.core import SignatureInvalid, b64u_encode
from devices.gateway import GatewayApp, GatewayUnavailable, ItemIndex, NotFoundOnGateways
from node._gateway_client import GatewayClient, HttpRequest, HttpResponse, candidate_items


async def failing_app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 503, "headers": [(b"content-length", b"4")]})
    await send({"type": "http.response.body", "body": b"busy"})


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


class Store(dict):
    def put(self, item_id, raw):
        self[item_id] = raw


def expected_raw(index: ItemIndex, item_id: str, data: bytes) -> bytes:
    """What the client should rebuild for a stored item (the stand-in verifier accepts exactly this)."""
    rec = index.get(item_id)
    node = {
        "signature": b64u_encode(rec.signature),
        "owner": {"key": b64u_encode(rec.owner)},
        "recipient": rec.recipient,
        "anchor": "",
        "tags": [{"name": n.decode(), "value": v.decode()} for n, v in rec.tags],
    }
    return candidate_items(node, data)[0]


@pytest.fixture
def gateway(index, toy_parser):
    store = Store()
    return GatewayApp(index, read_raw=store.get, store_raw=store.put, parse_item=toy_parser), store


async def add(app: GatewayApp, store: Store, raw: bytes, parser) -> str:
    rec = app.index.add(parser(raw))
    store[rec.id] = raw
    return rec.id


async def test_one_gateway_failing_another_succeeding(gateway, toy, toy_parser, running) -> None:
    app, store = gateway
    item_id = await add(app, store, toy(tags=[("Type", "Process")], data=b"payload"), toy_parser)
    accepted = {expected_raw(app.index, item_id, b"payload")}

    def verify(raw: bytes) -> str:
        if raw not in accepted:
            raise SignatureInvalid("stand-in verifier: unexpected bytes")
        return "ok"

    with trio.fail_after(20):
        async with running(failing_app) as bad, running(app) as good:
            client = GatewayClient(
                [closed_port_url(), bad, good], verify=verify, backoff_s=0.001, timeout_s=5
            )
            loaded = await client.load_item(item_id)
            assert loaded.gateway == good
            assert loaded.verified == "ok"
            assert loaded.raw.endswith(b"payload")
            assert loaded.bundled_in == ""
            assert await client.load_data(item_id) == b"payload"
            # nobody has this id: the good gateway says so, the others keep failing
            with pytest.raises(GatewayUnavailable, match="503"):
                await client.load_item("q" * 43)
            only_good = GatewayClient([good], verify=verify, backoff_s=0.001, timeout_s=5)
            with pytest.raises(NotFoundOnGateways, match="not in the gateway's index"):
                await only_good.load_item("q" * 43)
            with pytest.raises(NotFoundOnGateways, match="404"):
                await only_good.load_data("q" * 43)


async def test_unverifiable_item_is_never_returned(gateway, toy, toy_parser, running) -> None:
    app, store = gateway
    item_id = await add(app, store, toy(data=b"x"), toy_parser)

    def reject(raw: bytes) -> None:
        raise SignatureInvalid("bad signature")

    with trio.fail_after(20):
        async with running(app) as good:
            client = GatewayClient([good], verify=reject, backoff_s=0.001)
            with pytest.raises(NotFoundOnGateways, match="does not verify: bad signature"):
                await client.load_item(item_id)


class FakeGateway:
    """An in-memory transport: fails ``failures`` times with 503, then answers from ``app``-like data."""

    def __init__(self, failures: int, hang: bool = False) -> None:
        self.failures = failures
        self.hang = hang
        self.calls: list[tuple[float, str]] = []

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        self.calls.append((trio.current_time(), request.url))
        if self.hang:
            await trio.sleep_forever()
        if self.failures:
            self.failures -= 1
            return HttpResponse(503, (), b"")
        if request.url.endswith("/graphql"):
            return HttpResponse(200, (), b'{"data": {"transactions": {"edges": []}}}')
        return HttpResponse(404, (), b"")


async def test_retries_back_off_exponentially(autojump_clock) -> None:
    fake = FakeGateway(failures=3)
    client = GatewayClient(["http://g1"], verify=bytes, attempts=5, backoff_s=0.5, transport=fake)
    start = trio.current_time()
    with pytest.raises(NotFoundOnGateways):
        await client.load_item("a" * 43)
    offsets = [round(t - start, 3) for t, _ in fake.calls]
    assert offsets == [0.0, 0.5, 1.5, 3.5]


async def test_retries_are_bounded(autojump_clock) -> None:
    fake = FakeGateway(failures=100)
    client = GatewayClient(
        ["http://g1", "http://g2"], verify=bytes, attempts=4, backoff_s=1, max_backoff_s=2, transport=fake
    )
    start = trio.current_time()
    with pytest.raises(GatewayUnavailable, match="HTTP 503"):
        await client.load_item("a" * 43)
    assert len(fake.calls) == 8
    assert trio.current_time() - start == pytest.approx(1 + 2 + 2)


async def test_timeouts_are_retried(autojump_clock) -> None:
    fake = FakeGateway(failures=0, hang=True)
    client = GatewayClient(["http://g1"], verify=bytes, attempts=2, backoff_s=1, timeout_s=10, transport=fake)
    with pytest.raises(GatewayUnavailable, match="timed out"):
        await client.load_item("a" * 43)
    assert [round(t) for t, _ in fake.calls] == [0, 11]


async def test_redirects_are_followed(autojump_clock) -> None:
    seen = []

    async def transport(request: HttpRequest) -> HttpResponse:
        seen.append(request.url)
        if "sandbox" not in request.url:
            return HttpResponse(302, (("Location", "http://sandbox.g/raw/x"),), b"")
        return HttpResponse(200, (), b"data")

    client = GatewayClient(["http://g"], verify=bytes, transport=transport)
    assert await client.load_data("a" * 43) == b"data"
    assert seen == ["http://g/raw/" + "a" * 43, "http://sandbox.g/raw/x"]


def test_candidate_items_layout_and_anchor_rules() -> None:
    sig, owner = b"s" * 64, b"o" * 32
    node = {
        "signature": b64u_encode(sig),
        "owner": {"key": b64u_encode(owner)},
        "recipient": b64u_encode(b"t" * 32),
        "anchor": b64u_encode(b"a" * 32),
        "tags": [{"name": "Hello", "value": "Bundlr!"}, {"name": "This is a ", "value": "Test"}],
    }
    two, four = candidate_items(node, b"DATA")
    tags = bytes.fromhex("040a48656c6c6f0e42756e646c7221145468697320697320612008546573740" + "0")
    body = sig + owner + b"\x01" + b"t" * 32 + b"\x01" + b"a" * 32
    body += (2).to_bytes(8, "little") + len(tags).to_bytes(8, "little") + tags + b"DATA"
    assert two == b"\x02\x00" + body
    assert four == b"\x04\x00" + body
    raw_anchor = dict(node, anchor="00000000000000000000000000000042", tags=[])
    (item, _) = candidate_items(raw_anchor, b"")
    assert b"\x0100000000000000000000000000000042" + bytes(16) == item[2 + 96 + 33 :]
    with pytest.raises(Exception, match="anchor"):
        candidate_items(dict(node, anchor="short"), b"")
    with pytest.raises(Exception, match="lengths"):
        candidate_items(dict(node, signature=b64u_encode(b"x" * 10)), b"")
    with pytest.raises(Exception, match="malformed"):
        candidate_items({"signature": "!!"}, b"")


def test_client_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="gateway"):
        GatewayClient([], verify=bytes)
    with pytest.raises(ValueError, match="attempts"):
        GatewayClient(["http://g"], verify=bytes, attempts=0)


async def test_separate_graphql_endpoint(autojump_clock) -> None:
    seen = []

    async def transport(request: HttpRequest) -> HttpResponse:
        seen.append((request.method, request.url))
        return HttpResponse(200, (), b'{"data": {"transactions": {"edges": []}}}')

    client = GatewayClient(
        ["https://arweave.example"],
        verify=bytes,
        graphql_urls={"https://arweave.example": "https://search.example/graphql"},
        transport=transport,
    )
    with pytest.raises(NotFoundOnGateways):
        await client.load_item("a" * 43)
    assert seen == [("POST", "https://search.example/graphql")]


async def test_graphql_errors_are_definitive(autojump_clock) -> None:
    async def transport(request: HttpRequest) -> HttpResponse:
        return HttpResponse(400, (), b'{"errors": [{"message": "Cannot query field"}]}')

    client = GatewayClient(["http://g"], verify=bytes, transport=transport)
    with pytest.raises(NotFoundOnGateways, match="unusable GraphQL answer"):
        await client.load_item("a" * 43)
