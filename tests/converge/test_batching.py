"""What the batcher publishes: full batches are split so every gossip message stays under
``GOSSIP_BATCH_BYTES`` deflated and ``MAX_BATCH_ITEMS`` statements (what receivers accept), and every
statement announced arrives, verified, at the other peer."""

from __future__ import annotations

import random
import zlib
from typing import TYPE_CHECKING

import cbor2
import pytest
import trio

from devices.core import Message, b64u_encode, message_id
from node.peering import GOSSIP_BATCH_BYTES, MAX_STATEMENT_BYTES, TOPIC, PeeringError, ResultsSlot
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
    noise = random.Random(9)  # ~600-byte statements that deflate little: the byte cap binds first
    hashpaths = [b64u_encode(noise.randbytes(225)) for _ in range(count)]
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
            await a.peering.announce(PROCESS, slot, Message({"slot": slot}), hashpaths[slot], ["d@1.0"])
        with trio.fail_after(20):
            for slot in (0, count // 2, count - 1):
                await b.peering.wait_for(PROCESS, slot, 1)
        assert len(sizes) >= 3
        assert max(sizes) <= GOSSIP_BATCH_BYTES
        assert a.peering.stats.statements_published == count
        assert max(a.peering.stats.batches_published, len(sizes)) == len(sizes)
        assert all(len(b.peering.records(PROCESS, slot)) == 1 for slot in range(count))
        assert b.peering.stats.rejected == 0


async def test_a_full_batch_of_realistic_statements_is_one_deflated_message(
    tmp_path: Path, wallets: list[RsaWallet]
) -> None:
    trust = trust_all(wallets[:2], k=1)
    count = MAX_BATCH_ITEMS
    noise = random.Random(11)  # id-like result ids and hashpaths, as a computing node announces them
    hashpaths = [b64u_encode(noise.randbytes(32)) for _ in range(count)]
    async with cluster(tmp_path, wallets) as net:
        a = await net.start(0, trust, batch_size=count)
        b = await net.start(1, trust)
        sizes: list[int] = []
        inflated: list[int] = []
        publish = a.peering.p2p.publish

        async def sized(topic: str, data: bytes) -> None:
            if topic == TOPIC:
                sizes.append(len(data))
                inflated.append(len(zlib.decompress(cbor2.loads(data)["body"])))
            await publish(topic, data)

        a.peering.p2p.publish = sized  # type: ignore[method-assign]
        for slot in range(count):
            await a.peering.announce(PROCESS, slot, Message({"slot": slot}), hashpaths[slot], ["d@1.0"])
        with trio.fail_after(20):
            await b.peering.wait_for(PROCESS, count - 1, 1)
        assert len(sizes) == 1  # plain, it would have been two messages: it inflates past the wire cap
        assert inflated[0] > GOSSIP_BATCH_BYTES
        assert sizes[0] * 2 < inflated[0]
        assert all(len(b.peering.records(PROCESS, slot)) == 1 for slot in range(count))


async def test_an_oversize_statement_is_refused_and_the_service_goes_on(
    tmp_path: Path, wallets: list[RsaWallet], caplog: pytest.LogCaptureFixture
) -> None:
    trust = trust_all(wallets[:2], k=1)
    huge_stack = ["d@1.0"] + [f"dev-{n}@1.0" for n in range(MAX_STATEMENT_BYTES // 8)]  # e.g. a spawn's
    async with cluster(tmp_path, wallets) as net:
        a = await net.start(0, trust)
        b = await net.start(1, trust)
        with pytest.raises(PeeringError, match=f"exceeds the {MAX_STATEMENT_BYTES}-byte cap"):
            await a.peering.announce(PROCESS, 1, Message({"slot": 1}), "hp", huge_stack)
        # The device-facing service attests best effort: it logs and answers the result id.
        slot = ResultsSlot(trust)
        slot.bind(a.peering)
        result = Message({"slot": 2})
        assert await slot.announce(PROCESS, 2, result, "hp", huge_stack) == message_id(result)
        assert "slot 2 of" in caplog.text
        assert "not attested" in caplog.text
        await a.peering.announce(PROCESS, 3, Message({"slot": 3}), "hp", ["d@1.0"])
        with trio.fail_after(10):
            await b.peering.wait_for(PROCESS, 3, 1)
        assert b.peering.records(PROCESS, 1) == b.peering.records(PROCESS, 2) == []
        assert a.peering.stats.statements_published == 1
