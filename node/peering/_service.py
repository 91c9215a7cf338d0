"""``Peering``: the node's gossip of result attestations and its converged-results service.

Theory of operation:

1. ``run`` enters the ``P2P`` backend (``Libp2pNode`` in a deployed node, ``MemoryNode`` in tests)
   inside the caller's nursery, installs the attestation topic validator and the fetch handler,
   subscribes to ``TOPIC`` and starts the batcher; ``task_status.started(self)`` when ready.
2. **Validator** (before anything is stored or forwarded): decode and verify the envelope
   (``_verify``) → ``REJECT`` (the forwarder's score drops; repeated offenders are disconnected and
   banned by the backend); an item id already seen or queued → ``IGNORE`` (duplicates and replays,
   however late); an attester the trust policy does not list → ``IGNORE``; otherwise the item goes to
   the index writer (``_ingest``: group commits in a worker thread, then listeners and waiters) and is
   ``ACCEPT``ed (forwarded) without waiting for the disk.
3. **Production**: ``announce(process, slot, result, hashpath, device_stack)`` queues a ``Statement``
   (and the result, to be stored under ``message_id(result)``) without a scheduling round: the
   batcher sleeps until the first statement of a batch is queued, then until ``batch_delay_s`` after
   that statement was announced or until ``batch_size`` statements are queued (``announce`` wakes it
   only at those two points, not per statement). It takes up to ``batch_size`` statements and, in a
   worker thread, stores their results (durably) and then signs one Merkle batch with the node
   wallet, and hands it to the index writer; a publisher task then publishes it (while the next batch
   is signed) in the compact form (every statement's leaf bytes plus the signed header; receivers
   recompute the root), deflated, split so each message stays under ``GOSSIP_BATCH_BYTES`` on the
   wire, ``GOSSIP_INFLATED_BYTES`` inflated and ``MAX_BATCH_ITEMS`` statements. ``announce`` refuses a
   statement over ``MAX_STATEMENT_BYTES`` and waits (back-pressure) only while ``max(batch_size, 64)``
   statements are queued, and callers that wait are let in first come, first served; it may be
   called before ``run`` (the statements wait for the batcher).
4. **Convergence**: ``lookup(process, slot)`` converges the stored claims (``_trust``); if they do not
   reach ``k``, it first asks connected peers for their attestations of that slot (how a restarted
   or late peer catches up) and verifies each one. With agreement it loads the result, or fetches it
   from the attesting peers and checks ``message_id(result) == result id`` before storing it, and
   answers ``Converged(message, attested_by, hashpath)``; otherwise ``None`` (the caller computes).
5. **Fetch** (``FETCH_PROTOCOL``): ``result``/``message`` by id → the stored message; ``attestation``
   with id ``<process>/<slot>`` → ``{"items": [verifiable attestation blobs], "evidence": [...]}``
   (see ``_fetch``).

Cancellation/shutdown: cancelling ``run`` stops the batcher (statements still queued are dropped: they
were never signed; ``announce`` then raises ``PeeringError``, also in callers waiting for room) and the
publisher (a batch signed but not yet published stays indexed here; peers get it on catch-up),
unsubscribes and leaves the backend, which closes its connections. ``announce`` is a cancellation
point: cancelled, it queues nothing.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast, final

import trio

from attest import (
    Statement,
    VerifierPolicy,
    encode_evidence,
)
from devices.core import Message, b64u_encode, message_id
from node._codec_io import message_ids
from node._serial import encode_message
from node.peering._batches import MAX_STATEMENT_BYTES, Signed, chunks, signed_messages
from node.peering._errors import ItemIgnored, ItemRejected, PeeringError
from node.peering._fetch import MAX_SLOT_ITEMS, decode_result, fetch_body, serve_fetch, verified_message
from node.peering._ingest import Ingest, blob_name
from node.peering._records import AttestationIndex, Record
from node.peering._status import status_message
from node.peering._trust import TrustPolicy, converge
from node.peering._verify import (
    Claim,
    EvidenceChecker,
    VerifiedItem,
    verify_fetched,
    verify_gossip,
)
from p2p import (
    FETCH_PROTOCOL,
    FetchRequest,
    P2PError,
    ValidationResult,
    What,
    WireError,
    encode_request,
)

if TYPE_CHECKING:
    from trio_typing import TaskStatus

    from attest import Evidence
    from devices.core import RsaWallet
    from node._store import LmdbStore
    from p2p import P2P

log = logging.getLogger(__name__)

#: Version 2: batches are deflated. A version-1 peer would take a deflated envelope for a malformed one
#: and ban its sender; on separate topics the two versions only stop exchanging attestations.
TOPIC = "hyperpeer/attestations/2"
#: The batch window's default. Each window costs a signature (~3 ms of RSA-4096) and a gossip message on
#: every peer, and py-libp2p spends ~1.5 ms of CPU per message at each end whatever its size: in
#: ``bench.gossip``'s 5-peer mesh at 2,000/s a 20 ms window kept 2 cores busy and had p99 120-190 ms, a
#: 40 ms window p99 72-74 ms at two thirds of the CPU. Lower it where latency at light load matters more.
BATCH_DELAY_S = 0.04
_NEVER = sys.maxsize  # a queue length ``announce`` never reaches: the batcher is not waiting
MAX_LOAD_PEERS = 8  # peers asked, one after another, for a message this node lacks


@final
@dataclass(frozen=True)
class Converged:
    """A result served from peers' attestations instead of being computed here."""

    message: Message
    attested_by: tuple[str, ...]
    hashpath: str
    result_id: str


