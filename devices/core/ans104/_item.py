"""The ANS-104 data item: strict parsing, byte-exact serialisation, verification (spec §1).

Layout (little-endian): ``u16 type ‖ signature ‖ owner ‖ presence ‖ [target 32] ‖ presence ‖
[anchor 32] ‖ u64 tag count ‖ u64 tag bytes ‖ Avro tags ‖ data``. The signed message is
``deep_hash(["dataitem", "1", decimal(type), owner, target, anchor, raw tag bytes, data])``.

Rules this parser keeps (stricter than arbundles where arbundles is unsafe, spec §8 A12/A19):

1. Presence bytes must be 0 or 1; a present target or anchor is exactly 32 bytes.
2. The tag-count field must equal the number of decoded tags, always (also when it is 0).
3. The raw tag bytes are kept, so re-serialising reproduces the input byte for byte and the
   signature is checked over the bytes actually received (a lone ``0x00`` for zero tags and
   bytes after the terminator are accepted, and reported by ``strict_issues``).
4. The ID is ``b64url(sha256(signature))``; it says nothing about validity until ``verify``.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from .._b64 import b64u_encode
from .._errors import DecodeError, EncodeError, LimitExceeded, SignatureInvalid
from ._avro import Tag, decode_tags, encode_tags, strict_tag_issues
from ._deephash import Blob, fold_blobs, list_prefix
from ._sigtypes import SIGNATURE_TYPES, signature_problem

DEFAULT_MAX_ITEM_SIZE = 64 * 1024 * 1024
_U64 = struct.Struct("<Q")
_BUNDLE_TAGS = ((b"bundle-format", b"binary"), (b"bundle-version", b"2.0.0"))


def signature_data(
    signature_type: int, owner: bytes, target: bytes, anchor: bytes, tag_bytes: bytes, data: Blob
) -> bytes:
    """The 48-byte deep hash an item's signature covers (spec §1.5)."""
    head = list_prefix(8, b"dataitem", b"1", str(signature_type).encode("ascii"))
    return fold_blobs(head, (owner, target, anchor, tag_bytes, data))


@dataclass(frozen=True)
class DataItem:
    """An ANS-104 data item. ``tag_bytes`` are the Avro bytes exactly as signed.

    Build one with ``parse``, with ``sign_item``, or directly; when ``tag_bytes`` is omitted it is
    the strict canonical encoding of ``tags`` (``EncodeError`` if the tags break ANS-104 limits).
    When given, ``tag_bytes`` must be the Avro encoding of ``tags`` (``parse`` guarantees it).
    """

    signature_type: int
    signature: bytes
    owner: bytes
    target: bytes = b""
    anchor: bytes = b""
    tags: tuple[Tag, ...] = ()
    data: bytes = b""
    tag_bytes: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        st = SIGNATURE_TYPES.get(self.signature_type)
        if st is None:
            raise EncodeError(f"unknown signature type {self.signature_type}")
        if len(self.signature) != st.signature_len:
            raise EncodeError(f"type {st.code} signature must be {st.signature_len} bytes")
        if len(self.owner) != st.owner_len:
            raise EncodeError(f"type {st.code} owner must be {st.owner_len} bytes")
        if len(self.target) not in (0, 32) or len(self.anchor) not in (0, 32):
            raise EncodeError("target and anchor are 32 bytes when present")
        given: object = self.tags
        if not isinstance(given, tuple):  # accept any sequence of pairs; keep a hashable tuple
            object.__setattr__(self, "tags", tuple(self.tags))
        if not self.tag_bytes and self.tags:
            object.__setattr__(self, "tag_bytes", encode_tags(self.tags))

    def __repr__(self) -> str:
        return (
            f"DataItem(id={self.id!r}, type={self.signature_type}, owner={self.owner_address!r}, "
            f"tags={len(self.tags)}, data={len(self.data)} bytes)"
        )

    # -- identity -------------------------------------------------------------------------

    @property
    def raw_id(self) -> bytes:
        """sha256(signature), 32 bytes."""
        return hashlib.sha256(self.signature).digest()

    @property
    def id(self) -> str:
        """The item ID, ``b64url(sha256(signature))``."""
        return b64u_encode(self.raw_id)

    @property
    def owner_address(self) -> str:
        """``b64url(sha256(owner))``, the address gateways index for every signature type."""
        return b64u_encode(hashlib.sha256(self.owner).digest())

    @property
    def signature_type_name(self) -> str:
        return SIGNATURE_TYPES[self.signature_type].name

    def signature_data(self) -> bytes:
        """The deep hash the signature covers."""
        return signature_data(
            self.signature_type, self.owner, self.target, self.anchor, self.tag_bytes, self.data
        )

    def hb_unsigned_raw_id(self) -> bytes:
        """HyperBEAM's unsigned ID (spec §1.2): sha256 of the deep hash with type 1, zero owner."""
        dh = signature_data(1, bytes(512), self.target, self.anchor, self.tag_bytes, self.data)
        return hashlib.sha256(dh).digest()

    @property
    def is_signed(self) -> bool:
        """False for an unsigned item (all-zero signature, as HyperBEAM writes them)."""
        return bool(self.signature.strip(b"\x00"))

    @property
    def is_bundle(self) -> bool:
        """Tagged ``Bundle-Format: binary`` and ``Bundle-Version: 2.0.0`` (names case-insensitive)."""
        have = {(n.lower(), v) for n, v in self.tags}
        return all(t in have for t in _BUNDLE_TAGS)

    def strict_issues(self) -> list[str]:
        """Ways the item breaks the strict ANS-104 tag rules (a weaker status than invalid)."""
        return strict_tag_issues(self.tags, trailing_bytes=decode_tags(self.tag_bytes).trailing_bytes)

    # -- bytes ----------------------------------------------------------------------------

    def serialize(self) -> bytes:
        """The item's bytes; for a parsed item, exactly the bytes that were parsed."""
        parts = [
            self.signature_type.to_bytes(2, "little"),
            self.signature,
            self.owner,
            b"\x01" + self.target if self.target else b"\x00",
            b"\x01" + self.anchor if self.anchor else b"\x00",
            _U64.pack(len(self.tags)),
            _U64.pack(len(self.tag_bytes)),
            self.tag_bytes,
            self.data,
        ]
        return b"".join(parts)

    @classmethod
    def parse(cls, raw: bytes | bytearray | memoryview, *, max_size: int = DEFAULT_MAX_ITEM_SIZE) -> DataItem:
        """Parse one item; the whole buffer is the item (data runs to its end).

        Raises:
            LimitExceeded: the item is larger than ``max_size`` or its tag region exceeds 4096 bytes.
            DecodeError: anything malformed — unknown signature type, truncation, a presence byte
                other than 0/1, a tag-byte length past the end, a malformed Avro region, or a tag
                count that disagrees with the decoded tags. ``offset`` names the byte.
        """
        if isinstance(raw, bytes):
            return _parse(raw, max_size)
        view = memoryview(raw)
        return _parse(view.cast("B") if view.c_contiguous else view.tobytes(), max_size)

    # -- verification ---------------------------------------------------------------------

    def verify_problem(self) -> str | None:
        """Why the signature does not verify, or None when it does."""
        if not self.is_signed:
            return "item is unsigned (all-zero signature)"
        return signature_problem(self.signature_type, self.owner, self.signature_data(), self.signature)

    def verify(self) -> bool:
        """Whether the signature verifies (types 1-4; other types never verify)."""
        return self.verify_problem() is None

    def verify_or_raise(self) -> None:
        """Raises:
        SignatureInvalid: naming what is wrong (signature, owner key, or unverifiable type).
        """
        problem = self.verify_problem()
        if problem is not None:
            raise SignatureInvalid(f"data item {self.id}: {problem}")


