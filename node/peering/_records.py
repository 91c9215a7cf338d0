"""The attestation index: which attester said what about (process, slot), kept in the node's store.

Layout (one named index ``att`` of ``LmdbStore``):

* ``<process> \\0 <slot:020d> \\0 <attester>`` → CBOR ``[result, hashpath, hardware, origin, source,
  position, evidence]``: the claim, the peer that published it, and where its proof lives: ``source``
  names a stored blob, either the claim's self-contained attestation (``position`` -1: a single
  ``sign_attestation`` blob or an ``encode_batched_attestation`` bundle) or the compact gossip batch it
  came in (``position`` = its leaf index; the bundle is cut from the batch when a peer asks for it);
  ``evidence`` names the stored SNP evidence blob the statement relies on, or is empty;
* ``\\x01blob\\x00<source>`` → the blob, written once however many claims refer to it;
* ``\\x01seen\\x00<item id>`` (SHA-256 of a single attestation, or a batch header id) → ``b""``, so a
  replayed item is dropped however long after ``seen_ttl`` it comes back.

Claims, the blobs they refer to and the seen marker of one item are written in one durable
transaction. The first statement an attester makes about a slot wins; a different claim for the
same slot is an equivocation and is counted, never stored. Records written by earlier versions (a
CBOR map holding the attestation itself) are still read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple, final

import cbor2

from attest import AttestError, BatchHeader, bundle_at
from node._errors import StoreError
from node.peering._errors import PeeringError
from p2p import WireError, decode_envelope

if TYPE_CHECKING:
    from collections.abc import Sequence

    from node._store import IndexTxn, LmdbStore


@final
class Record(NamedTuple):
    """One attester's verified claim about one (process, slot). (A named tuple: one is made per
    statement on every hop, and a frozen dataclass costs several times as much to build.)"""

    process: str
    slot: int
    attester: str
    result: str
    hashpath: str
    hardware: bool
    origin: str
    source: str = ""  # the stored blob holding the claim's proof ("" for records of earlier versions)
    position: int = -1  # the leaf index when ``source`` is a compact batch
    evidence: str = ""  # the stored SNP evidence blob the statement names, when it came with one

    def encode(self) -> bytes:
        return _dumps(self[3:])  # result, hashpath, hardware, origin, source, position, evidence

    @classmethod
    def decode(cls, process: str, slot: int, attester: str, blob: bytes) -> Record:
        obj: Any = cbor2.loads(blob)
        if isinstance(obj, Mapping):  # an earlier version's record, the attestation inline
            claim = (obj["result"], obj["hashpath"], bool(obj["hardware"]), obj["origin"])
            return cls(process, slot, attester, *claim)
        result, hashpath, hardware, origin, source, position, evidence = obj
        claim = (result, hashpath, bool(hardware), origin)
        return cls(process, slot, attester, *claim, source, position, evidence)


@final
@dataclass(frozen=True)
class Prepared:
    """One item's index writes, encoded (``AttestationIndex.prepare``)."""

    seen_key: bytes
    keys: list[bytes]  # the records' keys, values and the records, in the same order
    values: list[bytes]
    records: list[Record]
    blobs: dict[bytes, bytes]


_dumps = cbor2.dumps
_SOURCE = attrgetter("source")
_EVIDENCE = attrgetter("evidence")
_SEEN = b"\x01seen\x00"
_BLOB = b"\x01blob\x00"


def _prefix(process: str, slot: int) -> bytes:
    return f"{process}\x00{slot:020d}\x00".encode()


def _claims_differ(record: Record, stored: bytes) -> bool:
    known = Record.decode(record.process, record.slot, record.attester, stored)
    return (known.result, known.hashpath) != (record.result, record.hashpath)


def _key(record: Record) -> bytes:
    return _prefix(record.process, record.slot) + record.attester.encode()


