"""``push@1.0`` — schedule a message, compute it, and deliver its outbox (spec §2.7, §8.1, §8.2).

Services: ``"scheduler"`` and ``"process-cache"`` (as ``process@1.0``); optional ``"peer"``:
``async (method, url, path, message) -> Message`` for targets scheduled by another node.

The base is a process definition, or ``{device: push@1.0, process: <definition>}`` (how
``process@1.0`` delegates). One key:

* ``push`` —
  1. With ``slot`` in the request: push that slot.
  2. Otherwise, when the process has no assignment yet and the request carries nothing but
     transport keys or the process's own keys (``POST /push`` of a ``type: Process`` item — the
     aoconnect spawn): store the definition in ``ctx.store``, schedule it at slot 0 and produce
     ``{process, slot: 0, assignment: <assignment id>}`` (the client reads only the ``process``
     header; the full assignment stays at ``/~scheduler@1.0/schedule``).
  3. Otherwise schedule the request itself (reduced to its committed keys, signatures verified)
     on the process; a ``type: Process`` body produces the assignment; else push its slot.
  Pushing slot N: compute it (``process@1.0`` compute), then for every outbox entry (in order):
  no ``target`` → ``{response: error, status: 422, reason: "No target process found."}``; a
  target scheduled here → add ``data-protocol: ao, variant: ao.N.1, type: Message,
  from-process: <pid>``, sign with the node wallet, schedule it on the target and push that slot
  in turn (at most ``max-push-hops``, default 32, deep); a target scheduled elsewhere → POST it to
  ``/<target>~process@1.0/push`` of that scheduler through the ``peer`` service (its URL: a
  ``hint``, else the location record of the definition's ``scheduler``; a definition missing
  here is asked of the optional ``remote-loader``, a location of the optional
  ``scheduler-locator``: ``async (address) -> Message | None``); no URL →
  ``{response: error, status: 404, reason: "Could not access target process!"}``; the peer's
  errors (``Unavailable``, 503) propagate; the remaining ``max-push-hops`` travels with the
  request. Exactly-once delivery: the signed outbox message is kept
  (``push-delivery/<pid>/<slot>/<key>/message`` in ``ctx.store`` results) so a retry resends the
  same message; a delivered entry is recorded (``push-delivery/<pid>/<slot>/<key>``) and pushing
  the slot again replays the record; a receiving node remembers each ``from-process`` message it
  scheduled (``push-received/<pid>/<id>``) and pushes its slot again instead of re-assigning it.
  Produces ``{slot, process, id: <message id>, <results keys>…, "<outbox key>": {id, target,
  slot, resulted-in}}``; with ``result-depth`` ≤ 1 downstream replies carry only their
  ``slot``/``process``. ``push-mode: async`` is served synchronously (the reply is the same).
  Side effects: assignments on this node's processes, requests to peers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

import trio

from devices._base import DeviceInfo
from devices._errors import BadRequest, DeviceError, KeyNotFound
from devices.core import Message, Value
from devices.process import compute, int_param, services_of
from devices.scheduler import is_process

if TYPE_CHECKING:
    from devices._base import Context
    from devices.scheduler import Scheduler, StateCache

DEFAULT_MAX_HOPS = 32
_DELIVERING: dict[str, trio.Lock] = {}  # outbox entries being delivered (by delivery record)
_TRANSPORT_KEYS = (
    "path",
    "method",
    "slot",
    "result-depth",
    "push-mode",
    "accept",
    "require-codec",
    "accept-bundle",
    "accept-codec",
    "max-push-hops",
)


def _definition(base: Message) -> Message:
    inner = base.get_message("process")
    if inner is not None and is_process(inner):
        return inner
    if is_process(base):
        return base.without("priv")
    raise BadRequest("push@1.0 needs a process definition as its base")


def _error(status: int, reason: str) -> Message:
    return Message({"response": "error", "status": status, "reason": reason})


def _delivered(entry: Message) -> bool:
    """The outbox entry reached its target (neither it nor the peer's reply is an error)."""
    downstream = entry.get_message("resulted-in")
    return entry.get_text("response") != "error" and (
        downstream is None or downstream.get_text("response") != "error"
    )


@final
class PushDevice:
    id = "push@1.0"

    def info(self) -> DeviceInfo:
        return DeviceInfo(keys=frozenset({"push"}), description="schedule, compute and deliver outboxes")

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        if key != "push":
            raise KeyNotFound(f"push@1.0 has no key {key}")
        sched, cache = services_of(ctx)
        definition = _definition(base)
        pid = sched.ops.message_id(definition)
        depth = int_param(req, "result-depth")
        depth = 1 if depth is None else depth
        hops = min(req.get_int("max-push-hops") or DEFAULT_MAX_HOPS, DEFAULT_MAX_HOPS)
        slot = int_param(req, "slot")
        if slot is not None:
            return await self._push_slot(ctx, sched, cache, pid, definition, slot, None, depth, hops)
        payload = req.without(*_TRANSPORT_KEYS)
        if not sched.knows(pid) and (not payload or is_process(payload)):
            ctx.store.write_message(definition, [pid])
            a = await sched.schedule(pid, definition, definition=definition)
            return Message({"process": pid, "slot": a.slot, "assignment": a.message_id})
        body = req.get_message("body")
        msg = sched.ops.committed_only(body if body is not None else req)
        msg = msg.without(*[k for k in _TRANSPORT_KEYS if k not in self._signed_keys(msg)])
        if not sched.ops.verify(msg):
            raise BadRequest("Message is not valid.")
        received = None
        if msg.get_text("from-process") and not is_process(msg):  # a node's outbox delivery
            received = f"push-received/{pid}/{sched.ops.message_id(msg)}"
            known = ctx.store.read_result(received)
            slot = known.get_int("slot") if known is not None else None
            if slot is not None:  # delivered before (the sender retried): no second assignment
                return await self._push_slot(ctx, sched, cache, pid, definition, slot, None, depth, hops)
        a = await sched.schedule(pid, msg, definition=definition, verified=True)
        if received is not None:
            ctx.store.write_result(received, Message({"slot": a.slot}))
        if is_process(msg):
            return a.message
        return await self._push_slot(ctx, sched, cache, pid, definition, a.slot, a.message_id, depth, hops)

    @staticmethod
    def _signed_keys(msg: Message) -> set[str]:
        from devices.core import committed_keys

        try:
            return set(committed_keys(msg))
        except DeviceError:
            return set()

    async def _push_slot(
        self,
        ctx: Context,
        sched: Scheduler,
        cache: StateCache,
        pid: str,
        definition: Message,
        slot: int,
        msg_id: str | None,
        depth: int,
        hops: int,
    ) -> Message:
        state = await compute(ctx, sched, cache, pid, definition, slot)
        results = state.get_message("results") or Message()
        if msg_id is None:
            msg_id = sched.assignment(pid, slot).message_id
        reply: dict[str, Any] = {"slot": slot, "process": pid, "id": msg_id}
        if depth >= 1:
            reply = {**dict(results.items()), **reply}
        outbox = results.get_message("outbox") or Message()
        for key in sorted(outbox, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)):
            entry = outbox[key]
            if isinstance(entry, Message):
                record = f"push-delivery/{pid}/{slot}/{key}"
                lock = _DELIVERING.setdefault(record, trio.Lock())
                try:
                    async with lock:  # concurrent pushes of one slot deliver each entry once
                        done = ctx.store.read_result(record)
                        if done is None:
                            done = await self._deliver(ctx, sched, cache, pid, entry, depth, hops, record)
                            if _delivered(done):
                                ctx.store.write_result(record, done)
                finally:
                    if not lock.locked() and lock.statistics().tasks_waiting == 0:
                        _DELIVERING.pop(record, None)
                reply[key] = done
        return Message(reply)

    async def _deliver(
        self,
        ctx: Context,
        sched: Scheduler,
        cache: StateCache,
        pid: str,
        entry: Message,
        depth: int,
        hops: int,
        record: str,
    ) -> Message:
        target = entry.get_text("target")
        if not target:
            return _error(422, "No target process found.")
        target_pid = target.split("?", 1)[0].split("&", 1)[0]
        out = entry.update(
            {
                "data-protocol": "ao",
                "variant": "ao.N.1",
                "type": "Message",
                "from-process": pid,
                "target": target_pid,
            }
        )
        if hops <= 1:
            return _error(508, "Push chain exceeds max-push-hops.")
        signed = ctx.store.read_result(f"{record}/message")  # a retry resends the same message
        if signed is None:
            signed = sched.ops.sign(out)
            ctx.store.write_result(f"{record}/message", signed)
        mid = sched.ops.message_id(signed)
        if sched.knows(target_pid):
            target_def = ctx.store.read_message(target_pid) or self._loaded_definition(
                sched, cache, target_pid
            )
            a = await sched.schedule(target_pid, signed)
            if target_def is None:
                return Message({"id": mid, "target": target_pid, "slot": a.slot})
            downstream = await self._push_slot(
                ctx, sched, cache, target_pid, target_def, a.slot, mid, depth - 1, hops - 1
            )
            return Message({"id": mid, "target": target_pid, "slot": a.slot, "resulted-in": downstream})
        return await self._remote(ctx, sched, target, target_pid, signed, mid, hops - 1)

    @staticmethod
    def _loaded_definition(sched: Scheduler, cache: StateCache, pid: str) -> Message | None:
        live = cache.live(pid)
        if live is not None:
            return live[1].get_message("process")
        first = sched.log.get(pid, 0)
        if first is not None and is_process(first.body):
            return first.body
        return None

    @staticmethod
    async def _remote(
        ctx: Context, sched: Scheduler, target: str, target_pid: str, signed: Message, mid: str, hops: int
    ) -> Message:
        peer: Any = ctx.services.get("peer")
        url = await _scheduler_url(ctx, sched, target, target_pid)
        if url is None or peer is None:
            return _error(404, "Could not access target process!")
        reply = await peer("POST", url, f"/{target_pid}~process@1.0/push&max-push-hops={hops}", signed)
        return Message({"id": mid, "target": target_pid, "resulted-in": reply})


