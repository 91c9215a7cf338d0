"""The resolver, modelled on HyperBEAM's ``hb_ao`` (spec §3).

Pipeline for one request (a message sequence from ``node._hyperpath.parse``):

1. **Base.** The first element becomes Msg1: a message as is; an ID is loaded from the store
   (404 naming the ID when absent or malformed, without touching the store for malformed ones);
   ``Resolve`` is resolved first; ``As(dev, msg)`` loads ``msg.path`` when it is an ID and sets
   ``device``, sets ``msg``'s keys on ``{device: dev}`` when its path is empty, and otherwise
   resolves ``msg`` against ``{device: dev}``.
2. **Steps.** Each later element is a request Msg2: a message as is; an ID or a sub-resolution's
   bare value becomes ``{path: value}``; ``As(dev, msg)`` applies ``msg`` to Msg1 viewed with
   ``dev``. ``Msg3 = resolve(Msg1, Msg2)`` becomes the next Msg1.
3. **Device.** The ``device`` key of Msg1 (case-insensitive; absent → ``message@1.0``) names the
   device in the registry (404 naming it when not loaded). The key is the first element of
   ``Msg2.path``. A key the device does not export (and no catch-all) falls back to
   ``message@1.0``.
4. **Hashpath.** The outcome records its top-level ``(Msg1, Msg2)`` steps; ``Outcome.hashpath``
   folds them into the hashpath of the last step on first use (it goes into the reply signature's
   ``tag``). Computing it costs two message ids per step, so it is only done when asked for;
   results carry no ``priv/hashpath``.
5. **Bounds.** Nesting — a step started while another runs (sub-paths, devices calling
   ``Context.resolve``) — is bounded by ``max_depth``; exceeding it is a 400. The number of
   sequential steps is bounded by the parser's segment limit.

Errors are ``DeviceError`` subclasses carrying an HTTP status; core codec errors raised inside a
step are re-raised as ``DeviceError`` with their status hint.
"""

from __future__ import annotations

import contextvars
import functools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, final

from devices._base import Context, PublishFn, Store
from devices._errors import BadRequest, DeviceError, NotFound
from devices.core import CoreError, Message, RsaWallet, Value, b64u_decode, b64u_encode
from node import _codec_io
from node._hyperpath import Element, Resolve, is_id

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from devices._registry import Registry

DEFAULT_DEVICE = "message@1.0"
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("resolve_depth", default=0)


@final
@dataclass(frozen=True)
class Outcome:
    """The result of resolving a request and the ``(base, request)`` pairs of its steps."""

    value: Value
    steps: tuple[tuple[Message, Message], ...] = ()

    @functools.cached_property
    def hashpath(self) -> str | None:
        """The hashpath of the last step, chained through the earlier ones (``None`` for a request
        without steps or one whose base has no id)."""
        current: str | None = None
        for base, req in self.steps:
            current = _codec_io.hashpath(current if current is not None else base, req)
        return current


def canonical_id(ident: str) -> str | None:
    """The canonical form of an ID-shaped string, or ``None`` if it is not a valid ID (spec D13)."""
    raw = ident.encode("utf-8")
    if len(raw) == 43:
        try:
            decoded = b64u_decode(ident)
        except CoreError:
            return None
        return ident if len(decoded) == 32 and b64u_encode(decoded) == ident else None
    if len(raw) == 42:
        hexpart = ident[2:]
        if ident[:2] == "0x" and all(c in "0123456789abcdefABCDEF" for c in hexpart):
            return ident
        return None
    if len(raw) == 32:
        return b64u_encode(raw)
    return None


def _text(value: Value | None) -> str | None:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


