"""Sans-io codecs for hyperpeer's peer-to-peer wire formats. Never imports trio or libp2p.

Three layers, each pure bytes in / values out:

1. **Gossip envelope** — canonical CBOR map ``{"v": 1, "kind": <Kind>, "body": bytes | map}``.
   ``encode_envelope(envelope)`` and ``decode_envelope(data)`` (also ``encode``/``decode``). With
   ``compress=True`` a large envelope goes out wrapped: ``{"v": 1, "kind": "deflate", "body": zlib(inner
   envelope)}``; ``decode_envelope`` unwraps it (the inflated envelope capped at ``MAX_INFLATED_BYTES``, the
   wire bytes still at ``MAX_ENVELOPE_BYTES``) and returns the inner envelope.
2. **Fetch frames** (carried as request/response payloads) — ``{"op": "get", "what": <What>, "id": str |
   bytes}`` and ``{"status": int, "body": bytes | map}``, canonical CBOR.
3. **Stream framing** — every request and reply on a stream is an unsigned-varint length prefix plus that
   many bytes (``encode_frame`` / ``FrameDecoder``); a reply's first byte says ok (0) or error (1).

Rules: decoding accepts exactly one canonical encoding (definite lengths, sorted keys, no duplicate keys,
no trailing bytes, no tags, no floats) of exactly the documented keys; anything else — and anything over the
cap — raises ``WireError`` with a reason, and nothing else escapes.
"""

from __future__ import annotations

import enum
import io
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from p2p._errors import EnvelopeTooLarge, WireError

WIRE_VERSION = 1
MAX_ENVELOPE_BYTES = 256 * 1024
MAX_FRAME_BYTES = 16 * 1024 * 1024
MAX_ID_LEN = 256
_MAX_DEPTH = 16
_MAX_VARINT_LEN = 9  # values < 2**63
#: What a ``deflate`` envelope may inflate to. The wire cap (``MAX_ENVELOPE_BYTES``) still holds for
#: the deflated bytes; this one bounds a receiver's memory per message.
MAX_INFLATED_BYTES = 1024 * 1024
#: Envelopes shorter than this are sent as they are: deflate saves too little on them.
COMPRESS_MIN_BYTES = 1024
# zlib level 1: on a batch of 1,024 statements (184-216 KiB) it gives nearly level 6's size (2.7-4x
# smaller) at under half its CPU (1.3-2.8 ms to compress, 0.4-0.6 ms to inflate, this 2-core machine).
_DEFLATE_LEVEL = 1
_DEFLATE = "deflate"  # the wrapper's kind: not a ``Kind``, never handed to callers

Body = bytes | Mapping[str, Any]


class Kind(enum.StrEnum):
    """Gossip envelope kinds."""

    ATTESTATION = "attestation"
    ATTESTATION_BATCH = "attestation-batch"
    RESULT_ANNOUNCE = "result-announce"


