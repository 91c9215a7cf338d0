"""HyperBEAM's ``snp@1.0`` message fields: build them from evidence, and verify a received message.

Generate (spec §3.2): ``report`` (the report JSON *string*), ``nonce`` (base64url of the 64-byte
REPORT_DATA, 86 characters), ``address``, ``local-hashes`` (the eight launch parameters); the caller
adds ``node-message`` and commits the message with the node wallet (httpsig lives elsewhere).
Simulated evidence travels as device ``snp-sim@1.0`` with ``snp-mode: simulated`` and carries its
certificate chain (``certs``: name → base64url DER), because no KDS could serve it.

Verify: the message nonce must start with the raw address and, when the caller knows the
node-message id, equal ``address ‖ id``; REPORT_DATA must then equal the nonce (HyperBEAM skips this
last check; we never do), and ``local-hashes`` must reproduce MEASUREMENT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devices.core import DecodeError, b64_decode, b64u_decode, b64u_encode

from ._errors import EvidenceInvalid, EvidenceMalformed, PolicyRejected
from ._measure import COMMITTED_PARAMETERS, normalise_local_hashes
from ._provider import DEFAULT_VMPL, Evidence, SnpProvider
from ._report import SnpReport
from ._vcek import CertPool, VcekSource
from ._verify import SnpVerification, VerifierPolicy, report_data_binding, verify_snp

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime


def snp_message_fields(
    evidence: Evidence, *, address: str, local_hashes: Mapping[str, Any]
) -> dict[str, Any]:
    """The HyperBEAM-compatible fields for ``evidence`` (plus the simulation markers when simulated).

    Raises:
        EvidenceMalformed: ``local_hashes`` lacks a launch parameter or is malformed.
    """
    report = SnpReport.from_bytes(evidence.raw)
    fields: dict[str, Any] = {
        "device": evidence.device,
        "report": report.to_json(),
        "nonce": b64u_encode(report.report_data),
        "address": address,
        "local-hashes": normalise_local_hashes(local_hashes, COMMITTED_PARAMETERS),
    }
    if evidence.kind == "snp-sim":
        fields["snp-mode"] = "simulated"
        fields["certs"] = {name: b64u_encode(der) for name, der in evidence.certs.items()}
    return fields


def generate_snp_message(
    provider: SnpProvider,
    *,
    address: str,
    node_message_id: str | bytes,
    local_hashes: Mapping[str, Any],
    vmpl: int = DEFAULT_VMPL,
) -> dict[str, Any]:
    """Ask ``provider`` for a report bound to ``address ‖ node_message_id`` and build the fields.

    Raises:
        ProviderError: the device failed. EvidenceMalformed: bad address, id or launch parameters.
    """
    evidence = provider.get_report(report_data_binding(address, node_message_id), vmpl)
    return snp_message_fields(evidence, address=address, local_hashes=local_hashes)


def decode_nonce(text: object) -> bytes:
    """A message nonce: base64url (HyperBEAM) or standard base64 (seen in the admissible-report vector).

    Raises:
        EvidenceMalformed: neither.
    """
    if not isinstance(text, str):
        raise EvidenceMalformed("message nonce must be text")
    try:
        return b64u_decode(text)
    except DecodeError:
        try:
            return b64_decode(text)
        except DecodeError as exc:
            raise EvidenceMalformed("message nonce is neither base64url nor base64") from exc


def message_nonce(message: Mapping[str, Any], node_message_id: str | bytes | None = None) -> bytes:
    """The 64 bytes REPORT_DATA must equal, after checking the nonce against address (and id).

    Raises:
        EvidenceMalformed: nonce or address missing or malformed.
        EvidenceInvalid: ``check="report_data"`` when the nonce is not bound to address (and id).
    """
    nonce = decode_nonce(message.get("nonce"))
    address = message.get("address")
    if not isinstance(address, str):
        raise EvidenceMalformed("message address must be text")
    if len(nonce) != 64:
        raise EvidenceMalformed(f"message nonce must be 64 bytes, got {len(nonce)}")
    expected = report_data_binding(address, node_message_id if node_message_id is not None else nonce[32:])
    if nonce != expected:
        raise EvidenceInvalid("report_data", "message nonce is not address ‖ node-message id")
    return nonce


def verify_snp_message(
    message: Mapping[str, Any],
    *,
    node_message_id: str | bytes | None = None,
    policy: VerifierPolicy | None = None,
    vcek: VcekSource | None = None,
    certs: CertPool | None = None,
    now: datetime | None = None,
) -> SnpVerification:
    """Verify a received ``snp@1.0`` / ``snp-sim@1.0`` message's evidence.

    ``node_message_id`` should be the id the caller computed from ``node-message`` (HyperBEAM's
    unsigned message id); without it only the address half of the nonce is tied to the message.

    Raises:
        EvidenceMalformed, VcekUnavailable, EvidenceInvalid: as ``verify_snp``; a message declaring
        ``snp-mode: simulated`` is refused with ``check="hardware"`` when hardware is required.
    """
    policy = policy or VerifierPolicy()
    if message.get("snp-mode") == "simulated" and policy.require_hardware:
        raise PolicyRejected("hardware", "message declares simulated SNP evidence")
    if "report" not in message:
        raise EvidenceMalformed("message has no report")
    report = SnpReport.from_json(message["report"])
    nonce = message_nonce(message, node_message_id)
    pool = certs or CertPool()
    carried = message.get("certs")
    if isinstance(carried, dict):
        try:
            pool = pool + CertPool.from_cert_table({str(k): b64u_decode(str(v)) for k, v in carried.items()})
        except DecodeError as exc:
            raise EvidenceMalformed("message certs are not base64url") from exc
    local = message.get("local-hashes")
    return verify_snp(
        report,
        expected_report_data=nonce,
        policy=policy,
        vcek=vcek,
        certs=pool,
        now=now,
        local_hashes=local if isinstance(local, dict) else None,
    )
