"""The trust policy (from the node's ``[trust]`` section, shown in its boot message) and convergence.

``converge(records, policy)`` groups the verified records of one (process, slot) by (result id,
hashpath) and keeps only attesters the policy counts (listed in ``attesters``; with
``require_hardware``, only claims backed by evidence that verified as AMD hardware — simulated
evidence never does). A group of at least ``k`` distinct attesters converges; if two different groups
both reach ``k`` the slot is contested and nothing converges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from collections.abc import Iterable

    from node._config import TrustConfig
    from node.peering._records import Record


@final
@dataclass(frozen=True)
class TrustPolicy:
    attesters: frozenset[str] = frozenset()
    k: int = 1
    require_hardware: bool = False

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError("trust.k must be at least 1")

    @classmethod
    def from_config(cls, config: TrustConfig) -> TrustPolicy:
        return cls(frozenset(config.attesters), config.k, config.require_hardware)

    def trusts(self, attester: str) -> bool:
        return attester in self.attesters

    def counts(self, record: Record) -> bool:
        return self.trusts(record.attester) and (record.hardware or not self.require_hardware)


@final
@dataclass(frozen=True)
class Agreement:
    """``k`` or more trusted attesters agreeing on one result of one (process, slot)."""

    result: str
    hashpath: str
    attesters: tuple[str, ...]
    origins: tuple[str, ...]  # peers that published those attestations (where to fetch the result)


def converge(records: Iterable[Record], policy: TrustPolicy) -> Agreement | None:
    groups: dict[tuple[str, str], list[Record]] = {}
    for record in records:
        if policy.counts(record):
            groups.setdefault((record.result, record.hashpath), []).append(record)
    winners = [(key, recs) for key, recs in groups.items() if len({r.attester for r in recs}) >= policy.k]
    if len(winners) != 1:
        return None
    (result, hashpath), recs = winners[0]
    return Agreement(
        result=result,
        hashpath=hashpath,
        attesters=tuple(sorted({r.attester for r in recs})),
        origins=tuple(dict.fromkeys(r.origin for r in recs)),
    )
