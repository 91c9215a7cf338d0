"""``test-exec@1.0`` — a small deterministic execution device for tests (until WASM is merged).

State keys it owns: ``counter`` (int) and ``running-hash`` (base64url of
``sha256(prev ‖ ascii(id of the scheduled message))``, 32 zero bytes initially).

* ``init`` — assumes nothing. Produces the base with ``counter: 0`` and ``running-hash`` at its
  initial value. No side effects.
* ``compute`` — assumes an assignment request (``slot``, ``body``). Produces the base with
  ``counter + 1``, the running hash advanced by the body's id (``message_id(body, "all")``), and
  ``results = {data: "<counter>:<running-hash>", outbox: {…}}``. A body with ``emit-to`` puts one
  message per target (comma-separated) in the outbox: ``{target, data: <body data>, action:
  "Echo", echo-of: <counter>}``; a body with ``fail: true`` raises ``BadRequest`` (to test error
  paths). No side effects.
* ``snapshot`` — produces ``{counter, running-hash}``. ``normalize`` — restores those two keys
  from the base's ``snapshot`` (its ``snapshot/<device-key>`` part inside a stack) and drops
  ``snapshot``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, final

from devices._base import DeviceInfo
from devices._errors import BadRequest, KeyNotFound
from devices.core import Message, Value, b64u_decode, b64u_encode, message_id

if TYPE_CHECKING:
    from devices._base import Context

INITIAL_HASH = b64u_encode(b"\x00" * 32)


@final
class TestExecDevice:
    id = "test-exec@1.0"

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            keys=frozenset({"init", "compute", "snapshot", "normalize"}),
            description="deterministic counter + running hash for tests",
        )

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        if key == "init":
            return base.update({"counter": 0, "running-hash": INITIAL_HASH})
        if key == "compute":
            return self._compute(base, req)
        if key == "snapshot":
            return Message(
                {
                    "counter": base.get_int("counter", 0),
                    "running-hash": base.get_text("running-hash") or INITIAL_HASH,
                }
            )
        if key == "normalize":
            snap = base.get_message("snapshot")
            if snap is None:
                return base
            mine = snap.get_message(base.get_text("device-key") or "")
            return base.without("snapshot").update(mine if mine is not None else snap)
        raise KeyNotFound(f"test-exec@1.0 has no key {key}")

    @staticmethod
    def _compute(base: Message, req: Message) -> Message:
        body = req.get_message("body")
        if body is None:
            raise BadRequest("test-exec@1.0 compute needs an assignment with a body")
        if body.get("fail") in (True, b"true"):
            raise BadRequest("test-exec@1.0: the message asked to fail")
        counter = (base.get_int("counter") or 0) + 1
        prev = b64u_decode(base.get_text("running-hash") or INITIAL_HASH)
        running = b64u_encode(hashlib.sha256(prev + message_id(body, "all").encode("ascii")).digest())
        outbox: dict[str, Message] = {}
        targets = body.get_text("emit-to")
        if targets:
            for n, target in enumerate(t for t in targets.split(",") if t):
                outbox[str(n + 1)] = Message(
                    {"target": target, "data": body.get("data", b""), "action": "Echo", "echo-of": counter}
                )
        results = Message({"data": f"{counter}:{running}", "outbox": outbox})
        return base.update({"counter": counter, "running-hash": running, "results": results})


DEVICE = TestExecDevice()
