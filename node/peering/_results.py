"""The ``results`` service interface devices use, and a slot that forwards to ``Peering`` once it runs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol, final

from attest import VerifierPolicy
from devices.core import Message, message_id
from node.peering._errors import PeeringError
from node.peering._report import verify_report
from node.peering._trust import TrustPolicy
from node.peering._verify import EvidenceChecker

if TYPE_CHECKING:
    from collections.abc import Sequence

    from node.peering._service import Converged, Peering

log = logging.getLogger(__name__)


class ResultsService(Protocol):
    async def lookup(self, process: str, slot: int) -> Converged | None: ...

    async def announce(
        self, process: str, slot: int, result: Message, hashpath: str, device_stack: Sequence[str]
    ) -> str: ...

    def verify(self, body: bytes) -> Message: ...

    def status(self) -> Message: ...


@final
class ResultsSlot:
    """``ResultsService`` that is inert until ``bind(peering)`` (and again after ``bind(None)``)."""

    def __init__(self, trust: TrustPolicy | None = None) -> None:
        self.peering: Peering | None = None
        self.trust = trust or TrustPolicy()
        self._checker = EvidenceChecker(VerifierPolicy())

    def bind(self, peering: Peering | None) -> None:
        self.peering = peering

    async def lookup(self, process: str, slot: int) -> Converged | None:
        return None if self.peering is None else await self.peering.lookup(process, slot)

    async def announce(
        self, process: str, slot: int, result: Message, hashpath: str, device_stack: Sequence[str]
    ) -> str:
        """Attest a computed result, best effort: a statement the peering service refuses (too large, or
        the service stopped) is logged and not attested; the result stands."""
        if self.peering is not None:
            try:
                return await self.peering.announce(process, slot, result, hashpath, device_stack)
            except PeeringError as exc:
                log.warning("slot %d of %s is not attested: %s", slot, process, exc)
        return message_id(result)

    async def load(self, ident: str) -> Message | None:
        """The ``"peer-loader"`` service: a message this node lacks, from its peers (verified, stored),
        or None (also on a node without p2p)."""
        return None if self.peering is None else await self.peering.load_message(ident)

    def status(self) -> Message:
        """The peering service's health (``peering: on``), or ``peering: off`` on a node without p2p."""
        return Message({"peering": b"off"}) if self.peering is None else self.peering.status()

    def verify(self, body: bytes) -> Message:
        """A report on an attestation body (see ``verify_report``), judged by this node's trust policy."""
        if self.peering is not None:
            return verify_report(body, self.peering.trust, self.peering.evidence_checker)
        return verify_report(body, self.trust, self._checker)
