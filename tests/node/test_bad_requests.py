"""Hostile and malformed requests: each gets a clear 4xx with a JSON body naming the problem."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from tests.node._client import raw_exchange, request

if TYPE_CHECKING:
    from node._server import Running

ID = "zbGOOLXUuKbhwKXXW0sH7-lN1j0UjfYnSa1SSRcaj3I"


async def expect(node: Running, method: str, target: str | bytes, status: int | range, fragment: str,
                 **kw: object) -> None:
    resp = await request(node.port, method, target, **kw)  # type: ignore[arg-type]
    ok = resp.status in status if isinstance(status, range) else resp.status == status
    assert ok, (target, resp.status, resp.body[:200])
    body = resp.json()
    assert body["status"] == resp.status
    assert fragment.lower() in body["error"].lower(), (target, body)
    assert "Traceback" not in body["error"]


def _cases() -> list[tuple[str, int, str]]:
    pct = ("%", "%z", "%zz", "%g0", "%0g", "%%", "%-1", "%+1", "%_1", "%2")
    utf8 = ("%80", "%ff", "%c3%28", "%e2%82", "%f0%28%8c%bc", "%c0%af", "%ed%a0%80", "%fe%fe")
    typed = (("integer", "abc"), ("integer", "1.5"), ("float", "1"), ("float", "x"),
             ("atom", "a%20b%20c"), ("integer", ""))
    devices = ("nosuch@1.0", "x@2", "wasm-64@9.9", "Process@1.0", "a", "~", "dev@", "@")
    cases: list[tuple[str, int, str]] = [
        *((pre + bad, 400, "malformed percent escape") for bad in pct
          for pre in ("/a", "/~message@1.0&k=", "/a/b&k=v", "/a?", "/a?k=")),
        *((pre + junk, 400, "not UTF-8") for junk in utf8 for pre in ("/", "/a&k=", "/a?q=")),
        *(("/" + "s" * n, 400, "segment too long") for n in (513, 600, 1000, 4096, 10000)),
        *(("/a&k=" + "v" * n, 400, "segment too long") for n in (513, 600, 1000, 4096, 10000)),
        ("/" + "x" * 20000, 400, "path too long"),
        *(("/" + "(" * d + "a" + ")" * d, 400, "nested deeper") for d in range(5, 15)),
        ("/" + "/".join(["s"] * 70), 400, "too many segments"),
        *((f"/a&n+{t}=7", 400, "type")
          for t in ("int", "binary", "string", "bogus", "resolvex", "x%20y")),
        *((f"/~message@1.0&n+{t}={v}/n", 400, "key n+") for t, v in typed),
        *((f"/a?n+{t}={v}", 400, "key n ") for t, v in typed),
        *((sub, 400, "sub-resolution") for sub in ("/a&k=(x)", "/a&k+resolve=x", "/a?k+resolve=/x")),
        *((f"/~{name}/k", 404, "device not found") for name in devices),
        *((f"/~message@1.0&a=1/a~{name}", 404, "device not found") for name in devices),
        *((f"/~message@1.0&a=1/{key}", 404, "key not found")
          for key in ("missing", "Other", "priv", "private", "priv_wallet", "x" * 40)),
        *((f"/{ident}/k", 404, "message not found")
          for ident in (ID, "a" * 43, "!" * 43, "0x" + "z" * 40, "0x" + "1" * 40)),
        *((f"/~gen-{i}@{i}.0&k=v/k", 404, f"gen-{i}@{i}.0") for i in range(30)),
        *((f"/~message@1.0&k{i}=v/k{i + 1}", 404, f"k{i + 1}") for i in range(30)),
        ("/?a=b", 400, "empty path"),
        ("/~message@1.0&a=1/a/b", 400, "cannot apply"),
    ]
    return cases


async def test_many_bad_paths(node: Running) -> None:
    cases = _cases()
    assert len(cases) >= 200
    for target, status, fragment in cases:
        await expect(node, "GET", target, status, fragment)


async def test_bad_typed_headers(node: Running) -> None:
    count = 0
    for value in ("abc", "1.5", "", "--1", "1e5", "0x10", "١٢", "1 2", "9" * 20, "+"):
        await expect(node, "GET", "/~message@1.0/n", 400, "n+integer",
                     headers=[("n+integer", value.encode())])
        count += 1
    for types in ("n", "=x", "n=", ",=,"):
        await expect(node, "GET", "/~message@1.0/n", 400, "", headers=[("ao-types", types), ("n", "5")])
        count += 1
    await expect(node, "GET", "/~message@1.0/n", 400, "", headers=[("ao-types", 'n="nosuchtype"'),
                                                                 ("n", "5")])
    assert count == 14


async def test_oversize_headers_and_bodies(node: Running) -> None:
    for n in (17000, 20000, 24000):
        await expect(node, "GET", "/~message@1.0&a=1/a", 431, "headers", headers=[("x-big", "v" * n)])
        many = [(f"x-h{i}", "v" * 100) for i in range(n // 100)]
        await expect(node, "GET", "/~message@1.0&a=1/a", 431, "headers", headers=many)
    for size in (1048577, 1200000):
        await expect(node, "POST", "/~message@1.0&a=1/a", 413, "body", body=b"x" * size)
    for n in (20000, 40000, 100000):  # also past hypercorn's own buffer limit
        data = b"GET /a HTTP/1.1\r\nhost: x\r\nx-big: " + b"v" * n + b"\r\n\r\n"
        assert b" 431 " in (await raw_exchange(node.port, data)).split(b"\r\n")[0]
    # A declared length over the limit is refused before reading the body.
    data = b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 999999999\r\n\r\n"
    assert b" 413 " in (await raw_exchange(node.port, data)).split(b"\r\n")[0]


async def test_uploads_must_be_signed(node: Running) -> None:
    await expect(node, "POST", "/", 400, "must be signed", body=b"hello")
    await expect(node, "POST", "/", 400, "must be signed", headers=[("k", "v")])


async def test_protocol_junk_never_500_never_hangs(node: Running) -> None:
    junk = [
        b"GET / HTTP/9.9\r\nhost: x\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nhost: x\r\n\r\n",
        b"NOT A REQUEST\r\n\r\n",
        b"GET /a HTTP/1.1\r\nbad header line\r\n\r\n",
        b"GET /a HTTP/1.1\r\nhost: x\r\ncontent-length: -5\r\n\r\n",
        b"POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    ]
    for data in junk:
        out = await raw_exchange(node.port, data)
        status = int(out.split(b" ", 2)[1])
        assert status < 500, (data, out[:100])  # a 4xx, or for HTTP/9.9 the usual 302


async def test_unknown_codec_device(node: Running) -> None:
    await expect(node, "POST", "/a", 415, "codec", headers=[("codec-device", "nope@1.0")], body=b"x")
    await expect(node, "POST", "/a", 400, "data item", headers=[("content-type", "application/ans104")],
                 body=b"\x01\x00junk")


async def test_concurrent_clients_with_a_slow_one(node: Running) -> None:
    results: list[bytes] = []
    with trio.fail_after(20):
        slow = await trio.open_tcp_stream("127.0.0.1", node.port)
        async with slow:
            await slow.send_all(b"GET /~message@1.0&a=1/a HTTP/1.1\r\nhost: x\r\n")  # never finished

            async def one(i: int) -> None:
                resp = await request(node.port, "GET", f"/~message@1.0&n={i}/n")
                assert resp.status == 200
                results.append(resp.body)

            async with trio.open_nursery() as nursery:
                for i in range(100):
                    nursery.start_soon(one, i)
    assert sorted(results) == sorted(str(i).encode() for i in range(100))
