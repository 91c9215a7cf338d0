"""``wasm-64@1.0`` — call one export of a WASM image (spec §3.1, §3.2, §2.5).

Service: ``"wasm"`` (a ``devices.wasm_service.WasmService``). Prefixes: ``output-prefix`` P of the
base (empty when unset, so results sit at ``results/type``).

* ``init`` — loads the image: the base's ``image`` (or ``process/image``; an id from the store or a
  gateway, an inline binary, or a message with a ``body``), else the base's own ``body``. Inside a
  process (the base has ``process``) a fresh instance becomes that process's live guest at
  ``at-slot``. Produces the base unchanged apart from ``function`` defaulting to nothing. Errors:
  400 "No viable image found…".
* ``compute`` — only when ``pass`` is unset or 1. Function: the first of ``body/function``,
  ``function`` of the request, ``function`` of the base (also the older ``wasm-function``);
  parameters likewise from ``parameters`` / ``wasm-params`` (a list, or text such as ``[5.0]`` or
  ``5,2``), converted to the export's types. No function → the base unchanged. Produces the base
  with ``results/P/type`` = ``ok`` and ``results/P/output`` = the returned values, or ``type`` =
  ``error`` and ``output`` = the trap reason (the guest is then rebuilt from its last checkpoint
  plus the calls since, so the trapped call leaves no trace). Inside a process the live guest is
  used and advanced; standalone every call gets a fresh instance.
* ``snapshot`` — ``{body: <encoded WasmSnapshot>}`` of the live guest (memory and globals).
* ``normalize`` — rebuilds the live guest from ``snapshot`` (or ``snapshot/<device-key>``) and drops
  ``snapshot``.

In a process whose ``device-stack`` also holds ``json-iface@1.0`` (HyperBEAM's aos stack) every key
is a no-op: the JSON interface runs the image itself.

Host imports: the runtime's WASI subset and zero stubs, plus imports served *through messages*:
when the base has ``stdlib/<module>`` (a message naming a device), an import ``<module>.<name>`` is
resolved as ``{path: <name>, args: [...], module, func}`` against that message; the reply is a
number, a list, or a message with ``results``. Guest calls run in a worker thread; such an import
hops back to the Trio loop for the nested resolution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, final

import trio

from devices._base import DeviceInfo
from devices._errors import BadRequest, DeviceError, KeyNotFound, Unavailable
from devices.core import Message, Value, message_id
from devices.wasm import WasmError, WasmInstance, WasmLimits, WasmMemoryError, WasmSnapshot
from devices.wasm_service import WasmService

if TYPE_CHECKING:
    from devices._base import Context
    from devices.wasm import HostFunction, Resolver, WasmModule

KIND = "wasm-64"
_NUM = re.compile(rb"-?\d+(\.\d*)?([eE][-+]?\d+)?")


def service(ctx: Context) -> WasmService:
    found = ctx.service("wasm")
    if not isinstance(found, WasmService):
        raise DeviceError("the wasm service is not a WasmService")
    return found


def process_id(ctx: Context, definition: Message) -> str:
    """The process id as the scheduler computes it (all commitments)."""
    sched: Any = ctx.services.get("scheduler")
    if sched is not None:
        return str(sched.ops.message_id(definition))
    return message_id(definition, "all")


def image_ref(base: Message) -> Value | None:
    """``image`` of the base, else of its ``process`` definition, else the base's ``body``."""
    for holder in (base, base.get_message("process") or Message()):
        value = holder.find("image")
        if value is not None:
            return value
    return base.find("body")


def _first(key_names: tuple[str, ...], *holders: Message | None) -> Value | None:
    for holder in holders:
        if holder is None:
            continue
        for name in key_names:
            value = holder.find(name)
            if value is not None:
                return value
    return None


def parse_params(value: Value | None) -> list[int | float]:
    """A parameter list from a message value: a list of numbers, a number, or text like ``[5.0]``.

    Raises:
        BadRequest: anything else.
    """
    if value is None:
        return []
    if isinstance(value, bool):
        raise BadRequest("parameters must be numbers")
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, tuple):
        out: list[int | float] = []
        for item in value:
            out.extend(parse_params(item))
        return out
    if isinstance(value, bytes):
        text = value.strip().strip(b"[]()")
        out = []
        for part in (p.strip() for p in text.split(b",")):
            if not part:
                continue
            if not _NUM.fullmatch(part):
                raise BadRequest(f"parameter {part[:40]!r} is not a number")
            out.append(float(part) if b"." in part or b"e" in part.lower() else int(part))
        return out
    raise BadRequest("parameters must be a list of numbers")


