"""``verify_file``: detect what a file holds and verify it, for the ``hyperpeer verify`` CLI.

Kinds: ``snp-report`` (raw 1184 bytes, or their hex text), ``snp-report-json`` (HyperBEAM's report
JSON), ``snp-message`` (a HyperBEAM ``snp@1.0`` message as JSON: ``report`` plus ``nonce`` and
``address``), ``snp-evidence`` (``encode_evidence``: CBOR with the raw report and its
certificates), ``attestation`` and ``batched-attestation``. The answer is one JSON-able dict:
``file, kind, valid, id, committers, error`` (+ ``check`` when invalid), and for SNP also
``hardware, measurement, report_data, chip_id, report_data_checked`` (+ ``trust, product`` when
valid). A message file is checked with ``verify_snp_message`` (its nonce, address and
``local-hashes``); a bare report's REPORT_DATA only against the ``nonce`` argument, if given.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from devices.core import b64u_encode

from ._attestation import (
    BUNDLE_TYPE,
    SINGLE_TYPE,
    AttestationReport,
    cbor_canonical,
    cbor_strict_loads,
    verify_attestation,
    verify_batched_attestation,
)
from ._errors import AttestError, EvidenceInvalid, EvidenceMalformed, VcekUnavailable
from ._message import verify_snp_message
from ._provider import Evidence
from ._report import REPORT_SIZE, SnpReport, json_object
from ._vcek import CertPool, StaticVcek
from ._verify import VerifierPolicy, verify_snp

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from pathlib import Path

EVIDENCE_TYPE = "snp-evidence/1"
MAX_FILE_BYTES = 4 << 20


def encode_evidence(evidence: Evidence) -> bytes:
    """Canonical CBOR of evidence and the certificates it came with (a portable evidence file)."""
    return cbor_canonical(
        {"type": EVIDENCE_TYPE, "kind": evidence.kind, "report": evidence.raw, "certs": dict(evidence.certs)}
    )


def decode_evidence(data: bytes) -> Evidence:
    """Inverse of ``encode_evidence``.

    Raises:
        EvidenceMalformed: not an evidence file.
    """
    obj = cbor_strict_loads(data)
    raw, certs, kind = obj.get("report"), obj.get("certs"), obj.get("kind")
    if (
        obj.get("type") != EVIDENCE_TYPE
        or not isinstance(raw, bytes)
        or kind not in ("snp", "snp-sim")
        or not isinstance(certs, dict)
        or not all(isinstance(k, str) and isinstance(v, bytes) for k, v in certs.items())
    ):
        raise EvidenceMalformed("not an SNP evidence file")
    return Evidence(raw=raw, certs=certs, kind=kind)


def _hex_report(text: bytes) -> bytes | None:
    if len(text) != 2 * REPORT_SIZE:
        return None
    try:
        return bytes.fromhex(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None


def _classify(data: bytes) -> tuple[str, SnpReport | None, CertPool, dict[str, Any] | None]:
    """(kind, report, certificates carried by the file, the message when it is an snp message)."""
    stripped = data.strip()
    raw = data if len(data) == REPORT_SIZE else _hex_report(stripped)
    if raw is not None:
        return "snp-report", SnpReport.from_bytes(raw), CertPool(), None
    if stripped.startswith(b"{"):
        obj = json_object(stripped)
        if "report" in obj:
            return "snp-message", SnpReport.from_json(obj["report"]), CertPool(), obj
        return "snp-report-json", SnpReport.from_json(obj), CertPool(), None
    obj = cbor_strict_loads(data)
    if obj.get("type") == EVIDENCE_TYPE:
        evidence = decode_evidence(data)
        return "snp-evidence", evidence.report, CertPool.from_cert_table(evidence.certs), None
    kinds = {SINGLE_TYPE: "attestation", BUNDLE_TYPE: "batched-attestation"}
    return kinds.get(str(obj.get("type")), "unknown"), None, CertPool(), None


def _attestation_fields(report: AttestationReport) -> dict[str, Any]:
    out: dict[str, Any] = {
        "valid": report.valid,
        "id": report.id,
        "committers": list(report.committers),
        "error": report.error,
        "facts": report.facts,
    }
    if not report.valid:
        out["check"] = report.check
    return out


def verify_file(
    path: Path,
    *,
    vcek: Path | None = None,
    policy: VerifierPolicy | None = None,
    certs: Sequence[Path] = (),
    nonce: bytes | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Verify whatever ``path`` holds and describe the outcome as one JSON-able dict.

    ``certs`` are ARK/ASK bundles or directories (e.g. KDS ``cert_chain`` PEM); ``vcek`` a VCEK file
    (DER or PEM); ``nonce`` the expected REPORT_DATA (a message file carries its own). Never raises
    for bad input: failures come back as ``valid: False`` with ``error`` (and ``check``).
    """
    out: dict[str, Any] = {
        "file": str(path),
        "kind": "unknown",
        "valid": False,
        "id": None,
        "committers": [],
        "error": None,
    }
    try:
        data = path.read_bytes()[: MAX_FILE_BYTES + 1]
        if len(data) > MAX_FILE_BYTES:
            raise EvidenceMalformed(f"file larger than {MAX_FILE_BYTES} bytes")
        kind, report, pool, message = _classify(data)
        out["kind"] = kind
        if kind == "attestation":
            out.update(_attestation_fields(verify_attestation(data)))
            return out
        if kind == "batched-attestation":
            out.update(_attestation_fields(verify_batched_attestation(data)))
            return out
        if report is None:
            raise EvidenceMalformed("unrecognised file contents")
        out.update(
            {
                "id": b64u_encode(hashlib.sha256(report.raw).digest()),
                "hardware": False,
                "measurement": report.measurement.hex(),
                "report_data": report.report_data.hex(),
                "chip_id": report.chip_id.hex(),
            }
        )
        out["report_data_checked"] = message is not None or nonce is not None
        pool = pool + CertPool.load(*certs)
        source = StaticVcek(vcek.read_bytes()) if vcek is not None else None
        if message is not None:
            result = verify_snp_message(message, policy=policy, vcek=source, certs=pool, now=now)
        else:
            result = verify_snp(
                report, expected_report_data=nonce, policy=policy, vcek=source, certs=pool, now=now
            )
        out.update(
            {
                "valid": True,
                "hardware": result.hardware,
                "trust": result.trust,
                "product": result.product.value,
            }
        )
    except EvidenceInvalid as exc:
        out.update({"error": str(exc), "check": exc.check})
    except VcekUnavailable as exc:
        out.update({"error": str(exc), "check": "vcek"})
    except AttestError as exc:
        out.update({"error": str(exc), "check": "malformed"})
    except OSError as exc:
        out.update({"error": f"cannot read: {exc}", "check": "io"})
    return out
