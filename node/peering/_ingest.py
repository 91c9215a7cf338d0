"""Verified attestation items into the index, off the event loop, in group commits.

The topic validator runs synchronously inside the p2p backend's delivery path, so it must not wait
for a disk. It verifies an item, then ``offer``s it here: the item is queued (bounded) and counted
as in flight (a second copy arriving meanwhile is a duplicate), and the validator accepts it at once
(it is forwarded). One writer task takes everything queued, builds the index records and writes
them all in one durable transaction (``AttestationIndex.prepare`` encodes on the loop, ``commit``
writes in a worker thread, which then barely needs the GIL); then it
calls the listeners with the claims that were new and wakes whoever waits for a change. When the
queue is full, ``offer`` writes the item on the spot instead: slower, nothing is dropped.

A verified item is therefore forwarded before it is on this node's disk: forwarding acknowledges
nothing to anyone, and an item lost in a crash is fetched again on catch-up. Items the writer has not
taken when the service is cancelled are lost the same way.
"""

from __future__ import annotations

import hashlib
import logging
from operator import itemgetter
from typing import TYPE_CHECKING, final

import trio

from devices.core import b64u_encode
from node._errors import StoreError
from node.peering._records import Record

if TYPE_CHECKING:
    from collections.abc import Callable

    from trio_typing import TaskStatus

    from node.peering._records import AttestationIndex
    from node.peering._verify import VerifiedItem

log = logging.getLogger(__name__)
_ITEM = itemgetter(2)  # Claim.item

def blob_name(blob: bytes) -> str:
    return b64u_encode(hashlib.sha256(blob).digest())


def records_of(item: VerifiedItem, origin: str) -> tuple[list[Record], dict[str, bytes]]:
    """The item's claims as index records, and the blobs (by name) they refer to."""
    blobs: dict[str, bytes] = {}
    if item.batch is not None:
        blobs[item.item_id] = item.batch
    evidence = ""
    if item.evidence:
        evidence = "evidence:" + blob_name(item.evidence)
        blobs[evidence] = item.evidence
    claims = item.claims
    if list(map(_ITEM, claims)).count(None) == len(claims):  # a compact batch: proofs are in the batch
        source = item.item_id
        new = tuple.__new__
        records = [
            new(Record, (st.process, st.slot, st.attester, st.result, st.hashpath, hardware, origin, source,
                         position, evidence if st.evidence is not None else ""))
            for st, hardware, _, position in claims
        ]
        return records, blobs
    records = []
    for claim in claims:
        st = claim.statement
        source, position = item.item_id, claim.position
        if claim.item is not None:
            source, position = blob_name(claim.item), -1
            blobs[source] = claim.item
        named = evidence if st.evidence is not None else ""
        records.append(
            Record(st.process, st.slot, st.attester, st.result, st.hashpath, claim.hardware, origin, source,
                   position, named)
        )
    return records, blobs


@final
class Ingest:
    """The index's single writer (see the module docstring)."""

    def __init__(self, index: AttestationIndex, *, queue: int = 64, group: int = 64) -> None:
        self.index = index
        self.group = group
        self.written_inline = 0
        self._send, self._recv = trio.open_memory_channel[tuple["VerifiedItem", str]](queue)
        self._inflight: set[str] = set()
        self._listeners: list[Callable[[list[Record]], None]] = []
        self._changed = trio.Event()
        self._running = False

    def add_listener(self, listener: Callable[[list[Record]], None]) -> None:
        """Call ``listener(records)`` (it must not block) with every newly indexed claim."""
        self._listeners.append(listener)

    def seen(self, item_id: str) -> bool:
        """Indexed already, or queued to be."""
        return item_id in self._inflight or self.index.seen(item_id)

    async def wait_changed(self) -> None:
        await self._changed.wait()

    def offer(self, item: VerifiedItem, origin: str) -> None:
        """Queue a verified item for the writer, or write it now when the writer is not running or is
        behind by a full queue."""
        if self._running:
            try:
                self._send.send_nowait((item, origin))
            except trio.WouldBlock:
                self.written_inline += 1
            else:
                self._inflight.add(item.item_id)
                return
        self.write_now(item, origin)

    def write_now(self, item: VerifiedItem, origin: str) -> list[Record]:
        """Index one item on the spot (durable when this returns); returns its new records."""
        records, blobs = records_of(item, origin)
        fresh = self.index.add(item.item_id, records, blobs)
        self._tell(fresh)
        self._wake()
        return fresh

    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The writer: until cancelled."""
        self._running = True
        try:
            task_status.started()
            async for first in self._recv:
                taken = [first]
                while len(taken) < self.group:
                    try:
                        taken.append(self._recv.receive_nowait())
                    except trio.WouldBlock:
                        break
                await self._write(taken)
        finally:
            self._running = False

    async def _write(self, taken: list[tuple[VerifiedItem, str]]) -> None:
        entries = []
        for item, origin in taken:
            records, blobs = records_of(item, origin)
            entries.append((item.item_id, records, blobs))
        fresh: list[list[Record]] = []
        prepared = self.index.prepare(entries)  # encoding on the loop; the thread only writes
        try:
            fresh = await trio.to_thread.run_sync(self.index.commit, prepared)
        except StoreError as exc:  # e.g. the store is full: these items are lost here, not the node
            log.error("could not index %d attestation items: %s", len(taken), exc)  # noqa: TRY400 (no trace)
        finally:
            for item, _ in taken:
                self._inflight.discard(item.item_id)
            for records in fresh:
                self._tell(records)
            self._wake()

    def _tell(self, records: list[Record]) -> None:
        """Tell the listeners about newly indexed ``records``."""
        for listener in self._listeners if records else ():
            try:
                listener(records)
            except Exception:  # a listener's fault never stops ingestion
                log.exception("attestation listener failed")

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
