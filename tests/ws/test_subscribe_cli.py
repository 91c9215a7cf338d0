"""The ``hyperpeer subscribe`` client: prints verified events, resumes after drops, gives up in time."""

from __future__ import annotations

import argparse
import io
import json
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest
import trio

from devices.core import json_decode, verify
from node._subscribe_cli import add_subscribe_parser, run_subscribe, subscribe_main, subscribe_url

from ._server import Served, served
from ._support import PID, results, wallet

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

EVENTS = results()


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_prints_one_verified_line_per_event() -> None:
    out, err = io.StringIO(), io.StringIO()
    with trio.fail_after(30):
        async with served() as srv:
            for ev in EVENTS[:40]:
                srv.store.store(ev)
            http_url = srv.base.replace("ws://", "http://")
            status = await subscribe_main(
                http_url, PID, 10, count=30, node_address=wallet().address, out=out, err=err
            )
    assert status == 0, err.getvalue()
    got = lines(out)
    assert [g["slot"] for g in got] == list(range(10, 40))
    for g in got:
        assert g["signer"] == wallet().address
        assert verify(json_decode(json.dumps(g["message"]).encode())).valid


class KillingProxy:
    """A TCP relay to the node whose connections the test can cut at any moment."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.scopes: list[trio.CancelScope] = []
        self.kills = 0

    async def handle(self, client: trio.SocketStream) -> None:
        async with client, await trio.open_tcp_stream("127.0.0.1", self.target_port) as server:
            with trio.CancelScope() as scope:
                self.scopes.append(scope)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pump, client, server)
                    nursery.start_soon(self._pump, server, client)

    @staticmethod
    async def _pump(src: trio.SocketStream, dst: trio.SocketStream) -> None:
        while data := await src.receive_some(65536):
            await dst.send_all(data)
        await dst.send_eof()

    def kill(self) -> None:
        self.kills += 1
        for scope in self.scopes:
            scope.cancel()
        self.scopes.clear()


class KillAt(io.StringIO):
    def __init__(self, at: int, kill: Any) -> None:
        super().__init__()
        self.at, self.kill_fn, self.count = at, kill, 0

    def write(self, text: str) -> int:
        self.count += text.count("\n")
        if self.count == self.at:
            self.kill_fn()
        return super().write(text)


async def _publish_rest(srv: Served) -> None:
    for ev in EVENTS[30:]:
        srv.store.store_and_publish(ev)
        await trio.lowlevel.checkpoint()


async def test_resumes_after_the_connection_is_killed_without_gap_or_duplicate() -> None:
    err = io.StringIO()
    with trio.fail_after(30):
        async with served() as srv, trio.open_nursery() as nursery:
            for ev in EVENTS[:30]:
                srv.store.store(ev)
            port = int(srv.base.rsplit(":", 1)[1])
            proxy = KillingProxy(port)
            listeners = await nursery.start(partial(trio.serve_tcp, proxy.handle, 0, host="127.0.0.1"))
            proxy_port = listeners[0].socket.getsockname()[1]
            out = KillAt(50, proxy.kill)
            nursery.start_soon(_publish_rest, srv)
            status = await subscribe_main(
                f"ws://127.0.0.1:{proxy_port}", PID, 0, count=100, backoff_s=0, out=out, err=err
            )
            nursery.cancel_scope.cancel()
    assert status == 0, err.getvalue()
    assert proxy.kills == 1
    assert [g["slot"] for g in lines(out)] == list(range(100))
    assert "resuming from slot 50" in err.getvalue()


async def test_backs_off_exponentially_and_gives_up(autojump_clock: trio.testing.MockClock) -> None:
    attempts: list[float] = []

    @asynccontextmanager
    async def refuse(url: str) -> AsyncIterator[Any]:
        attempts.append(trio.current_time())
        raise OSError("connection refused")
        yield  # pragma: no cover

    err = io.StringIO()
    start = trio.current_time()
    status = await subscribe_main(
        "ws://127.0.0.1:9", PID, 0, max_retries=3, backoff_s=1, max_backoff_s=3, err=err, connect=refuse
    )
    assert status == 1
    assert [round(t - start) for t in attempts] == [0, 1, 3, 6]
    assert "giving up after 3 attempts (OSError: connection refused)" in err.getvalue()


class FakeWs:
    def __init__(self, frames: list[dict[str, Any]]) -> None:
        self.frames = frames
        self.sent: list[dict[str, Any]] = []

    async def send_message(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def get_message(self) -> str:
        await trio.lowlevel.checkpoint()
        if not self.frames:
            raise OSError("no more frames")
        return json.dumps(self.frames.pop(0))


def event_frame(index: int, **changes: Any) -> dict[str, Any]:
    slot = index
    ev = EVENTS[index]
    message = json.loads(ev.message_json())
    frame = {"type": "event", "sub": "follow", "kind": "result", "process": PID, "slot": slot}
    frame.update(message=message, **changes)
    return frame


async def run_fake(frames: list[dict[str, Any]], **kw: Any) -> tuple[int, str, str, FakeWs]:
    ws = FakeWs(frames)

    @asynccontextmanager
    async def connect(url: str) -> AsyncIterator[FakeWs]:
        yield ws

    out, err = io.StringIO(), io.StringIO()
    kw.setdefault("max_retries", 0)
    status = await subscribe_main("ws://x", PID, 0, out=out, err=err, connect=connect, **kw)  # type: ignore[arg-type]
    return status, out.getvalue(), err.getvalue(), ws


async def test_rejects_tampered_and_out_of_order_events() -> None:
    tampered = event_frame(1)
    tampered["message"]["slot"] = 2
    status, _, err, ws = await run_fake([event_frame(0), {**tampered, "slot": 2}])
    assert status == 3
    assert "does not verify" in err
    assert ws.sent == [{"op": "subscribe", "id": "follow", "kind": "result", "process": PID, "from": 0}]
    status, _, err, _ = await run_fake([event_frame(0), event_frame(0)])
    assert (status, "out of order or repeated" in err) == (3, True)
    status, _, err, _ = await run_fake([event_frame(0), event_frame(1, slot=2)])
    assert (status, "names slot 1, not 2" in err) == (3, True)
    status, _, err, _ = await run_fake([event_frame(0), event_frame(1, process="other")])
    assert (status, "unexpected event" in err) == (3, True)
    status, _, err, _ = await run_fake([event_frame(0)], node_address="z" * 43)
    assert (status, "not signed by" in err) == (3, True)


async def test_gaps_warn_or_fail_when_strict() -> None:
    status, out, err, _ = await run_fake([event_frame(0), event_frame(2)], count=2)
    assert status == 0
    assert "slots 1..1 were skipped" in err
    assert len(out.splitlines()) == 2
    status, _, err, _ = await run_fake([event_frame(0), event_frame(2)], count=2, strict=True)
    assert status == 3


async def test_refusal_and_server_close_frames() -> None:
    status, _, err, _ = await run_fake([{"type": "error", "sub": "follow", "error": "unknown process 'x'"}])
    assert status == 2
    assert "unknown process 'x'" in err
    closed = {"type": "closed", "sub": "follow", "reason": "slow consumer", "resume_from": 1}
    status, _, err, ws = await run_fake(
        [event_frame(0), closed, event_frame(1)], count=2, max_retries=1, backoff_s=0
    )
    assert status == 0
    assert "subscription closed: slow consumer" in err
    assert [s.get("from") for s in ws.sent] == [0, 1]


async def test_unknown_process_against_a_real_node() -> None:
    err = io.StringIO()
    with trio.fail_after(30):
        async with served() as srv:
            status = await subscribe_main(srv.base, "nobody", 0, err=err, out=io.StringIO())
    assert status == 2
    assert "unknown process 'nobody'" in err.getvalue()


def test_urls_and_parser() -> None:
    assert subscribe_url("http://h:1") == "ws://h:1/~subscribe@1.0"
    assert subscribe_url("https://h") == "wss://h/~subscribe@1.0"
    assert subscribe_url("h:2/") == "ws://h:2/~subscribe@1.0"
    assert subscribe_url("ws://h:3/custom") == "ws://h:3/custom"
    with pytest.raises(ValueError, match="not a websocket"):
        subscribe_url("ftp://h")
    parser = argparse.ArgumentParser()
    add_subscribe_parser(parser.add_subparsers())
    args = parser.parse_args(["subscribe", "http://h:1", "--process", PID, "--from", "5", "--count", "2"])
    assert (args.process, args.from_slot, args.count, args.kind) == (PID, 5, 2, "results")
    assert args.run is run_subscribe
