"""The sans-io codec: round trips, strictness, framing, and the fuzz invariant (only WireError escapes)."""

from __future__ import annotations

import contextlib

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2p import P2PError, ProtocolViolation, WireError
from p2p._wire import (
    MAX_ENVELOPE_BYTES,
    Envelope,
    FetchRequest,
    FetchResponse,
    FrameDecoder,
    Kind,
    What,
    decode,
    decode_reply,
    decode_request,
    decode_response,
    encode,
    encode_frame,
    encode_reply,
    encode_request,
    encode_response,
    encode_uvarint,
)

FUZZ = settings(max_examples=100, derandomize=True, deadline=None)

leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=40)
)
values = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
bodies = st.binary(max_size=200) | st.dictionaries(st.text(max_size=8), values, max_size=5)


def test_error_tree() -> None:
    assert issubclass(WireError, ProtocolViolation)
    assert issubclass(WireError, P2PError)
    err = WireError("bad", offset=3)
    assert err.reason == "bad"
    assert err.offset == 3
    assert "byte 3" in str(err)


@FUZZ
@given(kind=st.sampled_from(list(Kind)), body=bodies)
def test_envelope_round_trip(kind: Kind, body: object) -> None:
    env = Envelope(kind=kind, body=body)  # type: ignore[arg-type]
    data = encode(env)
    assert decode(data) == env
    assert encode(decode(data)) == data  # canonical: one encoding per value


def test_envelope_is_canonical_cbor_with_exact_keys() -> None:
    data = encode(Envelope(Kind.ATTESTATION, {"b": 1, "a": b"x"}))
    assert data == cbor2.dumps({"v": 1, "kind": "attestation", "body": {"a": b"x", "b": 1}}, canonical=True)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"v": 2, "kind": "attestation", "body": b""}, "version"),
        ({"v": 1, "kind": "gossip", "body": b""}, "kind"),
        ({"v": 1, "kind": "attestation"}, "keys"),
        ({"v": 1, "kind": "attestation", "body": b"", "extra": 1}, "keys"),
        ({"v": 1, "kind": "attestation", "body": 5}, "body"),
        ({"v": True, "kind": "attestation", "body": b""}, "version"),
        ([1, 2], "map"),
    ],
)
def test_envelope_rejects_bad_structure(value: object, reason: str) -> None:
    with pytest.raises(WireError, match=reason):
        decode(cbor2.dumps(value, canonical=True))


def test_envelope_rejects_non_canonical_trailing_tags_floats_and_oversize() -> None:
    good = encode(Envelope(Kind.RESULT_ANNOUNCE, b"id"))
    with pytest.raises(WireError, match="trailing"):
        decode(good + b"\x00")
    unsorted = cbor2.dumps({"v": 1, "kind": "result-announce", "body": b"id"})  # insertion order
    with pytest.raises(WireError, match="canonical") as info:
        decode(unsorted)
    assert info.value.offset is not None
    with pytest.raises(WireError, match="unsupported value"):
        decode(cbor2.dumps({"v": 1, "kind": "attestation", "body": {"t": 1.5}}, canonical=True))
    tagged = cbor2.dumps({"v": 1, "kind": "attestation", "body": {"t": cbor2.CBORTag(1, 5)}}, canonical=True)
    with pytest.raises(WireError):
        decode(tagged)
    with pytest.raises(WireError, match="cap"):
        decode(b"\xa0" * (MAX_ENVELOPE_BYTES + 1))
    with pytest.raises(WireError, match="cap"):
        encode(Envelope(Kind.ATTESTATION, b"x" * MAX_ENVELOPE_BYTES))
    with pytest.raises(WireError, match="empty"):
        decode(b"")
    with pytest.raises(WireError, match="malformed"):
        decode(bytes.fromhex("a2617601617601"))  # {"v": 1, "v": 1}: duplicate key


def test_bignums_are_refused_both_ways() -> None:
    with pytest.raises(WireError, match="64-bit"):
        encode(Envelope(Kind.ATTESTATION, {"n": 2**64}))
    tagged = cbor2.dumps({"body": {"n": -(2**64) - 1}, "kind": "attestation", "v": 1}, canonical=True)
    with pytest.raises(WireError, match="64-bit"):
        decode(tagged)
    edge = {"hi": 2**64 - 1, "lo": -(2**64)}
    assert decode(encode(Envelope(Kind.ATTESTATION, edge))).body == edge


