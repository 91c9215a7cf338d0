"""Convergence over a memory network: results served from k trusted attestations without recompute."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import trio

from devices.core import b64u_encode, message_id
from node.peering import GOSSIP_BATCH_BYTES, TrustPolicy, converge
from tests.converge._cluster import PROCESS, cluster, compute, result_for, serve, trust_all

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from devices.core import RsaWallet


async def test_result_computed_elsewhere_is_served_without_recompute(
    tmp_path: Path, wallets: list[RsaWallet]
) -> None:
    trust = trust_all(wallets[:3], k=2)
    async with cluster(tmp_path, wallets) as net:
        a, b, c = [await net.start(i, trust) for i in range(3)]
        await serve(a, PROCESS, 1)
        await serve(b, PROCESS, 1)
        with trio.fail_after(10):
            await c.peering.wait_for(PROCESS, 1, 2)
            msg, attested_by = await serve(c, PROCESS, 1)
        expected, hashpath = result_for(PROCESS, 1)
        assert (a.executions, b.executions, c.executions) == (1, 1, 0)
        assert msg == expected
        assert attested_by == tuple(sorted([a.address, b.address]))
        assert c.peering.stats.fetched_results == 1
        # the fetched content is now stored under the attested id
        assert c.store.read_message(message_id(expected)) == expected
        converged = await c.peering.lookup(PROCESS, 1)
        assert converged is not None
        assert converged.hashpath == hashpath
        assert c.peering.stats.fetched_results == 1  # served from the store the second time


async def test_batches_carry_many_statements(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    trust = trust_all(wallets[:2], k=1)
    async with cluster(tmp_path, wallets) as net:
        a, b = [await net.start(i, trust) for i in range(2)]
        for slot in range(100):
            await serve(a, PROCESS, slot)
        with trio.fail_after(10):
            await b.peering.wait_for(PROCESS, 99, 1)
            for slot in range(100):
                await b.peering.wait_for(PROCESS, slot, 1)
        assert a.peering.stats.statements_published == 100
        assert a.peering.stats.batches_published < 100  # statements were batched
        assert b.peering.stats.accepted == a.peering.stats.batches_published


async def test_k_minus_one_is_not_enough_and_disagreement_does_not_count(
    tmp_path: Path, wallets: list[RsaWallet]
) -> None:
    trust = trust_all(wallets[:4], k=2)
    async with cluster(tmp_path, wallets) as net:
        a, b, c, d = [await net.start(i, trust) for i in range(4)]
        await serve(a, PROCESS, 7)
        with trio.fail_after(10):
            await c.peering.wait_for(PROCESS, 7, 1)
        assert await c.peering.lookup(PROCESS, 7) is None  # one of two
        await compute(b, PROCESS, 7, variant="-other")  # same slot, another result and hashpath
        with trio.fail_after(10):
            await c.peering.wait_for(PROCESS, 7, 2)
        assert await c.peering.lookup(PROCESS, 7) is None  # two attesters, but they disagree
        await compute(d, PROCESS, 7)  # agrees with a
        with trio.fail_after(10):
            await c.peering.wait_for(PROCESS, 7, 3)
            converged = await c.peering.lookup(PROCESS, 7)
        assert converged is not None
        assert converged.attested_by == tuple(sorted([a.address, d.address]))
        assert converged.message == result_for(PROCESS, 7)[0]


async def test_untrusted_attesters_do_not_count(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    trusted_only_a = TrustPolicy(frozenset([wallets[0].address]), 1)
    async with cluster(tmp_path, wallets) as net:
        a = await net.start(0, trust_all(wallets[:3], k=1))
        b = await net.start(1, trust_all(wallets[:3], k=1))
        c = await net.start(2, trusted_only_a)
        await serve(b, PROCESS, 3)
        with trio.fail_after(10):
            await a.peering.wait_for(PROCESS, 3, 1)
        await trio.testing.wait_all_tasks_blocked()
        assert c.peering.records(PROCESS, 3) == []
        assert c.peering.stats.untrusted >= 1  # directly from b, and perhaps relayed by a
        assert await c.peering.lookup(PROCESS, 3) is None  # catch-up also skips untrusted claims
        assert c.peering.records(PROCESS, 3) == []


async def test_contested_slot_does_not_converge(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    trust = trust_all(wallets[:5], k=2)
    async with cluster(tmp_path, wallets) as net:
        peers = [await net.start(i, trust) for i in range(5)]
        await compute(peers[0], PROCESS, 9)
        await compute(peers[1], PROCESS, 9)
        await compute(peers[2], PROCESS, 9, variant="x")
        await compute(peers[3], PROCESS, 9, variant="x")
        with trio.fail_after(10):
            await peers[4].peering.wait_for(PROCESS, 9, 4)
        assert converge(peers[4].peering.records(PROCESS, 9), trust) is None
        assert await peers[4].peering.lookup(PROCESS, 9) is None


async def test_restarted_peer_catches_up(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    trust = trust_all(wallets[:3], k=2)
    async with cluster(tmp_path, wallets) as net:
        a, b, c = [await net.start(i, trust) for i in range(3)]
        await net.stop(c)
        await serve(a, PROCESS, 4)
        await serve(b, PROCESS, 4)
        with trio.fail_after(10):
            await a.peering.wait_for(PROCESS, 4, 2)
            await b.peering.wait_for(PROCESS, 4, 2)
        c2 = await net.start(2, trust)  # same store directory, fresh network node
        assert c2.peering.records(PROCESS, 4) == []
        with trio.fail_after(10):
            msg, attested_by = await serve(c2, PROCESS, 4)
        assert c2.executions == 0
        assert msg == result_for(PROCESS, 4)[0]
        assert attested_by == tuple(sorted([a.address, b.address]))
        assert len(c2.peering.records(PROCESS, 4)) == 2


async def test_an_equivocator_keeps_its_first_claim(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    trust = trust_all(wallets[:2], k=1)
    async with cluster(tmp_path, wallets) as net:
        a, b = [await net.start(i, trust) for i in range(2)]
        await compute(a, PROCESS, 6)
        with trio.fail_after(5):
            await b.peering.wait_for(PROCESS, 6, 1)
        await compute(a, PROCESS, 6, variant="-changed-mind")
        with trio.fail_after(5):
            while b.peering.index.equivocations == 0:
                await b.peering.wait_changed()
        (record,) = b.peering.records(PROCESS, 6)
        assert record.hashpath == result_for(PROCESS, 6)[1]


async def test_big_batches_are_split_under_the_message_cap(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    trust = trust_all(wallets[:2], k=1)
    async with cluster(tmp_path, wallets) as net:
        a, b = [await net.start(i, trust) for i in range(2)]
        sizes: list[int] = []
        a.peering.p2p.publish = _recording(a.peering.p2p.publish, sizes)  # type: ignore[method-assign]
        noise = random.Random(5)  # hashpaths that deflate hardly at all: about 14 statements per message
        hashpaths = [b64u_encode(noise.randbytes(15_000)) for _ in range(40)]
        for slot in range(40):
            msg, _ = result_for(PROCESS, slot)
            await a.peering.announce(PROCESS, slot, msg, hashpaths[slot], ["test-exec@1.0"])
        with trio.fail_after(10):
            for slot in range(40):
                await b.peering.wait_for(PROCESS, slot, 1)
        assert a.peering.stats.statements_published == 40
        assert a.peering.stats.batches_published >= 40 * 20_000 // GOSSIP_BATCH_BYTES
        assert sizes
        assert max(sizes) <= GOSSIP_BATCH_BYTES
        assert b.peering.records(PROCESS, 39)[0].hashpath == hashpaths[39]


def _recording(publish: Callable[[str, bytes], Awaitable[None]], sizes: list[int]) -> Callable[..., Any]:
    async def wrapped(topic: str, data: bytes) -> None:
        sizes.append(len(data))
        await publish(topic, data)

    return wrapped
