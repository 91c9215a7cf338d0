"""The scheduler service: one writer task that assigns slots and group-commits them.

Theory of operation:

1. ``schedule(pid, msg)`` verifies the message (``MessageOps.verify``), checks that this node
   schedules ``pid``, and queues a request on a bounded inbox (back-pressure when full).
2. The writer task (``run``, started with ``nursery.start``) takes the first request and whatever
   else is queued, up to ``max_batch``; prepares each assignment in order from the durable chain
   head (slot = next slot, hash chain) in a worker thread; has them signed with the node wallet
   by up to ``sign_threads`` worker threads (the chain does not cover the signature); and stores
   the whole batch with one durable LMDB transaction (``AssignmentLog.append``).
3. Only then are the callers woken with their ``Assignment``. A failure of the batch write wakes
   every caller of that batch with the error and stores nothing; a failure building one message
   (e.g. signing) fails that caller only. No caller is ever left waiting (HyperBEAM's defect).
4. The single writer is the one serialisation point for every process, so slots are contiguous
   and never duplicated; the log re-checks contiguity and the chain on every write anyway.

Cancellation/shutdown: cancelling ``run`` lets an in-flight batch finish its (uncancellable)
commit, wakes its callers, then fails every still-queued request with ``Unavailable``. A caller
cancelled while waiting may still have its message assigned — it was just not acknowledged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import trio

from devices._errors import BadRequest, DeviceError, NotFound, Unavailable

from ._assignment import (
    DEBUG_BLOCK,
    Assignment,
    BlockInfo,
    ChainHead,
    MessageOps,
    prepare_assignment,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    # trio 0.35 does not re-export TaskStatus in a way strict mypy accepts.
    from trio._core._run import TaskStatus

    from devices.core import Message, RsaWallet

    from ._log import AssignmentLog

log = logging.getLogger(__name__)

MAX_PAGE = 1000


def _wall_ms() -> int:
    return int(time.time() * 1000)


def is_process(msg: Message) -> bool:
    """True for a process definition (``type: Process``, any case)."""
    return (msg.get_text("type") or "").lower() == "process"


@dataclass(eq=False)
class _Pending:
    pid: str
    message: Message
    message_id: str
    done: trio.Event = field(default_factory=trio.Event)
    result: Assignment | None = None
    error: DeviceError | None = None


class Scheduler:
    """Assigns slots to messages for the processes this node schedules. See the module doc."""

    def __init__(
        self,
        log_: AssignmentLog,
        ops: MessageOps,
        *,
        address: str,
        clock_ms: Callable[[], int] = _wall_ms,
        block_info: Callable[[], BlockInfo] = lambda: DEBUG_BLOCK,
        max_batch: int = 256,
        inbox_size: int = 1024,
        sign_threads: int = 2,
    ) -> None:
        if max_batch < 1 or inbox_size < 1 or sign_threads < 1:
            raise ValueError("max_batch, inbox_size and sign_threads must be positive")
        self._sign_threads = sign_threads
        self.log = log_
        self.ops = ops
        self.address = address
        self._clock_ms = clock_ms
        self._block_info = block_info
        self._max_batch = max_batch
        self._send, self._recv = trio.open_memory_channel[_Pending](inbox_size)
        self._changed = trio.Event()
        self._running = False
        self._stopped = False
        self._batches = 0
        self._committed = 0
        self._listeners: list[Callable[[list[Assignment]], None]] = []

    def add_listener(self, listener: Callable[[list[Assignment]], None]) -> None:
        """Call ``listener(assignments)`` after each batch is durable (it must not block)."""
        self._listeners.append(listener)

    @classmethod
    def for_wallet(cls, log_: AssignmentLog, wallet: RsaWallet, **options: Any) -> Scheduler:
        """A scheduler using the real message layer (``MessageOps.for_wallet``), whose address is
        the wallet's. ``options`` are the keyword options of the constructor."""
        return cls(log_, MessageOps.for_wallet(wallet), address=wallet.address, **options)

    # -- the writer task -------------------------------------------------------------------
    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve scheduling requests until cancelled. Call with ``await nursery.start(s.run)``."""
        if self._running or self._stopped:
            raise RuntimeError("Scheduler.run may be called only once")
        self._running = True
        try:
            task_status.started()
            while True:
                batch = [await self._recv.receive()]
                while len(batch) < self._max_batch:
                    try:
                        batch.append(self._recv.receive_nowait())
                    except trio.WouldBlock:
                        break
                with trio.CancelScope(shield=True):  # a taken batch is always finished and answered
                    await self._commit(batch)
        finally:
            self._stopped = True
            self._running = False
            self._fail_queued()
            self._recv.close()

    def _fail_queued(self) -> None:
        while True:
            try:
                p = self._recv.receive_nowait()
            except (trio.WouldBlock, trio.ClosedResourceError, trio.EndOfChannel):
                return
            p.error = Unavailable("the scheduler stopped before assigning this message")
            p.done.set()

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            built = await self._build(batch)
            await trio.to_thread.run_sync(self.log.append, [a for a in built if a is not None])
        except Exception as exc:  # the batch boundary: every caller of the batch gets the error
            if not isinstance(exc, DeviceError):
                log.error("assignment batch failed", exc_info=True)
                exc = DeviceError(f"assignment batch failed: {exc}")
            for p in batch:
                p.error = exc
                p.done.set()
            return
        for p, a in zip(batch, built, strict=True):
            p.result = a
            p.done.set()
        committed = [a for a in built if a is not None]
        for listener in self._listeners:
            try:
                listener(committed)
            except Exception:  # a listener's fault never fails an acknowledged batch
                log.exception("assignment listener failed")
        self._batches += 1
        self._committed += sum(1 for a in built if a is not None)
        self._changed.set()
        self._changed = trio.Event()

    async def _build(self, batch: list[_Pending]) -> list[Assignment | None]:
        """Assignments for ``batch`` (``None`` where that message failed), signed by up to
        ``sign_threads`` worker threads. If any signature fails, the batch is rebuilt one by one
        so that later messages of the same process take the failed one's slot."""
        if self._sign_threads == 1 or len(batch) == 1:
            return await trio.to_thread.run_sync(self._build_one_by_one, batch)
        unsigned = await trio.to_thread.run_sync(self._prepare, batch)
        signed: list[Message | None] = [None] * len(unsigned)

        async def sign_share(k: int) -> None:
            share = list(range(k, len(unsigned), self._sign_threads))
            done = await trio.to_thread.run_sync(self._sign_many, [unsigned[i].message for i in share])
            for i, m in zip(share, done, strict=True):
                signed[i] = m

        async with trio.open_nursery() as nursery:
            for k in range(min(self._sign_threads, len(unsigned))):
                nursery.start_soon(sign_share, k)
        if any(m is None for m in signed):
            return await trio.to_thread.run_sync(self._build_one_by_one, batch)
        return [replace(a, message=m) for a, m in zip(unsigned, signed, strict=True) if m is not None]

    def _sign_many(self, messages: list[Message]) -> list[Message | None]:
        out: list[Message | None] = []
        for m in messages:
            try:
                out.append(self.ops.sign(m))
            except Exception:  # a per-message boundary; _build retries the batch one by one
                log.warning("signing an assignment failed", exc_info=True)
                out.append(None)
        return out

    def _prepare(self, batch: list[_Pending]) -> list[Assignment]:
        """The batch's assignments with their messages not yet signed (a failure raises)."""
        return [a for a in self._assign(batch, None) if a is not None]

    def _build_one_by_one(self, batch: list[_Pending]) -> list[Assignment | None]:
        """The batch's signed assignments; a message that fails gets ``None`` (and its caller the
        error) and the next message of its process takes its slot."""
        return self._assign(batch, self.ops.sign)

    def _assign(
        self, batch: list[_Pending], sign: Callable[[Message], Message] | None
    ) -> list[Assignment | None]:
        heads: dict[str, ChainHead] = {}
        out: list[Assignment | None] = []
        now, block = self._clock_ms(), self._block_info()
        for p in batch:
            head = heads.get(p.pid) or self.log.head(p.pid)
            try:
                a = prepare_assignment(
                    process_id=p.pid, head=head, message=p.message, message_id=p.message_id,
                    timestamp_ms=now, block=block,
                )
                if sign is not None:
                    a = replace(a, message=sign(a.message))
            except Exception as exc:  # a per-message boundary: this caller fails, the batch goes on
                if sign is None:
                    raise
                log.warning("building the assignment of %s for %s failed", p.message_id, p.pid, exc_info=True)
                p.error = exc if isinstance(exc, DeviceError) else DeviceError(f"assignment failed: {exc}")
                out.append(None)
                continue
            heads[p.pid] = ChainHead(next_slot=a.slot + 1, chain=a.chain_raw)
            out.append(a)
        return out

    # -- the caller side -------------------------------------------------------------------
    async def schedule(
        self, process_id: str, message: Message, *, definition: Message | None = None, verified: bool = False
    ) -> Assignment:
        """Verify, assign and durably store ``message`` on ``process_id``; the stored assignment.

        A process is scheduled here when ``message`` is its own definition, when it already has
        assignments, or when ``definition`` (loaded by the caller) names this node's address as
        ``scheduler``. ``verified=True`` says the caller has just verified ``message`` itself.

        Raises:
            BadRequest: the message's signatures do not verify ("Message is not valid.").
            NotFound: this node does not schedule ``process_id``.
            Unavailable: the scheduler is not running.
            DeviceError: storing failed (nothing was stored).
        """
        if not verified and not self.ops.verify(message):
            raise BadRequest("Message is not valid.")
        mid = self.ops.message_id(message)
        if not self.knows(process_id) and not (is_process(message) and mid == process_id):
            sched = (
                None
                if definition is None
                else (definition.get_text("scheduler") or definition.get_text("scheduler-location"))
            )
            if sched is None or sched.split("?", 1)[0] != self.address:
                raise NotFound(f"Process {process_id} is not scheduled by this node.")
        if not self._running:
            raise Unavailable("the scheduler is not running")
        pending = _Pending(process_id, message, mid)
        try:
            await self._send.send(pending)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise Unavailable("the scheduler stopped") from exc
        await pending.done.wait()
        if pending.error is not None:
            raise pending.error
        if pending.result is None:  # pragma: no cover - _commit always sets one of the two
            raise DeviceError("assignment vanished")
        return pending.result

    def knows(self, process_id: str) -> bool:
        """True when ``process_id`` has at least one assignment here."""
        return self.log.head(process_id).next_slot > 0

    def current(self, process_id: str) -> int:
        """The last assigned slot of ``process_id``.

        Raises:
            NotFound: nothing is assigned to it here.
        """
        cur = self.log.head(process_id).current
        if cur < 0:
            raise NotFound(f"Process {process_id} is not scheduled by this node.")
        return cur

    def assignment(self, process_id: str, slot: int) -> Assignment:
        """The assignment at ``slot``.

        Raises:
            NotFound: unknown process, or ``slot`` is beyond the current slot (the reason says which).
        """
        cur = self.current(process_id)
        a = self.log.get(process_id, slot) if 0 <= slot <= cur else None
        if a is None:
            raise NotFound(f"No assignment at slot {slot} of {process_id}; the current slot is {cur}.")
        return a

    def assignments(
        self, process_id: str, first: int = 0, last: int | None = None
    ) -> tuple[list[Assignment], bool]:
        """Assignments ``first..last`` (inclusive; at most ``MAX_PAGE``) and whether more follow."""
        cur = self.current(process_id)
        first = max(first, 0)
        last = cur if last is None else min(last, cur)
        capped = min(last, first + MAX_PAGE - 1)
        items = self.log.read_range(process_id, first, capped)
        return items, capped < last

    def processes(self) -> list[str]:
        return self.log.processes()

    async def wait_for_slot(self, process_id: str, slot: int) -> None:
        """Return once ``slot`` of ``process_id`` is durably assigned. Bound it with ``fail_after``."""
        while self.log.head(process_id).current < slot:
            await self._changed.wait()

    def block(self) -> BlockInfo:
        """The current Arweave block fields (zeros on a debug node)."""
        return self._block_info()

    def location(self, address: str) -> Message | None:
        return self.log.location(address)

    def set_location(self, address: str, record: Message) -> None:
        self.log.set_location(address, record)

    def statistics(self) -> dict[str, int]:
        return {
            "batches": self._batches,
            "committed": self._committed,
            "queued": self._send.statistics().current_buffer_used,
        }
