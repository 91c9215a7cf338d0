"""``hyperpeer subscribe URL --process PID [--from SLOT]``: follow a node's events over its websocket.

Prints one JSON line per event on stdout::

    {"kind":"result","process":P,"slot":N,"id":<envelope id>,"signer":<address>,"message":{...}}

Every event is checked before it is printed: the envelope's commitments verify, it is signed (by
``--node-address`` when given), it names the frame's kind, process and slot, and slots strictly
increase (a skipped slot is reported on stderr; ``--strict`` makes it fatal). When the connection
drops, or the node cuts the subscription off, the client reconnects with exponential backoff and
resubscribes from the slot after the last one printed, so the output has no gap and no duplicate.

Exit status: 0 after ``--count`` events, 1 after ``--retries`` failed reconnections in a row,
2 when the node refuses the subscription (unknown process, bad request), 3 when an event does not
verify or arrives out of order, 130 on Ctrl-C.
"""

from __future__ import annotations

import json
import ssl
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, wrap_client_stream

from devices.core import message_id

from ._evmsg import KIND_NAMES, ORDERED_KINDS, check_event, decode_event_json
from ._suberrors import EventInvalid
from ._ws import SUBSCRIBE_PATH

if TYPE_CHECKING:
    import argparse

MAX_MESSAGE_BYTES = 64 << 20
Connect = Callable[[str], AbstractAsyncContextManager[WebSocketConnection]]


