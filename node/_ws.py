"""The websocket edge: ``ws://HOST:PORT/~subscribe@1.0`` on the node's HTTP port (ASGI, hypercorn).

Frames are JSON text, one object each.

Client → server::

    {"op":"subscribe","id":"<sub id>","kind":"results"|"assignments"|"attestations",
     "process":"<pid>","from":N,"attester":"<address>"}
    {"op":"unsubscribe","id":"<sub id>"}

``process`` is required for results and assignments; ``from`` (inclusive, optional) replays history
first — without it the subscription is live only; ``attester`` filters attestations. Kinds may be
singular. Several subscriptions share one connection (``WsConfig.max_subscriptions``).

Server → client::

    {"type":"subscribed","sub":id,"kind":"result","process":P,"from":N}
    {"type":"event","sub":id,"kind":"result"|"assignment"|"attestation","process":P,"slot":N,
     ["attester":A,] "message":{<the node-signed envelope in json@1.0 form, commitments included>}}
    {"type":"error","sub":id?,"error":"<names the problem>"}        (the connection stays usable)
    {"type":"closed","sub":id,"reason":"...","resume_from":N}        (the subscription ended)

``closed`` comes after the last event of a subscription: the subscriber was too slow (its bounded
buffer filled), the node is shutting down, or the client unsubscribed. Subscribing again with
``from = resume_from`` continues without gap or duplicate (see ``_feed``). A frame's ``message``
saved to a file is a complete json@1.0 message: ``json_decode`` + ``verify`` accept it.

Slow consumers: each subscription's bounded buffer (``buffer_events``) is filled by the hub without
waiting; when the client does not read, hypercorn's socket write blocks, the buffer fills and the
hub cuts the subscription off (the ``closed`` frame follows the events already queued). Other
subscribers and the publisher never wait. Waiting for the connection's send turn is bounded by
``send_timeout_s`` (then the handler gives up on the connection); a socket write already under
way cannot be interrupted (hypercorn shields it), so a client that never reads again holds one
task and its socket buffers until its TCP connection dies.

Cancellation/shutdown: the handler returns when the client disconnects; ``EventHub.close``
ends every subscription with a ``closed`` frame (the connection stays open until hypercorn's
graceful shutdown closes it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, final

import trio

from devices.core import CoreError

from ._events import EventHub, Filter
from ._evmsg import KIND_NAMES, closed_frame, error_frame, event_frame, subscribed_frame
from ._feed import Feed, History
from ._suberrors import BadSubscription, SubscriptionClosed, SubscriptionError, UnknownProcess

log = logging.getLogger(__name__)

SUBSCRIBE_PATH = "/~subscribe@1.0"
MAX_ID_CHARS = 128
MAX_NAME_CHARS = 256

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
KnownProcess = Callable[[str], Awaitable[bool]]


@final
@dataclass(frozen=True, slots=True)
class WsConfig:
    """Limits of the websocket edge."""

    path: str = SUBSCRIBE_PATH
    max_subscriptions: int = 16
    buffer_events: int = 256
    max_frame_bytes: int = 64 * 1024
    send_timeout_s: float = 30.0


def is_subscribe_scope(scope: Scope, config: WsConfig | None = None) -> bool:
    """True for the websocket scopes ``handle_websocket`` serves."""
    path = (config or WsConfig()).path
    return scope.get("type") == "websocket" and scope.get("path") in (path, path + "/")


async def handle_websocket(
    scope: Scope,
    receive: Receive,
    send: Send,
    hub: EventHub,
    history: History | None,
    config: WsConfig | None = None,
    *,
    known_process: KnownProcess | None = None,
) -> None:
    """Serve one websocket connection (an ASGI ``websocket`` scope) until the client leaves.

    ``known_process(pid)`` (optional) rejects subscriptions to processes the node does not know;
    ``history`` may also raise ``UnknownProcess``.
    """
    cfg = config or WsConfig()
    first = await receive()
    if first.get("type") != "websocket.connect":
        return
    if not is_subscribe_scope(scope, cfg):
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    conn = _Connection(send, hub, history, cfg, known_process)
    try:
        await conn.run(receive)
    except* trio.TooSlowError:
        log.info("websocket subscriber stuck for %.1f s; dropping the connection", cfg.send_timeout_s)
    except* Exception:  # the connection's task boundary: log, never take the server down
        log.exception("websocket subscription connection failed")


@final
class _Connection:
    def __init__(
        self,
        send: Send,
        hub: EventHub,
        history: History | None,
        config: WsConfig,
        known_process: KnownProcess | None,
    ) -> None:
        self._send = send
        self._hub = hub
        self._history = history
        self._config = config
        self._known = known_process
        self._lock = trio.Lock()
        self._subs: dict[str, tuple[Feed, trio.CancelScope]] = {}
        self._nursery: trio.Nursery | None = None

    async def run(self, receive: Receive) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            while True:
                message = await receive()
                kind = message.get("type")
                if kind == "websocket.disconnect":
                    break
                if kind == "websocket.receive":
                    await self._on_frame(message.get("text"), message.get("bytes"))
            nursery.cancel_scope.cancel()

    async def send_text(self, text: str) -> None:
        with trio.fail_after(self._config.send_timeout_s):
            async with self._lock:
                await self._send({"type": "websocket.send", "text": text})

    async def _on_frame(self, text: str | None, data: bytes | None) -> None:
        sub_id: str | None = None
        try:
            request = self._parse(text, data)
            raw_id = request.get("id")
            sub_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= MAX_ID_CHARS else None
            op = request.get("op")
            if op == "subscribe":
                await self._subscribe(request)
            elif op == "unsubscribe":
                await self._unsubscribe(request)
            else:
                raise BadSubscription(f"unknown op {op!r} (expected 'subscribe' or 'unsubscribe')")
        except SubscriptionError as exc:
            await self.send_text(error_frame(exc.reason, sub_id))

    def _parse(self, text: str | None, data: bytes | None) -> dict[str, Any]:
        if text is None:
            raise BadSubscription("binary frames are not accepted; send JSON text")
        size = len(text.encode("utf-8", "replace"))
        if size > self._config.max_frame_bytes:
            raise BadSubscription(f"frame too large ({size} bytes, limit {self._config.max_frame_bytes})")
        try:
            request = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise BadSubscription(f"malformed frame: not JSON ({exc})") from None
        if not isinstance(request, dict):
            raise BadSubscription("malformed frame: expected a JSON object")
        return request

    async def _subscribe(self, request: dict[str, Any]) -> None:
        sub_id = _text(request, "id", MAX_ID_CHARS, required=True)
        assert sub_id is not None
        if sub_id in self._subs:
            raise BadSubscription(f"subscription id {sub_id!r} is already in use")
        if len(self._subs) >= self._config.max_subscriptions:
            raise BadSubscription(f"too many subscriptions (limit {self._config.max_subscriptions})")
        raw_kind = request.get("kind")
        kind = KIND_NAMES.get(raw_kind) if isinstance(raw_kind, str) else None
        if kind is None:
            raise BadSubscription(f"unknown kind {raw_kind!r} (results, assignments or attestations)")
        process = _text(request, "process", MAX_NAME_CHARS)
        attester = _text(request, "attester", MAX_NAME_CHARS)
        start = request.get("from")
        if start is not None and (not isinstance(start, int) or isinstance(start, bool) or start < 0):
            raise BadSubscription(f"'from' must be a non-negative integer, got {start!r}")
        flt = Filter(kind, process, attester)
        if process is not None and self._known is not None and not await self._known(process):
            raise UnknownProcess(process)
        try:
            feed = Feed(self._hub, self._history, flt, start, buffer_events=self._config.buffer_events)
        except SubscriptionClosed as exc:
            raise BadSubscription(f"cannot subscribe: {exc.reason}") from None
        cancel = trio.CancelScope()
        self._subs[sub_id] = (feed, cancel)
        try:
            await self.send_text(subscribed_frame(sub_id, kind, process, start))
        except BaseException:
            del self._subs[sub_id]
            await feed.aclose()
            raise
        assert self._nursery is not None
        self._nursery.start_soon(self._pump, sub_id, feed, cancel)

    async def _unsubscribe(self, request: dict[str, Any]) -> None:
        sub_id = _text(request, "id", MAX_ID_CHARS, required=True)
        assert sub_id is not None
        entry = self._subs.pop(sub_id, None)
        if entry is None:
            raise BadSubscription(f"no subscription {sub_id!r}")
        feed, cancel = entry
        with trio.fail_after(self._config.send_timeout_s):
            async with self._lock:
                cancel.cancel()
                frame = closed_frame(sub_id, "unsubscribed", feed.next_slot)
                await self._send({"type": "websocket.send", "text": frame})

    async def _pump(self, sub_id: str, feed: Feed, cancel: trio.CancelScope) -> None:
        try:
            with cancel:
                async with feed:
                    final = await self._forward(sub_id, feed)
                    self._drop(sub_id, cancel)  # the id is free again once the client reads this
                    await self.send_text(final)
        finally:
            self._drop(sub_id, cancel)

    def _drop(self, sub_id: str, cancel: trio.CancelScope) -> None:
        entry = self._subs.get(sub_id)
        if entry is not None and entry[1] is cancel:
            del self._subs[sub_id]

    async def _forward(self, sub_id: str, feed: Feed) -> str:
        """Send events until the feed ends; returns the frame that ends the subscription."""
        while True:
            try:
                event = await feed.receive()
            except SubscriptionClosed as exc:
                return closed_frame(sub_id, exc.reason, exc.resume_from)
            except SubscriptionError as exc:
                return error_frame(exc.reason, sub_id)
            except Exception as exc:
                log.warning("history source failed for subscription %r", sub_id, exc_info=True)
                return error_frame(f"history unavailable ({type(exc).__name__})", sub_id)
            try:
                text = event_frame(sub_id, event)
            except CoreError as exc:  # an envelope json@1.0 cannot hold: say so, keep going
                log.warning("event %s/%s cannot be encoded: %s", event.process, event.slot, exc)
                text = error_frame(f"event at slot {event.slot} cannot be encoded: {exc}", sub_id)
            await self.send_text(text)


def _text(request: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str | None:
    value = request.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise BadSubscription(f"{key!r} must be a string of 1-{limit} characters, got {value!r}")
    return value
