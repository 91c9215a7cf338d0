"""``snp-sim@1.0`` — simulated SEV-SNP evidence for machines without the hardware (CI, laptops).

The evidence has the real 1184-byte layout and real signatures, made by a chain that exists only
in this process and says so (``O=SIMULATED - NOT AMD``, ``SIM-`` names, a CHIP_ID starting with
``SIMULATED-SNP/NOT-AMD-HARDWARE!!``). It is never produced or accepted as hardware.

Keys:

* ``generate`` — assumes ``[snp] provider = "simulated"`` (otherwise 503: simulation is opt-in).
  Produces the same message as ``snp@1.0/generate`` (REPORT_DATA bound to the node's address and
  node-message id) plus ``snp-mode: simulated`` and ``certs`` (the simulated ARK, ASK and VCEK),
  committed by the node wallet, under ``device: snp-sim@1.0``. Its MEASUREMENT is the launch digest
  of ``[snp] local_hashes`` when set (so measurement checks run as on hardware), else zeros. The
  chain is the ``"snp-sim-chain"`` service, or one generated on first use and kept for the
  device's lifetime. No side effects.
* ``verify`` — assumes a posted evidence message, as ``snp@1.0/verify``. When the boot message's
  ``[trust] require_hardware`` is on, it refuses (``status: 403``, ``check: hardware``). Otherwise it
  accepts roots that declare themselves simulated — this device's own and those carried in the
  message — and always answers ``hardware: false``, ``trust: simulated``: the answer says the
  evidence is well-formed and bound, never that hardware stands behind it. No side effects.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, final

import trio

from attest import (
    AttestError,
    LaunchParameters,
    SimulatedChain,
    SimulatedSnpProvider,
    VerifierPolicy,
    fingerprint,
    is_simulated_cert,
    launch_digest,
)
from attest import CertPool as _CertPool
from devices._base import Context, DeviceInfo
from devices._errors import DeviceError, KeyNotFound, Unavailable
from devices._snp import SnpSettings, VerifyInput, generate_message, verify_answer
from devices.core import CoreError, b64u_decode

if TYPE_CHECKING:
    from devices.core import Message, Value

DEVICE_ID = "snp-sim@1.0"


def _carried_sim_roots(req: Message) -> set[str]:
    """Fingerprints of self-signed certificates in the message's ``certs`` that say SIMULATED."""
    given = VerifyInput.from_request(req).fields.get("certs")
    if not isinstance(given, dict):
        return set()
    try:
        pool = _CertPool.from_cert_table({str(k): b64u_decode(str(v)) for k, v in given.items()})
    except (CoreError, ValueError):
        return set()
    return {fingerprint(c) for c in pool.certs if c.subject == c.issuer and is_simulated_cert(c)}


def _measurement(settings: SnpSettings) -> bytes:
    """The launch digest of ``[snp] local_hashes`` (what real hardware would measure), else zeros."""
    if settings.local_hashes is None:
        return bytes(48)
    try:
        return launch_digest(LaunchParameters.from_local_hashes(settings.local_hashes))
    except AttestError as exc:
        raise DeviceError(f"[snp] local_hashes: {exc}") from exc


@final
class SnpSimDevice:
    id = DEVICE_ID

    def __init__(self) -> None:
        self._chain: SimulatedChain | None = None
        self._lock = threading.Lock()

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            keys=frozenset({"generate", "verify"}), description="simulated SEV-SNP evidence (never hardware)"
        )

    def _own_chain(self, ctx: Context) -> SimulatedChain:
        injected: SimulatedChain | None = ctx.services.get("snp-sim-chain")
        if injected is not None:
            return injected
        with self._lock:
            if self._chain is None:
                self._chain = SimulatedChain.generate()
            return self._chain

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        settings = SnpSettings.from_context(ctx)
        if key == "generate":
            if settings.provider != "simulated":
                raise Unavailable('simulated SNP evidence is disabled (set [snp] provider = "simulated")')
            chain = await trio.to_thread.run_sync(self._own_chain, ctx)
            provider = SimulatedSnpProvider(chain, measurement=_measurement(settings))
            return await generate_message(ctx, provider, settings, device=DEVICE_ID)
        if key == "verify":
            base_policy = settings.policy(require_hardware=settings.require_hardware)
            policy = base_policy
            if not settings.require_hardware:
                roots = _carried_sim_roots(req)
                if self._chain is not None or "snp-sim-chain" in ctx.services:
                    roots.add(self._own_chain(ctx).root_sha256)
                policy = VerifierPolicy.simulation(roots, base=base_policy)
            return await verify_answer(ctx, req, settings, policy, device=DEVICE_ID)
        raise KeyNotFound(f"snp-sim@1.0 has no key {key}")


DEVICE = SnpSimDevice()
