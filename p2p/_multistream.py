"""Sans-io multistream-select 1.0 for the *initiator* of a stream, in its lazy (pipelined) form.

Never imports trio or libp2p. A multistream message is an unsigned-varint length, then that many bytes: UTF-8
text ending in ``"\\n"`` (the length counts the newline). To open a stream on ``protocol`` an initiator sends
the header ``/multistream/1.0.0`` and the protocol line; the responder echoes the header and then either
echoes the protocol line (accepted) or answers ``na`` (not available).

The lazy initiator does not wait for the echoes before writing: ``LazySelect.proposal()`` is the header and
the protocol line in one buffer, and the caller may send its first application bytes right behind them. It
then feeds whatever it reads to ``feed`` until ``poll`` says ``ACCEPTED`` or ``REJECTED``; bytes read past
the protocol echo are the start of the application's data (``remainder``).

Caveat, inherent in pipelining: when the responder answers ``na`` it reads the pipelined application bytes
as its next multistream message. A libp2p responder then either answers ``na`` again or, when those bytes do
not parse as a message, resets the stream. ``could_parse_as_message`` says whether bytes could be taken for
a multistream message (they end in a newline), so a caller can hold such bytes back until the echo.
"""

from __future__ import annotations

import enum

from p2p._errors import WireError
from p2p._wire import encode_uvarint, length_prefix

MULTISTREAM_PROTOCOL = "/multistream/1.0.0"
NOT_AVAILABLE = "na"
MAX_MESSAGE_BYTES = 1024  # declared length, newline included; protocol IDs are short
_MAX_VARINT_LEN = 2  # enough for MAX_MESSAGE_BYTES


def encode_message(text: str) -> bytes:
    """One multistream message: varint length, UTF-8 ``text``, newline.

    Raises:
        WireError: ``text`` is empty, contains a newline, or the message would exceed ``MAX_MESSAGE_BYTES``.
    """
    if not text:
        raise WireError("an empty multistream message")
    if "\n" in text:
        raise WireError("a multistream message cannot contain a newline")
    body = text.encode("utf-8") + b"\n"
    if len(body) > MAX_MESSAGE_BYTES:
        raise WireError(f"multistream message of {len(body)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return encode_uvarint(len(body)) + body


def could_parse_as_message(data: bytes) -> bool:
    """True if ``data`` (a length-prefixed frame) could be read by a responder as a multistream message."""
    return data.endswith(b"\n")


class MessageDecoder:
    """Incremental decoder of multistream messages: ``feed`` bytes (``b""`` = end of stream), then
    ``next_message`` returns a line without its newline, or ``None`` when more bytes are needed."""

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._max = max_message_bytes
        self._buf = bytearray()
        self._offset = 0  # stream offset of _buf[0]
        self._eof = False

    def feed(self, data: bytes) -> None:
        if not data:
            self._eof = True
        elif self._eof:
            raise WireError("data after end of stream", offset=self._offset + len(self._buf))
        else:
            self._buf += data

    @property
    def at_eof(self) -> bool:
        """True once end of stream was fed and nothing is left buffered."""
        return self._eof and not self._buf

    @property
    def buffered(self) -> int:
        """How many bytes are buffered and not yet returned."""
        return len(self._buf)

    def take_remainder(self) -> bytes:
        """Every buffered byte not yet returned as a message; the decoder is empty afterwards."""
        rest = bytes(self._buf)
        self._offset += len(rest)
        self._buf.clear()
        return rest

    def next_message(self) -> str | None:
        header = self._length()
        if header is None or len(self._buf) < header[0] + header[1]:
            if self._eof and self._buf:
                raise WireError("stream ended inside a multistream message", offset=self._offset)
            return None
        length, prefix = header
        body = bytes(self._buf[prefix : prefix + length])
        if not body.endswith(b"\n"):
            raise WireError("multistream message without a trailing newline", offset=self._offset)
        try:
            text = body[:-1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError("multistream message is not UTF-8", offset=self._offset + prefix) from exc
        del self._buf[: prefix + length]
        self._offset += prefix + length
        return text

    def _length(self) -> tuple[int, int] | None:
        header = length_prefix(
            self._buf,
            cap=self._max,
            offset=self._offset,
            noun="multistream message",
            max_prefix=_MAX_VARINT_LEN,
        )
        if header is not None and header[0] == 0:
            raise WireError("an empty multistream message", offset=self._offset)
        return header


class Selection(enum.Enum):
    """Where a lazy negotiation stands."""

    PENDING = "pending"  # waiting for the header echo or the answer to our protocol
    ACCEPTED = "accepted"  # the responder echoed our protocol
    REJECTED = "rejected"  # the responder answered "na"


class LazySelect:
    """The initiator's side of one pipelined negotiation of ``protocol``.

    Raises (from ``feed``/``poll``):
        WireError: a malformed message, a header other than ``/multistream/1.0.0``, an answer that is
            neither our protocol nor ``na``, or end of stream before the answer.
    """

    def __init__(self, protocol: str, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._proposal = encode_message(MULTISTREAM_PROTOCOL) + encode_message(protocol)
        self._protocol = protocol
        self._decoder = MessageDecoder(max_message_bytes)
        self._header_seen = False
        self._state = Selection.PENDING

    def proposal(self) -> bytes:
        """The bytes to send first: the multistream header and the protocol line."""
        return self._proposal

    @property
    def header_seen(self) -> bool:
        """True once the responder's header arrived (it speaks multistream-select 1.0)."""
        return self._header_seen

    @property
    def midway(self) -> bool:
        """True while part of a message is buffered (an end of stream now would cut a message)."""
        return self._decoder.buffered > 0

    def feed(self, data: bytes) -> None:
        """Bytes read from the stream; ``b""`` at end of stream."""
        self._decoder.feed(data)

    def poll(self) -> Selection:
        """Consume what was fed and say where the negotiation stands."""
        while self._state is Selection.PENDING:
            message = self._decoder.next_message()
            if message is None:
                if self._decoder.at_eof:
                    stage = "the protocol answer" if self._header_seen else "the multistream header"
                    raise WireError(f"stream ended before {stage}")
                break
            if not self._header_seen:
                if message != MULTISTREAM_PROTOCOL:
                    raise WireError(f"unexpected multistream header {message[:64]!r}")
                self._header_seen = True
            elif message == self._protocol:
                self._state = Selection.ACCEPTED
            elif message == NOT_AVAILABLE:
                self._state = Selection.REJECTED
            else:
                raise WireError(f"unexpected answer {message[:64]!r} to protocol {self._protocol!r}")
        return self._state

    def remainder(self) -> bytes:
        """Bytes read past the protocol echo: the start of the responder's application data."""
        if self._state is not Selection.ACCEPTED:
            raise WireError("the protocol was not accepted")
        return self._decoder.take_remainder()
