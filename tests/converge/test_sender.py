"""The sender side of ``Peering``: the batcher sleeps through a batch window instead of waking for
every statement, ``announce`` waits only when the queue is full, and statements queued when the
service stops are dropped (and later announcements refused)."""

from __future__ import annotations

import zlib
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import cbor2
import pytest
import trio
import trio.testing

from attest import VerifierPolicy
from devices.core import Message
from node._store import LmdbStore
from node.peering import TOPIC, Peering, PeeringError, Record, TrustPolicy
from node.peering._verify import EvidenceChecker, verify_gossip
from p2p import Kind, MemoryNetwork
from tests.converge._cluster import PROCESS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from devices.core import RsaWallet


class BatcherSteps(trio.abc.Instrument):
    """Counts how often the scheduler runs the batcher task (each wakeup is one step)."""

    def __init__(self) -> None:
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task.name.endswith("._batcher"):
            self.steps += 1


class Indexed:
    """The listener: the own records, in the groups the index writer reported them."""

    def __init__(self) -> None:
        self.groups: list[list[Record]] = []
        self.changed = trio.Event()

    def __call__(self, records: list[Record]) -> None:
        self.groups.append(records)
        self.changed.set()
        self.changed = trio.Event()

    @property
    def slots(self) -> list[int]:
        return sorted(r.slot for group in self.groups for r in group)

    async def wait_for(self, count: int) -> None:
        while len(self.slots) < count:
            await self.changed.wait()


def _peering(
    tmp_path: Path, wallet: RsaWallet, *, batch_size: int, batch_delay_s: float
) -> tuple[Peering, LmdbStore]:
    store = LmdbStore(tmp_path / "store", map_size_bytes=64 << 20)
    trust = TrustPolicy(frozenset({wallet.address}), 1)
    node = MemoryNetwork().node("sender")
    return Peering(node, store, wallet, trust, batch_size=batch_size, batch_delay_s=batch_delay_s), store


@asynccontextmanager
async def running(peering: Peering, store: LmdbStore) -> AsyncIterator[trio.Nursery]:
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(peering.run)
            yield nursery
            nursery.cancel_scope.cancel()
    finally:
        store.close()


async def _announce(peering: Peering, slot: int) -> str:
    return await peering.announce(PROCESS, slot, Message({"slot": slot}), f"hp-{slot}", ["test-exec@1.0"])


@pytest.mark.parametrize("closed_by", ["size", "time"])
async def test_a_batch_costs_the_batcher_a_few_wakeups_not_one_per_statement(
    tmp_path: Path, wallets: list[RsaWallet], closed_by: str
) -> None:
    count = 40
    if closed_by == "size":  # the window is far longer than the test: the batch closes when full
        peering, store = _peering(tmp_path, wallets[0], batch_size=count, batch_delay_s=60.0)
    else:  # the batch can never fill: the window closes it
        peering, store = _peering(tmp_path, wallets[0], batch_size=1024, batch_delay_s=0.5)
    indexed = Indexed()
    peering.add_listener(indexed)
    counter = BatcherSteps()
    with trio.fail_after(20):
        async with running(peering, store):
            await trio.testing.wait_all_tasks_blocked()
            trio.lowlevel.add_instrument(counter)
            try:
                for slot in range(count):
                    await _announce(peering, slot)
                    # Let every task that was woken run before the next statement: the worst case,
                    # a slow producer whose every announce is its own scheduling round.
                    await trio.testing.wait_all_tasks_blocked()
                await indexed.wait_for(count)
            finally:
                trio.lowlevel.remove_instrument(counter)
    assert indexed.slots == list(range(count))
    assert len(indexed.groups) == 1  # one batch
    assert peering.stats.batches_published == 1
    # Woken by the first statement, then by the full batch or the window's end, then back from the
    # worker thread: about five steps for the whole batch (waking per statement took 43).
    assert counter.steps <= 8, counter.steps


