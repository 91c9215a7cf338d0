"""The durable assignment log, on LMDB.

Rules (every write goes through ``append``):

1. Per process, slots are contiguous from 0; the process definition (when it is scheduled)
   takes slot 0. ``append`` refuses any assignment whose slot is not the process's next slot.
2. Each assignment's ``hash-chain`` must equal ``sha256(prev_raw ‖ message id)`` of the stored
   head; ``append`` recomputes it and refuses a mismatch.
3. A batch (several processes, several slots each) is written in **one** LMDB write transaction
   together with the new chain heads, and ``append`` returns only after that transaction is
   durable (committed with ``sync``; when the environment was opened without ``sync`` or
   ``metasync`` an explicit ``env.sync(True)`` follows). Callers acknowledge only after
   ``append`` returns. Either the whole batch is stored or none of it.
4. The head of every process (next slot, raw chain link) lives in the ``sched-proc`` sub-database
   and is written in the same transaction as the records, so after a crash or ``kill -9`` the
   log reopens exactly at the last durable batch, with the chain continuing unbroken.
5. One writer at a time: ``append`` holds the log's lock; LMDB itself also admits one write
   transaction per environment.

The caller opens the ``lmdb.Environment`` (with ``max_dbs`` ≥ 2 plus its own sub-databases);
this module opens the named sub-databases ``sched-assign``, ``sched-proc`` and ``sched-loc``
(scheduler-location records by signer address) in it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import lmdb

from devices._errors import BadRequest, Conflict
from devices.core import b64u_encode

from ._assignment import Assignment, ChainHead
from ._chain import next_hash_chain
from ._codec import StorageCorrupt, decode_message, decode_plain, encode_value

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from devices.core import Message

ASSIGN_DB = b"sched-assign"
PROC_DB = b"sched-proc"
LOC_DB = b"sched-loc"
_SEP = b"\x00"


MAX_PID_BYTES = 256


def pid_bytes(pid: str) -> bytes:
    """The storage form of a process id.

    Raises:
        BadRequest: empty, longer than ``MAX_PID_BYTES`` or containing NUL (no id looks like that).
    """
    raw = pid.encode("utf-8", "surrogatepass")
    if not raw or len(raw) > MAX_PID_BYTES or _SEP in raw:
        raise BadRequest(f"not a process id: {pid[:64]!r}")
    return raw


def _key(pid: str, slot: int) -> bytes:
    if not 0 <= slot < 1 << 63:
        raise BadRequest(f"slot out of range: {slot}")
    return pid_bytes(pid) + _SEP + slot.to_bytes(8, "big")


class AssignmentLog:
    """Durable, chained, contiguous assignment storage for every process this node schedules."""

    def __init__(self, env: lmdb.Environment) -> None:
        self._env = env
        try:
            self._assign = env.open_db(ASSIGN_DB)
            self._proc = env.open_db(PROC_DB)
            self._loc = env.open_db(LOC_DB)
        except lmdb.Error as exc:
            raise StorageCorrupt(f"cannot open the assignment log sub-databases: {exc}") from exc
        flags = env.flags()
        self._needs_sync = not (flags.get("sync", False) and flags.get("metasync", False))
        self._lock = threading.Lock()
        self._heads: dict[str, ChainHead] = {}

    # -- reading ---------------------------------------------------------------------------
    def _read_head(self, txn: lmdb.Transaction, pid: str) -> ChainHead:
        raw = txn.get(pid_bytes(pid), db=self._proc)
        if raw is None:
            return ChainHead()
        rec = decode_plain(bytes(raw))
        nxt = rec.get("next") if isinstance(rec, dict) else None
        chain = rec.get("chain") if isinstance(rec, dict) else None
        if not isinstance(nxt, int) or not isinstance(chain, bytes):
            raise StorageCorrupt(f"chain head of {pid} is malformed")
        return ChainHead(next_slot=nxt, chain=chain)

    def head(self, pid: str) -> ChainHead:
        """The durable head of ``pid`` (``ChainHead()`` for a process with no assignments)."""
        cached = self._heads.get(pid)
        if cached is not None:
            return cached
        with self._env.begin(db=self._proc) as txn:
            head = self._read_head(txn, pid)
        # setdefault: if an append stored a newer head meanwhile, that one stays (never regress).
        return self._heads.setdefault(pid, head)

    def get(self, pid: str, slot: int) -> Assignment | None:
        """The assignment at ``slot`` of ``pid``, or ``None``."""
        if slot < 0:
            return None
        with self._env.begin(db=self._assign) as txn:
            raw = txn.get(_key(pid, slot))
        return None if raw is None else Assignment.from_record(decode_plain(raw))

    def read_range(self, pid: str, first: int, last: int) -> list[Assignment]:
        """Assignments ``first..last`` (inclusive) in slot order, stopping at the first gap."""
        out: list[Assignment] = []
        first = max(first, 0)
        if last < first:
            return out
        with self._env.begin(db=self._assign) as txn:
            cur = txn.cursor()
            if not cur.set_key(_key(pid, first)):
                return out
            for key, raw in cur:
                expect = first + len(out)
                if expect > last or key != _key(pid, expect):
                    break
                out.append(Assignment.from_record(decode_plain(raw)))
        return out

    def processes(self) -> list[str]:
        """Every process with at least one assignment, sorted."""
        with self._env.begin(db=self._proc) as txn:
            return sorted(k.decode("utf-8") for k in txn.cursor().iternext(keys=True, values=False))

    def iter_all(self, pid: str) -> Iterator[Assignment]:
        """Every stored assignment of ``pid`` in slot order."""
        prefix = pid_bytes(pid) + _SEP
        with self._env.begin(db=self._assign) as txn:
            cur = txn.cursor()
            if not cur.set_range(prefix):
                return
            for key, raw in cur:
                if not key.startswith(prefix) or len(key) != len(prefix) + 8:
                    break
                yield Assignment.from_record(decode_plain(raw))

    def verify_chain(self, pid: str) -> int:
        """Re-check the whole schedule of ``pid``; the number of assignments on success.

        Raises:
            StorageCorrupt: a gap, a slot out of order, a broken link or a head that disagrees.
        """
        prev, count = b"", 0
        for a in self.iter_all(pid):
            if a.slot != count or a.process != pid:
                raise StorageCorrupt(f"{pid}: slot {a.slot} found where {count} was expected")
            if a.hash_chain != b64u_encode(next_hash_chain(prev, a.message_id)):
                raise StorageCorrupt(f"{pid}: hash chain broken at slot {a.slot}")
            if a.message.get_int("slot") != a.slot or a.message.get_text("hash-chain") != a.hash_chain:
                raise StorageCorrupt(f"{pid}: assignment message disagrees with its record at {a.slot}")
            prev, count = a.chain_raw, count + 1
        with self._env.begin(db=self._proc) as txn:
            head = self._read_head(txn, pid)
        if head.next_slot != count or head.chain != prev:
            raise StorageCorrupt(f"{pid}: head says {head.next_slot} slots, log holds {count}")
        return count

    def location(self, address: str) -> Message | None:
        """The stored scheduler-location message of ``address``."""
        with self._env.begin(db=self._loc) as txn:
            raw = txn.get(pid_bytes(address))
        return None if raw is None else decode_message(bytes(raw))

    def set_location(self, address: str, record: Message) -> None:
        """Store (durably) the scheduler-location message of ``address``."""
        try:
            with self._env.begin(write=True, db=self._loc) as txn:
                txn.put(pid_bytes(address), encode_value(record))
        except lmdb.Error as exc:
            raise StorageCorrupt(f"location write failed: {exc}") from exc

    # -- writing ---------------------------------------------------------------------------
    def append(self, batch: Sequence[Assignment]) -> None:
        """Store ``batch`` durably in one transaction (see the module rules).

        Raises:
            Conflict: a slot is not the next one or a chain link does not follow the head;
                nothing of the batch is stored.
            StorageCorrupt: LMDB failed; nothing of the batch is stored.
        """
        if not batch:
            return
        with self._lock:
            heads: dict[str, ChainHead] = {}
            try:
                with self._env.begin(write=True) as txn:
                    for a in batch:
                        head = heads.get(a.process)
                        if head is None:
                            head = self._read_head(txn, a.process)
                        self._check_link(head, a)
                        stored = txn.put(
                            _key(a.process, a.slot),
                            encode_value(a.to_record()),
                            db=self._assign,
                            overwrite=False,
                        )
                        self._check_stored(stored, a)
                        heads[a.process] = ChainHead(next_slot=a.slot + 1, chain=a.chain_raw)
                    for pid, head in heads.items():
                        rec = encode_value({"next": head.next_slot, "chain": head.chain})
                        txn.put(pid_bytes(pid), rec, db=self._proc)
                if self._needs_sync:
                    self._env.sync(True)
            except lmdb.Error as exc:
                for pid in {a.process for a in batch}:
                    self._heads.pop(pid, None)
                raise StorageCorrupt(f"assignment log write failed: {exc}") from exc
            except Conflict:
                for pid in {a.process for a in batch}:
                    self._heads.pop(pid, None)
                raise
            self._heads.update(heads)

    @staticmethod
    def _check_stored(stored: bool, a: Assignment) -> None:
        if not stored:
            raise Conflict(f"{a.process}: slot {a.slot} is already stored")

    @staticmethod
    def _check_link(head: ChainHead, a: Assignment) -> None:
        if a.slot != head.next_slot:
            raise Conflict(f"{a.process}: slot {a.slot} is not the next slot {head.next_slot}")
        if a.hash_chain != b64u_encode(next_hash_chain(head.chain, a.message_id)):
            raise Conflict(f"{a.process}: hash chain of slot {a.slot} does not follow the head")
