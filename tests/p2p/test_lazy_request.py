"""Requests negotiate their protocol lazily (multistream header, protocol line and request in one write).

Real ``Libp2pNode`` pairs on 127.0.0.1. The responder is py-libp2p's own multiselect server, except in the
hostile tests, which replace the whole inbound side of B's swarm with a raw stream handler of ours.
"""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.testing

from p2p import (
    Libp2pNode,
    PeerBanned,
    PeerUnreachable,
    ProtocolNotSupported,
    ProtocolViolation,
    RequestFailed,
    RequestTimeout,
    WireError,
)
from p2p._multistream import MULTISTREAM_PROTOCOL, NOT_AVAILABLE, MessageDecoder, encode_message
from p2p._streams import lazy_client_exchange
from p2p._wire import encode_frame

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

PROTO = "/hyperpeer/test-echo/1.0.0"
HEADER = encode_message(MULTISTREAM_PROTOCOL)


@pytest.fixture(autouse=True)
def _no_leaked_sockets() -> Iterator[None]:
    yield
    gc.collect()


@asynccontextmanager
async def pair() -> AsyncIterator[tuple[Libp2pNode, Libp2pNode]]:
    a, b = Libp2pNode(seed=b"\x0a" * 32), Libp2pNode(seed=b"\x0b" * 32)

    async def echo(peer: str, payload: bytes) -> bytes:
        return peer.encode() + b"|" + payload[::-1]

    b.set_request_handler(PROTO, echo)
    with trio.fail_after(20):
        async with a, b:
            await a.connect(b.listen_addrs[0])
            yield a, b


async def test_round_trips_through_the_lazy_path() -> None:
    async with pair() as (a, b):
        # pipelined (the usual case), held back until the echo (ends in a newline), empty, large
        for payload in (b"abc", b"line\n", b"", b"\n", bytes(range(256)) * 250):
            reply = await a.request(b.peer_id, PROTO, payload, timeout_s=5)
            assert reply == a.peer_id.encode() + b"|" + payload[::-1]
        assert b.statistics().requests_served == 5


async def test_concurrent_requests_to_one_peer() -> None:
    async with pair() as (a, b):
        replies: dict[int, bytes] = {}
        refused: list[int] = []

        async def one(i: int) -> None:
            if i % 8 == 7:
                with pytest.raises(ProtocolNotSupported):
                    await a.request(b.peer_id, "/hyperpeer/absent/1.0.0", b"%d" % i, timeout_s=10)
                refused.append(i)
            else:
                replies[i] = await a.request(b.peer_id, PROTO, b"req-%d" % i, timeout_s=10)

        with trio.fail_after(15):
            async with trio.open_nursery() as nursery:
                for i in range(40):
                    nursery.start_soon(one, i)
        assert sorted(refused) == [i for i in range(40) if i % 8 == 7]
        assert replies == {
            i: a.peer_id.encode() + b"|" + (b"req-%d" % i)[::-1] for i in range(40) if i % 8 != 7
        }


@pytest.mark.parametrize("payload", [b"x", b"ends in a newline\n"])
async def test_an_unserved_protocol_is_refused_promptly(payload: bytes) -> None:
    async with pair() as (a, b):
        with trio.fail_after(2), pytest.raises(ProtocolNotSupported):
            await a.request(b.peer_id, "/hyperpeer/absent/1.0.0", payload, timeout_s=30)
        # the connection survives the refusal
        assert await a.request(b.peer_id, PROTO, b"ok", timeout_s=5) == a.peer_id.encode() + b"|ko"


async def test_a_request_to_an_unknown_peer_is_unreachable() -> None:
    async with pair() as (a, _):
        stranger = Libp2pNode(seed=b"\x0c" * 32).peer_id  # never started: no addresses known
        with trio.fail_after(3), pytest.raises(PeerUnreachable):
            await a.request(stranger, PROTO, b"q", timeout_s=30)
        with pytest.raises(PeerUnreachable):
            await a.request("not a peer id", PROTO, b"q", timeout_s=1)


