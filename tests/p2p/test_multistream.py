"""The sans-io multistream-select codec of the lazy request path (``p2p._multistream``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2p import WireError
from p2p._multistream import (
    MAX_MESSAGE_BYTES,
    MULTISTREAM_PROTOCOL,
    LazySelect,
    MessageDecoder,
    Selection,
    could_parse_as_message,
    encode_message,
)
from p2p._wire import encode_frame

PROTO = "/hyperpeer/fetch/1.0.0"
HEADER = encode_message(MULTISTREAM_PROTOCOL)


def test_encode_message_is_length_text_newline() -> None:
    assert HEADER == b"\x13/multistream/1.0.0\n"
    assert encode_message("na") == b"\x03na\n"
    long = "p" * 200  # 201 bytes with the newline: a two-byte varint
    assert encode_message(long) == b"\xc9\x01" + long.encode() + b"\n"


@pytest.mark.parametrize("text", ["", "two\nlines", "x" * MAX_MESSAGE_BYTES])
def test_encode_message_refuses(text: str) -> None:
    with pytest.raises(WireError):
        encode_message(text)


def test_decoder_reads_messages_split_anywhere() -> None:
    data = HEADER + encode_message(PROTO) + b"rest"
    decoder = MessageDecoder()
    got = []
    for i in range(len(data)):
        decoder.feed(data[i : i + 1])
        message = decoder.next_message()
        if message is not None:
            got.append(message)
    assert got == [MULTISTREAM_PROTOCOL, PROTO]
    assert decoder.take_remainder() == b"rest"
    assert decoder.take_remainder() == b""


def drain(decoder: MessageDecoder) -> list[str]:
    messages = []
    while (message := decoder.next_message()) is not None:
        messages.append(message)
    return messages


@pytest.mark.parametrize(
    ("data", "reason", "offset"),
    [
        (b"\x00", "empty multistream message", 0),
        (b"\x80\x00", "non-minimal", 1),
        (b"\x80\x80\x01", "length prefix too long", 0),
        (b"\xff\x7f" + b"x" * 10, "exceeds 1024", 0),
        (b"\x03nax", "without a trailing newline", 0),
        (b"\x03\xff\xfe\n", "not UTF-8", 1),
        (HEADER + b"\x05ab\n\nx", "without a trailing newline", len(HEADER)),
    ],
)
def test_decoder_rejects_malformed(data: bytes, reason: str, offset: int) -> None:
    decoder = MessageDecoder()
    decoder.feed(data)
    with pytest.raises(WireError) as info:
        drain(decoder)
    assert reason in info.value.reason
    assert info.value.offset == offset


def test_decoder_caps_a_declared_length_before_the_body_arrives() -> None:
    decoder = MessageDecoder(max_message_bytes=8)
    decoder.feed(b"\x09")  # nine bytes declared, none sent
    with pytest.raises(WireError, match="exceeds 8"):
        decoder.next_message()


def test_decoder_end_of_stream() -> None:
    decoder = MessageDecoder()
    decoder.feed(b"\x03n")
    assert decoder.next_message() is None
    decoder.feed(b"")
    with pytest.raises(WireError, match="ended inside"):
        decoder.next_message()
    with pytest.raises(WireError, match="after end of stream"):
        decoder.feed(b"a")
    empty = MessageDecoder()
    empty.feed(b"")
    assert empty.at_eof
    assert empty.next_message() is None


def test_lazy_select_accepted_with_remainder() -> None:
    select = LazySelect(PROTO)
    assert select.proposal() == HEADER + encode_message(PROTO)
    assert select.poll() is Selection.PENDING
    select.feed(HEADER)
    assert select.poll() is Selection.PENDING
    assert select.header_seen
    select.feed(encode_message(PROTO) + b"\x02ok")
    assert select.poll() is Selection.ACCEPTED
    assert select.remainder() == b"\x02ok"


def test_lazy_select_rejected() -> None:
    select = LazySelect(PROTO)
    select.feed(HEADER + encode_message("na"))
    assert select.poll() is Selection.REJECTED
    with pytest.raises(WireError):
        select.remainder()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (encode_message("/multistream/2.0.0"), "unexpected multistream header"),
        (HEADER + encode_message("/other/1.0.0"), "unexpected answer"),
        (HEADER + b"\x03nax", "trailing newline"),
        (b"\xff\xff\xff", "prefix too long"),
    ],
)
def test_lazy_select_rejects_a_wrong_answer(answer: bytes, reason: str) -> None:
    select = LazySelect(PROTO)
    select.feed(answer)
    with pytest.raises(WireError, match=reason):
        select.poll()


@pytest.mark.parametrize(("sent", "stage"), [(b"", "multistream header"), (HEADER, "protocol answer")])
def test_lazy_select_end_of_stream_before_the_answer(sent: bytes, stage: str) -> None:
    select = LazySelect(PROTO)
    select.feed(sent)
    select.feed(b"")
    with pytest.raises(WireError, match=f"ended before the {stage}"):
        select.poll()


def test_could_parse_as_message() -> None:
    assert could_parse_as_message(encode_frame(b"ends in a newline\n"))
    assert not could_parse_as_message(encode_frame(b"cbor"))
    assert not could_parse_as_message(encode_frame(b""))  # b"\x00": a responder rejects a zero length


@settings(max_examples=200, derandomize=True)
@given(st.text(min_size=1, max_size=300).filter(lambda t: "\n" not in t), st.binary(max_size=64))
def test_message_round_trip(text: str, tail: bytes) -> None:
    decoder = MessageDecoder()
    decoder.feed(encode_message(text) + tail)
    assert decoder.next_message() == text
    assert decoder.take_remainder() == tail


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=64))
def test_decoder_never_raises_anything_but_wire_error(data: bytes) -> None:
    select = LazySelect(PROTO)
    select.feed(data)
    try:
        select.poll()
        select.feed(b"")
        select.poll()
    except WireError:
        pass
