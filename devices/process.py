"""``process@1.0`` — a process: its schedule folded through its execution device (spec §2, §8).

Services (``ctx.services``): ``"scheduler"`` — the ``devices.scheduler.Scheduler``;
``"process-cache"`` — a ``devices.scheduler.StateCache``.

The base is a process definition (``type: Process``, loaded by the resolver from its id) or a
computed state (which carries ``process`` = the definition and ``at-slot``). The process id is
``scheduler.ops.message_id(definition)``. Keys:

* ``compute`` — target slot T from the request's ``compute`` (``/compute=7``), ``slot``
  (``compute&slot=7``) or ``results`` (aoconnect's ``compute/results=7``, honoured — spec §8.3);
  each must be an integer ≥ 0 (else 400). Without one: the live state if any, else ``now``.
  T beyond the current slot → 404 naming the current slot, unless the request has ``wait``
  (seconds, ≤ 60): then it waits that long for T to be assigned. Produces the state after
  applying slots 0..T: ``device: process@1.0``, ``process``, ``at-slot: T``, the execution
  device's own keys and ``results`` (``results/data``, ``results/outbox/<n>`` …, §2.5).
  Side effects: updates the live state; writes each computed slot's ``results`` and, every
  ``snapshot_every`` slots, a full snapshot (with the execution device's ``snapshot`` when it
  exports one) to the state cache. Resuming starts from the best of the live state and the latest
  snapshot ≤ T (restored through the execution device's ``normalize``), else ``init``; any slot
  can be recomputed (no ``already_calculated_slot`` error). Errors name ``phase`` and
  ``attempted-slot`` in the reason.
* ``results`` — the ``results`` of the base state when it is at the requested slot (the request's
  ``results`` value) or no slot is asked; otherwise computes that slot first.
* ``now`` — ``compute`` at the scheduler's current slot.
* ``slot`` — the scheduler's ``slot`` reply for this process. No side effects.
* ``schedule`` — delegated to ``scheduler@1.0`` with the definition as base.
* ``push`` — delegated to the process's ``push-device`` (default ``push@1.0``).
* ``as`` — the definition viewed as another device: ``as=execution`` (the execution device, how
  aoconnect's dry-run reaches ``compute`` without scheduling), ``scheduler``, ``push``, or a
  device name. No side effects.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, final

import trio

from devices._base import DeviceInfo
from devices._errors import BadRequest, DeviceError, KeyNotFound, NotFound
from devices.core import Message, Value
from devices.results import attest_state, attested_state
from devices.scheduler import Scheduler, StateCache, is_process

if TYPE_CHECKING:
    from devices._base import Context
    from devices.scheduler import Assignment

MAX_WAIT_S = 60.0
_KEYS = frozenset({"compute", "results", "now", "slot", "schedule", "push", "as"})


def definition_of(base: Message) -> Message:
    """The process definition behind ``base`` (a definition or a computed state).

    Raises:
        BadRequest: ``base`` is neither.
    """
    inner = base.get_message("process")
    if inner is not None and "at-slot" in base:
        return inner
    if is_process(base):
        return base.without("priv")
    raise BadRequest("process@1.0 needs a process definition (type: Process) as its base")


def int_param(req: Message, key: str) -> int | None:
    value = req.find(key)
    if value is None or isinstance(value, Message):
        return None
    if isinstance(value, bool) or not isinstance(value, int | bytes):
        raise BadRequest(f"{key} must be a slot number")
    if isinstance(value, bytes):
        text = value.decode("ascii", "replace").strip()
        if not text.isdigit():
            raise BadRequest(f"{key} must be a slot number, got {text!r}")
        return int(text)
    if value < 0:
        raise BadRequest(f"{key} must be ≥ 0, got {value}")
    return value


def _as_device(definition: Message, req: Message) -> str:
    """The device ``as=<name>`` selects: ``execution`` → the execution device, ``scheduler`` →
    the scheduler device, ``push`` → the push device, else the name itself."""
    name = (req.get_text("as") or "").lower()
    roles = (("execution", "genesis-wasm@1.0"), ("scheduler", "scheduler@1.0"), ("push", "push@1.0"))
    for role, default in roles:
        if name == role:
            return (definition.get_text(f"{role}-device") or default).lower()
    if not name:
        raise BadRequest("as needs a device or a role (execution, scheduler, push)")
    return name


def wait_seconds(req: Message) -> float | None:
    """The request's ``wait`` (seconds, clamped to 0..``MAX_WAIT_S``), or None.

    Raises:
        BadRequest: not a finite number.
    """
    value = req.find("wait")
    if value is None:
        return None
    try:
        seconds = float(value.decode("ascii") if isinstance(value, bytes) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("wait must be a number of seconds") from exc
    if not math.isfinite(seconds):
        raise BadRequest("wait must be a finite number of seconds")
    return min(max(seconds, 0.0), MAX_WAIT_S)


def target_slot(req: Message) -> int | None:
    """T from ``compute=T``, ``slot=T`` or ``results=T`` (first found)."""
    for key in ("compute", "slot", "results"):
        value = int_param(req, key)
        if value is not None:
            return value
    return None


def services_of(ctx: Context) -> tuple[Scheduler, StateCache]:
    sched, cache = ctx.service("scheduler"), ctx.service("process-cache")
    if not isinstance(sched, Scheduler) or not isinstance(cache, StateCache):
        raise DeviceError("process@1.0 needs the scheduler and process-cache services")
    return sched, cache


@final
class ProcessDevice:
    id = "process@1.0"

    def info(self) -> DeviceInfo:
        return DeviceInfo(keys=_KEYS, description="process: schedule folded through its execution device")

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        if key not in _KEYS:
            raise KeyNotFound(f"process@1.0 has no key {key}")
        definition = definition_of(base)
        sched, cache = services_of(ctx)
        pid = sched.ops.message_id(definition)
        if key == "schedule":
            return await ctx.resolve(Message({"device": "scheduler@1.0", "process": definition}), req)
        if key == "push":
            push_dev = definition.get_text("push-device") or "push@1.0"
            return await ctx.resolve(Message({"device": push_dev, "process": definition}), req)
        if key == "slot":
            return await ctx.resolve(
                Message({"device": "scheduler@1.0", "process": definition}),
                Message({"path": "slot", "target": pid}),
            )
        if key == "as":
            return definition.set("device", _as_device(definition, req))
        if key == "now":
            return await compute(ctx, sched, cache, pid, definition, sched.current(pid))
        if key == "results":
            want = int_param(req, "results")
            if "at-slot" in base and (want is None or base.get_int("at-slot") == want):
                found = base.get_message("results")
                if found is None:
                    raise NotFound("this state has no results")
                return found
            state = await self._compute(ctx, sched, cache, pid, definition, want, req)
            return state.get_message("results") or Message()
        return await self._compute(ctx, sched, cache, pid, definition, target_slot(req), req)

    @staticmethod
    async def _compute(
        ctx: Context,
        sched: Scheduler,
        cache: StateCache,
        pid: str,
        definition: Message,
        slot: int | None,
        req: Message,
    ) -> Message:
        if slot is None:
            live = cache.live(pid)
            if live is not None:
                return live[1]
            slot = sched.current(pid)
        seconds = wait_seconds(req)
        if seconds is not None and sched.log.head(pid).current < slot:
            with trio.move_on_after(seconds):
                await sched.wait_for_slot(pid, slot)
        return await compute(ctx, sched, cache, pid, definition, slot)


async def _exec(ctx: Context, state: Message, exec_dev: str, key: str, req: Message) -> Value:
    return await ctx.resolve(state.set("device", exec_dev), req.set("path", key))


async def _init(ctx: Context, definition: Message, exec_dev: str) -> Message:
    state = definition.update({"process": definition, "at-slot": -1})
    try:
        out = await _exec(ctx, state, exec_dev, "init", Message())
    except NotFound:
        out = state
    if not isinstance(out, Message):
        raise DeviceError(f"{exec_dev} init returned a {type(out).__name__}, not a state")
    return out.set("device", "process@1.0").set("initialized", "true")


async def _restore(ctx: Context, snap: Message, exec_dev: str) -> Message:
    if "snapshot" not in snap:
        return snap
    try:
        out = await _exec(ctx, snap, exec_dev, "normalize", Message())
    except NotFound:
        return snap.without("snapshot")
    if not isinstance(out, Message):
        raise DeviceError(f"{exec_dev} normalize returned a {type(out).__name__}, not a state")
    return out.without("snapshot").set("device", "process@1.0")


async def _snapshot(ctx: Context, state: Message, exec_dev: str) -> Message:
    try:
        snap = await _exec(ctx, state, exec_dev, "snapshot", Message(mode="Map"))
    except NotFound:
        return state
    return state.set("snapshot", snap) if isinstance(snap, Message) else state


async def _apply(ctx: Context, state: Message, a: Assignment, exec_dev: str) -> Message:
    try:
        out = await _exec(ctx, state.without("results"), exec_dev, "compute", a.message)
    except DeviceError as exc:
        raise DeviceError(
            f"phase: compute, attempted-slot: {a.slot}: {exc.reason}", status=exc.status
        ) from exc
    if not isinstance(out, Message):
        raise DeviceError(f"phase: compute, attempted-slot: {a.slot}: {exec_dev} returned no state")
    return out.without("priv").set("device", "process@1.0").set("at-slot", a.slot)


async def compute(
    ctx: Context, sched: Scheduler, cache: StateCache, pid: str, definition: Message, slot: int
) -> Message:
    """The state of ``pid`` after ``slot`` (see the module doc for caching and resumption).

    Raises:
        NotFound: ``slot`` is not assigned yet (the reason names the current slot).
        DeviceError: the execution device failed (reason names the phase and slot).
    """
    exec_dev = (definition.get_text("execution-device") or "genesis-wasm@1.0").lower()
    async with cache.lock(pid):
        if (cache.live(pid) or (None,))[0] != slot and cache.snapshot_at(pid, slot) is None:
            attested = await attested_state(ctx, pid, slot)  # converge: k trusted peers agree
            if attested is not None:
                if ctx.publish is not None:  # subscribers see results that peers computed too
                    served = attested.get_message("results") or Message()
                    body = served.set("attested-by", attested.get("attested-by") or ())
                    await ctx.publish("result", Message(process=pid, slot=slot, body=body))
                return attested
        current = sched.current(pid)
        if slot > current:
            raise NotFound(f"Slot {slot} of {pid} is not assigned yet; the current slot is {current}.")
        live = cache.live(pid)
        if live is not None and live[0] == slot:
            return live[1]
        start: tuple[int, Message] | None = live if live is not None and live[0] < slot else None
        snap_slot = cache.latest_snapshot_slot(pid, slot)  # keys only: snapshots are large
        if snap_slot is not None and (start is None or snap_slot > start[0]):
            found = cache.snapshot_at(pid, snap_slot)
            if found is not None:
                if snap_slot == slot:
                    return await _restore(ctx, found, exec_dev)
                start = (snap_slot, await _restore(ctx, found, exec_dev))
        at, state = start if start is not None else (-1, await _init(ctx, definition, exec_dev))
        results: list[tuple[int, Message]] = []
        snaps: list[tuple[int, Message]] = []
        try:
            while at < slot:
                page, _ = sched.assignments(pid, at + 1, slot)
                if not page:
                    raise DeviceError(
                        f"phase: get-schedule, attempted-slot: {at + 1}: no assignment found", status=503
                    )
                for a in page:
                    state = await _apply(ctx, state, a, exec_dev)
                    at = a.slot
                    results.append((at, state.get_message("results") or Message()))
                    if (at + 1) % cache.snapshot_every == 0:
                        snaps.append((at, await _snapshot(ctx, state, exec_dev)))
        finally:
            await trio.to_thread.run_sync(cache.write, pid, results, snaps)
            if ctx.publish is not None:  # live subscribers (never blocks)
                for done_slot, result in results:
                    await ctx.publish("result", Message(process=pid, slot=done_slot, body=result))
        if live is None or slot >= live[0]:
            cache.set_live(pid, slot, state)
        if results and results[-1][0] == slot:
            await attest_state(ctx, pid, slot, state, page[-1].hash_chain, definition, exec_dev)
        return state


DEVICE = ProcessDevice()
