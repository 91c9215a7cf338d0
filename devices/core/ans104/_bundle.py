"""ANS-104 binary bundles (spec §3.1, §9.4).

    u256 LE N ‖ N x (u256 LE size_i ‖ 32-byte id_i) ‖ item_1 ‖ … ‖ item_N

1. Written little-endian, as the standard says. Read little-endian first; if that reading does
   not fit the buffer, a big-endian reading (HyperBEAM up to Sep 2025) is tried and the bundle
   is marked ``legacy_big_endian``.
2. The sizes must add up exactly to the bytes after the header.
3. A header ID matches when it equals ``sha256(signature)`` or HyperBEAM's unsigned ID (§1.2).
4. A bad member is reported by index; the other members stay usable (``check`` drops only the
   failing ones, unlike ar.io which abandons the whole bundle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from .._b64 import b64u_encode
from .._errors import CoreError, DecodeError, LimitExceeded
from ._item import DEFAULT_MAX_ITEM_SIZE, DataItem

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

DEFAULT_MAX_BUNDLE_ITEMS = 65536
DEFAULT_MAX_BUNDLE_SIZE = 1 << 30
_WORD = 32
_ENTRY = 64


@dataclass(frozen=True)
class BundleEntry:
    """One header entry: where the member's bytes are and the ID the header claims."""

    index: int
    offset: int  # of the member's first byte, from the start of the bundle
    size: int
    header_id: bytes  # 32 raw bytes


@dataclass(frozen=True)
class MemberCheck:
    """The outcome of checking one member: parsed, header ID matched, signature verified."""

    index: int
    ok: bool
    id: str | None  # the member's ID when it parsed
    header_id_kind: Literal["signed", "unsigned", "mismatch", "unparsed"]
    reason: str | None = None


@dataclass(frozen=True)
class Bundle:
    """A parsed bundle header over the raw bytes; members are parsed on demand."""

    raw: bytes = field(repr=False)
    entries: tuple[BundleEntry, ...] = ()
    legacy_big_endian: bool = False

    def __len__(self) -> int:
        return len(self.entries)

    def member_bytes(self, index: int) -> bytes:
        e = self.entries[index]
        return self.raw[e.offset : e.offset + e.size]

    def member(self, index: int, *, max_size: int = DEFAULT_MAX_ITEM_SIZE) -> DataItem:
        """Parse member ``index``.

        Raises:
            DecodeError / LimitExceeded: the member is malformed; the reason names the index and
                the offset is from the start of the bundle.
        """
        e = self.entries[index]
        try:
            return DataItem.parse(memoryview(self.raw)[e.offset : e.offset + e.size], max_size=max_size)
        except LimitExceeded as exc:
            raise LimitExceeded(f"bundle member {index}: {exc.reason}", offset=_shift(exc, e)) from exc
        except DecodeError as exc:
            raise DecodeError(f"bundle member {index}: {exc.reason}", offset=_shift(exc, e)) from exc

    def members(self) -> Iterator[tuple[BundleEntry, DataItem]]:
        """Each entry with its parsed item, in order; raises at the first malformed member."""
        for e in self.entries:
            yield e, self.member(e.index)

    def check(self) -> tuple[MemberCheck, ...]:
        """Parse, match the header ID and verify every member; never raises for bad members."""
        return tuple(self._check(e) for e in self.entries)

    def verify(self) -> bool:
        """True when every member parses, matches its header ID and verifies."""
        return all(c.ok for c in self.check())

    def _check(self, e: BundleEntry) -> MemberCheck:
        try:
            item = self.member(e.index)
        except DecodeError as exc:
            return MemberCheck(e.index, False, None, "unparsed", str(exc))
        if e.header_id == item.raw_id:
            kind: Literal["signed", "unsigned", "mismatch"] = "signed"
        elif e.header_id == item.hb_unsigned_raw_id():
            kind = "unsigned"
        else:
            claimed = b64u_encode(e.header_id)
            reason = f"bundle member {e.index}: header ID {claimed} does not match item {item.id}"
            return MemberCheck(e.index, False, item.id, "mismatch", reason)
        problem = item.verify_problem()
        if problem is not None:
            return MemberCheck(e.index, False, item.id, kind, f"bundle member {e.index}: {problem}")
        return MemberCheck(e.index, True, item.id, kind)


