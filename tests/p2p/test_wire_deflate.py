"""Deflated gossip envelopes: ``encode_envelope(..., compress=True)`` wraps a large envelope in
``{"v": 1, "kind": "deflate", "body": zlib(inner)}``; ``decode_envelope`` unwraps it
(inflated, up to ``MAX_INFLATED_BYTES``) and refuses anything but one complete zlib stream of one plain
envelope."""

from __future__ import annotations

import contextlib
import random
import zlib

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2p import EnvelopeTooLarge, WireError
from p2p._wire import (
    COMPRESS_MIN_BYTES,
    MAX_ENVELOPE_BYTES,
    MAX_INFLATED_BYTES,
    Envelope,
    Kind,
    decode,
    encode,
)

FUZZ = settings(max_examples=100, derandomize=True, deadline=None)


def _wrapper(body: object) -> bytes:
    return cbor2.dumps({"v": 1, "kind": "deflate", "body": body}, canonical=True)


def _batch_like(count: int) -> Envelope:
    """Leaves that repeat most of their bytes, as a batch's statements do."""
    leaves = [b"attester:abcdefghijklmnopqrstuvwxyz0123456789-slot:" + str(n).encode() for n in range(count)]
    return Envelope(Kind.ATTESTATION_BATCH, {"header": {"root": b"r" * 32}, "leaves": leaves})


def test_a_large_envelope_goes_out_deflated_and_decodes_to_the_same_envelope() -> None:
    envelope = _batch_like(2000)
    plain = encode(envelope)
    wrapped = encode(envelope, compress=True)
    assert len(wrapped) * 4 < len(plain)
    outer = cbor2.loads(wrapped)
    assert outer["kind"] == "deflate"
    assert zlib.decompress(outer["body"]) == plain  # the inner envelope is the plain encoding
    assert decode(wrapped) == envelope == decode(plain)


def test_small_or_incompressible_envelopes_go_out_as_they_are() -> None:
    small = Envelope(Kind.RESULT_ANNOUNCE, b"x" * (COMPRESS_MIN_BYTES - 40))
    assert encode(small, compress=True) == encode(small)
    noise = Envelope(Kind.ATTESTATION, random.Random(7).randbytes(50_000))
    assert encode(noise, compress=True) == encode(noise)  # deflate would only add bytes
    assert decode(encode(noise, compress=True)) == noise


def test_the_wire_bytes_and_the_inflated_bytes_have_their_own_caps() -> None:
    big = b"\x00" * (MAX_INFLATED_BYTES - 64)  # four times a plain envelope's cap, deflated to a few KiB
    wrapped = encode(Envelope(Kind.ATTESTATION, big), compress=True)
    assert len(wrapped) < MAX_ENVELOPE_BYTES // 32
    assert decode(wrapped).body == big
    with pytest.raises(EnvelopeTooLarge, match="exceeds the 262144-byte cap"):
        encode(Envelope(Kind.ATTESTATION, big))  # not deflated: over the wire cap
    bomb = zlib.compress(b"\x00" * (16 * MAX_INFLATED_BYTES), 9)  # 16 MiB from a few KiB
    assert len(bomb) < MAX_ENVELOPE_BYTES // 8
    with pytest.raises(WireError, match="inflates past the 1048576-byte cap"):
        decode(_wrapper(bomb))
    inner = encode(Envelope(Kind.ATTESTATION, b"\x00" * 2000))
    assert decode(_wrapper(zlib.compress(inner)), max_inflated=2048).body == b"\x00" * 2000
    with pytest.raises(WireError, match="inflates past the 1000-byte cap"):
        decode(_wrapper(zlib.compress(inner)), max_inflated=1000)
    wire = _wrapper(zlib.compress(inner))
    with pytest.raises(WireError, match=f"exceeds the {len(wire) - 1}-byte cap"):
        decode(wire, max_bytes=len(wire) - 1)  # the wire bytes themselves


def test_an_envelope_too_large_even_deflated_is_refused_before_sending() -> None:
    noise = random.Random(3).randbytes(MAX_ENVELOPE_BYTES)
    with pytest.raises(EnvelopeTooLarge, match=r"envelope of \d+ bytes exceeds the 262144-byte cap"):
        encode(Envelope(Kind.ATTESTATION, noise), compress=True)  # deflate does not help: said plainly
    half_noise = noise + b"\x00" * MAX_ENVELOPE_BYTES  # deflates to about half: still over the cap
    with pytest.raises(EnvelopeTooLarge, match=r"envelope of \d+ deflated bytes exceeds the 262144-byte cap"):
        encode(Envelope(Kind.ATTESTATION, half_noise), compress=True)
    with pytest.raises(EnvelopeTooLarge, match="exceeds the 262144-byte cap"):
        encode(Envelope(Kind.ATTESTATION, b"\x00" * MAX_INFLATED_BYTES), compress=True)  # over 1 MiB inflated
    assert issubclass(EnvelopeTooLarge, WireError)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("text", "body must be bytes"),
        ({"a": b""}, "body must be bytes"),
        (b"not zlib at all", "not a zlib stream"),
        (zlib.compress(b"\xa0" * 100)[:-6], "ends inside its zlib stream"),
        (zlib.compress(encode(Envelope(Kind.ATTESTATION, b"ok"))) + b"tail", "bytes after the zlib stream"),
        (
            zlib.compress(_wrapper(zlib.compress(encode(Envelope(Kind.ATTESTATION, b"ok"))))),
            "inside a deflate",
        ),
        (zlib.compress(b"\xa0"), "keys wrong"),
        (zlib.compress(cbor2.dumps({"v": 1, "kind": "attestation", "body": b""})), "canonical"),
        (
            zlib.compress(cbor2.dumps({"body": b"", "kind": "nope", "v": 1}, canonical=True)),
            "unknown envelope kind",
        ),
    ],
)
def test_a_bad_deflate_envelope_is_refused_with_its_reason(body: object, reason: str) -> None:
    with pytest.raises(WireError, match=reason):
        decode(_wrapper(body))


def test_deflate_is_a_wrapper_not_a_kind_callers_encode() -> None:
    with pytest.raises(WireError, match="unknown envelope kind"):
        encode(Envelope("deflate", b"x" * 5000))  # type: ignore[arg-type]
    assert "deflate" not in {kind.value for kind in Kind}


@FUZZ
@given(inner=st.binary(max_size=400), cut=st.integers(0, 64))
def test_fuzz_deflate_bodies_raise_only_wire_error(inner: bytes, cut: int) -> None:
    for body in (zlib.compress(inner), zlib.compress(inner)[cut:], inner):
        with contextlib.suppress(WireError):
            decode(_wrapper(body))
