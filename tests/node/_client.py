"""A tiny HTTP/1.1 client over trio + h11 for the node tests (one request per connection)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import h11
import trio


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


async def request(
    port: int, method: str, target: str | bytes, *, headers: list[tuple[str, str | bytes]] | None = None,
    body: bytes = b"", limit_s: float = 10.0,
) -> Response:
    """Send one request to 127.0.0.1:port and read the whole response (bounded by ``limit_s``)."""
    with trio.fail_after(limit_s):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            conn = h11.Connection(h11.CLIENT)
            hdrs: list[tuple[str, str | bytes]] = [("host", f"127.0.0.1:{port}"), *(headers or [])]
            if body or method in ("POST", "PUT"):
                hdrs.append(("content-length", str(len(body))))
            raw_target = target.encode() if isinstance(target, str) else target
            data = conn.send(h11.Request(method=method, target=raw_target, headers=hdrs))
            if body:
                data += conn.send(h11.Data(data=body))
            data += conn.send(h11.EndOfMessage())
            # The server may answer early (e.g. 413) and close; then read its answer.
            with contextlib.suppress(trio.BrokenResourceError):
                await stream.send_all(data)
            resp = Response(0)
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    try:
                        chunk = await stream.receive_some(65536)
                    except trio.BrokenResourceError:
                        chunk = b""
                    conn.receive_data(chunk)
                    if not chunk:
                        break
                    continue
                if isinstance(event, h11.Response):
                    resp.status = event.status_code
                    resp.headers = {k.decode(): v.decode("latin-1") for k, v in event.headers}
                elif isinstance(event, h11.Data):
                    resp.body += bytes(event.data)
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
            return resp


async def raw_exchange(port: int, data: bytes, limit_s: float = 10.0) -> bytes:
    """Send raw bytes and read until the server closes or a full response head+body arrives."""
    with trio.fail_after(limit_s):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(data)
            out = b""
            while True:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    return out
                out += chunk
                head, sep, rest = out.partition(b"\r\n\r\n")
                if sep:
                    length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")]
                    if (length and len(rest) >= length[0]) or rest.endswith(b"0\r\n\r\n"):
                        return out