async def test_announce_waits_only_when_the_queue_is_full(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    peering, store = _peering(tmp_path, wallets[0], batch_size=64, batch_delay_s=0.005)
    indexed = Indexed()
    peering.add_listener(indexed)
    returned: list[int] = []

    async def announce(slot: int) -> None:
        await _announce(peering, slot)
        returned.append(slot)

    with trio.fail_after(20):
        async with trio.open_nursery() as outer:
            for slot in range(64):  # not running yet: the queue fills, nothing waits
                await _announce(peering, slot)
            outer.start_soon(announce, 64)
            outer.start_soon(announce, 65)
            await trio.testing.wait_all_tasks_blocked()
            assert returned == []  # both wait for room
            with trio.CancelScope() as scope:  # a waiting announce is cancellable and queues nothing
                scope.cancel()
                await _announce(peering, 99)
            async with running(peering, store):
                await indexed.wait_for(66)
    assert sorted(returned) == [64, 65]
    assert indexed.slots == list(range(66))


async def test_a_stopped_service_drops_what_is_queued_and_refuses_more(
    tmp_path: Path, wallets: list[RsaWallet]
) -> None:
    peering, store = _peering(tmp_path, wallets[0], batch_size=64, batch_delay_s=60.0)
    indexed = Indexed()
    peering.add_listener(indexed)
    refused: list[int] = []
    never = trio.Event()

    async def stuck_publish(topic: str, data: bytes) -> None:
        await never.wait()

    # A publisher that never finishes: the outbox (two batches) fills, then the batcher waits for it.
    peering.p2p.publish = stuck_publish  # type: ignore[method-assign]

    async def announce(slot: int) -> None:
        try:
            await _announce(peering, slot)
        except PeeringError:
            refused.append(slot)

    with trio.fail_after(20):
        async with trio.open_nursery() as outer:
            async with running(peering, store):
                for slot in range(4 * 64):  # four full batches: published (stuck), two queued, one held
                    await _announce(peering, slot)
                    if slot % 64 == 63:
                        await indexed.wait_for(slot + 1)  # a full batch does not wait for the window
                for slot in range(256, 320):  # the batcher is held: these fill the queue
                    await _announce(peering, slot)
                outer.start_soon(announce, 320)  # waits for room
                await trio.testing.wait_all_tasks_blocked()
                assert refused == []
            # The service stopped with 64 statements queued: they were never signed.
            await trio.testing.wait_all_tasks_blocked()
            assert refused == [320]  # the waiting announce was woken and refused
            with pytest.raises(PeeringError, match="stopped"):
                await _announce(peering, 321)
    assert indexed.slots == list(range(256))
    assert peering.stats.statements_published == 0


async def test_a_batch_goes_out_deflated_and_a_peer_verifies_it(
    tmp_path: Path, wallets: list[RsaWallet]
) -> None:
    net = MemoryNetwork()
    store = LmdbStore(tmp_path / "store", map_size_bytes=64 << 20)
    trust = TrustPolicy(frozenset({wallets[0].address}), 1)
    peering = Peering(net.node("sender"), store, wallets[0], trust, batch_size=40, batch_delay_s=60.0)
    watcher = net.node("watcher")
    with trio.fail_after(20):
        async with running(peering, store), watcher, watcher.subscribe(TOPIC) as gossip:
            await watcher.connect(peering.p2p.listen_addrs[0])
            for slot in range(40):
                await _announce(peering, slot)
            message = await gossip.receive()
    outer = cbor2.loads(message.data)
    assert outer["kind"] == "deflate"
    inner = zlib.decompress(outer["body"])
    assert len(message.data) * 2 < len(inner)
    assert cbor2.loads(inner)["kind"] == Kind.ATTESTATION_BATCH
    item = verify_gossip(message.data, EvidenceChecker(VerifierPolicy()))
    assert sorted(claim.statement.slot for claim in item.claims) == list(range(40))
