"""``scheduler@1.0`` — the HTTP face of the scheduler (spec §1.5 to §1.8, §8.4, §8.8).

Service (``ctx.services["scheduler"]``): a running ``devices.scheduler.Scheduler``. Optional
``ctx.services["peer"]``: ``async (method, url, path, message) -> Message`` used to follow
redirects to the scheduler of a process this node does not schedule.

Keys (any other key, e.g. ``record``, is ``schedule`` — HyperBEAM's fall-through):

* ``schedule`` with ``method: POST`` — assumes the request (or its ``body``) is the signed message
  to schedule. Process id: the message's own id for ``type: Process``, else its ``target``, else
  the request's ``target``, else the base's id when the base is a process. Verifies every
  signature (400 "Message is not valid."), reduces the message to its committed keys, stores a
  process definition in ``ctx.store``, and produces the signed assignment (``slot``, ``process``,
  ``timestamp``, ``hash-chain``… as top-level keys, the message as ``body``). When the process
  names another scheduler: 307 ``{status, location, body: "Redirecting to scheduler: …"}``, or the
  peer's reply when the ``peer`` service is offered and ``follow-redirects`` is not ``false``.
  Side effects: one durable assignment. Unknown process → 404.
* ``schedule`` otherwise (GET) — ``target`` and ``slot``: that one assignment (404 beyond the
  current slot, naming it). Or ``target``, ``from`` (default 0), ``to`` (default current;
  inclusive; at most 1000 per page). Produces ``{type: schedule, process, continues, timestamp,
  block-height, block-hash, assignments: {"<slot>": …}}``, or with ``accept: application/aos-2``
  ``{content-type: application/json, body: <aos-2 page JSON>}``. No side effects.
* ``slot`` — ``target`` (or the base process). Produces ``{process, current, timestamp,
  block-height, block-hash, cache-control: no-store, addresses}``; ``/slot/current`` then reads the
  integer. Unknown process → 404. No side effects.
* ``status`` — produces ``{address, processes: [...], cache-control: no-store}``.
* ``location`` — GET ``address`` (default this node) → ``{body: <location message>}`` or 404.
  POST: a request signed by this node's operator with ``url`` and a ``nonce`` above the known one
  → builds ``{data-protocol: ao, variant: ao.N.1, type: scheduler-location, url, nonce,
  time-to-live, codec-device}``, signs and stores it; a location message signed by someone else is
  verified and stored if its nonce is higher. Lower nonce → 400 "Known nonce higher than requested
  nonce.". Side effects: the stored location record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

from devices._base import DeviceInfo
from devices._errors import BadRequest, DeviceError, NotFound
from devices.core import Message, Value, committed_keys
from devices.scheduler import Scheduler, is_process, schedule_aos2, schedule_message, slot_message

if TYPE_CHECKING:
    from devices._base import Context

DEFAULT_TTL_MS = 7 * 24 * 3600 * 1000
_KEYS = frozenset({"schedule", "slot", "status", "location"})


def _scheduler(ctx: Context) -> Scheduler:
    found = ctx.service("scheduler")
    if not isinstance(found, Scheduler):
        raise DeviceError("the scheduler service is not a Scheduler")
    return found


def _method(req: Message) -> str:
    return (req.get_text("method") or "GET").upper()


def process_id(sched: Scheduler, base: Message, req: Message, msg: Message | None = None) -> str:
    """The process a request is about (spec §1.5 step 2).

    Raises:
        BadRequest: none can be found.
    """
    if msg is not None and is_process(msg):
        return sched.ops.message_id(msg)
    for source in (msg, req):
        if source is not None:
            target = source.get_text("target") or source.get_text("process")
            if target:
                return target.split("?", 1)[0].split("&", 1)[0]
    inner = base.get_message("process")
    if inner is not None:
        return sched.ops.message_id(inner)
    if is_process(base):
        return sched.ops.message_id(base.without("priv"))
    raise BadRequest("no process given: set target")


def _signed_part(msg: Message) -> Message:
    """``msg`` without the keys its signatures do not cover (transport keys such as ``accept`` or
    ``path`` that the HTTP edge adds); unchanged when it has no commitments."""
    keys = set(committed_keys(msg))
    if not keys:
        return msg
    return Message({k: v for k, v in msg.items() if k in keys or k == "commitments"})


def _int(req: Message, key: str, default: int | None) -> int | None:
    value = req.find(key)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, bytes) and value.strip().lstrip(b"-").isdigit():
        return int(value)
    raise BadRequest(f"{key} must be an integer")


@final
class SchedulerDevice:
    id = "scheduler@1.0"

    def info(self) -> DeviceInfo:
        return DeviceInfo(keys=_KEYS, catch_all=True, description="slots, schedules and locations")

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        sched = _scheduler(ctx)
        if key == "status":
            return Message(
                {"address": sched.address, "processes": sched.processes(), "cache-control": "no-store"}
            )
        if key == "slot":
            pid = process_id(sched, base, req)
            return slot_message(pid, sched.current(pid), sched.block(), sched.address)
        if key == "location":
            return await self._location(sched, req, ctx)
        if _method(req) == "POST":
            return await self._post(sched, base, req, ctx)
        return self._get(sched, base, req)

    @staticmethod
    def _get(sched: Scheduler, base: Message, req: Message) -> Message:
        pid = process_id(sched, base, req)
        single = _int(req, "slot", None)
        if single is not None:
            return sched.assignment(pid, single).message
        first = max(_int(req, "from", 0) or 0, 0)
        items, more = sched.assignments(pid, first, _int(req, "to", None))
        accept = (req.get_text("accept") or "").lower()
        if "application/aos-2" in accept:
            body = schedule_aos2(pid, items, more, sched.block(), sched.ops.message_id)
            return Message({"content-type": "application/json", "body": body})
        return schedule_message(pid, items, more, sched.block())

    async def _post(self, sched: Scheduler, base: Message, req: Message, ctx: Context) -> Value:
        body = req.get_message("body")
        msg = _signed_part(body if body is not None else req)
        if not sched.ops.verify(msg):
            raise BadRequest("Message is not valid.")
        msg = sched.ops.committed_only(msg)
        pid = process_id(sched, base, req, msg)
        definition = self._definition(sched, base, msg, pid, ctx)
        where = self._elsewhere(sched, definition, pid)
        if where is not None:
            return await self._redirect(where, pid, msg, req, ctx)
        if is_process(msg):
            ctx.store.write_message(msg, [pid])
        assignment = await sched.schedule(pid, msg, definition=definition, verified=True)
        return assignment.message

    @staticmethod
    def _definition(sched: Scheduler, base: Message, msg: Message, pid: str, ctx: Context) -> Message | None:
        if is_process(msg):
            return msg
        inner = base.get_message("process")
        for candidate in (inner, base):
            if (
                candidate is not None
                and is_process(candidate)
                and sched.ops.message_id(candidate.without("priv")) == pid
            ):
                return candidate
        return ctx.store.read_message(pid)

    @staticmethod
    def _elsewhere(sched: Scheduler, definition: Message | None, pid: str) -> str | None:
        """The URL of the scheduler of ``pid`` when it is another node, else None."""
        if definition is None or sched.knows(pid):
            return None
        named = definition.get_text("scheduler") or definition.get_text("scheduler-location")
        if not named:
            return None
        address, _, hint = named.partition("?")
        if address == sched.address:
            return None
        if hint.startswith("hint="):
            return hint[5:]
        loc = sched.location(address)
        url = loc.get_text("url") if loc is not None else None
        if url is None:
            raise NotFound(f"No scheduler location known for {address}.")
        return url

    @staticmethod
    async def _redirect(url: str, pid: str, msg: Message, req: Message, ctx: Context) -> Value:
        peer: Any = ctx.services.get("peer")
        follow = (req.get_text("follow-redirects") or "true").lower() != "false"
        if peer is not None and follow:
            reply = await peer("POST", url, f"/{pid}/schedule", msg)
            if not isinstance(reply, Message):
                raise DeviceError("peer scheduler gave no message", status=502)
            return reply
        return Message(
            {"status": 307, "location": url, "body": f"Redirecting to scheduler: {url}", "variant": "ao.N.1"}
        )

    @staticmethod
    async def _location(sched: Scheduler, req: Message, ctx: Context) -> Value:
        if _method(req) != "POST":
            address = req.get_text("address") or sched.address
            found = sched.location(address)
            if found is None:
                raise NotFound(f"No location found for address: {address}")
            return Message({"body": found})
        signed = _signed_part(req)
        if not sched.ops.verify(signed) or not sched.ops.signers(signed):
            raise BadRequest("A scheduler location must be signed.")
        nonce = _int(req, "nonce", None)
        if nonce is None:
            raise BadRequest("a scheduler location needs a nonce")
        signers = sched.ops.signers(signed)
        operator = ctx.config.get_text("operator") or sched.address
        if operator in signers:
            url = req.get_text("url")
            if not url:
                raise BadRequest("a scheduler location needs a url")
            record = sched.ops.sign(
                Message(
                    {
                        "data-protocol": "ao",
                        "variant": "ao.N.1",
                        "type": "scheduler-location",
                        "url": url,
                        "nonce": nonce,
                        "time-to-live": _int(req, "time-to-live", DEFAULT_TTL_MS) or DEFAULT_TTL_MS,
                        "codec-device": req.get_text("accept-codec") or "httpsig@1.0",
                    }
                )
            )
            address = sched.address
        else:
            record, address = signed.without("path", "method"), signers[0]
            if not record.get_text("url"):
                raise BadRequest("a scheduler location needs a url")
        known = sched.location(address)
        known_nonce = known.get_int("nonce", -1) if known is not None else -1
        if known_nonce is not None and nonce <= known_nonce and known is not None:
            return Message(
                {
                    "status": 400,
                    "body": "Known nonce higher than requested nonce.",
                    "requested-nonce": nonce,
                    "existing-nonce": known_nonce,
                    "signers": signers,
                }
            )
        sched.set_location(address, record)
        return record


DEVICE = SchedulerDevice()