def _parse(raw: bytes | memoryview, max_size: int) -> DataItem:
    n = len(raw)
    if n > max_size:
        raise LimitExceeded(f"data item of {n} bytes exceeds the limit of {max_size}")
    if n < 2:
        raise DecodeError("data item truncated: no signature type", offset=n)
    code = raw[0] | raw[1] << 8
    st = SIGNATURE_TYPES.get(code)
    if st is None:
        raise DecodeError(f"unknown signature type {code}", offset=0)
    pos = 2
    if n - pos < st.signature_len:
        raise DecodeError(f"data item truncated inside the signature (type {code})", offset=n)
    signature = bytes(raw[pos : pos + st.signature_len])
    pos += st.signature_len
    if n - pos < st.owner_len:
        raise DecodeError(f"data item truncated inside the owner (type {code})", offset=n)
    owner = bytes(raw[pos : pos + st.owner_len])
    pos += st.owner_len
    target, pos = _optional32(raw, pos, "target")
    anchor, pos = _optional32(raw, pos, "anchor")
    if n - pos < 16:
        raise DecodeError("data item truncated inside the tag count/length header", offset=n)
    (tag_count,) = _U64.unpack_from(raw, pos)
    (tag_len,) = _U64.unpack_from(raw, pos + 8)
    count_at = pos
    pos += 16
    if tag_len > n - pos:
        raise DecodeError(
            f"tag bytes length {tag_len} runs past the end of the item (truncated)", offset=count_at + 8
        )
    tag_bytes = bytes(raw[pos : pos + tag_len])
    decoded = decode_tags(tag_bytes, base_offset=pos)
    if len(decoded.tags) != tag_count:
        raise DecodeError(
            f"tag count mismatch: header {tag_count}, decoded {len(decoded.tags)}", offset=count_at
        )
    pos += tag_len
    data = bytes(raw[pos:])
    return DataItem(code, signature, owner, target, anchor, decoded.tags, data, tag_bytes)


def _optional32(raw: bytes | memoryview, pos: int, what: str) -> tuple[bytes, int]:
    if pos >= len(raw):
        raise DecodeError(f"data item truncated before the {what} presence byte", offset=pos)
    flag = raw[pos]
    if flag == 0:
        return b"", pos + 1
    if flag != 1:
        raise DecodeError(f"{what} presence byte is {flag}, not 0 or 1", offset=pos)
    if len(raw) - pos - 1 < 32:
        raise DecodeError(f"data item truncated inside the 32-byte {what}", offset=len(raw))
    return bytes(raw[pos + 1 : pos + 33]), pos + 33