async def _scheduler_url(ctx: Context, sched: Scheduler, target: str, target_pid: str) -> str | None:
    """The URL of the node that schedules ``target_pid``: a ``hint`` on the target or on the
    definition's ``scheduler``, else the scheduler's location record (stored here, or fetched
    through the optional ``scheduler-locator`` service and kept when signed by that scheduler).
    The definition comes from the store, else from the optional ``remote-loader``."""
    _, _, hint = target.partition("?")
    if hint.startswith("hint="):
        return hint[5:]
    definition = ctx.store.read_message(target_pid)
    loader: Any = ctx.services.get("remote-loader")
    if definition is None and loader is not None:
        definition = await loader.load(target_pid)
    named = (definition.get_text("scheduler") or "") if definition is not None else ""
    address, _, hint = named.partition("?")
    if hint.startswith("hint="):
        return hint[5:]
    if not address or address == sched.address:
        return None
    loc = sched.location(address)
    locator: Any = ctx.services.get("scheduler-locator")
    if loc is None and locator is not None:
        found = await locator(address)
        if isinstance(found, Message) and address in sched.ops.signers(found) and sched.ops.verify(found):
            sched.set_location(address, found)
            loc = found
    return loc.get_text("url") if loc is not None else None


DEVICE = PushDevice()
