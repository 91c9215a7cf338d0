"""What ``snp@1.0`` and ``snp-sim@1.0`` share: settings from the node message, certificate sources,
the generated message and the verification answer. Blocking work runs in worker threads.

Injected services (``Context.services``; tests use them, production needs none):

* ``"snp-provider"`` — an ``attest.SnpProvider`` that replaces ``snp@1.0``'s interface detection;
* ``"snp-fetch"`` — ``fetch(url) -> bytes`` for the AMD key server (used only when
  ``[snp] kds_fetch`` is on; without it the node uses ``attest.http_fetch``);
* ``"snp-sim-chain"`` — the ``attest.SimulatedChain`` ``snp-sim@1.0`` signs with;
* ``"snp-clock"`` — ``() -> datetime`` for certificate validity (default: ``Context.clock``);
* ``"data-dir"`` — the node's data directory (the default VCEK cache is ``<data-dir>/snp``).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

import attest
from attest import (
    AMD_ARK_SHA256,
    CertPool,
    EvidenceInvalid,
    EvidenceMalformed,
    FirstVcek,
    KdsClient,
    Product,
    SnpReport,
    SnpVerification,
    Tcb,
    VcekCache,
    VcekSource,
    VcekUnavailable,
    VerifierPolicy,
)
from devices._errors import BadRequest, DeviceError
from devices.core import CoreError, Message, b64u_decode, b64u_encode, commit, message_id, verify
from devices.meta import verified_committers

if TYPE_CHECKING:
    from collections.abc import Callable

    from devices._base import Context

REPORT_SIZE = 1184
KDS_BASE = "https://kdsintf.amd.com"


@dataclass(frozen=True)
class SnpSettings:
    """``[snp]`` and ``[trust]`` of the node message, parsed."""

    provider: str = "auto"
    configfs_path: Path = Path("/sys/kernel/config/tsm/report")
    sev_guest_path: Path = Path("/dev/sev-guest")
    vmpl: int = 1
    verify_vmpl: int | None = 1
    trusted_measurements: frozenset[bytes] | None = None
    min_tcb: Tcb | None = None
    local_hashes: dict[str, str] | None = None
    cache_dir: Path | None = None
    kds_base_url: str = KDS_BASE
    kds_fetch: bool = False
    require_hardware: bool = False

    @classmethod
    def from_context(cls, ctx: Context) -> SnpSettings:
        """Raises ``DeviceError`` (500) when the boot configuration is unusable."""
        snp = ctx.config.get_message("snp") or Message()
        trust = ctx.config.get_message("trust") or Message()
        try:
            measurements = [bytes.fromhex(t.decode()) for t in _texts(snp.get("trusted_measurements"))]
            min_tcb = _tcb(snp.get_text("min_tcb") or "")
            pairs = [t.decode().partition("=") for t in _texts(snp.get("local_hashes"))]
        except (ValueError, UnicodeDecodeError) as exc:
            raise DeviceError(f"[snp] configuration is unusable: {exc}") from exc
        if any(len(m) != 48 for m in measurements):
            raise DeviceError("[snp] trusted_measurements must be 48-byte hex digests")
        data_dir = ctx.services.get("data-dir")
        cache = snp.get_text("cache_dir") or (str(Path(data_dir) / "snp") if data_dir else "")
        verify_vmpl = snp.get_int("verify_vmpl", 1)
        return cls(
            provider=snp.get_text("provider") or "auto",
            configfs_path=Path(snp.get_text("configfs_path") or cls.configfs_path),
            sev_guest_path=Path(snp.get_text("sev_guest_path") or cls.sev_guest_path),
            vmpl=snp.get_int("vmpl", 1) or 0,
            verify_vmpl=None if verify_vmpl is None or verify_vmpl < 0 else verify_vmpl,
            trusted_measurements=frozenset(measurements) if measurements else None,
            min_tcb=min_tcb,
            local_hashes={k.strip(): v.strip() for k, _, v in pairs} if pairs else None,
            cache_dir=Path(cache) if cache else None,
            kds_base_url=snp.get_text("kds_base_url") or KDS_BASE,
            kds_fetch=snp.get("kds_fetch") is True,
            require_hardware=trust.get("require_hardware") is True,
        )

    def policy(self, *, require_hardware: bool) -> VerifierPolicy:
        return VerifierPolicy(
            require_hardware=require_hardware,
            vmpl=self.verify_vmpl,
            min_tcb=self.min_tcb,
            trusted_measurements=self.trusted_measurements,
        )


def _texts(value: object) -> list[bytes]:
    return [v for v in value if isinstance(v, bytes)] if isinstance(value, tuple) else []


def _tcb(text: str) -> Tcb | None:
    if not text:
        return None
    parts = [int(p) for p in text.split(".")]
    if len(parts) not in (4, 5):
        raise ValueError("min_tcb is bootloader.tee.snp.microcode[.fmc]")
    return Tcb(*parts)


def evidence_id(report: SnpReport) -> str:
    """base64url(SHA-256(raw report)), as ``SnpVerification.evidence_id``."""
    return b64u_encode(hashlib.sha256(report.raw).digest())


def now_of(ctx: Context) -> datetime:
    """The time certificates are checked at: the ``"snp-clock"`` service, else the node's clock."""
    injected: Callable[[], datetime] | None = ctx.services.get("snp-clock")
    return injected() if injected is not None else datetime.fromtimestamp(ctx.clock(), UTC)