@final
@dataclass
class Resolver:
    """Resolves message sequences through the device registry.

    ``node_message`` is the node's current configuration message, handed to devices as
    ``Context.config``; ``services`` are named capabilities (``"node"`` is this resolver's
    ``NodeState``-like holder, added by the node).
    """

    registry: Registry
    store: Store
    wallet: RsaWallet
    node_message: Callable[[], Message]
    max_depth: int = 64
    clock: Callable[[], float] = time.time
    publish: PublishFn | None = None
    services: Mapping[str, Any] = field(default_factory=dict)

    def context(self) -> Context:
        return Context(
            store=self.store, wallet=self.wallet, config=self.node_message(), resolve=self.resolve,
            clock=self.clock, publish=self.publish, services=self.services,
        )

    # -- entry points --------------------------------------------------------------------------
    async def resolve_request(self, steps: list[Element]) -> Outcome:
        """Resolve a parsed request (``node._hyperpath.parse`` output).

        Raises:
            DeviceError: with the status to answer (404 missing message/device/key, 400 ...).
        """
        return await self._many(steps)

    async def resolve(self, base: Message, req: Message) -> Value:
        """One step, ``Msg3 = resolve(Msg1, Msg2)`` (also ``Context.resolve`` for devices)."""
        return await self._step(base, req)

    # -- internals -----------------------------------------------------------------------------
    async def _many(self, steps: list[Element] | tuple[Element, ...]) -> Outcome:
        if not steps:
            raise BadRequest("empty path: nothing to resolve")
        current = await self._base(steps[0])
        done: list[tuple[Message, Message]] = []
        for elem in steps[1:]:
            if isinstance(current, tuple):  # a list result is read as a numbered message
                current = Message({str(i): v for i, v in enumerate(current, start=1)})
            if not isinstance(current, Message):
                raise BadRequest(f"cannot apply a key to a {type(current).__name__} result")
            base, req = await self._request(current, elem)
            current = await self.resolve(base, req)
            done.append((base, req))
        return Outcome(current, tuple(done))

    async def _base(self, elem: Element) -> Value:
        if isinstance(elem, Message):
            return elem
        if isinstance(elem, str):
            return await self.fetch(elem)
        if isinstance(elem, Resolve):
            return (await self._nested(elem)).value
        device = await self._device_name(elem.device)
        path = elem.msg.get("path")
        rest = elem.msg.without("path")
        if isinstance(path, bytes) and is_id(path):
            loaded = await self.fetch(path.decode("utf-8", "replace"))
            return loaded.update(rest).set("device", device)
        base = Message(device=device)
        if not path:
            if not rest:
                return base
            setter = self.registry.get(DEFAULT_DEVICE)
            return await setter.resolve("set", base, rest, self.context())
        return await self.resolve(base, elem.msg)

    async def _request(self, base: Message, elem: Element) -> tuple[Message, Message]:
        """The ``(Msg1, Msg2)`` pair a later path element stands for."""
        if isinstance(elem, Message):
            return base, elem
        if isinstance(elem, str):
            return base, Message(path=elem)
        if isinstance(elem, Resolve):
            value = (await self._nested(elem)).value
            return base, (value if isinstance(value, Message) else Message(path=value))
        device = await self._device_name(elem.device)
        return base.set("device", device), elem.msg

    async def _nested(self, elem: Resolve) -> Outcome:
        token = _depth.set(_depth.get() + 1)
        try:
            if _depth.get() > self.max_depth:
                raise BadRequest(f"request nests deeper than {self.max_depth} resolutions")
            return await self._many(elem.steps)
        finally:
            _depth.reset(token)

    async def _device_name(self, device: str | Resolve) -> str:
        if isinstance(device, Resolve):
            value = (await self._nested(device)).value
            name = _text(value) if isinstance(value, bytes) else None
            if name is None:
                raise BadRequest("a device sub-path must resolve to a device name")
            return name
        if not device:
            raise BadRequest("empty device name after '~'")
        return device

    def load(self, ident: str) -> Message:
        """The stored message with this ID.

        Raises:
            NotFound: malformed (checked before any store access) or absent, naming the ID.
        """
        canonical = canonical_id(ident)
        msg = self.store.read_message(canonical) if canonical is not None else None
        if msg is None:
            raise NotFound(f"message not found: {ident}")
        return msg

    async def fetch(self, ident: str) -> Message:
        """``load``, falling back to the ``"remote-loader"`` service (configured gateways), then to the
        ``"peer-loader"`` service (connected peers). Both verify what they fetch and cache it in the
        store.

        Raises:
            NotFound: no valid message with this id, locally, on a gateway or on a peer.
        """
        try:
            return self.load(ident)
        except NotFound:
            canonical = canonical_id(ident)
            if canonical is None:
                raise
            for name in ("remote-loader", "peer-loader"):
                loader = self.services.get(name)
                found: Message | None = await loader.load(canonical) if loader is not None else None
                if found is not None:
                    return found
            raise

    async def _step(self, base: Message, req: Message) -> Value:
        token = _depth.set(_depth.get() + 1)
        try:
            if _depth.get() > self.max_depth:
                raise BadRequest(f"request takes more than {self.max_depth} resolution steps")
            key = self._key(req)
            name = self._device_of(base)
            device = self.registry.get(name)
            info = device.info()
            exported = {k.lower(): k for k in info.keys}
            call_key = exported.get(key.lower(), key)
            if key.lower() not in exported and not info.catch_all:
                if name == DEFAULT_DEVICE:
                    raise NotFound(f"key not found: {key}")
                device = self.registry.get(DEFAULT_DEVICE)
            try:
                value = await device.resolve(call_key, base, req, self.context())
            except CoreError as exc:
                raise DeviceError(exc.reason, status=exc.status_hint) from exc
        finally:
            _depth.reset(token)
        return value

    @staticmethod
    def _key(req: Message) -> str:
        path = req.get("path")
        text = _text(path) if isinstance(path, bytes) else None
        if not text:
            raise BadRequest("the request message names no key (empty path)")
        return text.split("/", 1)[0] or text

    @staticmethod
    def _device_of(base: Message) -> str:
        value = base.find("device")
        if value is None:
            return DEFAULT_DEVICE
        name = _text(value)
        if not name:
            raise BadRequest("the base message's device is not a device name")
        if is_id(name):
            raise NotFound(f"device not found: {name} (devices are never loaded from messages)")
        return name.lower()
