"""Errors of the ``attest`` package.

    AttestError                  root of every error this package raises
    ├── EvidenceMalformed        remote: evidence or an attestation cannot be parsed (reason, offset)
    ├── EvidenceInvalid          remote: parsed, but a named check failed (``check``)
    │   ├── ChainInvalid         the ARK → ASK → VCEK chain does not lead to a pinned root
    │   └── PolicyRejected       integrity holds, but the verifier's policy refuses the evidence
    ├── BatchProofInvalid        remote: a Merkle inclusion proof does not lead to the batch root
    ├── VcekUnavailable          local/environment: no VCEK could be obtained (cache miss, KDS failure)
    └── ProviderError            local/environment: the SEV guest device failed to produce a report

``EvidenceInvalid.check`` names the failing check with a short stable string: ``"signature"``,
``"chain"``, ``"chip_id"``, ``"tcb"``, ``"policy"``, ``"debug"``, ``"vmpl"``, ``"measurement"``,
``"report_data"``, ``"hardware"``, ``"key_info"``, ``"validity"``, ``"signing_key"``. Each error
carries a ``status_hint`` (the HTTP status an edge should answer with).
"""

from __future__ import annotations


class AttestError(Exception):
    """Root of the attest package's errors."""

    status_hint: int = 400

    def __init__(self, reason: str, *, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason if offset is None else f"{reason} (at byte {offset})")


class EvidenceMalformed(AttestError):
    """The evidence (report, certificate, CBOR attestation) cannot be parsed."""


class EvidenceInvalid(AttestError):
    """The evidence parsed but failed the check named by ``check``."""

    status_hint = 403

    def __init__(self, check: str, reason: str) -> None:
        self.check = check
        super().__init__(f"{check}: {reason}")
        self.reason = reason


class ChainInvalid(EvidenceInvalid):
    """The certificate chain does not verify up to a pinned root."""

    def __init__(self, reason: str, *, check: str = "chain") -> None:
        super().__init__(check, reason)


class PolicyRejected(EvidenceInvalid):
    """The evidence is authentic but the verifier's policy rejects it."""


class BatchProofInvalid(AttestError):
    """A batch inclusion proof does not verify against the batch header."""

    status_hint = 403


class VcekUnavailable(AttestError):
    """No VCEK could be found for a report (not supplied, not cached, KDS unreachable)."""

    status_hint = 503


class ProviderError(AttestError):
    """Generating evidence on the SEV guest failed (device missing, firmware error, race)."""

    status_hint = 500
