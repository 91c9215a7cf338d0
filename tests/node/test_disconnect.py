"""A client that disconnects in the middle of its request body: the partial body is never served
(it might read as a shorter, valid request) and nothing is sent back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from node import HttpApp

if TYPE_CHECKING:
    from node._server import Running


async def test_a_body_cut_short_by_a_disconnect_is_not_served(node: Running) -> None:
    app = HttpApp(node.node)
    events = iter(
        [
            {"type": "http.request", "body": b'{"target": "x", "da', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(events)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/~message@1.0", "raw_path": b"/~message@1.0",
             "query_string": b"", "headers": [(b"content-type", b"application/json")]}
    await app(scope, receive, send)
    assert sent == []
    # the same request completed is answered
    events = iter([{"type": "http.request", "body": b"", "more_body": False}])
    await app({**scope, "method": "GET", "path": "/~meta@1.0/info", "raw_path": b"/~meta@1.0/info"},
              receive, send)
    assert sent[0]["type"] == "http.response.start"
