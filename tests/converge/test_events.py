"""Attestations gossiped by peers reach this node's subscribers as signed ``attestation`` events."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from node._events import EventHub, Filter
from node._evmsg import check_event
from node._live import LiveEvents
from node._ws_sources import EventSigner
from tests.converge._cluster import PROCESS, cluster, compute, trust_all

if TYPE_CHECKING:
    from pathlib import Path

    from devices.core import RsaWallet


async def test_gossiped_attestations_are_published_to_subscribers(
    tmp_path: Path, wallets: list[RsaWallet]
) -> None:
    trust = trust_all(wallets[:2], k=1)
    hub = EventHub()
    live = LiveEvents(hub, EventSigner(wallets[1]))
    with trio.fail_after(20):
        async with cluster(tmp_path, wallets) as net, trio.open_nursery() as nursery:
            await nursery.start(live.run)
            a = await net.start(0, trust)
            b = await net.start(1, trust)
            b.peering.add_listener(live.on_attestations)
            with hub.subscribe(Filter("attestation", process=PROCESS)) as sub:
                await compute(a, PROCESS, 7)
                event = await sub.receive()
            assert (event.kind, event.process, event.slot, event.attester) == (
                "attestation", PROCESS, 7, a.address)
            check_event(event.message, kind="attestation", process=PROCESS, slot=7,
                        committer=wallets[1].address)
            nursery.cancel_scope.cancel()