def test_encode_refuses_unknown_kind_and_body() -> None:
    with pytest.raises(WireError, match="kind"):
        encode(Envelope("nope", b""))  # type: ignore[arg-type]
    with pytest.raises(WireError, match="unsupported"):
        encode(Envelope(Kind.ATTESTATION, {"x": 1.0}))


@FUZZ
@given(
    what=st.sampled_from(list(What)),
    ident=st.text(min_size=1, max_size=64) | st.binary(min_size=1, max_size=64),
)
def test_fetch_request_round_trip(what: What, ident: str | bytes) -> None:
    req = FetchRequest(what, ident)
    assert decode_request(encode_request(req)) == req


@FUZZ
@given(status=st.integers(100, 599), body=bodies)
def test_fetch_response_round_trip(status: int, body: object) -> None:
    resp = FetchResponse(status, body)  # type: ignore[arg-type]
    assert decode_response(encode_response(resp)) == resp


@pytest.mark.parametrize(
    "value",
    [
        {"op": "put", "what": "result", "id": "x"},
        {"op": "get", "what": "blob", "id": "x"},
        {"op": "get", "what": "result", "id": ""},
        {"op": "get", "what": "result", "id": 7},
        {"op": "get", "what": "result"},
        {"op": "get", "what": "result", "id": "x" * 300},
    ],
)
def test_fetch_request_rejects(value: dict[str, object]) -> None:
    with pytest.raises(WireError):
        decode_request(cbor2.dumps(value, canonical=True))


@pytest.mark.parametrize(
    "value", [{"status": 99, "body": b""}, {"status": "200", "body": b""}, {"status": 200}]
)
def test_fetch_response_rejects(value: dict[str, object]) -> None:
    with pytest.raises(WireError):
        decode_response(cbor2.dumps(value, canonical=True))


@FUZZ
@given(payloads=st.lists(st.binary(max_size=300), max_size=6), chunk=st.integers(1, 50))
def test_frames_round_trip_in_any_chunking(payloads: list[bytes], chunk: int) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    dec = FrameDecoder(1000)
    out: list[bytes] = []
    for i in range(0, len(stream), chunk):
        dec.feed(stream[i : i + chunk])
        while (frame := dec.next_frame()) is not None:
            out.append(frame)
    dec.feed(b"")
    assert dec.next_frame() is None
    assert dec.at_eof
    assert out == payloads


def test_frame_decoder_limits() -> None:
    dec = FrameDecoder(10)
    with pytest.raises(WireError, match="cap"):
        dec.feed(encode_uvarint(11))
    dec = FrameDecoder(10)
    with pytest.raises(WireError, match="non-minimal"):
        dec.feed(b"\x85\x00")
    dec = FrameDecoder(2**40)
    with pytest.raises(WireError, match="too long"):
        dec.feed(b"\xff" * 9)
    dec = FrameDecoder(10)
    dec.feed(b"\x05ab")
    assert dec.next_frame() is None
    dec.feed(b"")
    with pytest.raises(WireError, match="inside a frame"):
        dec.next_frame()
    with pytest.raises(WireError, match="after end"):
        dec.feed(b"x")
    with pytest.raises(WireError, match="cap"):
        encode_frame(b"x" * 11, max_bytes=10)
    with pytest.raises(WireError):
        encode_uvarint(-1)


def test_reply_frames() -> None:
    dec = FrameDecoder()
    dec.feed(encode_reply(True, b"body") + encode_reply(False, b"why"))
    assert decode_reply(dec.next_frame() or b"") == (True, b"body")
    assert decode_reply(dec.next_frame() or b"") == (False, b"why")
    with pytest.raises(WireError, match="status"):
        decode_reply(b"\x07x")
    with pytest.raises(WireError, match="empty"):
        decode_reply(b"")


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_decoders_raise_only_wire_error(data: bytes) -> None:
    for fn in (decode, decode_request, decode_response, decode_reply):
        with contextlib.suppress(WireError):
            fn(data)
    dec = FrameDecoder(100)
    try:
        dec.feed(data)
        while dec.next_frame() is not None:
            pass
        dec.feed(b"")
        dec.next_frame()
    except WireError:
        pass


@FUZZ
@given(value=values)
def test_fuzz_decoders_on_valid_cbor_raise_only_wire_error(value: object) -> None:
    data = cbor2.dumps(value)
    for fn in (decode, decode_request, decode_response):
        with contextlib.suppress(WireError):
            fn(data)
    wrapped = cbor2.dumps({"v": 1, "kind": "attestation", "body": value})
    with contextlib.suppress(WireError):
        decode(wrapped)