class What(enum.StrEnum):
    """What a fetch request asks for."""

    RESULT = "result"
    MESSAGE = "message"
    ATTESTATION = "attestation"


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded gossip envelope; ``body`` is opaque at this layer."""

    kind: Kind
    body: Body
    v: int = WIRE_VERSION


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """``{op: get, what, id}``."""

    what: What
    id: str | bytes


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """``{status, body}``; ``status`` follows HTTP (200 found, 404 not found, ...)."""

    status: int
    body: Body


# -- canonical CBOR ---------------------------------------------------------------------------


def _check_value(value: object, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise WireError("value nested too deeply")
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**64) <= value < 2**64:
        raise WireError("integer outside the CBOR 64-bit range (bignum tags are not allowed)")
    if value is None or isinstance(value, bool | int | str | bytes):
        return
    if isinstance(value, list):
        if depth < _MAX_DEPTH and all(type(item) is bytes for item in value):  # e.g. a batch's leaves
            return
        for item in value:
            _check_value(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise WireError("map keys must be text strings")
            _check_value(item, depth + 1)
        return
    raise WireError(f"unsupported value type {type(value).__name__}")


def _dumps(value: Mapping[str, Any]) -> bytes:
    _check_value(dict(value), 0)
    try:
        return cbor2.dumps(dict(value), canonical=True)
    except (cbor2.CBOREncodeError, ValueError, TypeError, OverflowError) as exc:
        raise WireError(f"cannot encode: {exc}") from exc


def _loads_map(data: bytes, cap: int, what: str) -> dict[str, Any]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError(f"{what} must be bytes")
    data = bytes(data)
    if len(data) > cap:
        raise WireError(f"{what} of {len(data)} bytes exceeds the {cap}-byte cap", offset=cap)
    if not data:
        raise WireError(f"empty {what}", offset=0)
    fp = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(
            fp, max_depth=_MAX_DEPTH, allow_indefinite=False, allow_duplicate_keys=False
        )
        value = decoder.decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError, LookupError) as exc:
        raise WireError(f"malformed CBOR: {exc}", offset=fp.tell()) from exc
    end = fp.tell()
    if end != len(data):
        raise WireError("trailing bytes after the CBOR item", offset=end)
    if not isinstance(value, dict):
        raise WireError(f"{what} must be a CBOR map", offset=0)
    _check_value(value, 0)
    try:
        canonical = cbor2.dumps(value, canonical=True)
    except (cbor2.CBOREncodeError, ValueError, TypeError, OverflowError) as exc:
        raise WireError(f"cannot re-encode: {exc}") from exc
    if canonical != data:
        raise WireError(f"{what} is not canonical CBOR", offset=_first_diff(canonical, data))
    return value


def _first_diff(a: bytes, b: bytes) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def _exact_keys(value: Mapping[str, Any], keys: frozenset[str], what: str) -> None:
    if value.keys() != keys:
        extra = sorted(value.keys() - keys)
        missing = sorted(keys - value.keys())
        raise WireError(f"{what} keys wrong: missing {missing}, unexpected {extra}")


def _body(value: object, what: str) -> Body:
    if isinstance(value, bytes | dict):
        return value
    raise WireError(f"{what} body must be bytes or a map, not {type(value).__name__}")


# -- gossip envelope --------------------------------------------------------------------------

_ENVELOPE_KEYS = frozenset({"v", "kind", "body"})


def encode_envelope(
    envelope: Envelope,
    *,
    max_bytes: int = MAX_ENVELOPE_BYTES,
    compress: bool = False,
    max_inflated: int = MAX_INFLATED_BYTES,
) -> bytes:
    """Canonical CBOR of ``envelope``, at most ``max_bytes`` long. With ``compress``, an envelope of at
    least ``COMPRESS_MIN_BYTES`` (and at most ``max_inflated``) goes out wrapped in a ``deflate``
    envelope when that is smaller.

    Raises:
        WireError: unknown kind, unsupported body value, or no form of the envelope within the caps
            (``EnvelopeTooLarge``).
    """
    if envelope.v != WIRE_VERSION:
        raise WireError(f"unsupported envelope version {envelope.v}")
    kind = Kind(envelope.kind) if envelope.kind in Kind._value2member_map_ else None
    if kind is None:
        raise WireError(f"unknown envelope kind {envelope.kind!r}")
    data = _dumps({"v": envelope.v, "kind": kind.value, "body": _body(envelope.body, "envelope")})
    form = ""
    if compress and COMPRESS_MIN_BYTES <= len(data) <= max_inflated:
        wrapped = _dumps({"v": WIRE_VERSION, "kind": _DEFLATE, "body": zlib.compress(data, _DEFLATE_LEVEL)})
        if len(wrapped) < len(data):
            data, form = wrapped, " deflated"
    if len(data) > max_bytes:
        raise EnvelopeTooLarge(f"envelope of {len(data)}{form} bytes exceeds the {max_bytes}-byte cap")
    return data


def decode_envelope(
    data: bytes, *, max_bytes: int = MAX_ENVELOPE_BYTES, max_inflated: int = MAX_INFLATED_BYTES
) -> Envelope:
    """Parse one gossip envelope of at most ``max_bytes``, unwrapping a ``deflate`` one (it may inflate
    to ``max_inflated`` bytes, and not to another ``deflate``).

    Raises:
        WireError: malformed, non-canonical, oversize, unknown version or kind, or wrong keys; a
            ``deflate`` body that is not one complete zlib stream.
    """
    value = _envelope_map(data, max_bytes)
    if value["kind"] == _DEFLATE:
        value = _envelope_map(_inflate(value["body"], max_inflated), max_inflated)
        if value["kind"] == _DEFLATE:
            raise WireError("a deflate envelope inside a deflate envelope")
    return Envelope(kind=Kind(value["kind"]), body=_body(value["body"], "envelope"), v=value["v"])


def _envelope_map(data: bytes, max_bytes: int) -> dict[str, Any]:
    value = _loads_map(data, max_bytes, "envelope")
    _exact_keys(value, _ENVELOPE_KEYS, "envelope")
    version = value["v"]
    if type(version) is not int or version != WIRE_VERSION:
        raise WireError(f"unsupported envelope version {version!r}")
    kind = value["kind"]
    if not isinstance(kind, str) or (kind not in Kind._value2member_map_ and kind != _DEFLATE):
        raise WireError(f"unknown envelope kind {kind!r}")
    return value


def _inflate(body: object, max_bytes: int) -> bytes:
    """The one zlib stream ``body`` is, inflated; never more than ``max_bytes`` of it is produced."""
    if not isinstance(body, bytes):
        raise WireError("a deflate envelope's body must be bytes")
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise WireError(f"deflate body is not a zlib stream: {exc}") from exc
    if len(data) > max_bytes:
        raise WireError(f"a deflate envelope inflates past the {max_bytes}-byte cap")
    if not inflater.eof:
        raise WireError("deflate body ends inside its zlib stream")
    if inflater.unused_data:
        raise WireError("bytes after the zlib stream in a deflate body")
    return data


#: Short names for the envelope codec.
encode = encode_envelope
decode = decode_envelope


# -- fetch frames -----------------------------------------------------------------------------

_REQUEST_KEYS = frozenset({"op", "what", "id"})
_RESPONSE_KEYS = frozenset({"status", "body"})


def _check_id(ident: object) -> str | bytes:
    if not isinstance(ident, str | bytes):
        raise WireError(f"id must be text or bytes, not {type(ident).__name__}")
    if not 0 < len(ident) <= MAX_ID_LEN:
        raise WireError(f"id length {len(ident)} not in 1..{MAX_ID_LEN}")
    return ident


def encode_request(request: FetchRequest) -> bytes:
    """Canonical CBOR of a fetch request. Raises ``WireError`` for an unknown ``what`` or a bad id."""
    if request.what not in What._value2member_map_:
        raise WireError(f"unknown fetch target {request.what!r}")
    return _dumps({"op": "get", "what": What(request.what).value, "id": _check_id(request.id)})


def decode_request(data: bytes, *, max_bytes: int = 4096) -> FetchRequest:
    """Parse a fetch request. Raises ``WireError`` for anything but ``{op: get, what, id}``."""
    value = _loads_map(data, max_bytes, "fetch request")
    _exact_keys(value, _REQUEST_KEYS, "fetch request")
    if value["op"] != "get":
        raise WireError(f"unknown fetch op {value['op']!r}")
    what = value["what"]
    if not isinstance(what, str) or what not in What._value2member_map_:
        raise WireError(f"unknown fetch target {what!r}")
    return FetchRequest(what=What(what), id=_check_id(value["id"]))


def _check_status(status: object) -> int:
    if type(status) is not int or not 100 <= status <= 599:
        raise WireError(f"status {status!r} is not an integer in 100..599")
    return status


def encode_response(response: FetchResponse, *, max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """Canonical CBOR of a fetch response. Raises ``WireError`` for a bad status, body or size."""
    data = _dumps({"status": _check_status(response.status), "body": _body(response.body, "response")})
    if len(data) > max_bytes:
        raise WireError(f"response of {len(data)} bytes exceeds the {max_bytes}-byte cap")
    return data


def decode_response(data: bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> FetchResponse:
    """Parse a fetch response. Raises ``WireError`` for anything but ``{status, body}``."""
    value = _loads_map(data, max_bytes, "fetch response")
    _exact_keys(value, _RESPONSE_KEYS, "fetch response")
    return FetchResponse(status=_check_status(value["status"]), body=_body(value["body"], "response"))


# -- stream framing ---------------------------------------------------------------------------

REPLY_OK = 0
REPLY_ERROR = 1


def encode_uvarint(value: int) -> bytes:
    """Unsigned LEB128 of ``value`` (``0 <= value < 2**63``)."""
    if not 0 <= value < 1 << 63:
        raise WireError(f"varint value {value} out of range")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_frame(payload: bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """Length-prefixed frame. Raises ``WireError`` when ``payload`` exceeds ``max_bytes``."""
    if len(payload) > max_bytes:
        raise WireError(f"frame of {len(payload)} bytes exceeds the {max_bytes}-byte cap")
    return encode_uvarint(len(payload)) + payload


def encode_reply(ok: bool, body: bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """A reply frame: status byte (``REPLY_OK``/``REPLY_ERROR``) then the body."""
    return encode_frame(bytes([REPLY_OK if ok else REPLY_ERROR]) + body, max_bytes=max_bytes + 1)


def decode_reply(frame: bytes) -> tuple[bool, bytes]:
    """Split a reply frame into ``(ok, body)``. Raises ``WireError`` for an empty frame or unknown status."""
    if not frame:
        raise WireError("empty reply frame", offset=0)
    if frame[0] not in (REPLY_OK, REPLY_ERROR):
        raise WireError(f"unknown reply status {frame[0]}", offset=0)
    return frame[0] == REPLY_OK, frame[1:]


def length_prefix(
    buf: bytes | bytearray, *, cap: int, offset: int, noun: str, max_prefix: int = _MAX_VARINT_LEN
) -> tuple[int, int] | None:
    """The uvarint length at the start of ``buf`` and the prefix's size, or None while it is incomplete.

    Raises:
        WireError: a non-minimal prefix, one longer than ``max_prefix`` bytes, or a length over ``cap``
            (``offset``: where ``buf`` starts in the stream; ``noun`` names the thing in the message).
    """
    value = 0
    for i, byte in enumerate(buf[:max_prefix]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if i > 0 and byte == 0:
                raise WireError(f"non-minimal {noun} length", offset=offset + i)
            if value > cap:
                raise WireError(f"{noun} of {value} bytes exceeds {cap}, the cap", offset=offset)
            return value, i + 1
    if len(buf) >= max_prefix:
        raise WireError(f"{noun} length prefix too long", offset=offset)
    return None


class FrameDecoder:
    """Incremental decoder for length-prefixed frames (h11 style: ``feed`` then ``next_frame``).

    ``next_frame()`` returns a complete frame or ``None`` when more bytes are needed; ``feed(b"")``
    signals end of stream, after which a partial frame raises ``WireError``.
    """

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._max = max_frame_bytes
        self._buf = bytearray()
        self._consumed = 0  # bytes of the stream already returned as frames
        self._eof = False

    def feed(self, data: bytes) -> None:
        if self._eof and data:
            raise WireError("data after end of stream", offset=self._consumed + len(self._buf))
        if not data:
            self._eof = True
            return
        self._buf += data
        # Reject an oversize length as soon as the prefix is readable, before buffering the body.
        self._peek_length()

    def _peek_length(self) -> tuple[int, int] | None:
        return length_prefix(self._buf, cap=self._max, offset=self._consumed, noun="frame")

    def next_frame(self) -> bytes | None:
        header = self._peek_length()
        if header is None or len(self._buf) < header[0] + header[1]:
            if self._eof and self._buf:
                raise WireError("stream ended inside a frame", offset=self._consumed + len(self._buf))
            return None
        length, prefix = header
        frame = bytes(self._buf[prefix : prefix + length])
        del self._buf[: prefix + length]
        self._consumed += prefix + length
        return frame

    @property
    def at_eof(self) -> bool:
        """True once end of stream was fed and every buffered frame was returned."""
        return self._eof and not self._buf