def message_imports(ctx: Context, base: Message) -> Resolver | None:
    """An import resolver serving ``<module>.<name>`` through ``base``'s ``stdlib/<module>`` message."""
    found = base.get_message("stdlib")
    if found is None or not found:
        return None
    stdlib: Message = found

    def resolver(module: str, name: str) -> HostFunction | None:
        handler = stdlib.get_message(module)
        if handler is None:
            return None

        def call(hc: Any, *args: int | float) -> Any:
            req = Message({"path": name, "args": list(args), "module": module, "func": name})
            reply: Value | None = trio.from_thread.run(ctx.resolve, handler, req)
            if isinstance(reply, Message):
                reply = reply.find("results")
            values = reply if isinstance(reply, tuple) else (() if reply is None else (reply,))
            nums = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
            return nums[0] if len(hc.results) == 1 and nums else (nums or None)

        return call

    return resolver


def _json_iface_owns_image(base: Message) -> bool:
    """In HyperBEAM's aos stack (``WASI, JSON-Iface, WASM-64, Multipass``) our ``json-iface@1.0``
    runs the image itself, so ``wasm-64@1.0`` stands aside instead of keeping a second instance."""
    stack = base.find("device-stack")
    names = stack.values() if isinstance(stack, Message) else stack if isinstance(stack, tuple) else ()
    return any(isinstance(n, bytes) and n.lower() in (b"json-iface@1.0", b"genesis-wasm@1.0") for n in names)


def _at(base: Message) -> int:
    at = base.get_int("at-slot")
    return -1 if at is None else at


def _results(base: Message, prefix: str, kind: str, output: Value) -> Message:
    mine = Message({"type": kind, "output": output})
    results = base.get_message("results") or Message()
    return base.set("results", results.set(prefix, mine) if prefix else results.update(mine))


JOURNAL_MAX = 64


@dataclass
class Guest:
    """A process's live instance, with what rebuilds it after a trap: the last checkpoint and the
    calls applied since (replayed; guests are deterministic). Thread-side methods only."""

    module: WasmModule
    inst: WasmInstance
    limits: WasmLimits
    resolver: Resolver | None
    checkpoint: WasmSnapshot | None = None
    journal: list[tuple[str, list[int | float]]] = field(default_factory=list)

    @classmethod
    def spawn(cls, module: WasmModule, svc: WasmService, ctx: Context, base: Message) -> Guest:
        resolver = message_imports(ctx, base)
        return cls(module, module.instantiate(limits=svc.limits, resolver=resolver), svc.limits, resolver)

    def close(self) -> None:
        self.inst.close()

    def checkpoint_now(self) -> WasmSnapshot | None:
        """Snapshot memory and globals (None for a module without memory) and restart the journal."""
        try:
            snap = self.inst.snapshot()
        except WasmMemoryError:
            return None
        self.checkpoint, self.journal = snap, []
        return snap

    def call(self, name: str, params: list[int | float]) -> list[int | float]:
        """Call an export; after a trap the instance is rebuilt as it was before this call."""
        try:
            out = self.inst.call(name, *params)
        except WasmError:
            if not self.inst.alive:
                self.rebuild()
            raise
        self.journal.append((name, params))
        if len(self.journal) >= JOURNAL_MAX:
            self.checkpoint_now()
        return out

    def rebuild(self) -> None:
        self.inst.close()
        self.inst = self.module.instantiate(limits=self.limits, resolver=self.resolver)
        if self.checkpoint is not None:
            self.inst.restore(self.checkpoint)
        for name, params in self.journal:
            self.inst.call(name, *params)


