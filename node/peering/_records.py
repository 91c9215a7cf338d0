"""The attestation index: which attester said what about (process, slot), kept in the node's store.

Layout (two named indexes of ``LmdbStore``):

* ``att``      ``<process> \\0 <slot:020d> \\0 <attester>`` → canonical CBOR ``{result, hashpath, hardware,
  origin, item, evidence}`` where ``item`` is a self-contained, independently verifiable attestation (a single
  ``sign_attestation`` blob or an ``encode_batched_attestation`` bundle) and ``origin`` the peer that
  published it;
* in the same index, ``\x01seen\x00<item id>`` (SHA-256 of a single attestation, or a batch header id)
  → ``b""``, so a replayed item is dropped however long after ``seen_ttl`` it comes back. Claims and
  the seen marker of one item are written in one durable transaction.

The first statement an attester makes about a slot wins; a different claim for the same slot is an
equivocation and is counted, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

import cbor2

if TYPE_CHECKING:
    from node._store import LmdbStore


@final
@dataclass(frozen=True)
class Record:
    """One attester's verified claim about one (process, slot)."""

    process: str
    slot: int
    attester: str
    result: str
    hashpath: str
    hardware: bool
    origin: str
    item: bytes
    evidence: bytes = b""  # the SNP evidence the statement names (served with the item on catch-up)

    def encode(self) -> bytes:
        return cbor2.dumps(
            {
                "result": self.result,
                "hashpath": self.hashpath,
                "hardware": self.hardware,
                "origin": self.origin,
                "item": self.item,
                "evidence": self.evidence,
            },
            canonical=True,
        )

    @classmethod
    def decode(cls, process: str, slot: int, attester: str, blob: bytes) -> Record:
        obj: Any = cbor2.loads(blob)
        return cls(
            process=process,
            slot=slot,
            attester=attester,
            result=obj["result"],
            hashpath=obj["hashpath"],
            hardware=bool(obj["hardware"]),
            origin=obj["origin"],
            item=obj["item"],
            evidence=obj.get("evidence", b""),
        )


_SEEN = b"\x01seen\x00"


def _prefix(process: str, slot: int) -> bytes:
    return f"{process}\x00{slot:020d}\x00".encode()


@final
class AttestationIndex:
    """Verified attestations by (process, slot, attester); items seen, for replay protection."""

    def __init__(self, store: LmdbStore) -> None:
        self._att = store.index("att")
        self.equivocations = 0

    def seen(self, item_id: str) -> bool:
        return self._att.get(_SEEN + item_id.encode()) is not None

    def add(self, item_id: str, records: list[Record]) -> list[Record]:
        """Store the records of one gossip item (and mark the item seen); returns those that were new."""
        fresh: list[Record] = []
        writes: list[tuple[str | bytes, bytes]] = []
        keys = [_prefix(r.process, r.slot) + r.attester.encode() for r in records]
        for record, key, old in zip(records, keys, self._att.get_many(keys), strict=True):
            if old is not None:
                known = Record.decode(record.process, record.slot, record.attester, old)
                if (known.result, known.hashpath) != (record.result, record.hashpath):
                    self.equivocations += 1
                continue
            writes.append((key, record.encode()))
            fresh.append(record)
        self._att.put_many([*writes, (_SEEN + item_id.encode(), b"")])
        return fresh

    def records(self, process: str, slot: int) -> list[Record]:
        prefix = _prefix(process, slot)
        return [
            Record.decode(process, slot, key[len(prefix) :].decode(), value)
            for key, value in self._att.scan(prefix)
        ]
