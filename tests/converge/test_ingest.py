"""The index writer: verified items are queued and written in group commits off the event loop;
a full queue writes inline (nothing dropped); copies in flight count as seen; listeners hear only
new claims; a failing store loses the items it could not write, never the writer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import trio

from attest import Statement
from node._errors import StoreError
from node._store import LmdbStore
from node.peering._ingest import Ingest
from node.peering._records import AttestationIndex, Record
from node.peering._verify import Claim, VerifiedItem

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PROCESS = "P" * 43


def item(n: int, attester: str = "A" * 43, result: str = "") -> VerifiedItem:
    st = Statement(PROCESS, n, result or f"R{n:042d}", f"H{n}", ("d@1.0",), attester)
    claim = Claim(st, False, item=b"blob-%d" % n)
    return VerifiedItem(f"item-{n}-{attester[0]}-{result}", attester, (claim,))


class CountingIndex(AttestationIndex):
    def __init__(self, store: LmdbStore) -> None:
        super().__init__(store)
        self.groups: list[int] = []
        self.fail = False

    def commit(self, prepared: Any) -> list[list[Record]]:
        if self.fail:
            raise StoreError("store is full")
        self.groups.append(len(prepared))
        return super().commit(prepared)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[CountingIndex]:
    with LmdbStore(tmp_path / "db", map_size_bytes=1 << 26) as store:
        yield CountingIndex(store)


async def test_items_offered_together_are_written_in_one_group(index: CountingIndex) -> None:
    ingest = Ingest(index, queue=16, group=16)
    heard: list[int] = []
    ingest.add_listener(lambda records: heard.extend(r.slot for r in records))
    async with trio.open_nursery() as nursery:
        await nursery.start(ingest.run)
        for n in range(10):
            ingest.offer(item(n), "peer")  # the validator's path: synchronous, no checkpoint between
        assert all(ingest.seen(f"item-{n}-A-") for n in range(10))  # queued copies are duplicates
        with trio.fail_after(5):
            while len(heard) < 10:
                await ingest.wait_changed()
        nursery.cancel_scope.cancel()
    assert index.groups == [10]
    assert sorted(heard) == list(range(10))
    assert all(index.seen(f"item-{n}-A-") and len(index.records(PROCESS, n)) == 1 for n in range(10))


async def test_a_full_queue_writes_inline_and_loses_nothing(index: CountingIndex) -> None:
    ingest = Ingest(index, queue=2, group=64)
    async with trio.open_nursery() as nursery:
        await nursery.start(ingest.run)
        for n in range(6):
            ingest.offer(item(n), "peer")
        # the writer takes one straight away, two wait in the queue, the other three are written inline
        assert ingest.written_inline == 3
        assert all(len(index.records(PROCESS, n)) == 1 for n in range(3, 6))  # durable already
        with trio.fail_after(5):
            while not all(index.seen(f"item-{n}-A-") for n in range(6)):
                await ingest.wait_changed()
        nursery.cancel_scope.cancel()


async def test_listeners_hear_new_claims_only_and_first_claim_wins(index: CountingIndex) -> None:
    ingest = Ingest(index)
    heard: list[str] = []
    ingest.add_listener(lambda records: heard.extend(r.result for r in records))
    ingest.write_now(item(1), "peer")
    ingest.write_now(item(1), "peer")  # the same claim again: nothing new
    ingest.write_now(item(1, result="X" * 43), "peer")  # an equivocation: counted, not stored
    assert heard == [f"R{1:042d}"]
    assert index.equivocations == 1
    assert [r.result for r in index.records(PROCESS, 1)] == [f"R{1:042d}"]


async def test_a_failing_store_does_not_stop_the_writer(index: CountingIndex) -> None:
    ingest = Ingest(index)
    async with trio.open_nursery() as nursery:
        await nursery.start(ingest.run)
        index.fail = True
        ingest.offer(item(1), "peer")
        with trio.fail_after(5):
            while ingest.seen("item-1-A-"):
                await ingest.wait_changed()
        index.fail = False
        ingest.offer(item(2), "peer")
        with trio.fail_after(5):
            while not index.seen("item-2-A-"):
                await ingest.wait_changed()
        nursery.cancel_scope.cancel()
    assert not index.seen("item-1-A-")  # lost here; catch-up fetches it again
