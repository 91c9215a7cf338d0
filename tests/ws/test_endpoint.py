"""The websocket endpoint over a real hypercorn server on 127.0.0.1:0 and trio-websocket clients."""

from __future__ import annotations

import json

import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from node._ws import WsConfig

from ._server import Served, frame, served, subscribe, verified
from ._support import OTHER, PID, attestation, results

EVENTS = results()
BIG = 2 << 20


async def test_subscribe_publish_100_receive_100_in_order() -> None:
    with trio.fail_after(30):
        async with served() as srv, open_websocket_url(srv.url) as ws:
            reply = await subscribe(ws, process=PID)
            assert reply == {"type": "subscribed", "sub": "s", "kind": "result", "process": PID, "from": None}
            for ev in EVENTS:
                srv.store.store_and_publish(ev)
            slots = [verified(await frame(ws)) for _ in range(100)]
            assert srv.hub.statistics().subscriptions == 1
        # the connection is gone: the node forgets its subscription
        async with served() as srv:
            async with open_websocket_url(srv.url) as ws:
                await subscribe(ws, process=PID)
            while srv.hub.statistics().subscriptions:
                await trio.testing.wait_all_tasks_blocked()
    assert slots == list(range(100))


async def _publish_slowly(srv: Served) -> None:
    for ev in EVENTS:
        srv.store.store_and_publish(ev)
        await trio.lowlevel.checkpoint()


async def test_drop_at_50_and_resume_without_gap_or_duplicate() -> None:
    got: list[int] = []
    with trio.fail_after(30):
        async with served() as srv, trio.open_nursery() as nursery:
            async with open_websocket_url(srv.url) as ws:
                await subscribe(ws, process=PID, **{"from": 0})
                nursery.start_soon(_publish_slowly, srv)
                while len(got) < 50:
                    got.append(verified(await frame(ws)))
            # the connection is gone; publishing went on meanwhile
            async with open_websocket_url(srv.url) as ws:
                await subscribe(ws, process=PID, **{"from": got[-1] + 1})
                while len(got) < 100:
                    got.append(verified(await frame(ws)))
    assert got == list(range(100))


async def _read_all(
    ws: WebSocketConnection, n: int, into: list[int], progress: trio.MemorySendChannel[int]
) -> None:
    for _ in range(n):
        slot = verified(await frame(ws))
        into.append(slot)
        await progress.send(slot)


async def test_slow_consumer_is_cut_off_while_a_fast_one_keeps_up() -> None:
    big = results(PID, 100, 200_000)  # 20 MB in all: more than the socket buffers hold
    fast_got: list[int] = []
    with trio.fail_after(60):
        async with (
            served(WsConfig(buffer_events=4)) as srv,
            trio.open_nursery() as nursery,
            open_websocket_url(srv.url, max_message_size=BIG) as fast,
            open_websocket_url(srv.url, max_message_size=BIG) as slow,
        ):
            await subscribe(fast, process=PID)
            await subscribe(slow, process=PID)
            send, progress = trio.open_memory_channel[int](0)
            nursery.start_soon(_read_all, fast, 100, fast_got, send)
            for ev in big:  # the slow one never reads meanwhile
                srv.store.store_and_publish(ev)
                assert await progress.receive() == ev.slot
            assert srv.hub.statistics().cut_off == 1
            slow_got: list[int] = []
            while (reply := await frame(slow))["type"] == "event":
                slow_got.append(verified(reply))
            assert (reply["type"], reply["sub"]) == ("closed", "s")
            assert "slow consumer" in reply["reason"]
            assert slow_got == list(range(len(slow_got)))
            assert len(slow_got) < 100
            assert reply["resume_from"] == len(slow_got)
            # subscribe again on the same connection from where it stopped
            await subscribe(slow, process=PID, **{"from": reply["resume_from"]})
            while len(slow_got) < 100:
                slow_got.append(verified(await frame(slow)))
    assert fast_got == list(range(100))
    assert slow_got == list(range(100))


BAD_FRAMES = [
    ("{not json", None, "not JSON"),
    ("[1, 2]", None, "expected a JSON object"),
    ('{"op": "dance", "id": "a"}', "a", "unknown op 'dance'"),
    ('{"op": "subscribe", "kind": "results", "process": "P"}', None, "'id' must be a string"),
    ('{"op": "subscribe", "id": "a", "kind": "gossip", "process": "P"}', "a", "unknown kind 'gossip'"),
    ('{"op": "subscribe", "id": "a", "kind": "results"}', "a", "names its process"),
    (
        f'{{"op": "subscribe", "id": "a", "kind": "results", "process": "{PID}", "from": -3}}',
        "a",
        "non-negative",
    ),
    (
        f'{{"op": "subscribe", "id": "a", "kind": "results", "process": "{PID}", "from": "7"}}',
        "a",
        "non-negative",
    ),
    (
        '{"op": "subscribe", "id": "a", "kind": "results", "process": "nobody"}',
        "a",
        "unknown process 'nobody'",
    ),
    ('{"op": "subscribe", "id": "a", "kind": "attestations", "from": 2}', "a", "live only"),
    ('{"op": "unsubscribe", "id": "zz"}', "zz", "no subscription 'zz'"),
    (
        '{"op": "subscribe", "id": "a", "kind": "results", "process": "' + "x" * 70_000 + '"}',
        None,
        "frame too large",
    ),
]


