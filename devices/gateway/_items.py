"""Adapters between the ANS-104 library (``devices.core.ans104``) and the gateway.

* ``record_from_item`` — the ``ItemRecord`` the index stores for a parsed item.
* ``parse_verified_item`` — the default ``parse_item`` of ``GatewayApp``: parse strictly, verify, record.
* ``bundle_members`` — the default ``unbundle`` of ``GatewayApp``: the verified members of a bundle item
  (nested bundles included, to a bounded depth); a failing member is dropped, the rest are kept (§3.1).
* ``verify_item`` — the verifier the gateway client uses on rebuilt item bytes.
"""

from __future__ import annotations

import logging

from devices.core import CoreError
from devices.core.ans104 import DataItem, parse_bundle

from ._record import ItemRecord

log = logging.getLogger(__name__)

MAX_BUNDLE_DEPTH = 3


def record_from_item(item: DataItem, *, raw_size: int, bundled_in: str = "") -> ItemRecord:
    """The index record of ``item``, whose serialized form is ``raw_size`` bytes long."""
    return ItemRecord(
        id=item.id,
        signature=item.signature,
        signature_type=item.signature_type,
        owner=item.owner,
        target=item.target,
        anchor=item.anchor,
        tags=tuple((bytes(n), bytes(v)) for n, v in item.tags),
        data_size=len(item.data),
        data_offset=raw_size - len(item.data),
        bundled_in=bundled_in,
        owner_address=item.owner_address,
    )


def verify_item(raw: bytes) -> DataItem:
    """Parse and verify one data item.

    Raises:
        DecodeError, LimitExceeded: the bytes are not a well-formed item.
        SignatureInvalid: the item does not verify (the reason names why).
    """
    item = DataItem.parse(raw)
    item.verify_or_raise()
    return item


def parse_verified_item(raw: bytes) -> ItemRecord:
    """``verify_item`` then ``record_from_item``. Raises: as ``verify_item``."""
    return record_from_item(verify_item(raw), raw_size=len(raw))


def bundle_members(raw: bytes, record: ItemRecord, *, depth: int = 0) -> list[tuple[ItemRecord, bytes]]:
    """Records and bytes of the verified members of a bundle item; ``[]`` when it is not a bundle."""
    if depth >= MAX_BUNDLE_DEPTH:
        return []
    have = {(n.lower(), v) for n, v in record.tags}
    if not {(b"bundle-format", b"binary"), (b"bundle-version", b"2.0.0")} <= have:
        return []
    try:
        bundle = parse_bundle(raw[record.data_offset :])
    except CoreError as exc:
        log.info("item %s is tagged as a bundle but its data is not one: %s", record.id, exc)
        return []
    out: list[tuple[ItemRecord, bytes]] = []
    for check in bundle.check():
        if not check.ok:
            log.info("bundle %s: dropping member %d: %s", record.id, check.index, check.reason)
            continue
        member_raw = bundle.member_bytes(check.index)
        member = record_from_item(bundle.member(check.index), raw_size=len(member_raw), bundled_in=record.id)
        out.append((member, member_raw))
        out.extend(bundle_members(member_raw, member, depth=depth + 1))
    return out
