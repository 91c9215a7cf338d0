"""Verify SEV-SNP evidence: chain, VCEK binding, signature, policy, nonce and measurement.

The steps run in the order of the spec (§2.4) and the first failure raises an ``EvidenceInvalid``
whose ``check`` names it. Success returns ``SnpVerification``, never a bare bool; its ``trust`` is
``"amd-hardware"`` only when the ARK is a compiled-in AMD root *and* nothing in the evidence carries
the simulation markers (belt and braces: a simulated root pinned by mistake still is not hardware).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from devices.core import DecodeError, b64u_decode, b64u_encode

from ._certs import AMD_ARK_SHA256, fingerprint, is_simulated_cert, vcek_extensions, verify_vcek
from ._errors import EvidenceInvalid, EvidenceMalformed, PolicyRejected, VcekUnavailable
from ._measure import COMMITTED_PARAMETERS, LaunchParameters, launch_digest, match_trusted
from ._report import POLICY_MIGRATE_MA, POLICY_SINGLE_SOCKET, Product, SnpReport, Tcb
from ._vcek import CertPool, VcekSource

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from cryptography import x509

_log = logging.getLogger(__name__)

SIM_CHIP_MARKER = b"SIMULATED-SNP/NOT-AMD-HARDWARE!!"
"""Simulated reports start CHIP_ID with these 32 bytes; hardware verdicts refuse them."""


def report_data_binding(address: str | bytes, node_message_id: str | bytes) -> bytes:
    """HyperBEAM's REPORT_DATA: raw(address, 32 bytes) ‖ raw(unsigned node-message id, 32 bytes).

    Either argument may be the 43-character base64url id or the 32 raw bytes.

    Raises:
        EvidenceMalformed: an argument is not a 32-byte id.
    """
    parts = []
    for name, value in (("address", address), ("node-message id", node_message_id)):
        try:
            raw = b64u_decode(value) if isinstance(value, str) else bytes(value)
        except DecodeError as exc:
            raise EvidenceMalformed(f"{name} is not base64url") from exc
        if len(raw) != 32:
            raise EvidenceMalformed(f"{name} must be 32 bytes, got {len(raw)}")
        parts.append(raw)
    return parts[0] + parts[1]


@dataclass(frozen=True)
class VerifierPolicy:
    """What a verifier accepts. The defaults are the hardware policy.

    ``sim_roots`` (SHA-256 fingerprints of simulated ARKs) is consulted only when
    ``require_hardware`` is False; it is code-only and never read from network configuration.
    """

    require_hardware: bool = True
    sim_roots: frozenset[str] = frozenset()
    vmpl: int | None = 1
    min_tcb: Tcb | None = None
    trusted_measurements: frozenset[bytes] | None = None
    allow_vlek: bool = False
    allow_migrate_ma: bool = True
    require_single_socket: bool = False
    trusted_software: tuple[Mapping[str, Any], ...] | None = None
    """Approved launch configurations (HyperBEAM's ``snp_trusted``); None = not checked."""
    enforced_keys: tuple[str, ...] = COMMITTED_PARAMETERS
    product: Product | None = None
    """The product for v2 reports when the VCEK's issuer does not tell (default Milan)."""

    @classmethod
    def simulation(cls, sim_roots: Iterable[str], base: VerifierPolicy | None = None) -> VerifierPolicy:
        """A test policy (``base`` or defaults) accepting simulated evidence anchored at ``sim_roots``."""
        return replace(base or cls(), require_hardware=False, sim_roots=frozenset(sim_roots))


@dataclass(frozen=True)
class SnpVerification:
    """A verified report. ``hardware`` is True only for evidence anchored at a real AMD root."""

    report: SnpReport
    trust: Literal["amd-hardware", "simulated"]
    product: Product
    vcek_sha256: str
    ark_sha256: str
    warnings: tuple[str, ...] = field(default=())

    @property
    def hardware(self) -> bool:
        return self.trust == "amd-hardware"

    @property
    def evidence_id(self) -> str:
        """base64url(SHA-256(raw report)): how attestations refer to this evidence."""
        return b64u_encode(hashlib.sha256(self.report.raw).digest())


def _parse_checks(report: SnpReport, policy: VerifierPolicy) -> None:
    if report.signing_key == 1 and not policy.allow_vlek:
        raise EvidenceInvalid("signing_key", "report signed by a VLEK, which this policy refuses")
    if report.signing_key not in (0, 1):
        raise EvidenceInvalid("signing_key", f"unknown signing key {report.signing_key}")
    if report.mask_chip_key:
        raise EvidenceInvalid("key_info", "MASK_CHIP_KEY is set (no signature)")
    if not any(report.raw[0x2A0:0x330]):
        raise EvidenceInvalid("signature", "signature is all zeros")
    if not any(report.chip_id):
        raise EvidenceInvalid("chip_id", "CHIP_ID is masked (all zeros)")


def _bind_vcek(report: SnpReport, leaf: x509.Certificate, product: Product) -> None:
    ext = vcek_extensions(leaf)
    if ext.hwid is None or not ext.hwid or report.chip_id[: len(ext.hwid)] != ext.hwid:
        raise EvidenceInvalid("chip_id", "VCEK hwID does not equal the report's CHIP_ID")
    tcb = report.tcb("reported", product)
    pairs: list[tuple[str, int | None, int | None]] = [
        ("bootloader", ext.bl_spl, tcb.bootloader),
        ("tee", ext.tee_spl, tcb.tee),
        ("snp", ext.snp_spl, tcb.snp),
        ("microcode", ext.ucode_spl, tcb.microcode),
    ]
    if product is Product.TURIN:
        pairs.append(("fmc", ext.fmc_spl, tcb.fmc))
    for name, cert_value, report_value in pairs:
        if cert_value != report_value:
            raise EvidenceInvalid("tcb", f"VCEK {name} SPL {cert_value} != REPORTED_TCB {report_value}")


def _check_signature(report: SnpReport, key: ec.EllipticCurvePublicKey) -> None:
    r, s = report.signature_rs
    try:
        key.verify(encode_dss_signature(r, s), report.signed_bytes, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature as exc:
        raise EvidenceInvalid("signature", "ECDSA P-384 report signature does not verify") from exc


def _policy_checks(report: SnpReport, policy: VerifierPolicy, product: Product) -> None:
    if report.debug_allowed:
        raise PolicyRejected("debug", "guest policy allows debugging (bit 19)")
    if not policy.allow_migrate_ma and report.policy & POLICY_MIGRATE_MA:
        raise PolicyRejected("policy", "guest policy allows a migration agent")
    if policy.require_single_socket and not report.policy & POLICY_SINGLE_SOCKET:
        raise PolicyRejected("policy", "guest policy does not require a single socket")
    if policy.vmpl is not None and report.vmpl != policy.vmpl:
        raise PolicyRejected("vmpl", f"VMPL {report.vmpl}, expected {policy.vmpl}")
    if policy.min_tcb is not None:
        low = report.tcb("reported", product).at_least(policy.min_tcb)
        if low is not None:
            raise PolicyRejected("tcb", f"REPORTED_TCB {low} is below the configured minimum")


def _check_launch(report: SnpReport, policy: VerifierPolicy, local_hashes: Mapping[str, Any] | None) -> None:
    if local_hashes is None:
        if policy.trusted_software is not None:
            raise PolicyRejected("measurement", "trusted software required but no launch parameters given")
        return
    if launch_digest(LaunchParameters.from_local_hashes(local_hashes)) != report.measurement:
        raise PolicyRejected("measurement", "MEASUREMENT is not the launch digest of the given local-hashes")
    if policy.trusted_software is not None:
        match_trusted(local_hashes, policy.trusted_software, policy.enforced_keys)


def verify_snp(
    report: SnpReport | bytes,
    *,
    expected_report_data: bytes | None,
    policy: VerifierPolicy | None = None,
    vcek: VcekSource | None = None,
    certs: CertPool | None = None,
    now: datetime | None = None,
    local_hashes: Mapping[str, Any] | None = None,
) -> SnpVerification:
    """Verify a report end to end.

    ``expected_report_data`` is the binding the report must carry (see ``report_data_binding``);
    pass None only to skip the check deliberately (the result then proves nothing about freshness
    or which node produced it). ``local_hashes`` (HyperBEAM's eight launch parameters), when given,
    must reproduce MEASUREMENT and, under ``policy.trusted_software``, match one whole trusted
    entry. ``certs`` supplies ARK/ASK (and possibly the VCEK); ``vcek`` is
    asked first for the VCEK.

    Raises:
        EvidenceMalformed: the report cannot be parsed.
        VcekUnavailable: no VCEK could be found.
        EvidenceInvalid: a check failed; ``check`` names it (ChainInvalid, PolicyRejected subclasses).
    """
    policy = policy or VerifierPolicy()
    report = report if isinstance(report, SnpReport) else SnpReport.from_bytes(report)
    pool = certs or CertPool()
    _parse_checks(report, policy)
    if expected_report_data is not None and report.report_data != expected_report_data:
        # A plain comparison, done first: a report bound to another node or nonce is refused
        # before any certificate is looked up.
        raise PolicyRejected("report_data", "REPORT_DATA does not equal the expected nonce binding")
    guess = report.product_hint() or policy.product or Product.MILAN
    leaf = (vcek.vcek_for(report, guess) if vcek is not None else None) or pool.vcek_for(report, guess)
    if leaf is None:
        raise VcekUnavailable("no VCEK for this report (give one, a cache directory or the evidence's certs)")
    sim_roots = () if policy.require_hardware else policy.sim_roots
    chain = pool.ca_chain_for(leaf, sim_roots=sim_roots)
    hint = report.product_hint()
    if hint is not None and hint is not chain.product:
        raise EvidenceInvalid("chain", f"report is from {hint.value}, chain is {chain.product.value}")
    key = verify_vcek(leaf, chain, now or datetime.now(UTC))
    _bind_vcek(report, leaf, chain.product)
    _check_signature(report, key)
    simulated = (
        chain.simulated
        or fingerprint(chain.ark) not in AMD_ARK_SHA256
        or is_simulated_cert(leaf)
        or report.chip_id.startswith(SIM_CHIP_MARKER)
    )
    if simulated and policy.require_hardware:
        raise PolicyRejected("hardware", "simulated evidence where hardware is required")
    _policy_checks(report, policy, chain.product)
    if policy.trusted_measurements is not None and report.measurement not in policy.trusted_measurements:
        raise PolicyRejected("measurement", "MEASUREMENT is not among the trusted launch digests")
    _check_launch(report, policy, local_hashes)
    if simulated:
        _log.warning("accepted SIMULATED SNP evidence (chip %s…): not hardware", report.chip_id[32:40].hex())
    return SnpVerification(
        report=report,
        trust="simulated" if simulated else "amd-hardware",
        product=chain.product,
        vcek_sha256=hashlib.sha256(leaf.public_bytes(Encoding.DER)).hexdigest(),
        ark_sha256=fingerprint(chain.ark),
        warnings=("report_data not checked",) if expected_report_data is None else (),
    )