async def test_banned_peers_are_refused_on_both_sides() -> None:
    async with pair() as (a, b):
        b._policy._bans[a.peer_id] = b._policy.clock() + 60  # as if A had just scored below the threshold
        with trio.fail_after(3), pytest.raises((RequestFailed, ProtocolViolation)) as info:
            await a.request(b.peer_id, PROTO, b"q", timeout_s=30)
        assert not isinstance(info.value, ProtocolNotSupported)
        assert b.statistics().requests_served == 0
        a._policy._bans[b.peer_id] = a._policy.clock() + 60
        with pytest.raises(PeerBanned):
            await a.request(b.peer_id, PROTO, b"q", timeout_s=1)


# -- hostile responders ----------------------------------------------------------------------------


async def read_message(stream: Any, decoder: MessageDecoder) -> str:
    while (message := decoder.next_message()) is None:
        decoder.feed(await stream.read(1024))
    return message


def raw_responder(b: Libp2pNode, behave: Callable[[Any], Awaitable[None]]) -> None:
    """Replace B's inbound multiselect with ``behave(stream)`` (A's identify and pubsub streams too)."""

    async def handler(stream: Any) -> None:
        try:
            await behave(stream)
        except Exception:  # noqa: BLE001 - a hostile test peer; whatever breaks, the stream goes
            pass
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await stream.reset()

    b._host.get_network().set_stream_handler(handler)


async def accept_then(stream: Any, reply: bytes, *, close: bool = True) -> None:
    """Answer like a multiselect server that serves every protocol, then send ``reply``."""
    decoder = MessageDecoder()
    await stream.write(HEADER)
    await read_message(stream, decoder)
    await stream.write(encode_message(await read_message(stream, decoder)))
    if reply:
        await stream.write(reply)
    if close:
        await stream.close()
    else:
        await trio.sleep_forever()


async def refuse(stream: Any, *, reset_first: list[str]) -> None:
    """Answer like a multiselect server that serves nothing, then wait for the initiator to go; but reset
    the first stream proposing a protocol in ``reset_first`` (taking it off the list) without answering."""
    decoder = MessageDecoder()
    await stream.write(HEADER)
    await read_message(stream, decoder)
    if (protocol := await read_message(stream, decoder)) in reset_first:
        reset_first.remove(protocol)
        return
    await stream.write(encode_message(NOT_AVAILABLE))
    while True:
        await stream.read(1024)


HOSTILE: list[tuple[str, bytes, bytes, type[Exception]]] = [
    ("wrong header", encode_message("/multistream/2.0.0"), b"", WireError),
    ("garbage header", b"HTTP/1.1 400 Bad Request\r\n\r\n", b"", WireError),
    ("wrong answer", HEADER + encode_message("/other/1.0.0"), b"", WireError),
    ("answer without newline", HEADER + b"\x03nax", b"", WireError),
    ("header then close", HEADER, b"", RequestFailed),
    ("nothing then close", b"", b"", RequestFailed),
]


@pytest.mark.parametrize(("case", "sent", "unused", "error"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_a_broken_negotiation_fails_cleanly(
    case: str, sent: bytes, unused: bytes, error: type[Exception]
) -> None:
    async def behave(stream: Any) -> None:
        if sent:
            await stream.write(sent)
        await stream.close()

    async with pair() as (a, b):
        raw_responder(b, behave)
        with trio.fail_after(3), pytest.raises(error) as info:
            await a.request(b.peer_id, PROTO, b"q", timeout_s=30)
        assert not isinstance(info.value, ProtocolNotSupported)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"", ProtocolViolation),  # accepted, then closed without a reply
        (encode_frame(b"\x07status?"), WireError),  # a reply with an unknown status byte
        (b"\xff" * 12, WireError),  # a reply length prefix that never ends
        (encode_frame(b"\x00partial")[:-3], ProtocolViolation),  # closed inside the reply
        (encode_frame(b"\x01no such thing"), RequestFailed),  # an error reply
    ],
)
async def test_a_broken_reply_fails_cleanly(reply: bytes, error: type[Exception]) -> None:
    async with pair() as (a, b):
        raw_responder(b, lambda stream: accept_then(stream, reply))
        with trio.fail_after(3), pytest.raises(error):
            await a.request(b.peer_id, PROTO, b"q", timeout_s=30)


