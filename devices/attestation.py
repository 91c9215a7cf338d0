"""``attest@1.0`` — cross-verification of result attestations, for clients and other nodes.

Services: ``"results"`` (``node.peering``), whose ``verify(body) -> Message`` does the checking.

Keys:

* ``verify`` (POST) — assumes the request ``body`` is an attestation in one of the forms peers
  exchange: a single ``sign_attestation`` blob, a batched bundle (``encode_batched_attestation``), or a
  gossip envelope (``attestation`` / ``attestation-batch``, as on ``hyperpeer/attestations/2``, plain
  or deflated).
  Produces a report: ``valid`` (bool), ``kind``, ``count`` and ``statements/<n>`` with ``process``,
  ``slot``, ``result``, ``hashpath``, ``attester``, ``device-stack``, ``hardware`` (evidence verified as
  AMD hardware; never simulated evidence) and ``trusted`` (the attester is in this node's
  ``trust.attesters``); when the body is malformed, forged or does not verify, ``valid: false`` with
  ``error``. No side effects: nothing is stored or forwarded. A missing or oversize body is 400.
* ``status`` — the peering service's health (``results`` service ``status()``): ``peering`` (``on`` or
  ``off``), and when on ``peer-id``, connected ``peers``, the ``trust`` policy's ``k``, number of
  ``attesters`` and ``require-hardware``, counters (``accepted``, ``rejected``, ``duplicates``,
  ``untrusted``, ``batches-published``, ``statements-published``, ``served-converged``,
  ``fetched-results``, ``fetched-messages``, ``bad-fetches``), ``rejections`` by reason and the
  gossip layer's counters (``gossip``). No side effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, final

from devices._base import DeviceInfo
from devices._errors import BadRequest, KeyNotFound

if TYPE_CHECKING:
    from devices._base import Context
    from devices.core import Message, Value

MAX_BODY_BYTES = 1 << 20


@final
class AttestDevice:
    id = "attest@1.0"

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            keys=frozenset({"verify", "status"}), description="verify result attestations; peering health"
        )

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        if key == "status":
            status: Message = ctx.service("results").status()
            return status
        if key != "verify":
            raise KeyNotFound(f"attest@1.0 has no key {key}")
        body = req.get("body")
        if not isinstance(body, bytes) or not body:
            raise BadRequest("attest@1.0/verify needs the attestation as the request body")
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest(f"attestation larger than {MAX_BODY_BYTES} bytes")
        report: Message = ctx.service("results").verify(body)
        return report


DEVICE = AttestDevice()