@dataclass
class PeeringStatistics:
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    untrusted: int = 0
    batches_published: int = 0
    statements_published: int = 0
    served_converged: int = 0
    fetched_results: int = 0
    fetched_messages: int = 0
    bad_fetches: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@final
class Peering:
    """Gossip of attestations plus the ``results`` service (see the module docstring).

    Args:
        p2p: a not yet running backend; ``run`` enters it.
        store, wallet: the node's store and signing wallet.
        trust: which attesters count, ``k``, whether hardware evidence is required.
        evidence: this node's SNP evidence (attached to its batches and named in its statements).
        evidence_policy: how peers' evidence is verified (default: the hardware policy).
    """

    def __init__(
        self,
        p2p: P2P,
        store: LmdbStore,
        wallet: RsaWallet,
        trust: TrustPolicy,
        *,
        evidence: Evidence | None = None,
        evidence_policy: VerifierPolicy | None = None,
        batch_size: int = 1024,
        batch_delay_s: float = BATCH_DELAY_S,
        fetch_timeout_s: float = 5.0,
    ) -> None:
        self.p2p = p2p
        self.store = store
        self.wallet = wallet
        self._address = wallet.address  # hashing the modulus on every announce would cost ~6 us each
        self.trust = trust
        self.index = AttestationIndex(store)
        self.stats = PeeringStatistics()
        self.batch_size = batch_size
        self.batch_delay_s = batch_delay_s
        self.fetch_timeout_s = fetch_timeout_s
        self._checker = EvidenceChecker(evidence_policy or VerifierPolicy())
        self._evidence = encode_evidence(evidence) if evidence is not None else None
        self._evidence_id: str | None = None
        self._own_hardware = False
        if self._evidence is not None:
            verification = self._checker.check(self._evidence)
            self._own_hardware = verification is not None and verification.hardware
            self._evidence_id = b64u_encode(hashlib.sha256(self._evidence_raw(evidence)).digest())
        # The batcher's queue (see ``_batcher``): at most ``_capacity`` statements, oldest first.
        self._queue: deque[Statement] = deque()
        self._capacity = max(batch_size, 64)
        self._first_at = 0.0  # trio time when the queue last went from empty to one statement
        self._wake_at = 1  # ``announce`` wakes the batcher when the queue grows to this length
        self._batcher_lot = trio.lowlevel.ParkingLot()
        self._room = trio.lowlevel.ParkingLot()  # announcers waiting for the queue to have room, in order
        self._reserved = 0  # places the batcher promised to announcers it woke (they have yet to run)
        self._stopped = False
        self._ingest = Ingest(self.index)
        self._outbox_send, self._outbox_recv = trio.open_memory_channel[tuple[bytes, int]](2)
        self._running = False
        self._pending: dict[str, Message] = {}

    @property
    def evidence_checker(self) -> EvidenceChecker:
        return self._checker

    @staticmethod
    def _evidence_raw(evidence: Evidence | None) -> bytes:
        return b"" if evidence is None else evidence.raw

    def __repr__(self) -> str:
        return f"Peering({self.p2p.peer_id}, attester={self.wallet.address})"

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[Peering] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; ``started(self)`` once subscribed and serving."""
        self.p2p.set_validator(TOPIC, self._validate)
        self.p2p.set_request_handler(FETCH_PROTOCOL, self._serve_fetch)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(cast("AbstractAsyncContextManager[Any]", self.p2p))
            channel = await stack.enter_async_context(self.p2p.subscribe(TOPIC))
            async with trio.open_nursery() as nursery:
                await nursery.start(self._ingest.run)
                nursery.start_soon(self._drain, channel)
                nursery.start_soon(self._batcher)
                nursery.start_soon(self._publisher)
                self._running = True
                try:
                    task_status.started(self)
                    await trio.sleep_forever()
                finally:
                    self._running = False
                    nursery.cancel_scope.cancel()

    @staticmethod
    async def _drain(channel: trio.MemoryReceiveChannel[Any]) -> None:
        # The validator already handed accepted items to the index writer; the subscription only keeps
        # us in the mesh.
        async for _ in channel:
            pass

    # -- inbound -----------------------------------------------------------------------------

    def _count_reason(self, reason: str) -> None:
        key = reason.split(":")[0].split(" (")[0][:60]
        self.stats.reasons[key] = self.stats.reasons.get(key, 0) + 1

    def _validate(self, origin: str, data: bytes) -> ValidationResult:
        try:
            item = verify_gossip(data, self._checker)
        except ItemIgnored:
            return ValidationResult.IGNORE
        except ItemRejected as exc:
            self.stats.rejected += 1
            self._count_reason(exc.reason)
            log.info("rejected attestation item from %s: %s", origin, exc.reason)
            return ValidationResult.REJECT
        if self._ingest.seen(item.item_id):
            self.stats.duplicates += 1
            return ValidationResult.IGNORE
        if not self.trust.trusts(item.attester):
            self.stats.untrusted += 1
            return ValidationResult.IGNORE
        self._ingest.offer(item, origin)
        self.stats.accepted += 1
        return ValidationResult.ACCEPT

    def add_listener(self, listener: Callable[[list[Record]], None]) -> None:
        """Call ``listener(records)`` (it must not block) with every newly indexed verified claim."""
        self._ingest.add_listener(listener)

    # -- production --------------------------------------------------------------------------

    async def announce(
        self, process: str, slot: int, result: Message, hashpath: str, device_stack: Sequence[str]
    ) -> str:
        """Attest that ``result`` is the outcome of (process, slot); returns the result id.

        The statement is signed and published with the next batch (within ``batch_delay_s``). A
        cancellation point; it waits (back-pressure) only when the batcher's queue is full.

        Raises:
            PeeringError: the service has stopped (``run`` was cancelled), or the statement's leaf exceeds
                ``MAX_STATEMENT_BYTES``.
        """
        result_id = message_id(result)
        statement = Statement(
            process, slot, result_id, hashpath, tuple(device_stack), self._address, self._evidence_id
        )
        size = len(statement.to_cbor())  # memoised: the batcher needs it anyway
        if size > MAX_STATEMENT_BYTES:
            raise PeeringError(f"a statement of {size} bytes exceeds the {MAX_STATEMENT_BYTES}-byte cap")
        await trio.lowlevel.checkpoint_if_cancelled()
        queue = self._queue
        if len(queue) + self._reserved >= self._capacity or self._stopped:
            await self._wait_for_room()
        self._pending[result_id] = result  # written to the store by the batcher, before signing
        queue.append(statement)
        queued = len(queue)
        if queued == 1:
            self._first_at = trio.current_time()
        if queued >= self._wake_at:  # no scheduling round for the batcher per statement, only this one
            self._wake_at = _NEVER
            self._batcher_lot.unpark_all()
        return result_id

    async def _wait_for_room(self) -> None:
        """Wait (first come, first served) until the batcher promises this caller a place in the queue.

        Raises:
            PeeringError: the service has stopped.
        """
        if not self._stopped:
            await self._room.park()  # cancelled here, the caller queues nothing and holds no place
            self._reserved -= 1  # woken with a place (or by the stop): nothing can cancel it now
        if self._stopped:
            raise PeeringError("the peering service has stopped")

    async def _batcher(self) -> None:
        """Take up to ``batch_size`` statements, or what was queued within ``batch_delay_s`` of the
        oldest, and sign them. It sleeps until the first statement arrives, then until the window
        closes or a full batch is queued: two wakeups per batch, not one per statement."""
        queue = self._queue
        try:
            while True:
                if not queue:
                    self._wake_at = 1
                    await self._batcher_lot.park()
                if len(queue) < self.batch_size:
                    self._wake_at = self.batch_size
                    with trio.move_on_at(self._first_at + self.batch_delay_s):
                        await self._batcher_lot.park()
                self._wake_at = _NEVER
                batch = [queue.popleft() for _ in range(min(len(queue), self.batch_size))]
                woken = len(self._room.unpark(count=self._capacity - len(queue) - self._reserved))
                self._reserved += woken
                for chunk in chunks(batch, len(self._evidence or b"")):
                    await self._sign_batch(chunk)
        finally:  # statements still queued are dropped: they were never signed
            self._stopped = True
            self._wake_at = _NEVER
            queue.clear()
            self._pending.clear()
            self._reserved += len(self._room.unpark_all())

    async def _sign_batch(self, batch: list[Statement]) -> None:
        # Python-heavy encoding here on the loop; the worker thread writes, signs and deflates (C code that
        # releases the GIL, after a C-coded CBOR encode), so it hardly fights the loop for the GIL.
        pending = self._pending
        results = [(s.result, pending.pop(s.result, None)) for s in batch]
        encoded = [(encode_message(m), [result_id]) for result_id, m in results if m is not None]

        def store_sign_encode() -> list[Signed]:
            self.store.write_encoded_messages(encoded)
            return signed_messages(batch, self.wallet, self._evidence)

        # Every own statement names this node's evidence (or none): one hardware flag for all.
        hardware, evidence = self._own_hardware and self._evidence_id is not None, self._evidence or b""
        for part, header, data in await trio.to_thread.run_sync(store_sign_encode):
            claims = tuple(Claim(s, hardware, None, n) for n, s in enumerate(part))
            item = VerifiedItem(header.id, header.attester, claims, batch=data, evidence=evidence)
            self._ingest.offer(item, self.p2p.peer_id)  # indexed by the writer, like a peer's batch
            # The next batch is signed while this one goes out.
            await self._outbox_send.send((data, len(part)))

    async def _publisher(self) -> None:
        async with self._outbox_recv:
            async for data, count in self._outbox_recv:
                try:
                    await self.p2p.publish(TOPIC, data)
                except (P2PError, WireError) as exc:
                    log.warning("could not publish an attestation batch of %d: %s", count, exc)
                    continue
                self.stats.batches_published += 1
                self.stats.statements_published += count

    def status(self) -> Message:
        """This service's health as a message (see ``_status``)."""
        return status_message(self.stats, self.p2p.statistics(), self.p2p.peers(), self.trust)

    # -- convergence -------------------------------------------------------------------------

    def records(self, process: str, slot: int) -> list[Record]:
        """The verified claims stored for (process, slot)."""
        return self.index.records(process, slot)

    async def wait_changed(self) -> None:
        """Wait until the next verified item has been taken in (stored, or found to repeat a claim)."""
        await self._ingest.wait_changed()

    async def wait_for(self, process: str, slot: int, count: int) -> None:
        """Wait until ``count`` distinct trusted attesters' claims for (process, slot) are stored.

        No timeout of its own: bound it with ``trio.fail_after``.
        """
        while len({r.attester for r in self.records(process, slot) if self.trust.trusts(r.attester)}) < count:
            await self._ingest.wait_changed()

    def agreed(self, process: str, slot: int) -> bool:
        """Whether the stored claims for (process, slot) already reach the trust policy's ``k``."""
        return converge(self.records(process, slot), self.trust) is not None

    async def lookup(self, process: str, slot: int) -> Converged | None:
        """A result ``k`` trusted attesters agree on, content-checked; ``None`` when there is none."""
        if len(self.trust.attesters) < self.trust.k:
            return None  # this policy can never converge: do not even ask
        agreement = converge(self.records(process, slot), self.trust)
        if agreement is None and self._running and self.p2p.peers():
            with trio.move_on_after(self.fetch_timeout_s):
                await self.catch_up(process, slot)
            agreement = converge(self.records(process, slot), self.trust)
        if agreement is None:
            return None
        message = self.store.read_message(agreement.result)
        if message is None or message_id(message) != agreement.result:
            message = await self._fetch_result(agreement.result, agreement.origins)
        if message is None:
            return None
        self.stats.served_converged += 1
        return Converged(message, agreement.attesters, agreement.hashpath, agreement.result)

    async def catch_up(self, process: str, slot: int) -> int:
        """Ask every connected peer for its attestations of (process, slot); returns how many new
        claims were stored. Items that do not verify are dropped (and counted)."""
        before = len(self.records(process, slot))
        request = encode_request(FetchRequest(What.ATTESTATION, f"{process}/{slot}"))

        async def ask(peer: str) -> None:
            body = await fetch_body(self.p2p, peer, request, self.fetch_timeout_s)
            items = body.get("items") if isinstance(body, Mapping) else None
            evidence = body.get("evidence") if isinstance(body, Mapping) else None
            if not isinstance(items, list):
                return
            if not isinstance(evidence, list) or len(evidence) != len(items):
                evidence = [b""] * len(items)
            for blob, named in list(zip(items, evidence, strict=True))[:MAX_SLOT_ITEMS]:
                if isinstance(blob, bytes) and isinstance(named, bytes):
                    self._take_fetched(blob, named, peer, process, slot)

        async with trio.open_nursery() as nursery:
            for peer in self.p2p.peers():
                nursery.start_soon(ask, peer)
        return len(self.records(process, slot)) - before

    def _take_fetched(self, blob: bytes, evidence: bytes, peer: str, process: str, slot: int) -> None:
        try:
            claim = verify_fetched(blob, evidence, self._checker)
        except ItemRejected as exc:
            self.stats.bad_fetches += 1
            log.info("peer %s served a bad attestation: %s", peer, exc.reason)
            return
        statement = claim.statement
        if (statement.process, statement.slot) != (process, slot) or not self.trust.trusts(
            statement.attester
        ):
            return
        item_id = "fetched:" + blob_name(blob)
        named = evidence if statement.evidence is not None else b""
        self._ingest.write_now(VerifiedItem(item_id, statement.attester, (claim,), evidence=named), peer)

    async def _fetch_result(self, result_id: str, origins: Sequence[str]) -> Message | None:
        connected = self.p2p.peers()
        candidates = [p for p in origins if p in connected] + [p for p in connected if p not in origins]
        request = encode_request(FetchRequest(What.RESULT, result_id))
        message = await self._first_served(candidates, request, lambda body: decode_result(body, result_id))
        if message is None:
            return None
        await trio.to_thread.run_sync(self.store.write_message, message, [result_id])
        self.stats.fetched_results += 1
        return message

    async def load_message(self, ident: str) -> Message | None:
        """A message this node lacks, from the first connected peer (of at most ``MAX_LOAD_PEERS``)
        that serves it verified (``verified_message``: known by ``ident``, every commitment valid)
        within ``fetch_timeout_s`` in all; stored, durably, under all its ids before it is returned.
        None when no peer has it."""
        if not self._running:
            return None
        request = encode_request(FetchRequest(What.MESSAGE, ident))
        message: Message | None = None
        with trio.move_on_after(self.fetch_timeout_s):  # all peers together: a hanging one costs no more
            peers = self.p2p.peers()[:MAX_LOAD_PEERS]
            message = await self._first_served(peers, request, lambda body: verified_message(body, ident))
        if message is None:
            return None
        await trio.to_thread.run_sync(self.store.write_message, message, message_ids(message))
        self.stats.fetched_messages += 1
        return message

    async def _first_served(
        self, peers: Sequence[str], request: bytes, check: Callable[[object], Message | None]
    ) -> Message | None:
        """The first message one of ``peers`` serves for ``request`` that passes ``check``, asking them
        in turn; a served body that fails it counts as a bad fetch."""
        for peer in peers:
            body = await fetch_body(self.p2p, peer, request, self.fetch_timeout_s)
            message = check(body)
            if message is not None:
                return message
            self.stats.bad_fetches += body is not None
        return None

    async def _serve_fetch(self, peer: str, payload: bytes) -> bytes:
        return serve_fetch(self.store, self.index, payload)
