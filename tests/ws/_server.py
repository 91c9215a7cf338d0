"""A tiny ASGI app routing websockets to ``handle_websocket``, served by hypercorn on 127.0.0.1:0."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from devices.core import json_decode
from node._events import EventHub
from node._evmsg import check_event
from node._ws import SUBSCRIBE_PATH, WsConfig, handle_websocket, is_subscribe_scope

from ._support import FakeStore, wallet

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, MutableMapping

    from trio_websocket import WebSocketConnection


class App:
    def __init__(self, hub: EventHub, store: FakeStore, config: WsConfig) -> None:
        self.hub, self.store, self.config = hub, store, config

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "websocket":
            await handle_websocket(
                scope,
                receive,
                send,
                self.hub,
                self.store.history,
                self.config,
                known_process=self.store.known_process,
            )
            assert is_subscribe_scope(scope, self.config) or True
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})


@dataclass
class Served:
    hub: EventHub
    store: FakeStore
    base: str  # ws://127.0.0.1:PORT

    @property
    def url(self) -> str:
        return self.base + SUBSCRIBE_PATH


@asynccontextmanager
async def served(config: WsConfig | None = None) -> AsyncIterator[Served]:
    hub = EventHub()
    store = FakeStore(hub)
    hconfig = Config()
    hconfig.bind = ["127.0.0.1:0"]
    hconfig.graceful_timeout = 1
    hconfig.accesslog = None
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        app = App(hub, store, config or WsConfig())
        binds = await nursery.start(partial(serve, app, hconfig, shutdown_trigger=shutdown.wait))
        yield Served(hub, store, binds[0].replace("http://", "ws://"))
        shutdown.set()


async def frame(ws: WebSocketConnection, limit_s: float = 10) -> dict[str, Any]:
    with trio.fail_after(limit_s):
        return json.loads(await ws.get_message())


async def subscribe(ws: WebSocketConnection, sub: str = "s", **fields: Any) -> dict[str, Any]:
    await ws.send_message(json.dumps({"op": "subscribe", "id": sub, "kind": "results", **fields}))
    reply = await frame(ws)
    assert reply["type"] == "subscribed", reply
    return reply


def verified(reply: dict[str, Any]) -> int:
    """Check an event frame on its own, as a subscriber would; returns its slot."""
    assert reply["type"] == "event", reply
    msg = json_decode(json.dumps(reply["message"]).encode())
    check_event(
        msg, kind=reply["kind"], process=reply["process"], slot=reply["slot"], committer=wallet().address
    )
    return int(reply["slot"])
