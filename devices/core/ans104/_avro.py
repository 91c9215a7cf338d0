"""ANS-104 tags: the Avro ``array<record {name: bytes, value: bytes}>`` encoding.

Encoding (spec §1.3): nothing at all for zero tags; otherwise one block —
``zigzag(count)``, then ``zigzag(len) ‖ name ‖ zigzag(len) ‖ value`` per tag, then the ``0x00``
terminator. Decoding loops over blocks, accepts Avro's negative (sized) block counts and
ignores bytes after the terminator inside the declared region (arbundles does the same; such
items are flagged as not strictly valid, and never produced here).

Limits: the decoder refuses tag regions over ``MAX_TAG_BYTES`` (4096, the bound arbundles and the
bundlers enforce). The strict ANS-104 limits (≤ 128 tags, names 1-1024 bytes, values 1-3072
bytes) are enforced when *encoding* and reported by ``strict_tag_issues`` when reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._errors import DecodeError, EncodeError, LimitExceeded

if TYPE_CHECKING:
    from collections.abc import Sequence

Tag = tuple[bytes, bytes]

MAX_TAG_BYTES = 4096
MAX_TAGS = 128
MAX_NAME_BYTES = 1024
MAX_VALUE_BYTES = 3072
_MAX_VARINT_BYTES = 10  # a 64-bit zigzag varint never needs more


def _zigzag_varint(n: int) -> bytes:
    z = (n << 1) if n >= 0 else ((-n << 1) - 1)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def encode_tags(tags: Sequence[Tag], *, strict: bool = True) -> bytes:
    """The Avro bytes of ``tags`` (``b""`` for no tags), in the given order.

    Raises:
        EncodeError: a tag is not a pair of byte strings, or (``strict``) breaks an ANS-104 limit:
            more than 128 tags, a name outside 1-1024 bytes, a value outside 1-3072 bytes, or more
            than 4096 encoded bytes.
    """
    if not tags:
        return b""
    if strict and len(tags) > MAX_TAGS:
        raise EncodeError(f"too many tags: {len(tags)} > {MAX_TAGS}")
    parts = [_zigzag_varint(len(tags))]
    for i, tag in enumerate(tags):
        pair: object = tag  # callers may be untyped: check the shape at run time
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise EncodeError(f"tag {i} is not a (name, value) pair")
        name, value = pair
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise EncodeError(f"tag {i}: name and value must be bytes")
        if strict:
            if not 1 <= len(name) <= MAX_NAME_BYTES:
                raise EncodeError(f"tag {i}: name length {len(name)} outside 1..{MAX_NAME_BYTES}")
            if not 1 <= len(value) <= MAX_VALUE_BYTES:
                raise EncodeError(f"tag {i}: value length {len(value)} outside 1..{MAX_VALUE_BYTES}")
        parts += (_zigzag_varint(len(name)), name, _zigzag_varint(len(value)), value)
    parts.append(b"\x00")
    out = b"".join(parts)
    if strict and len(out) > MAX_TAG_BYTES:
        raise EncodeError(f"tag block is {len(out)} bytes, more than {MAX_TAG_BYTES}")
    return out


@dataclass(frozen=True)
class DecodedTags:
    """Tags read from an Avro region, plus what a strict reader should know about the region."""

    tags: tuple[Tag, ...]
    trailing_bytes: int  # bytes after the terminator inside the region (tolerated, flagged)
    sized_blocks: bool  # a negative (sized) block count was used


class _Reader:
    __slots__ = ("base", "buf", "end", "pos")

    def __init__(self, buf: bytes | memoryview, base: int) -> None:
        self.buf = buf
        self.pos = 0
        self.end = len(buf)
        self.base = base

    def varint(self, what: str) -> int:
        start = self.pos
        shift = 0
        z = 0
        while True:
            if self.pos >= self.end:
                raise DecodeError(f"tag bytes truncated inside the {what} varint", offset=self.base + start)
            b = self.buf[self.pos]
            self.pos += 1
            z |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if self.pos - start >= _MAX_VARINT_BYTES:
                raise DecodeError(f"tag {what} varint is too long", offset=self.base + start)
        return (z >> 1) ^ -(z & 1)

    def blob(self, what: str) -> bytes:
        start = self.pos
        n = self.varint(f"{what} length")
        if n < 0:
            raise DecodeError(f"negative tag {what} length {n}", offset=self.base + start)
        if n > self.end - self.pos:
            raise DecodeError(
                f"tag {what} of {n} bytes is truncated: {self.end - self.pos} left", offset=self.base + start
            )
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out


def decode_tags(region: bytes | memoryview, *, base_offset: int = 0) -> DecodedTags:
    """Decode an Avro tag region (``b""`` means no tags); offsets in errors add ``base_offset``.

    Raises:
        LimitExceeded: the region is larger than 4096 bytes.
        DecodeError: the region is malformed (truncated varint or blob, negative length, no
            terminator, or a block claiming more tags than its bytes can hold).
    """
    if len(region) > MAX_TAG_BYTES:
        raise LimitExceeded(f"tag region of {len(region)} bytes exceeds {MAX_TAG_BYTES}", offset=base_offset)
    if not region:
        return DecodedTags((), 0, False)
    r = _Reader(region, base_offset)
    tags: list[Tag] = []
    sized = False
    while True:
        start = r.pos
        count = r.varint("block count")
        if count == 0:
            break
        if count < 0:
            sized = True
            count = -count
            size_at = r.pos
            size = r.varint("block size")
            if size < 0 or size > r.end - r.pos:
                raise DecodeError(
                    f"tag block size {size} does not fit the tag region", offset=base_offset + size_at
                )
        # Every tag needs at least two bytes, which bounds the work before any allocation.
        if count > (r.end - r.pos) // 2:
            raise DecodeError(
                f"tag block claims {count} tags, more than its bytes can hold", offset=base_offset + start
            )
        for _ in range(count):
            name = r.blob("name")
            value = r.blob("value")
            tags.append((name, value))
    return DecodedTags(tuple(tags), r.end - r.pos, sized)


def strict_tag_issues(tags: Sequence[Tag], *, trailing_bytes: int = 0) -> list[str]:
    """Violations of the strict ANS-104 tag rules (empty when the tags are strictly valid)."""
    issues: list[str] = []
    if len(tags) > MAX_TAGS:
        issues.append(f"{len(tags)} tags, more than {MAX_TAGS}")
    for i, (name, value) in enumerate(tags):
        if not 1 <= len(name) <= MAX_NAME_BYTES:
            issues.append(f"tag {i}: name length {len(name)} outside 1..{MAX_NAME_BYTES}")
        if not 1 <= len(value) <= MAX_VALUE_BYTES:
            issues.append(f"tag {i}: value length {len(value)} outside 1..{MAX_VALUE_BYTES}")
    if trailing_bytes:
        issues.append(f"{trailing_bytes} bytes after the tag terminator")
    return issues
