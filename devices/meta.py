"""``meta@1.0`` — the node's own description and configuration.

Keys:

* ``info`` (GET, or any method other than POST) — assumes ``Context.config`` is the node message
  (built by the node from its allow-listed, non-secret configuration, spec §11 D6). Produces that
  message without private keys: ``address`` (the node wallet's address), ``operator``, ``devices``,
  ``node``, ``version`` and the effective configuration sections. Further path keys read fields of
  it (``/~meta@1.0/info/address`` answers the address as plain text). No side effects.
* ``info`` (POST) — assumes the HTTP edge verified every commitment of the request and recorded
  the verified signers in ``priv/committers`` (the only place a device may learn who signed).
  Requires the operator among them: no verified signer → ``Unauthorized`` (401); other signers →
  ``Forbidden`` (403). Side effect: the request's keys (except routing and reserved keys) are
  merged into the node message through the ``"node"`` service (``update(changes) -> int``).
  Produces ``{body: "Node message updated. History: N updates.", history-length: N}``.
* ``build`` — produces ``{node: "hyperpeer", version}``.
"""

from __future__ import annotations

from typing import final

from devices._base import Context, DeviceInfo
from devices._errors import BadRequest, Forbidden, Unauthorized
from devices.core import Message, Value, is_private

VERSION = "0.1.0"
_PROTECTED = frozenset({"path", "method", "commitments", "address", "device", "node", "version",
                        "history-length", "body"})


def verified_committers(req: Message) -> tuple[str, ...]:
    """The signers the HTTP edge verified for this request (never the claimed ones)."""
    priv = req.get_message("priv")
    found = priv.get("committers") if priv is not None else None
    if not isinstance(found, tuple):
        return ()
    return tuple(c.decode("utf-8", "replace") for c in found if isinstance(c, bytes))


@final
class MetaDevice:
    id = "meta@1.0"

    def info(self) -> DeviceInfo:
        return DeviceInfo(keys=frozenset({"info", "build"}), description="node information")

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        if key == "build":
            return Message(node=b"hyperpeer", version=VERSION.encode())
        if key != "info":
            raise BadRequest(f"meta@1.0 has no key {key}")
        method = (req.get_text("method") or "GET").upper()
        if method != "POST":
            return ctx.config.public()
        return self._update(req, ctx)

    @staticmethod
    def _update(req: Message, ctx: Context) -> Message:
        signers = verified_committers(req)
        if not signers:
            raise Unauthorized("changing the node message needs a request signed by the operator")
        operator = ctx.config.get_text("operator")
        if operator is None or operator not in signers:
            raise Forbidden("only the operator may change the node message")
        changes = Message({k: v for k, v in req.items()
                           if k.lower() not in _PROTECTED and not is_private(k)})
        if not changes:
            raise BadRequest("the request carries no keys to set")
        count: int = ctx.service("node").update(changes)
        return Message({"body": f"Node message updated. History: {count} updates.",
                        "history-length": count})


DEVICE = MetaDevice()
