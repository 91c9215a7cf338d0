"""``stack@1.0`` — run one key through an ordered list of devices (spec §2.3).

The base's ``device-stack`` (a list, or a numbered message ``{"1": …, "2": …}``) names the
devices. Every key is handled (catch-all):

* **Fold** (default; ``mode`` from the request, else the base): ``pass = 1``; for each device i the
  base gets ``device = device-stack[i]`` (and ``input-prefix``/``output-prefix`` from
  ``input-prefixes[i]``/``output-prefixes[i]`` when given), the same request is resolved through
  ``ctx.resolve``, and the result is the next device's base. A device that does not export the key
  (``NotFound``) is skipped. A ``StackControl`` result steers: ``skip`` stops and returns its
  message; ``pass`` increments ``pass`` and restarts at device 1 with its message (at most
  ``max-passes``, default 16). A non-message result is returned as is. On a ``DeviceError`` the
  ``error-strategy`` decides: ``throw`` (default) re-raises, ``stop`` returns the state so far.
  Produces the folded state with ``device``, the prefixes and ``pass`` restored to the base's.
* **Map** (``mode: Map``): resolve the key on every device against the same base; produces
  ``{"1": result_1, …}`` with failed or non-message results omitted. Used for ``snapshot``.

Side effects: none of its own (only those of the devices it runs). ``StackControl`` is the small
tagged result type that only this device interprets: a device in a stack returns
``StackControl.skip(msg)`` or ``StackControl.pass_(msg)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, final

from devices._base import DeviceInfo
from devices._errors import BadRequest, DeviceError, NotFound
from devices.core import Message, Value

if TYPE_CHECKING:
    from devices._base import Context

DEFAULT_MAX_PASSES = 16


@final
@dataclass(frozen=True)
class StackControl:
    """``skip``: stop the fold here; ``pass``: run the stack again from device 1."""

    status: Literal["skip", "pass"]
    message: Message

    @classmethod
    def skip(cls, message: Message) -> StackControl:
        return cls("skip", message)

    @classmethod
    def pass_(cls, message: Message) -> StackControl:
        return cls("pass", message)


def device_stack(base: Message) -> list[str]:
    """The device names of ``base``'s ``device-stack``.

    Raises:
        BadRequest: missing, empty or not a list of names.
    """
    value = base.find("device-stack")
    if isinstance(value, Message):
        items = [value[k] for k in sorted(value, key=lambda k: int(k) if k.isdigit() else 1 << 30)]
    elif isinstance(value, tuple):
        items = list(value)
    else:
        raise BadRequest("stack@1.0 needs a device-stack list")
    names = [v.decode("utf-8", "replace").lower() for v in items if isinstance(v, bytes)]
    if not names or len(names) != len(items):
        raise BadRequest("device-stack must be a non-empty list of device names")
    return names


def _nth(base: Message, key: str, i: int) -> Value | None:
    value = base.find(key)
    if isinstance(value, Message):
        return value.get(str(i + 1))
    if isinstance(value, tuple) and i < len(value):
        return value[i]
    return None


@final
class StackDevice:
    id = "stack@1.0"

    def info(self) -> DeviceInfo:
        return DeviceInfo(keys=frozenset(), catch_all=True, description="fold/map a key through device-stack")

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value:
        mode = (req.get_text("mode") or base.get_text("mode") or "fold").lower()
        names = device_stack(base)
        if mode == "map":
            return await self._map(names, base, req, ctx)
        if mode != "fold":
            raise BadRequest(f"unknown stack mode: {mode}")
        return await self._fold(names, base, req, ctx)

    async def _map(self, names: list[str], base: Message, req: Message, ctx: Context) -> Message:
        out: dict[str, Value] = {}
        for i, name in enumerate(names):
            try:
                value: object = await ctx.resolve(self._prepare(base, base, i, name), req)
            except DeviceError:
                continue
            if isinstance(value, StackControl):
                value = value.message
            if isinstance(value, Message):
                out[str(i + 1)] = value.without("priv")
        return Message(out)

    @staticmethod
    def _prepare(state: Message, base: Message, i: int, name: str) -> Message:
        out = state.set("device", name).set("device-key", str(i + 1))
        for single, plural in (("input-prefix", "input-prefixes"), ("output-prefix", "output-prefixes")):
            value = _nth(base, plural, i)
            if value is not None:
                out = out.set(single, value)
        return out

    async def _fold(self, names: list[str], base: Message, req: Message, ctx: Context) -> Value:
        strategy = (base.get_text("error-strategy") or "throw").lower()
        max_passes = base.get_int("max-passes") or DEFAULT_MAX_PASSES
        state, pass_, i = base, 1, 0
        while i < len(names):
            try:
                value: object = await ctx.resolve(
                    self._prepare(state, base, i, names[i]).set("pass", pass_), req
                )
            except NotFound:
                i += 1
                continue
            except DeviceError:
                if strategy == "stop":
                    break
                raise
            if isinstance(value, StackControl):
                state = value.message
                if value.status == "skip":
                    break
                pass_ += 1
                if pass_ > max_passes:
                    raise DeviceError(f"stack@1.0: more than {max_passes} passes")
                i = 0
                continue
            if not isinstance(value, Message):
                return value  # type: ignore[return-value]  # a non-message ok result, returned raw
            state, i = value, i + 1
        return self._restore(state, base)

    @staticmethod
    def _restore(state: Message, base: Message) -> Message:
        out = state
        for key in ("device", "device-key", "input-prefix", "output-prefix", "pass"):
            original = base.get(key)
            out = out.without(key) if original is None else out.set(key, original)
        return out


DEVICE = StackDevice()
