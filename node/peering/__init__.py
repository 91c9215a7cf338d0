"""Peering: result attestations over gossip, and results served when trusted peers agree.

See ``_service`` for the theory of operation. The process device reaches it as
``ctx.services["results"]``, an object with:

* ``async lookup(process: str, slot: int) -> Converged | None`` — a result at least ``k`` trusted
  attesters agree on (same result id and hashpath), its content checked against the attested id;
  ``Converged.attested_by`` lists the attesters. ``None`` means: compute it yourself.
* ``async announce(process: str, slot: int, result: Message, hashpath: str,
  device_stack: Sequence[str]) -> str`` — attest a result this node computed (batched, signed with
  the node wallet, stored and gossiped); returns the result id (``message_id(result)``). Raises
  ``PeeringError`` once the service has stopped.

* ``verify(body: bytes) -> Message`` — a report on an attestation in any form peers exchange (what
  ``attest@1.0/verify`` answers).

``ResultsSlot`` stands in for the service until peering runs (and in nodes without ``[p2p]``): its
``lookup`` answers ``None`` and ``announce`` only computes the id.
"""

from __future__ import annotations

from node.peering._batches import GOSSIP_BATCH_BYTES as GOSSIP_BATCH_BYTES
from node.peering._batches import GOSSIP_INFLATED_BYTES as GOSSIP_INFLATED_BYTES
from node.peering._batches import MAX_STATEMENT_BYTES as MAX_STATEMENT_BYTES
from node.peering._errors import ItemIgnored as ItemIgnored
from node.peering._errors import ItemRejected as ItemRejected
from node.peering._errors import PeeringError as PeeringError
from node.peering._records import AttestationIndex as AttestationIndex
from node.peering._records import Record as Record
from node.peering._report import verify_report as verify_report
from node.peering._results import ResultsService as ResultsService
from node.peering._results import ResultsSlot as ResultsSlot
from node.peering._service import BATCH_DELAY_S as BATCH_DELAY_S
from node.peering._service import TOPIC as TOPIC
from node.peering._service import Converged as Converged
from node.peering._service import Peering as Peering
from node.peering._service import PeeringStatistics as PeeringStatistics
from node.peering._trust import Agreement as Agreement
from node.peering._trust import TrustPolicy as TrustPolicy
from node.peering._trust import converge as converge
from node.peering._verify import EvidenceChecker as EvidenceChecker
from node.peering._verify import verify_fetched as verify_fetched
from node.peering._verify import verify_gossip as verify_gossip

__all__ = [
    "BATCH_DELAY_S",
    "GOSSIP_BATCH_BYTES",
    "GOSSIP_INFLATED_BYTES",
    "MAX_STATEMENT_BYTES",
    "TOPIC",
    "Agreement",
    "AttestationIndex",
    "Converged",
    "EvidenceChecker",
    "ItemIgnored",
    "ItemRejected",
    "Peering",
    "PeeringError",
    "PeeringStatistics",
    "Record",
    "ResultsService",
    "ResultsSlot",
    "TrustPolicy",
    "converge",
    "verify_fetched",
    "verify_gossip",
    "verify_report",
]