@final
class AttestationIndex:
    """Verified attestations by (process, slot, attester); items seen, for replay protection."""

    def __init__(self, store: LmdbStore) -> None:
        self._att = store.index("att")
        self.equivocations = 0

    def seen(self, item_id: str) -> bool:
        return self._att.get(_SEEN + item_id.encode()) is not None

    def add(
        self, item_id: str, records: list[Record], blobs: Mapping[str, bytes] | None = None
    ) -> list[Record]:
        """Store the records of one gossip item, the ``blobs`` (by name) that the new ones refer to,
        and mark the item seen, in one durable transaction; returns the records that were new."""
        return self.add_many([(item_id, records, blobs or {})])[0]

    def add_many(self, items: Sequence[tuple[str, list[Record], Mapping[str, bytes]]]) -> list[list[Record]]:
        """``add`` for several items in one durable transaction (a group commit); the new records of each."""
        return self.commit(self.prepare(items))

    @staticmethod
    def prepare(items: Sequence[tuple[str, list[Record], Mapping[str, bytes]]]) -> list[Prepared]:
        """Encode keys and values (pure Python: do it on the event loop) for ``commit``."""
        return [
            Prepared(
                _SEEN + item_id.encode(),
                # ``_key(r)`` and ``r.encode()``, inlined: no Python call per record.
                [f"{r[0]}\x00{r[1]:020d}\x00{r[2]}".encode() for r in records],
                [_dumps(r[3:]) for r in records],
                records,
                {_BLOB + name.encode(): blob for name, blob in blobs.items()},
            )
            for item_id, records, blobs in items
        ]

    def commit(self, prepared: Sequence[Prepared]) -> list[list[Record]]:
        """Write prepared items in one durable transaction (mostly C calls: fit for a worker thread);
        returns the records of each that were new. An attester's first claim about a slot stays; a
        different later one is counted as an equivocation."""

        def write(txn: IndexTxn) -> list[list[Record]]:
            out: list[list[Record]] = []
            for item in prepared:
                keys, values, records = item.keys, item.values, item.records
                stored = txn.found(keys)
                if not stored and len(set(keys)) == len(keys):  # the usual case: every claim is new
                    fresh = list(records)
                    written = txn.put_absent(keys, values)
                else:
                    fresh, new_keys, new_values = [], [], []
                    for key, value, record in zip(keys, values, records, strict=True):
                        old = stored.get(key)
                        if old is None:  # new (the first of the item's claims about its slot wins)
                            stored[key] = value
                            fresh.append(record)
                            new_keys.append(key)
                            new_values.append(value)
                        elif _claims_differ(record, old):
                            self.equivocations += 1
                    written = txn.put_absent(new_keys, new_values)
                if written != len(fresh):  # the write lock is held: nobody else can have written them
                    raise StoreError(f"wrote {written} of {len(fresh)} new attestation records")
                names = set(map(_SOURCE, fresh)).union(map(_EVIDENCE, fresh))
                needed = {_BLOB + name.encode() for name in names if name}
                for key in needed & item.blobs.keys():
                    txn.put(key, item.blobs[key])
                txn.put(item.seen_key, b"")
                out.append(fresh)
            return out

        return self._att.update(write)

    def records(self, process: str, slot: int) -> list[Record]:
        prefix = _prefix(process, slot)
        return [
            Record.decode(process, slot, key[len(prefix) :].decode(), value)
            for key, value in self._att.scan(prefix)
        ]

    def proof(self, record: Record) -> tuple[bytes, bytes]:
        """The record's self-contained, independently verifiable attestation and the SNP evidence it
        names (``b""`` when none): what a peer catching up is served.

        Raises:
            PeeringError: the blobs the record refers to are missing or unreadable.
        """
        if not record.source:  # an earlier version's record: the attestation is in the record itself
            raw = self._att.get(_key(record))
            obj: Any = cbor2.loads(raw) if raw is not None else None
            if not isinstance(obj, Mapping):
                raise PeeringError(f"the record of {record.process}/{record.slot} is gone")
            return bytes(obj["item"]), bytes(obj.get("evidence", b""))
        blob = self._blob(record.source)
        evidence = self._blob(record.evidence) if record.evidence else b""
        if record.position < 0:
            return blob, evidence
        try:
            body = decode_envelope(blob).body
            if not isinstance(body, Mapping):
                raise PeeringError("a stored batch has no map body")
            return bundle_at(body["leaves"], BatchHeader.from_dict(body["header"]), record.position), evidence
        except (WireError, AttestError, KeyError, ValueError) as exc:
            raise PeeringError(f"stored batch {record.source} is unreadable: {exc}") from exc

    def _blob(self, name: str) -> bytes:
        blob = self._att.get(_BLOB + name.encode())
        if blob is None:
            raise PeeringError(f"stored blob {name} is missing")
        return blob
