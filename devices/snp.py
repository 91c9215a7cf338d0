"""``snp@1.0`` — AMD SEV-SNP evidence from this machine's hardware, and verification of anyone's.

Keys:

* ``generate`` — assumes the node runs in an SEV-SNP guest: configfs-tsm (``[snp] configfs_path``,
  preferred) or the ``/dev/sev-guest`` ioctl (``[snp] sev_guest_path``), chosen by ``[snp] provider``
  (``auto``, ``configfs``, ``ioctl``; a ``"snp-provider"`` service overrides the choice). Produces a
  message committed by the node wallet whose REPORT_DATA is ``raw(address) ‖ raw(unsigned id of the
  node message)`` (HyperBEAM's binding): ``report``, ``nonce``, ``address``, ``node-message``,
  ``node-message-id``, ``evidence-id``, ``vcek-url``, ``certs`` (when the host supplied them) and
  ``local-hashes`` (when ``[snp] local_hashes`` is set). Without an SNP interface it answers 503
  naming what is missing; it **never** produces simulated evidence (``provider = "simulated"``
  is refused with 503: that is ``snp-sim@1.0``'s job). Side effect: one report request at
  ``[snp] vmpl`` (a configfs-tsm entry is created and removed).
* ``verify`` — assumes a posted evidence message (the request itself or its ``body``): a generated
  message (``report`` + ``nonce`` + ``address`` + ``node-message``/``node-message-id``), or a bare
  report (``report`` JSON or a raw 1184-byte body) with an optional expected ``report-data`` (hex).
  Verifies it to a pinned AMD root with the hardware policy: simulated evidence is always refused
  (``check: hardware``). Policy: ``[snp] verify_vmpl``, ``min_tcb``, ``trusted_measurements``.
  Certificates: the message's ``certs``, ``[snp] cache_dir`` (default ``<data_dir>/snp``: ARK/ASK
  bundles and cached VCEKs), then the AMD key server when ``[snp] kds_fetch`` is on (cached).
  A signed message must be signed by its ``address``. Produces ``valid``, ``hardware``,
  ``measurement``, ``report-data``, ``chip-id``, ``vmpl``, ``report-data-checked``,
  ``evidence-id`` (+ ``trust``, ``product``), or ``status: 403`` with ``check`` naming the failing
  check (``status: 503``, ``check: vcek`` when no VCEK is found); 400 for unreadable evidence.
  Side effect: fetched certificates are cached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, final

from attest import ConfigfsTsmProvider, SevGuestIoctlProvider, SnpProvider
from devices._base import Context, DeviceInfo
from devices._errors import KeyNotFound, Unavailable
from devices._snp import SnpSettings, generate_message, verify_answer

if TYPE_CHECKING:
    from devices.core import Message, Value

DEVICE_ID = "snp@1.0"


def hardware_provider(settings: SnpSettings) -> SnpProvider:
    """The configured hardware interface.

    Raises:
        Unavailable: simulation was asked for, or no SEV-SNP interface exists here (the reason
            names each interface looked for).
    """
    if settings.provider == "simulated":
        raise Unavailable(
            "snp@1.0 never produces simulated evidence; simulated evidence comes only from snp-sim@1.0"
        )
    missing: list[str] = []
    if settings.provider in ("auto", "configfs"):
        if settings.configfs_path.is_dir():
            return ConfigfsTsmProvider(settings.configfs_path)
        missing.append(f"no configfs-tsm at {settings.configfs_path}")
    if settings.provider in ("auto", "ioctl"):
        if settings.sev_guest_path.exists():
            return SevGuestIoctlProvider(settings.sev_guest_path)
        missing.append(f"no {settings.sev_guest_path}")
    raise Unavailable(f"no SEV-SNP interface on this machine ({', '.join(missing)})")


@final
class SnpDevice:
    id = DEVICE_ID

    def info(self) -> DeviceInfo:
        return DeviceInfo(keys=frozenset({"generate", "verify"}), description="AMD SEV-SNP hardware evidence")

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        settings = SnpSettings.from_context(ctx)
        if key == "generate":
            injected: SnpProvider | None = ctx.services.get("snp-provider")
            provider = injected or hardware_provider(settings)
            return await generate_message(ctx, provider, settings, device=DEVICE_ID)
        if key == "verify":
            policy = settings.policy(require_hardware=True)
            return await verify_answer(ctx, req, settings, policy, device=DEVICE_ID)
        raise KeyNotFound(f"snp@1.0 has no key {key}")


DEVICE = SnpDevice()