def _shift(exc: CoreError, e: BundleEntry) -> int:
    return e.offset + (exc.offset if exc.offset is not None else 0)


def _read_header(raw: bytes, order: Literal["little", "big"], max_items: int) -> tuple[BundleEntry, ...]:
    n = len(raw)
    if n < _WORD:
        raise DecodeError("bundle truncated: no item count", offset=n)
    count = int.from_bytes(raw[:_WORD], order)
    if count > max_items:
        raise LimitExceeded(f"bundle declares {count} items, more than {max_items}", offset=0)
    header_end = _WORD + count * _ENTRY
    if header_end > n:
        raise DecodeError(f"bundle truncated: header for {count} items needs {header_end} bytes", offset=n)
    entries = []
    offset = header_end
    for i in range(count):
        at = _WORD + i * _ENTRY
        size = int.from_bytes(raw[at : at + _WORD], order)
        if size > n - offset:
            raise DecodeError(f"bundle member {i} size {size} runs past the end (truncated)", offset=at)
        entries.append(BundleEntry(i, offset, size, raw[at + _WORD : at + _ENTRY]))
        offset += size
    if offset != n:
        raise DecodeError(f"bundle has {n - offset} bytes after its last member", offset=offset)
    return tuple(entries)


def parse_bundle(
    raw: bytes | bytearray | memoryview,
    *,
    max_items: int = DEFAULT_MAX_BUNDLE_ITEMS,
    max_size: int = DEFAULT_MAX_BUNDLE_SIZE,
) -> Bundle:
    """Parse a bundle header (members are parsed lazily by ``Bundle.member``/``members``/``check``).

    Raises:
        LimitExceeded: the bundle is larger than ``max_size`` or declares more than ``max_items``.
        DecodeError: the header is truncated, or the sizes do not add up to the buffer, in both the
            little-endian and the legacy big-endian reading (the little-endian reason is given).
    """
    data = bytes(raw)
    if len(data) > max_size:
        raise LimitExceeded(f"bundle of {len(data)} bytes exceeds the limit of {max_size}")
    try:
        return Bundle(data, _read_header(data, "little", max_items))
    except DecodeError as le_error:
        try:
            return Bundle(data, _read_header(data, "big", max_items), legacy_big_endian=True)
        except DecodeError:
            raise le_error from None


def serialize_bundle(
    items: Sequence[DataItem | bytes],
    *,
    byteorder: Literal["little", "big"] = "little",
    unsigned_header_ids: bool = False,
) -> bytes:
    """A binary bundle of ``items``.

    The default is the standard form: little-endian, header ID = ``sha256(signature)`` for signed
    members (an unsigned member, whose signature is all zero, gets HyperBEAM's unsigned ID).
    ``byteorder="big"`` and ``unsigned_header_ids=True`` reproduce HyperBEAM's own bundles (its
    big-endian header and unsigned IDs for every entry) where HB IDs must be matched; never send
    those to gateways or bundlers (spec §8 A1, A2).

    Raises:
        DecodeError: a member given as bytes is not a data item.
    """
    header = [len(items).to_bytes(_WORD, byteorder)]
    bodies = []
    for entry in items:
        item = entry if isinstance(entry, DataItem) else DataItem.parse(entry)
        body = item.serialize() if isinstance(entry, DataItem) else bytes(entry)
        use_unsigned = unsigned_header_ids or not item.is_signed
        header += (
            len(body).to_bytes(_WORD, byteorder),
            item.hb_unsigned_raw_id() if use_unsigned else item.raw_id,
        )
        bodies.append(body)
    return b"".join(header + bodies)
