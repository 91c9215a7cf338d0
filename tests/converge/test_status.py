"""``Peering.status()`` (``GET /~attest@1.0/status``): what an operator reads about a peer's gossip."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
import trio.testing

from devices.core import Message
from node.peering import TOPIC, ResultsSlot
from tests.converge._cluster import PROCESS, cluster, compute, trust_all
from tests.converge.test_security import forged

if TYPE_CHECKING:
    from pathlib import Path

    from devices.core import RsaWallet


async def test_status_counts_what_a_peer_took_and_refused(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    trust = trust_all(wallets[:2], k=2)
    async with cluster(tmp_path, wallets) as net:
        a = await net.start(0, trust)
        b = await net.start(1, trust)
        slot = ResultsSlot(trust)
        assert slot.status() == Message({"peering": b"off"})
        slot.bind(b.peering)
        for n in range(3):
            await compute(a, PROCESS, n)
        with trio.fail_after(10):
            await b.peering.wait_for(PROCESS, 2, 1)
        await a.peering.p2p.publish(TOPIC, forged(wallets[0], wallets[1], 9))
        with trio.fail_after(10):
            while b.peering.stats.rejected == 0:
                await trio.testing.wait_all_tasks_blocked()
        status = slot.status()
        assert status.get("peering") == b"on"
        assert status.get("peer-id") == b.peering.p2p.peer_id.encode()
        assert status.get("peers") == (a.peering.p2p.peer_id.encode(),)
        policy = status.get_message("trust")
        assert policy == Message({"k": 2, "attesters": 2, "require-hardware": False})
        assert status.get("accepted") == b.peering.stats.accepted >= 1
        assert status.get("rejected") == 1
        assert status.get("statements-published") == 0
        rejections = status.get_message("rejections")
        assert rejections is not None
        assert sum(v for _, v in rejections.items() if isinstance(v, int)) == 1
        gossip = status.get_message("gossip")
        assert gossip is not None
        assert gossip.get("connected-peers") == 1
        assert gossip.get("rejected") == 1
        assert a.peering.status().get("statements-published") == 3