async def test_bad_frames_get_error_frames_and_the_connection_stays_usable() -> None:
    with trio.fail_after(30):
        async with served(WsConfig(max_subscriptions=2)) as srv, open_websocket_url(srv.url) as ws:
            for text, sub, problem in BAD_FRAMES:
                await ws.send_message(text)
                reply = await frame(ws)
                assert reply["type"] == "error", (text[:60], reply)
                assert problem in reply["error"], (text[:60], reply)
                assert reply.get("sub") == sub
            await ws.send_message(b"\x00binary")
            assert "binary frames" in (await frame(ws))["error"]
            await subscribe(ws, "one", process=PID)
            await ws.send_message(
                json.dumps({"op": "subscribe", "id": "one", "kind": "results", "process": PID})
            )
            assert "already in use" in (await frame(ws))["error"]
            await subscribe(ws, "two", kind="attestations")
            await ws.send_message(
                json.dumps({"op": "subscribe", "id": "three", "kind": "results", "process": PID})
            )
            reply = await frame(ws)
            assert reply == {"type": "error", "error": "too many subscriptions (limit 2)", "sub": "three"}
            srv.store.store_and_publish(EVENTS[0])  # still usable
            assert verified(await frame(ws)) == 0


async def test_several_subscriptions_share_a_connection_and_unsubscribe() -> None:
    with trio.fail_after(30):
        async with served() as srv, open_websocket_url(srv.url) as ws:
            await subscribe(ws, "r", process=PID)
            await subscribe(ws, "o", process=OTHER)
            await subscribe(ws, "att", kind="attestations", attester="alice")
            srv.hub.publish(EVENTS[0])
            srv.hub.publish(results(OTHER, 2)[1])
            srv.hub.publish(attestation(OTHER, 1, "bob"))
            srv.hub.publish(attestation(PID, 0, "alice"))
            replies = [await frame(ws) for _ in range(3)]
            for reply in replies:
                verified(reply)
            seen = sorted((r["sub"], r["process"], r["slot"], r.get("attester")) for r in replies)
            assert seen == [("att", PID, 0, "alice"), ("o", OTHER, 1, None), ("r", PID, 0, None)]
            await ws.send_message(json.dumps({"op": "unsubscribe", "id": "r"}))
            assert await frame(ws) == {
                "type": "closed",
                "reason": "unsubscribed",
                "resume_from": 1,
                "sub": "r",
            }
            srv.store.store_and_publish(EVENTS[1])  # nobody listens on "r" any more
            srv.hub.publish(results(OTHER, 3)[2])
            reply = await frame(ws)
            assert (reply["sub"], reply["slot"]) == ("o", 2)
            await subscribe(ws, "r", process=PID, **{"from": 1})  # the id is free again
            reply = await frame(ws)
            assert (verified(reply), reply["sub"]) == (1, "r")


async def test_hub_close_sends_closed_frames_with_resume_slot() -> None:
    with trio.fail_after(30):
        async with served() as srv, open_websocket_url(srv.url) as ws:
            await subscribe(ws, process=PID, **{"from": 0})
            for ev in EVENTS[:3]:
                srv.store.store_and_publish(ev)
            assert [verified(await frame(ws)) for _ in range(3)] == [0, 1, 2]
            srv.hub.close("node shutting down")
            reply = await frame(ws)
            assert reply == {"type": "closed", "reason": "node shutting down", "resume_from": 3, "sub": "s"}
            await ws.send_message(
                json.dumps({"op": "subscribe", "id": "x", "kind": "results", "process": PID})
            )
            assert "cannot subscribe: node shutting down" in (await frame(ws))["error"]


async def test_other_paths_are_rejected() -> None:
    with trio.fail_after(30):
        async with served() as srv:
            host, port = srv.base.removeprefix("ws://").split(":")
            request = (
                f"GET /elsewhere HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            )
            async with await trio.open_tcp_stream(host, int(port)) as stream:
                await stream.send_all(request.encode())
                head = await stream.receive_some(4096)
    assert head.startswith(b"HTTP/1.1 403"), head[:40]


async def test_a_failing_history_source_is_an_error_frame_not_a_dead_connection() -> None:
    async def broken(kind, process, from_slot):
        raise RuntimeError("disk on fire")
        yield  # pragma: no cover

    with trio.fail_after(30):
        async with served() as srv:
            srv.store.history = broken  # type: ignore[method-assign]
            async with open_websocket_url(srv.url) as ws:
                await subscribe(ws, "h", process=PID, **{"from": 0})
                reply = await frame(ws)
                assert reply == {"type": "error", "error": "history unavailable (RuntimeError)", "sub": "h"}
                await subscribe(ws, "h", process=PID)  # the id is free and the connection usable
                srv.hub.publish(EVENTS[0])
                assert verified(await frame(ws)) == 0


async def test_an_event_json_cannot_hold_is_reported_and_the_stream_goes_on() -> None:
    from devices.core import Message
    from node._evmsg import Event

    bad = Event("result", PID, 0, Message({"x": float("nan")}))
    with trio.fail_after(30):
        async with served() as srv, open_websocket_url(srv.url) as ws:
            await subscribe(ws, process=PID)
            srv.hub.publish(bad)
            srv.hub.publish(EVENTS[1])
            reply = await frame(ws)
            assert reply["type"] == "error"
            assert "event at slot 0 cannot be encoded" in reply["error"]
            assert verified(await frame(ws)) == 1