def fetcher(ctx: Context, settings: SnpSettings) -> Callable[[str], bytes] | None:
    """The KDS fetch to use, or None when the key server is not to be asked."""
    if not settings.kds_fetch:
        return None
    injected: Callable[[str], bytes] | None = ctx.services.get("snp-fetch")
    return injected or attest.http_fetch


# -- generate -------------------------------------------------------------------------------------


async def generate_message(
    ctx: Context, provider: attest.SnpProvider, settings: SnpSettings, *, device: str
) -> Message:
    """Evidence bound to ``address ‖ id(node message)``, as a message committed by the node wallet.

    Fields: ``device``, ``report`` (HyperBEAM's JSON string), ``nonce`` (base64url of REPORT_DATA),
    ``address``, ``node-message`` and ``node-message-id`` (the nonce's two halves), ``evidence-id``,
    ``local-hashes`` (when configured), ``certs`` (name → base64url DER, when the provider supplied
    any), ``vcek-url`` (the KDS address of the VCEK) and, for simulated evidence,
    ``snp-mode: simulated``.

    Raises:
        DeviceError: the provider failed (its status hint) or the configuration is unusable.
    """
    node_msg = ctx.config
    node_id = message_id(node_msg, "none")
    address = ctx.wallet.address
    data = attest.report_data_binding(address, node_id)
    try:
        evidence = await trio.to_thread.run_sync(provider.get_report, data, settings.vmpl)
        if settings.local_hashes is not None:
            fields = attest.snp_message_fields(evidence, address=address, local_hashes=settings.local_hashes)
        else:
            report = evidence.report
            fields = {
                "report": report.to_json(),
                "nonce": b64u_encode(report.report_data),
                "address": address,
            }
    except attest.AttestError as exc:
        raise DeviceError(f"{device}: {exc}", status=exc.status_hint) from exc
    report = evidence.report
    product = report.product_hint() or Product.MILAN
    fields.update(
        {
            "device": device,
            "node-message": node_msg,
            "node-message-id": node_id,
            "evidence-id": evidence_id(report),
            "vcek-url": attest.kds_vcek_url(
                product, report.chip_id, report.tcb("reported", product), base=settings.kds_base_url
            ),
        }
    )
    if evidence.certs:
        fields["certs"] = {name: b64u_encode(der) for name, der in evidence.certs.items()}
    if evidence.kind == "snp-sim":
        fields["snp-mode"] = "simulated"
    msg = Message(fields)
    return await trio.to_thread.run_sync(commit, msg, ctx.wallet)


# -- verify ---------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Message values as the plain Python ``attest`` reads: text for bytes, dicts for messages."""
    if isinstance(value, Message):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class VerifyInput:
    """What a verify request carries, decoded."""

    fields: dict[str, Any]
    report: SnpReport
    node_message_id: str | None
    expected: bytes | None

    @classmethod
    def from_request(cls, req: Message) -> VerifyInput:
        """Raises ``BadRequest`` for a request that holds no readable report."""
        msg = req.get_message("body") or req
        fields = {k: _plain(v) for k, v in msg.items() if k not in ("commitments", "path", "method")}
        try:
            raw = msg.get("body") if "report" not in msg else None
            if isinstance(raw, bytes) and len(raw) == REPORT_SIZE:
                report = SnpReport.from_bytes(raw)
                fields["report"] = report.to_json()
            elif "report" in msg:
                report = SnpReport.from_json(fields["report"])
            else:
                raise BadRequest("no report: send `report` (HyperBEAM JSON) or a raw 1184-byte body")
            node_msg = msg.get_message("node-message")
            node_id = (
                message_id(node_msg, "none") if node_msg is not None else msg.get_text("node-message-id")
            )
            hex_data = msg.get_text("report-data")
            expected = bytes.fromhex(hex_data) if hex_data else None
        except (EvidenceMalformed, CoreError, ValueError) as exc:
            raise BadRequest(f"malformed evidence: {exc}") from exc
        return cls(fields=fields, report=report, node_message_id=node_id, expected=expected)


def _cert_pool(settings: SnpSettings, carried: object) -> CertPool:
    pool = CertPool()
    if settings.cache_dir is not None and settings.cache_dir.is_dir():
        pool = CertPool.load(settings.cache_dir)
    if isinstance(carried, dict):
        try:
            table = {str(k): b64u_decode(str(v)) for k, v in carried.items()}
        except CoreError as exc:
            raise EvidenceMalformed(f"certs must be base64url DER: {exc}") from exc
        pool = pool + CertPool.from_cert_table(table)
    return pool


