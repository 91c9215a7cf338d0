"""``json-iface@1.0`` (also ``genesis-wasm@1.0``) — aos processes on our own wasmtime (spec §3.3, §8.7).

Service: ``"wasm"`` (``devices.wasm_service.WasmService``). Keys:

* ``init`` — assumes a process state (``process`` = the definition). Loads the image named by the
  definition's ``Module`` (aoconnect) or ``image`` — store, gateway or inline; the image id is its
  identity for the runtime's compile cache — and spawns an ``AosProcess`` as the live guest at
  ``at-slot``. Produces the state unchanged.
* ``compute`` with an assignment (``slot``, ``body``) — the aos message is built from the body
  (``Id`` over all commitments, ``Owner`` = first signer, ``From`` = ``from-process`` or owner,
  ``Tags`` = the ANS-104 original tags when present, else the other keys in Header-Case, ``Module``,
  ``Block-Height`` of the assignment); env = the definition. Produces the state with ``results``:
  ``outbox``/``patches``/``data`` as HyperBEAM lays them out (§2.5) and ``raw`` = the legacy CU
  result ``{Output, Messages, Spawns, Assignments, Error?, GasUsed}``. A Lua ``error`` comes back
  in ``Error``. A trap (fuel exhausted, memory cap, …) ends that message with ``Error`` naming it;
  the guest is rebuilt from its checkpoint plus the journal of applied messages, so the state is
  as if the message had not arrived (the legacy CU's rollback).
* ``compute`` without an assignment — a **dry-run** (``/PID~process@1.0/as=execution/compute&K=V``):
  brings the process to its current slot, evaluates the request as a message on a copy of its
  memory, and produces ``{process, raw, results}``; nothing is scheduled or stored. An unsigned
  dry-run may name its ``owner`` (read-only, as the legacy CU's dry-run allows).
* ``snapshot`` — ``{body: <encoded WasmSnapshot>}``; the guest's checkpoint moves there too.
* ``normalize`` — rebuilds the guest from ``snapshot`` (or ``snapshot/<device-key>``).

Calls into the guest run in worker threads (``WasmService.run``), serialised per process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, final

from devices._aos_fields import error_response, image_of, message_fields, result_message
from devices._base import DeviceInfo
from devices._errors import BadRequest, DeviceError, KeyNotFound, Unavailable
from devices.core import Message, Value
from devices.wasm import AosError, AosProcess, WasmError, WasmSnapshot, WasmTrap
from devices.wasm_device import process_id, service

if TYPE_CHECKING:
    from devices._base import Context
    from devices.wasm import WasmModule
    from devices.wasm_service import WasmService

KIND = "aos"
JOURNAL_MAX = 32
_DRYRUN_SKIP = frozenset(
    {"accept", "accept-bundle", "accept-codec", "require-codec", "signing-format", "as", "target"}
)


@dataclass
class AosGuest:
    """A live aos process with what is needed to rebuild it after a trap."""

    module: WasmModule
    fields: dict[str, Any]
    proc: AosProcess
    checkpoint: WasmSnapshot | None = None
    journal: list[tuple[bytes, bytes]] = field(default_factory=list)

    def close(self) -> None:
        self.proc.instance.close()

    def rebuild(self) -> None:
        """A fresh instance at the checkpoint with the journal replayed (deterministic)."""
        limits = self.proc.instance.limits
        self.proc.instance.close()
        self.proc = AosProcess(self.module.instantiate(limits=limits), self.fields, self.module.image_id)
        if self.checkpoint is not None:
            self.proc.instance.restore(self.checkpoint)
        for msg_json, env_json in self.journal:
            self.proc.call_handle(msg_json, env_json)


@final
class JsonIfaceDevice:
    def __init__(self, name: str) -> None:
        self.id = name

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            keys=frozenset({"init", "compute", "snapshot", "normalize"}),
            description="aos processes through handle (JSON interface)",
        )

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        svc = service(ctx)
        if key not in ("init", "compute", "snapshot", "normalize"):
            raise KeyNotFound(f"{self.id} has no key {key}")
        definition = base.get_message("process") if "at-slot" in base else None
        if definition is None:
            if key == "compute":
                return await self._dryrun(svc, ctx, base, req)
            raise BadRequest(f"{self.id} {key} needs a process state")
        pid = process_id(ctx, definition)
        if key == "init":
            guest = await self._spawn(svc, ctx, definition, pid)
            svc.put_guest(KIND, pid, _at(base), guest)
            return base
        if key == "normalize":
            await self._normalize(svc, ctx, base, definition, pid)
            return base.without("snapshot")
        async with svc.lock(KIND, pid):
            guest = await self._guest(svc, ctx, base, definition, pid)
            if key == "snapshot":
                snap: WasmSnapshot = await svc.run(guest.proc.snapshot)
                guest.checkpoint, guest.journal = snap, []
                return Message({"body": snap.encode()})
            return await self._compute(svc, ctx, base, req, guest, pid)

    async def _spawn(self, svc: WasmService, ctx: Context, definition: Message, pid: str) -> AosGuest:
        module = await svc.load_image(ctx, image_of(definition))
        fields = message_fields(definition, pid)

        def spawn() -> AosGuest:
            proc = AosProcess.spawn(svc.runtime, module, fields, image_id=module.image_id, limits=svc.limits)
            return AosGuest(module, fields, proc)

        try:
            return await svc.run(spawn)
        except WasmError as exc:
            raise DeviceError(f"{self.id}: cannot spawn the aos process: {exc.reason}") from exc

    async def _normalize(
        self, svc: WasmService, ctx: Context, base: Message, definition: Message, pid: str
    ) -> AosGuest:
        snap_msg = base.get_message("snapshot")
        if snap_msg is not None and "body" not in snap_msg:
            snap_msg = snap_msg.get_message(base.get_text("device-key") or "") or snap_msg
        body = snap_msg.get_bytes("body") if snap_msg is not None else None
        guest = await self._spawn(svc, ctx, definition, pid)
        if body is not None:
            try:
                snap = WasmSnapshot.decode(body)
                await svc.run(guest.proc.instance.restore, snap)
            except WasmError as exc:
                raise DeviceError(f"{self.id}: cannot restore the snapshot: {exc.reason}") from exc
            guest.checkpoint = snap
        svc.put_guest(KIND, pid, _at(base), guest)
        return guest

    async def _guest(
        self, svc: WasmService, ctx: Context, base: Message, definition: Message, pid: str
    ) -> AosGuest:
        at = _at(base)
        found = svc.guest(KIND, pid, at)
        if isinstance(found, AosGuest):
            return found
        if "snapshot" in base:
            return await self._normalize(svc, ctx, base, definition, pid)
        if at < 0:
            guest = await self._spawn(svc, ctx, definition, pid)
            svc.put_guest(KIND, pid, at, guest)
            return guest
        raise Unavailable(f"{self.id}: the aos state of {pid} at slot {at} is not loaded; retry")

    async def _compute(
        self, svc: WasmService, ctx: Context, base: Message, req: Message, guest: AosGuest, pid: str
    ) -> Message:
        body = req.get_message("body")
        slot = req.get_int("slot")
        if body is None or slot is None:
            raise BadRequest(f"{self.id} compute needs an assignment (slot, body)")
        ident = process_id(ctx, body)
        fields = message_fields(body, ident)
        height = req.get_int("block-height") or 0
        try:
            msg_json = guest.proc.message_json(fields, block_height=height)
        except AosError as exc:
            raise BadRequest(f"{self.id}: the message cannot be passed to aos: {exc.reason}") from exc
        response, gas = await svc.run(self._handle, guest, msg_json)
        svc.put_guest(KIND, pid, slot, guest, from_slot=_at(base))
        results = result_message(response, gas, pid, guest.module.image_id)
        return base.set("results", results)

    @staticmethod
    def _handle(guest: AosGuest, msg_json: bytes) -> tuple[dict[str, Any], int]:
        env = guest.proc.env_json
        try:
            decoded = guest.proc.handle_raw(msg_json)
        except WasmTrap as exc:
            guest.rebuild()
            return error_response(f"message not applied: {exc.reason}"), 0
        except WasmError as exc:
            guest.rebuild()
            return error_response(f"message not applied: {exc.reason}"), 0
        gas = guest.proc.instance.last_fuel_used or 0
        guest.journal.append((msg_json, env))
        if len(guest.journal) >= JOURNAL_MAX:
            guest.checkpoint, guest.journal = guest.proc.snapshot(), []
        response = decoded.get("response")
        if decoded.get("ok") is not True or not isinstance(response, dict):
            return error_response(f"aos handle failed: {json.dumps(decoded)[:300]}"), gas
        return response, gas

    async def _dryrun(self, svc: WasmService, ctx: Context, base: Message, req: Message) -> Message:
        from devices.process import definition_of

        definition = definition_of(base.set("device", "process@1.0"))
        pid = process_id(ctx, definition)
        state = await ctx.resolve(definition.set("device", "process@1.0"), Message({"path": "now"}))
        if not isinstance(state, Message):
            raise DeviceError(f"{self.id}: the process state could not be computed")
        fields = message_fields(req, "", skip=_DRYRUN_SKIP, original_tags=False)
        fields["id"] = process_id(ctx, req)
        fields["target"] = pid
        if not fields["owner"]:  # an unsigned (read-only) dry-run may claim its owner, as legacy CUs allow
            fields["owner"] = req.get_text("owner") or req.get_text("from") or ""
        async with svc.lock(KIND, pid):
            newest = svc.newest_guest(KIND, pid)  # a compute may have moved past `state` meanwhile
            if isinstance(newest, AosGuest) and newest_slot_ok(svc, pid, state):
                guest = newest
            else:
                guest = await self._guest(svc, ctx, state, definition, pid)
            msg_json = guest.proc.message_json(fields, block_height=0)
            response, gas = await svc.run(self._dry, guest, msg_json)
        results = result_message(response, gas, pid, guest.module.image_id)
        return Message({"process": pid, "raw": results["raw"], "results": results})

    @staticmethod
    def _dry(guest: AosGuest, msg_json: bytes) -> tuple[dict[str, Any], int]:
        saved = guest.proc.snapshot()
        try:
            decoded = guest.proc.handle_raw(msg_json)
            gas = guest.proc.instance.last_fuel_used or 0
        except WasmError as exc:
            decoded, gas = {"ok": True, "response": error_response(f"dry-run failed: {exc.reason}")}, 0
        finally:
            guest.proc.instance.close()
            guest.proc = AosProcess(
                guest.module.instantiate(limits=guest.proc.instance.limits),
                guest.fields,
                guest.module.image_id,
            )
            guest.proc.instance.restore(saved)
        response = decoded.get("response")
        if not isinstance(response, dict):
            return error_response("aos handle failed"), gas
        return response, gas


def newest_slot_ok(svc: WasmService, pid: str, state: Message) -> bool:
    """The newest live guest is at least as recent as ``state``."""
    slot = svc.newest_slot(KIND, pid)
    return slot is not None and slot >= _at(state)


def _at(base: Message) -> int:
    at = base.get_int("at-slot")
    return -1 if at is None else at


DEVICES = (JsonIfaceDevice("json-iface@1.0"), JsonIfaceDevice("genesis-wasm@1.0"))
DEVICE = DEVICES[0]
