"""A small in-process node for device tests: registry, in-memory store and a resolver with the
node's step semantics (device from ``device``; unexported keys fall back to ``message@1.0``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from devices import message, process, push, scheduler_device, stack, test_exec
from devices._base import Context, Device, DeviceInfo
from devices._registry import Registry
from devices.core import Message, Value
from devices.scheduler import AssignmentLog, Scheduler, StateCache
from tests.scheduler._support import NODE_ADDR, fake_ops

if TYPE_CHECKING:
    import lmdb


class MemStore:
    def __init__(self) -> None:
        self.messages: dict[str, Message] = {}
        self.results: dict[str, Message] = {}

    def read_message(self, msg_id: str) -> Message | None:
        return self.messages.get(msg_id)

    def write_message(self, msg: Message, ids: list[str]) -> None:
        for i in ids:
            self.messages[i] = msg

    def read_result(self, hashpath: str) -> Message | None:
        return self.results.get(hashpath)

    def write_result(self, hashpath: str, msg: Message) -> None:
        self.results[hashpath] = msg


@dataclass
class Node:
    registry: Registry
    store: MemStore
    scheduler: Scheduler
    cache: StateCache
    services: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    published: list[tuple[str, Message]] = field(default_factory=list)

    async def publish(self, topic: str, msg: Message) -> None:
        self.published.append((topic, msg))

    async def resolve(self, base: Message, req: Message) -> Value:
        self.steps += 1
        path = req.get_text("path") or ""
        key = path.split("/", 1)[0]
        name = (base.get_text("device") or "message@1.0").lower()
        device = self.registry.get(name)
        info = device.info()
        if key.lower() not in {k.lower() for k in info.keys} and not info.catch_all:
            device = self.registry.get("message@1.0")
        return await device.resolve(key, base, req, self.ctx())

    def ctx(self) -> Context:
        return Context(
            store=self.store,
            wallet=None,
            config=Message(),
            resolve=self.resolve,  # type: ignore[arg-type]
            clock=trio.current_time,
            publish=self.publish,
            services=self.services,
        )

    async def get(self, base: Message, **req: Any) -> Value:
        return await self.resolve(base, Message(req))


DEVICES: list[Device] = [
    message.DEVICE,
    process.DEVICE,
    push.DEVICE,
    scheduler_device.DEVICE,
    stack.DEVICE,
    test_exec.DEVICE,
]


def make_node(
    env: lmdb.Environment, scheduler: Scheduler, *, snapshot_every: int = 4, extra: list[Device] | None = None
) -> Node:
    cache = StateCache(env, snapshot_every=snapshot_every)
    registry = Registry([*DEVICES, *(extra or [])])
    node = Node(registry, MemStore(), scheduler, cache)
    node.services.update({"scheduler": scheduler, "process-cache": cache})
    return node


def new_scheduler(env: lmdb.Environment) -> Scheduler:
    return Scheduler(AssignmentLog(env), fake_ops(), address=NODE_ADDR, clock_ms=lambda: 1_700_000_000_000)


class AppendDevice:
    """Test device: ``append`` adds ``<suffix><bin>`` to ``result``; can answer skip/pass."""

    def __init__(
        self,
        name: str,
        suffix: str,
        *,
        control: str | None = None,
        until_pass: int = 3,
        special: bool = False,
    ) -> None:
        self.id = name
        self.suffix = suffix
        self.control = control
        self.until_pass = until_pass
        self.special = special

    def info(self) -> DeviceInfo:
        keys = {"append"} | ({"special"} if self.special else set())
        return DeviceInfo(keys=frozenset(keys))

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Any:
        if key == "special":
            return base.set("special", Message({"output": 1337}))
        out = base.set("result", (base.get_text("result") or "") + self.suffix + (req.get_text("bin") or ""))
        if self.control == "skip":
            return stack.StackControl.skip(out)
        if self.control == "pass" and (base.get_int("pass") or 1) < self.until_pass:
            return stack.StackControl.pass_(out)
        return out
