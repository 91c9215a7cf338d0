"""``status_message``: the peering service's health as a message (``GET /~attest@1.0/status``).

What an operator watches: who this peer is connected to, what its trust policy needs, how much it
published, accepted and rejected (and why), how often it served a result from peers' attestations,
and the gossip layer's own counters (rate limiting, bans, requests).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from devices.core import Message

if TYPE_CHECKING:
    from collections.abc import Sequence

    from node.peering._service import PeeringStatistics
    from node.peering._trust import TrustPolicy
    from p2p import P2PStatistics


def _key(name: str) -> str:
    return name.replace("_", "-")


def status_message(
    stats: PeeringStatistics, gossip: P2PStatistics, peers: Sequence[str], trust: TrustPolicy
) -> Message:
    counters = {
        _key(f.name): getattr(stats, f.name) for f in dataclasses.fields(stats) if f.name != "reasons"
    }
    layer = {
        _key(f.name): getattr(gossip, f.name)
        for f in dataclasses.fields(gossip)
        if isinstance(getattr(gossip, f.name), int)
    }
    return Message(
        {
            "peering": b"on",
            "peer-id": gossip.peer_id.encode(),
            "peers": tuple(p.encode() for p in sorted(peers)),
            "trust": Message(
                {
                    "k": trust.k,
                    "attesters": len(trust.attesters),
                    "require-hardware": trust.require_hardware,
                }
            ),
            **counters,
            "rejections": Message(dict(sorted(stats.reasons.items()))),
            "gossip": Message(layer),
        }
    )
