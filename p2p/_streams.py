"""Request/response over a byte stream, and subscriber fan-out: the Trio parts both backends share.

One exchange per stream: the client sends one frame (``_wire.encode_frame``), the server answers with one
reply frame (``_wire.encode_reply``) and closes. Deadlines are applied by the caller.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

import trio

from p2p._api import GossipMessage, P2PConfig
from p2p._errors import ProtocolNotSupported, ProtocolViolation, RequestFailed
from p2p._multistream import LazySelect, Selection, could_parse_as_message
from p2p._wire import FrameDecoder, decode_reply, encode_frame, encode_reply

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from p2p._policy import Counters

log = logging.getLogger(__name__)

_READ_CHUNK = 64 * 1024


class NegotiationCut(RequestFailed):
    """The stream ended or broke before the responder answered our pipelined protocol proposal.

    Ambiguous: a responder refusing the protocol answers ``na`` and may then reset the stream (it reads our
    pipelined request as its next multistream message), and a reset can overtake the ``na`` we have not read
    yet. ``pipelined`` says whether the request went out behind the proposal (only then is it ambiguous).
    """

    def __init__(self, reason: str, *, pipelined: bool) -> None:
        super().__init__(reason)
        self.pipelined = pipelined


class ByteStream(Protocol):
    """The slice of a Trio stream the exchange needs; ``receive_some`` returns ``b""`` at end of stream."""

    async def receive_some(self, max_bytes: int | None = None) -> bytes: ...

    async def send_all(self, data: bytes) -> None: ...

    async def aclose(self) -> None: ...


class LibraryStream:
    """A library's stream (``read(n)``/``write``/``close``) seen as a ``ByteStream``.

    ``eof`` is the exception the library raises at end of stream (libp2p raises ``StreamEOF`` rather than
    returning ``b""``); ``errors`` become ``trio.BrokenResourceError``.
    """

    def __init__(
        self, stream: Any, *, eof: type[BaseException], errors: tuple[type[BaseException], ...]
    ) -> None:
        self._stream = stream
        self._eof = eof
        self._errors = errors

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            data: bytes = await self._stream.read(max_bytes or _READ_CHUNK)
        except self._eof:
            return b""
        except self._errors as exc:
            raise trio.BrokenResourceError(f"stream failed: {exc!r}") from exc
        return data

    async def send_all(self, data: bytes) -> None:
        try:
            await self._stream.write(data)
        except self._errors as exc:
            raise trio.BrokenResourceError(f"stream failed: {exc!r}") from exc

    async def aclose(self) -> None:
        try:
            await self._stream.close()
        except self._errors as exc:
            log.debug("closing a stream failed: %r", exc)

    async def reset(self) -> None:
        """Abort the stream in both directions (the remote sees a reset, not an end of stream)."""
        try:
            await self._stream.reset()
        except self._errors as exc:
            log.debug("resetting a stream failed: %r", exc)


async def read_frame(stream: ByteStream, max_bytes: int, *, initial: bytes = b"") -> bytes:
    """Read exactly one length-prefixed frame; ``initial`` is its start, already read from ``stream``.

    Raises:
        ProtocolViolation / WireError: bad prefix, oversize frame, or end of stream before a whole frame.
    """
    decoder = FrameDecoder(max_bytes)
    if initial:
        decoder.feed(initial)
    while True:
        frame = decoder.next_frame()
        if frame is not None:
            return frame
        if decoder.at_eof:
            raise ProtocolViolation("stream closed before a complete frame")
        decoder.feed(await stream.receive_some(_READ_CHUNK))


async def client_exchange(stream: ByteStream, payload: bytes, max_response_bytes: int) -> bytes:
    """Send ``payload`` and return the response body.

    Raises:
        RequestFailed: the remote answered with an error reply.
        ProtocolViolation: the reply was malformed or over ``max_response_bytes``.
    """
    await stream.send_all(encode_frame(payload))
    return _reply_body(await read_frame(stream, max_response_bytes + 1))


async def lazy_request(
    stream: LibraryStream,
    protocol: str,
    payload: bytes,
    max_response_bytes: int,
    on_accepted: Callable[[], None],
    closer: trio.Nursery,
) -> bytes:
    """``lazy_client_exchange``; then close ``stream`` in ``closer`` without waiting (the reply is whole),
    or reset it if anything failed. Raises what ``lazy_client_exchange`` raises."""
    try:
        reply = await lazy_client_exchange(
            stream, protocol, payload, max_response_bytes, on_accepted=on_accepted
        )
    except BaseException:
        with trio.CancelScope(shield=True), trio.move_on_after(1.0):
            await stream.reset()
        raise
    try:
        closer.start_soon(_close_within, stream, 1.0)
    except RuntimeError:  # the closer nursery is shutting down: close here, within the same bound
        with trio.CancelScope(shield=True):
            await _close_within(stream, 1.0)
    return reply


async def _close_within(stream: ByteStream, seconds: float) -> None:
    with trio.move_on_after(seconds):
        await stream.aclose()


def _reply_body(frame: bytes) -> bytes:
    ok, body = decode_reply(frame)
    if not ok:
        raise RequestFailed(body.decode("utf-8", "replace")[:200] or "remote error")
    return body


async def lazy_client_exchange(
    stream: ByteStream,
    protocol: str,
    payload: bytes,
    max_response_bytes: int,
    *,
    on_accepted: Callable[[], None] | None = None,
) -> bytes:
    """``client_exchange`` on a raw stream, negotiating ``protocol`` with pipelined multistream-select.

    The header, the protocol line and the request frame go out in one write, then the echoes are checked
    and the reply read: one round trip instead of three. A request frame that a responder refusing the
    protocol could misread as a multistream message (it ends in a newline) is held back until the echo.
    ``on_accepted`` runs once the responder has echoed the protocol.

    Raises:
        ProtocolNotSupported: the responder answered ``na``.
        NegotiationCut: the stream ended or broke before the responder answered the proposal.
        RequestFailed: the remote answered with an error reply.
        ProtocolViolation / WireError: a malformed negotiation or reply, or the stream ended early.
    """
    select = LazySelect(protocol)
    request = encode_frame(payload)
    pipelined = not could_parse_as_message(request)
    try:
        await stream.send_all(select.proposal() + request if pipelined else select.proposal())
        while (state := select.poll()) is Selection.PENDING:
            data = await stream.receive_some(_READ_CHUNK)
            if not data and not select.midway:
                raise NegotiationCut("the stream ended during negotiation", pipelined=pipelined)
            select.feed(data)  # an end of stream inside a message: WireError from poll
    except trio.BrokenResourceError as exc:
        raise NegotiationCut(f"the stream broke during negotiation: {exc}", pipelined=pipelined) from exc
    if state is Selection.REJECTED:
        raise ProtocolNotSupported(f"the peer does not serve {protocol}")
    if on_accepted is not None:
        on_accepted()
    if not pipelined:
        await stream.send_all(request)
    frame = await read_frame(stream, max_response_bytes + 1, initial=select.remainder())
    return _reply_body(frame)


async def serve_exchange(
    stream: ByteStream,
    peer: str,
    handler: Callable[[str, bytes], Awaitable[bytes]],
    limiter: trio.CapacityLimiter,
    config: P2PConfig,
    counters: Counters,
) -> None:
    """Serve one request on ``stream`` and close it. Never raises (a per-stream task boundary)."""
    try:
        with trio.fail_after(config.request_timeout_s):
            try:
                limiter.acquire_nowait()
            except trio.WouldBlock:
                counters.requests_failed += 1
                await stream.send_all(encode_reply(False, b"busy"))
                return
            try:
                request = await read_frame(stream, config.max_request_bytes)
                reply = await _call_handler(handler, peer, request, config, counters)
                await stream.send_all(reply)
            finally:
                limiter.release()
    except trio.TooSlowError:
        counters.requests_failed += 1
        log.info("request from %s timed out", peer)
    except ProtocolViolation as exc:
        counters.requests_failed += 1
        log.info("bad request from %s: %s", peer, exc.reason)
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        counters.requests_failed += 1
        log.info("request stream from %s broke: %r", peer, exc)
    finally:
        with trio.move_on_after(1.0) as scope:
            scope.shield = True
            await stream.aclose()


async def _call_handler(
    handler: Callable[[str, bytes], Awaitable[bytes]],
    peer: str,
    request: bytes,
    config: P2PConfig,
    counters: Counters,
) -> bytes:
    try:
        body: object = await handler(peer, request)
    except RequestFailed as exc:
        counters.requests_failed += 1
        return encode_reply(False, exc.reason.encode("utf-8", "replace")[:200])
    except Exception:  # task boundary: a handler bug must not kill the node
        log.exception("request handler failed for peer %s", peer)
        counters.requests_failed += 1
        return encode_reply(False, b"internal error")
    if not isinstance(body, bytes) or len(body) > config.max_response_bytes:
        log.error("request handler returned a non-bytes or oversize response for peer %s", peer)
        counters.requests_failed += 1
        return encode_reply(False, b"response too large")
    counters.requests_served += 1
    return encode_reply(True, body, max_bytes=config.max_response_bytes)


class Fanout:
    """Per-topic subscriber channels; delivery never blocks (a full channel drops and counts)."""

    def __init__(self, buffer: int, counters: Counters) -> None:
        self._buffer = buffer
        self._counters = counters
        self._subs: dict[str, list[trio.MemorySendChannel[GossipMessage]]] = {}

    def topics(self) -> list[str]:
        return [topic for topic, subs in self._subs.items() if subs]

    def count(self, topic: str) -> int:
        return len(self._subs.get(topic, ()))

    def add(
        self, topic: str
    ) -> tuple[trio.MemorySendChannel[GossipMessage], trio.MemoryReceiveChannel[GossipMessage]]:
        send, receive = trio.open_memory_channel[GossipMessage](self._buffer)
        self._subs.setdefault(topic, []).append(send)
        return send, receive

    def remove(self, topic: str, send: trio.MemorySendChannel[GossipMessage]) -> None:
        subs = self._subs.get(topic, [])
        if send in subs:
            subs.remove(send)
        if not subs:
            self._subs.pop(topic, None)
        send.close()

    def deliver(self, message: GossipMessage) -> None:
        for send in list(self._subs.get(message.topic, ())):
            try:
                send.send_nowait(message)
            except trio.WouldBlock:
                self._counters.subscription_overflows += 1
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.remove(message.topic, send)

    def close_all(self) -> None:
        for topic in list(self._subs):
            for send in list(self._subs.get(topic, ())):
                self.remove(topic, send)
