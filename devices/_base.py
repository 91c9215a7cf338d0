"""The uniform device interface and the capabilities a device may use.

Every device module exposes one object satisfying ``Device``:

* ``id`` — its versioned name, e.g. ``"message@1.0"``;
* ``info()`` — the keys it exports and whether a catch-all handler serves other keys;
* ``resolve(key, base, req, ctx)`` — the one coroutine: apply ``key`` of ``base`` with request
  ``req`` and return the result value (usually a ``Message``) or raise a ``DeviceError``.

Devices get everything they need through ``Context`` (store, signer, clock, nested resolution,
WASM runner, publish, limits, configuration), so they never import the resolver, the HTTP layer
or ``p2p/``, and fakes are enough to test them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from devices.core import Message, RsaWallet, Value


@dataclass(frozen=True)
class DeviceInfo:
    """What a device exports. ``keys`` empty with ``catch_all`` means every key is handled."""

    keys: frozenset[str]
    catch_all: bool = False
    description: str = ""


@runtime_checkable
class Device(Protocol):
    id: str

    def info(self) -> DeviceInfo: ...

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Value: ...


class Store(Protocol):
    """The node's durable store, as devices see it (the node supplies the implementation)."""

    def read_message(self, msg_id: str) -> Message | None: ...

    def write_message(self, msg: Message, ids: list[str]) -> None: ...

    def read_result(self, hashpath: str) -> Message | None: ...

    def write_result(self, hashpath: str, msg: Message) -> None: ...


ResolveFn = Callable[[Message, Message], Awaitable[Value]]
PublishFn = Callable[[str, Message], Awaitable[None]]


@dataclass(frozen=True)
class Context:
    """Capabilities handed to every device call.

    ``resolve`` resolves a nested (base, request) pair through the node's resolver;
    ``publish`` announces an event (results, assignments, attestations) to subscribers and peers;
    ``services`` carries optional named capabilities (scheduler, wasm runner, gateway client...)
    that specific devices look up by name.
    """

    store: Store
    wallet: RsaWallet
    config: Message
    resolve: ResolveFn
    clock: Callable[[], float]
    publish: PublishFn | None = None
    services: Mapping[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> Any:
        """A named capability; raises ``Unavailable`` when this node does not offer it."""
        from devices._errors import Unavailable

        try:
            return self.services[name]
        except KeyError:
            raise Unavailable(f"this node offers no {name!r} service") from None