async def test_a_silent_responder_times_out() -> None:
    async with pair() as (a, b):
        raw_responder(b, lambda stream: accept_then(stream, b"", close=False))
        with trio.fail_after(3), pytest.raises(RequestTimeout):
            await a.request(b.peer_id, PROTO, b"q", timeout_s=0.3)


async def test_a_reset_that_overtakes_na_still_reads_as_not_supported() -> None:
    """The first stream is reset before any answer (as when a reset overtakes an unread "na"); the
    requester then asks again without a request, and that answer ("na") decides."""

    reset_first = [PROTO]
    async with pair() as (a, b):
        raw_responder(b, lambda stream: refuse(stream, reset_first=reset_first))
        with trio.fail_after(3), pytest.raises(ProtocolNotSupported):
            await a.request(b.peer_id, PROTO, b"q", timeout_s=30)
        assert reset_first == []


async def test_a_reset_before_any_answer_is_a_failed_request() -> None:
    async def reset_at_once(stream: Any) -> None:
        return None

    async with pair() as (a, b):
        raw_responder(b, reset_at_once)
        with trio.fail_after(3), pytest.raises(RequestFailed) as info:
            await a.request(b.peer_id, PROTO, b"q", timeout_s=30)
        assert not isinstance(info.value, ProtocolNotSupported)


# -- the exchange itself, against a scripted responder over an in-memory stream ----------------------


async def scripted(payload: bytes, answer: str) -> tuple[bytes, list[str], bytes | Exception]:
    """Run ``lazy_client_exchange`` against a responder that first reads what arrives unprompted, then
    answers ``answer`` (after its header), then replies "ok". Returns (unprompted bytes, events, result)."""
    client, server = trio.testing.memory_stream_pair()
    events: list[str] = []
    unprompted = bytearray()
    result: bytes | Exception = b""

    async def run_client() -> None:
        nonlocal result
        try:
            result = await lazy_client_exchange(
                client, PROTO, payload, 1024, on_accepted=lambda: events.append("accepted")
            )
        except Exception as exc:  # noqa: BLE001 - returned for the test to inspect
            result = exc

    async def drain(into: bytearray | None) -> None:
        """Read until cancelled; what it read is recorded once every task is blocked."""
        while data := await server.receive_some():
            if into is None:
                events.append(f"then:{len(data)}")
            else:
                into += data

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_client)
        for into in (unprompted, None):
            async with trio.open_nursery() as reader:
                reader.start_soon(drain, into)
                await trio.testing.wait_all_tasks_blocked()  # the client wrote all it writes unprompted
                reader.cancel_scope.cancel()
            if into is not None:
                events.append("answered")
                await server.send_all(HEADER + encode_message(answer) + encode_frame(b"\x00ok"))
        await server.aclose()
    return bytes(unprompted), events, result


async def test_the_request_is_pipelined_behind_the_proposal() -> None:
    unprompted, events, result = await scripted(b"abc", PROTO)
    assert unprompted == HEADER + encode_message(PROTO) + encode_frame(b"abc")
    assert events == ["answered", "accepted"]
    assert result == b"ok"


async def test_a_request_ending_in_a_newline_waits_for_the_echo() -> None:
    payload = b"abc\n"
    unprompted, events, result = await scripted(payload, PROTO)
    assert unprompted == HEADER + encode_message(PROTO)
    assert events == ["answered", "accepted", f"then:{len(encode_frame(payload))}"]
    assert result == b"ok"


async def test_na_is_not_supported_and_never_accepted() -> None:
    _, events, result = await scripted(b"abc", NOT_AVAILABLE)
    assert isinstance(result, ProtocolNotSupported)
    assert "accepted" not in events