def _ensure_chain(
    pool: CertPool, product: Product, settings: SnpSettings, fetch: Callable[[str], bytes] | None
) -> CertPool:
    """Add AMD's ASK/ARK for ``product`` from the KDS (cached) when the pool lacks its root."""
    if fetch is None or any(AMD_ARK_SHA256.get(attest.fingerprint(c)) is product for c in pool.certs):
        return pool
    url = attest.kds_chain_url(product, base=settings.kds_base_url)
    try:
        data = fetch(url)
        certs = attest.load_certificates(data)
    except (OSError, EvidenceMalformed) as exc:
        raise VcekUnavailable(f"KDS cert_chain fetch failed for {url}: {exc}") from exc
    if settings.cache_dir is not None:
        with contextlib.suppress(OSError):  # a cache write failure costs a later re-fetch only
            settings.cache_dir.mkdir(parents=True, exist_ok=True)
            (settings.cache_dir / f"cert_chain-{product.value}.pem").write_bytes(data)
    return pool + CertPool(certs)


def verify_input(
    given: VerifyInput,
    settings: SnpSettings,
    policy: VerifierPolicy,
    *,
    fetch: Callable[[str], bytes] | None,
    now: datetime,
) -> SnpVerification:
    """Blocking: verify ``given`` (a full message when it has a nonce, else a bare report).

    Raises:
        EvidenceMalformed, VcekUnavailable, EvidenceInvalid: as ``attest.verify_snp``.
    """
    pool = _cert_pool(settings, given.fields.get("certs"))
    fields = {k: v for k, v in given.fields.items() if k != "certs"}  # already in the pool
    product = given.report.product_hint() or Product.MILAN
    if fields.get("snp-mode") != "simulated":  # no key server serves a simulated chain
        pool = _ensure_chain(pool, product, settings, fetch)
    sources: list[VcekSource] = []
    cache = VcekCache(settings.cache_dir) if settings.cache_dir is not None else None
    if cache is not None:
        sources.append(cache)
    if fetch is not None:
        sources.append(KdsClient(fetch, cache, base=settings.kds_base_url))
    vcek = FirstVcek(pool, *sources)
    if "nonce" in fields:
        return attest.verify_snp_message(
            fields, node_message_id=given.node_message_id, policy=policy, vcek=vcek, certs=pool, now=now
        )
    return attest.verify_snp(
        given.report, expected_report_data=given.expected, policy=policy, vcek=vcek, certs=pool, now=now
    )


def describe(report: SnpReport, *, checked: bool) -> dict[str, Any]:
    return {
        "measurement": report.measurement.hex(),
        "report-data": report.report_data.hex(),
        "chip-id": report.chip_id.hex(),
        "vmpl": report.vmpl,
        "report-data-checked": checked,
        "evidence-id": evidence_id(report),
    }


def _signature_problem(req: Message, address: object) -> tuple[str, str] | None:
    """HyperBEAM's rule: signed evidence must be signed by the address it names. The edge verified
    the request's own commitments; a nested ``body`` is verified here."""
    body = req.get_message("body")
    if body is None:
        signers: tuple[str, ...] | list[str] = verified_committers(req)
    elif body.get_message("commitments") is None:
        return None
    else:
        report = verify(body)
        if not report.valid:
            return "signature", "a commitment of the evidence message does not verify"
        signers = report.committers
    if signers and address not in signers:
        return "address", "the message is not signed by the address it names"
    return None


async def verify_answer(
    ctx: Context, req: Message, settings: SnpSettings, policy: VerifierPolicy, *, device: str
) -> Message:
    """The verify answer: 200 ``valid: true`` with the facts, or ``status: 403``/``503`` with
    ``valid: false`` and the failing ``check``. Raises ``BadRequest`` for unreadable input."""
    given = VerifyInput.from_request(req)
    checked = "nonce" in given.fields or given.expected is not None
    out: dict[str, Any] = {
        "device": device,
        "valid": False,
        "hardware": False,
        **describe(given.report, checked=checked),
    }
    refused = _signature_problem(req, given.fields.get("address"))
    if refused is not None:
        check, error = refused
        return Message({**out, "status": 403, "check": check, "error": f"{check}: {error}"})
    fetch = fetcher(ctx, settings)
    try:
        result = await trio.to_thread.run_sync(
            lambda: verify_input(given, settings, policy, fetch=fetch, now=now_of(ctx))
        )
    except EvidenceInvalid as exc:
        return Message({**out, "status": 403, "check": exc.check, "error": str(exc)})
    except VcekUnavailable as exc:
        return Message({**out, "status": 503, "check": "vcek", "error": str(exc)})
    except EvidenceMalformed as exc:
        raise BadRequest(f"malformed evidence: {exc}") from exc
    out.update(
        {"valid": True, "hardware": result.hardware, "trust": result.trust, "product": result.product.value}
    )
    return Message(out)
