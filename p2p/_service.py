"""Backend plumbing shared by the memory and libp2p nodes: the service lifecycle, publish back-pressure on
opaque per-peer queues, unwrapping a library's nested exception groups, bootstrap redialling.
No libp2p import here.
"""

from __future__ import annotations

import logging
import weakref
from contextlib import AbstractAsyncContextManager, AsyncExitStack, contextmanager
from typing import TYPE_CHECKING, Any, Protocol, Self

import trio

from p2p._errors import P2PError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from types import TracebackType

    from trio_typing import TaskStatus  # this venv's trio-stubs (from trio-typing) shadow trio's own types

    from p2p._api import P2PStatistics, Validator
    from p2p._policy import GossipPolicy

log = logging.getLogger(__name__)

_QUEUE_RECHECK_S = 0.05  # safety net for a queue that goes away without a final pop


class NodeService:
    """``async with node`` and ``await nursery.start(node.run)`` on top of a subclass's ``_running()``,
    plus the calls both backends answer from their shared inbound ``GossipPolicy``."""

    _stack: AsyncExitStack | None = None
    _policy: GossipPolicy

    def peers(self) -> list[str]:
        raise NotImplementedError

    def score(self, peer_id: str) -> float:
        return self._policy.score(peer_id)

    def statistics(self) -> P2PStatistics:
        return self._policy.snapshot(len(self.peers()))

    def set_validator(self, topic: str, fn: Validator | None) -> None:
        if fn is None:
            self._policy.validators.pop(topic, None)
        else:
            self._policy.validators[topic] = fn

    def _running(self) -> AbstractAsyncContextManager[Self]:
        raise NotImplementedError

    async def run(self, *, task_status: TaskStatus[Self] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; calls ``task_status.started(self)`` once reachable and ready."""
        async with self._running() as node:
            task_status.started(node)
            await trio.sleep_forever()

    async def __aenter__(self) -> Self:
        stack = AsyncExitStack()
        node = await stack.enter_async_context(self._running())
        self._stack = stack
        return node

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        stack, self._stack = self._stack, None
        if stack is None:
            return None
        return await stack.__aexit__(exc_type, exc, tb)


class _Queue(Protocol):
    closed: bool

    def __len__(self) -> int: ...


class QueueRoom:
    """Wait until every outbound queue holds fewer than ``high`` items.

    The queues (libp2p's per-peer RPC queues) offer no "drained" signal, so each full queue gets its
    ``pop`` coroutine wrapped once to set an event after every pop; a short recheck covers a queue
    that is closed or replaced while we wait.
    """

    def __init__(self) -> None:
        self._hooked: weakref.WeakSet[Any] = weakref.WeakSet()
        self._drained = trio.Event()

    def _hook(self, queue: Any) -> None:
        if queue in self._hooked:
            return
        self._hooked.add(queue)
        original = queue.pop

        async def pop() -> Any:
            item = await original()
            self._drained.set()
            return item

        queue.pop = pop

    async def wait(self, queues: Iterable[_Queue], high: int) -> None:
        while True:
            full = [q for q in list(queues) if len(q) >= high and not q.closed]
            if not full:
                return
            self._drained = trio.Event()
            for queue in full:
                self._hook(queue)
            with trio.move_on_after(_QUEUE_RECHECK_S):
                await self._drained.wait()


def library_leaf(exc: BaseException, types: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first leaf of ``exc`` if it holds only ``types`` (libp2p nests groups ~13 deep), else None."""
    if isinstance(exc, BaseExceptionGroup):
        matched, rest = exc.split(types)
        if rest is not None or matched is None:
            return None
        leaf: BaseException = matched
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        return leaf
    return exc if isinstance(exc, types) else None


@contextmanager
def map_errors(
    types: tuple[type[BaseException], ...], make: Callable[[BaseException], Exception]
) -> Iterator[None]:
    """Convert a library error (bare, or a group of nothing but ``types``) into ``make(leaf)``.

    Anything else — cancellation, our own errors, a group mixing in other exceptions — passes unchanged.
    """
    catch: tuple[type[BaseException], ...] = (BaseExceptionGroup, *types)
    try:
        yield
    except catch as exc:
        leaf = library_leaf(exc, types)
        if leaf is None:
            raise
        raise make(leaf) from exc


class _Dialer(Protocol):
    def peers(self) -> list[str]: ...

    async def connect(self, multiaddr: str) -> str: ...


async def redial_forever(node: _Dialer, addrs: Sequence[str], interval_s: float) -> None:
    """Dial every full multiaddr in ``addrs`` not yet connected, then again every ``interval_s`` (a
    bootstrap list). Failures are logged, never raised; runs until cancelled."""
    while True:
        connected = set(node.peers())
        for addr in addrs:
            if addr.rsplit("/", 1)[-1] in connected:
                continue
            try:
                await node.connect(addr)
            except P2PError as exc:
                log.info("bootstrap peer %s: %s", addr, exc.reason)
        await trio.sleep(interval_s)