@final
class Wasm64Device:
    id = "wasm-64@1.0"

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            keys=frozenset({"init", "compute", "snapshot", "normalize"}),
            description="call an export of a WASM image (wasmtime, memory64)",
        )

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        svc = service(ctx)
        definition = base.get_message("process") if "at-slot" in base else None
        pid = process_id(ctx, definition) if definition is not None else None
        if pid is not None and _json_iface_owns_image(base):
            if key not in ("init", "compute", "snapshot", "normalize"):
                raise KeyNotFound(f"wasm-64@1.0 has no key {key}")
            return base.without("snapshot") if key != "snapshot" else Message({"memory": "none"})
        if key == "init":
            module = await svc.load_image(ctx, image_ref(base))
            if pid is not None:
                svc.put_guest(KIND, pid, _at(base), await svc.run(Guest.spawn, module, svc, ctx, base))
            return base
        if key == "compute":
            return await self._compute(svc, ctx, base, req, pid)
        if key == "snapshot":
            if pid is None:
                raise BadRequest("wasm-64@1.0 snapshot needs a process state")
            async with svc.lock(KIND, pid):
                guest = await self._guest(svc, ctx, base, pid)
                snap = await svc.run(guest.checkpoint_now)
            if snap is None:
                return Message({"memory": "none"})  # no memory to keep: normalize starts fresh
            return Message({"body": snap.encode()})
        if key == "normalize":
            if pid is None:
                return base.without("snapshot")
            await self._normalize(svc, ctx, base, pid)
            return base.without("snapshot")
        raise KeyNotFound(f"wasm-64@1.0 has no key {key}")

    async def _normalize(self, svc: WasmService, ctx: Context, base: Message, pid: str) -> Guest:
        snap_msg = base.get_message("snapshot")
        if snap_msg is not None and "body" not in snap_msg and "memory" not in snap_msg:
            snap_msg = snap_msg.get_message(base.get_text("device-key") or "") or snap_msg
        module = await svc.load_image(ctx, image_ref(base))
        guest: Guest = await svc.run(Guest.spawn, module, svc, ctx, base)
        body = snap_msg.get_bytes("body") if snap_msg is not None else None
        if body is not None:
            try:
                snap = WasmSnapshot.decode(body)
                await svc.run(guest.inst.restore, snap)
            except WasmError as exc:
                raise DeviceError(f"wasm-64@1.0 cannot restore the snapshot: {exc.reason}") from exc
            guest.checkpoint = snap
        svc.put_guest(KIND, pid, _at(base), guest)
        return guest

    async def _guest(self, svc: WasmService, ctx: Context, base: Message, pid: str) -> Guest:
        at = _at(base)
        found = svc.guest(KIND, pid, at)
        if isinstance(found, Guest):
            return found
        if "snapshot" in base:
            return await self._normalize(svc, ctx, base, pid)
        if at >= 0:
            raise Unavailable(f"wasm-64@1.0: the state of {pid} at slot {at} is not loaded; retry")
        module = await svc.load_image(ctx, image_ref(base))
        guest: Guest = await svc.run(Guest.spawn, module, svc, ctx, base)
        svc.put_guest(KIND, pid, at, guest)
        return guest

    async def _compute(
        self, svc: WasmService, ctx: Context, base: Message, req: Message, pid: str | None
    ) -> Message:
        if (base.get_int("pass") or 1) != 1:
            return base
        body = req.get_message("body")
        fn = _first(("function", "wasm-function"), body, req, base)
        slot = req.get_int("slot")
        if fn is not None and not isinstance(fn, bytes):
            raise BadRequest("function must be an export name")
        name = fn.decode("utf-8", "replace") if fn is not None else None
        params = parse_params(_first(("parameters", "wasm-params"), body, req, base)) if name else []
        prefix = base.get_text("output-prefix") or ""
        if pid is None:
            if name is None:
                return base
            module = await svc.load_image(ctx, image_ref(base))
            guest = await svc.run(Guest.spawn, module, svc, ctx, base)
            try:
                return await self._call(svc, base, guest, name, params, prefix)
            finally:
                guest.close()
        async with svc.lock(KIND, pid):
            guest = await self._guest(svc, ctx, base, pid)
            out = base if name is None else await self._call(svc, base, guest, name, params, prefix)
            if slot is not None:
                svc.put_guest(KIND, pid, slot, guest, from_slot=_at(base))
            return out

    @staticmethod
    async def _call(
        svc: WasmService, base: Message, guest: Guest, name: str, params: list[int | float], prefix: str
    ) -> Message:
        try:
            values = await svc.run(guest.call, name, params)
        except WasmError as exc:
            return _results(base, prefix, "error", exc.reason.encode())
        return _results(base, prefix, "ok", tuple(values))


DEVICE = Wasm64Device()