class _Dropped(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class _Refused(Exception):
    pass


def subscribe_url(url: str) -> str:
    """``http(s)://host:port`` or ``ws(s)://host:port[/path]`` → the node's subscribe URL."""
    parts = urlsplit(url if "://" in url else "ws://" + url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"not a websocket or http URL: {url!r}")
    path = parts.path if parts.path not in ("", "/") else SUBSCRIBE_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


@asynccontextmanager
async def _connect(url: str) -> AsyncIterator[WebSocketConnection]:
    """A client connection that owns its TCP stream.

    ``open_websocket_url`` (trio-websocket 0.12.2) leaves the socket open after an abnormal
    closure (a dropped TCP connection marks the websocket closed, so its ``aclose`` skips closing
    the stream); here the stream is closed by us whatever happens.
    """
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    tcp = await trio.open_tcp_stream(host, port)
    stream: trio.SocketStream | trio.SSLStream = tcp
    if parts.scheme == "wss":
        stream = trio.SSLStream(
            tcp, ssl.create_default_context(), server_hostname=host, https_compatible=True
        )
    async with stream, trio.open_nursery() as nursery:
        ws = await wrap_client_stream(
            nursery, stream, host, resource, max_message_size=MAX_MESSAGE_BYTES, receive_buffer_size=None
        )
        try:
            yield ws
        finally:
            await ws.aclose()


class _Follower:
    """Checks and prints events; remembers where to resume."""

    def __init__(
        self,
        kind: str,
        process: str,
        start: int | None,
        node_address: str | None,
        strict: bool,
        out: TextIO,
        err: TextIO,
    ) -> None:
        self.kind = KIND_NAMES[kind]
        self.process = process
        self.next = start
        self.node_address = node_address
        self.strict = strict
        self.out, self.err = out, err
        self.printed = 0
        self.seen: set[tuple[int | None, str | None]] = set()

    def request(self, sub: str) -> str:
        frame: dict[str, Any] = {"op": "subscribe", "id": sub, "kind": self.kind, "process": self.process}
        if self.next is not None:
            frame["from"] = self.next
        return json.dumps(frame)

    def on_event(self, frame: dict[str, Any]) -> bool:
        """Check and print one event frame; False when it was a duplicate (not printed)."""
        slot = frame.get("slot")
        if frame.get("process") != self.process or frame.get("kind") != self.kind:
            raise EventInvalid(f"unexpected event for {frame.get('kind')!r} of {frame.get('process')!r}")
        raw = frame.get("message")
        if not isinstance(raw, dict):
            raise EventInvalid("the event frame carries no message object")
        msg = decode_event_json(json.dumps(raw))
        report = check_event(
            msg, kind=self.kind, process=self.process, slot=slot, committer=self.node_address
        )
        if self.kind in ORDERED_KINDS:
            if not isinstance(slot, int):
                raise EventInvalid("an ordered event without a slot")
            if self.next is not None and slot < self.next:
                raise EventInvalid(
                    f"slot {slot} arrived after slot {self.next - 1}: out of order or repeated"
                )
            if self.next is not None and slot > self.next:
                note = f"slots {self.next}..{slot - 1} were skipped by the node"
                if self.strict:
                    raise EventInvalid(note)
                self.err.write(f"warning: {note}\n")
            self.next = slot + 1
        else:
            key = (slot, frame.get("attester"))
            if key in self.seen:
                return False
            self.seen.add(key)
            if isinstance(slot, int):
                self.next = slot if self.next is None else max(self.next, slot)
        line = {"kind": self.kind, "process": self.process, "slot": slot}
        if frame.get("attester") is not None:
            line["attester"] = frame["attester"]
        line.update(id=message_id(msg), signer=report.committers[0], message=raw)
        self.out.write(json.dumps(line, separators=(",", ":")) + "\n")
        self.out.flush()
        self.printed += 1
        return True


async def subscribe_main(
    url: str,
    process: str,
    from_slot: int | None = None,
    *,
    kind: str = "results",
    node_address: str | None = None,
    count: int | None = None,
    strict: bool = False,
    max_retries: int = 5,
    backoff_s: float = 0.5,
    max_backoff_s: float = 10.0,
    out: TextIO | None = None,
    err: TextIO | None = None,
    connect: Connect = _connect,
) -> int:
    """Follow ``process``'s events from ``from_slot`` (``None``: live only); see the module doc.

    Returns the exit status. Cancellation: cancel the surrounding scope (Ctrl-C under trio.run).
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if kind not in KIND_NAMES:
        err.write(f"error: unknown kind {kind!r}\n")
        return 2
    follower = _Follower(kind, process, from_slot, node_address, strict, out, err)
    target = subscribe_url(url)
    failures = 0
    while True:
        printed = follower.printed
        outcome, detail = await _attempt(connect, target, follower, count)
        if outcome == "done":
            return 0
        if outcome == "refused":
            err.write(f"error: the node refused the subscription: {detail}\n")
            return 2
        if outcome == "invalid":
            err.write(f"error: event rejected: {detail}\n")
            return 3
        failures = 1 if follower.printed > printed else failures + 1
        if failures > max_retries:
            err.write(f"error: giving up after {max_retries} attempts ({detail})\n")
            return 1
        delay = min(max_backoff_s, backoff_s * 2 ** (failures - 1))
        where = "live" if follower.next is None else f"slot {follower.next}"
        err.write(
            f"connection lost ({detail}); resuming from {where} in {delay:.1f} s "
            f"(attempt {failures}/{max_retries})\n"
        )
        await trio.sleep(delay)


_DROPS = (_Dropped, ConnectionClosed, HandshakeError, OSError, trio.BrokenResourceError)


async def _attempt(connect: Connect, target: str, follower: _Follower, count: int | None) -> tuple[str, str]:
    """One connection: ``("done"|"dropped"|"refused"|"invalid", detail)``."""
    outcome = ("dropped", "the node closed the connection")
    try:
        if await _session(connect, target, follower, count):
            outcome = ("done", "")
    except* _DROPS as group:
        outcome = ("dropped", _describe(_first(group)))
    except* _Refused as group:
        outcome = ("refused", str(_first(group)))
    except* EventInvalid as group:  # last: it wins over a drop in the same group
        first = _first(group)
        outcome = ("invalid", first.reason if isinstance(first, EventInvalid) else str(first))
    return outcome


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _Dropped):
        return exc.reason
    return f"{type(exc).__name__}: {exc}"


async def _session(connect: Connect, target: str, follower: _Follower, count: int | None) -> bool:
    """One connection; True once ``count`` events were printed."""
    async with connect(target) as ws:
        await ws.send_message(follower.request("follow"))
        while True:
            text = await ws.get_message()
            try:
                frame = json.loads(text)
            except ValueError as exc:
                raise EventInvalid(f"the node sent a frame that is not JSON: {exc}") from None
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind == "event":
                if follower.on_event(frame) and count is not None and follower.printed >= count:
                    return True
            elif kind == "error":
                raise _Refused(str(frame.get("error")))
            elif kind == "closed":
                raise _Dropped(f"subscription closed: {frame.get('reason')}")
            elif kind != "subscribed":
                raise EventInvalid(f"unexpected frame type {kind!r}")


def add_subscribe_parser(subparsers: Any) -> None:
    """Add ``subscribe`` to an argparse sub-parser set; it runs ``run_subscribe`` (``args.run``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "subscribe", help="follow a process's results/assignments/attestations over websocket"
    )
    p.add_argument("url", help="the node, e.g. http://127.0.0.1:8734 or ws://host:port/~subscribe@1.0")
    p.add_argument("--process", required=True, help="process id")
    p.add_argument("--from", dest="from_slot", type=int, default=None, help="first slot (default: live only)")
    p.add_argument("--kind", default="results", choices=["results", "assignments", "attestations"])
    p.add_argument("--node-address", default=None, help="require events signed by this address")
    p.add_argument("--count", type=int, default=None, help="exit after this many events")
    p.add_argument("--strict", action="store_true", help="treat skipped slots as an error")
    p.add_argument("--retries", type=int, default=5, help="reconnections in a row before giving up")
    p.add_argument("--backoff", type=float, default=0.5, help="first reconnection delay in seconds")
    p.set_defaults(run=run_subscribe)


def run_subscribe(args: argparse.Namespace) -> int:
    """Entry point for the parsed ``subscribe`` command."""
    try:
        return trio.run(
            lambda: subscribe_main(
                args.url,
                args.process,
                args.from_slot,
                kind=args.kind,
                node_address=args.node_address,
                count=args.count,
                strict=args.strict,
                max_retries=args.retries,
                backoff_s=args.backoff,
            )
        )
    except KeyboardInterrupt:
        return 130
