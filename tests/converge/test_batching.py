"""What the batcher publishes: full batches are split so every gossip message stays under
``GOSSIP_BATCH_BYTES`` and ``MAX_BATCH_ITEMS`` statements (what receivers accept), and every
statement announced arrives, verified, at the other peer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from devices.core import Message
from node.peering import GOSSIP_BATCH_BYTES, TOPIC
from node.peering._verify import MAX_BATCH_ITEMS
from tests.converge._cluster import PROCESS, cluster, trust_all

if TYPE_CHECKING:
    from pathlib import Path

    from devices.core import RsaWallet


async def test_large_batches_are_split_under_the_caps_and_all_arrive(
    tmp_path: Path, wallets: list[RsaWallet]
) -> None:
    trust = trust_all(wallets[:2], k=1)
    count = MAX_BATCH_ITEMS + 300  # more than one message can hold, by count and by bytes
    long_hashpath = "h" * 300  # ~600-byte statements: the byte cap binds before the count cap
    async with cluster(tmp_path, wallets) as net:
        a = await net.start(0, trust, batch_size=count)
        b = await net.start(1, trust)
        sizes: list[int] = []
        publish = a.peering.p2p.publish

        async def sized(topic: str, data: bytes) -> None:
            if topic == TOPIC:
                sizes.append(len(data))
            await publish(topic, data)

        a.peering.p2p.publish = sized  # type: ignore[method-assign]
        for slot in range(count):  # announce does not yield while the queue has room: one whole batch
            await a.peering.announce(PROCESS, slot, Message({"slot": slot}), long_hashpath, ["d@1.0"])
        with trio.fail_after(20):
            for slot in (0, count // 2, count - 1):
                await b.peering.wait_for(PROCESS, slot, 1)
        assert len(sizes) >= 3
        assert max(sizes) <= GOSSIP_BATCH_BYTES
        assert a.peering.stats.statements_published == count
        assert max(a.peering.stats.batches_published, len(sizes)) == len(sizes)
        assert all(len(b.peering.records(PROCESS, slot)) == 1 for slot in range(count))
        assert b.peering.stats.rejected == 0
