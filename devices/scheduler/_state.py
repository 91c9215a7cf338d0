"""The process state cache: the live state per process in memory, results of every computed
slot and full-state snapshots every ``snapshot_every`` slots in LMDB.

Sub-databases (in an environment the node opens): ``proc-results`` (pid, slot) → the slot's
``results`` message; ``proc-snap`` (pid, slot) → the whole process state after that slot
(carrying the execution device's ``snapshot`` when it exports one). Both are derived data: losing
them costs a replay, never correctness, so a batch of them is written in one transaction after a
compute run. ``lock(pid)`` serialises computation per process (one trio lock each).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import lmdb
import trio

from ._codec import StorageCorrupt, decode_message, encode_value
from ._log import pid_bytes

if TYPE_CHECKING:
    from collections.abc import Sequence

    from devices.core import Message

RESULTS_DB = b"proc-results"
SNAP_DB = b"proc-snap"


def _key(pid: str, slot: int) -> bytes:
    return pid_bytes(pid) + b"\x00" + slot.to_bytes(8, "big")


class StateCache:
    """Computed process states. See the module doc."""

    def __init__(self, env: lmdb.Environment, *, snapshot_every: int = 16, live_limit: int = 256) -> None:
        if snapshot_every < 1 or live_limit < 1:
            raise ValueError("snapshot_every and live_limit must be positive")
        self._env = env
        try:
            self._results = env.open_db(RESULTS_DB)
            self._snaps = env.open_db(SNAP_DB)
        except lmdb.Error as exc:
            raise StorageCorrupt(f"cannot open the process state sub-databases: {exc}") from exc
        self.snapshot_every = snapshot_every
        self._live_limit = live_limit
        self._live: OrderedDict[str, tuple[int, Message]] = OrderedDict()
        self._locks: dict[str, trio.Lock] = {}

    def lock(self, pid: str) -> trio.Lock:
        found = self._locks.get(pid)
        if found is None:
            found = self._locks[pid] = trio.Lock()
        return found

    # -- live states -------------------------------------------------------------------------
    def live(self, pid: str) -> tuple[int, Message] | None:
        found = self._live.get(pid)
        if found is not None:
            self._live.move_to_end(pid)
        return found

    def set_live(self, pid: str, slot: int, state: Message) -> None:
        self._live[pid] = (slot, state)
        self._live.move_to_end(pid)
        while len(self._live) > self._live_limit:
            self._live.popitem(last=False)

    def drop_live(self, pid: str) -> None:
        self._live.pop(pid, None)

    # -- durable -----------------------------------------------------------------------------
    def write(
        self, pid: str, results: Sequence[tuple[int, Message]], snaps: Sequence[tuple[int, Message]]
    ) -> None:
        """Store results and snapshots of one compute run in one transaction."""
        if not results and not snaps:
            return
        try:
            with self._env.begin(write=True) as txn:
                for slot, msg in results:
                    txn.put(_key(pid, slot), encode_value(msg), db=self._results)
                for slot, msg in snaps:
                    txn.put(_key(pid, slot), encode_value(msg), db=self._snaps)
        except lmdb.Error as exc:
            raise StorageCorrupt(f"process state write failed: {exc}") from exc

    def results(self, pid: str, slot: int) -> Message | None:
        with self._env.begin(db=self._results) as txn:
            raw = txn.get(_key(pid, slot))
        return None if raw is None else decode_message(bytes(raw))

    def snapshot_at(self, pid: str, slot: int) -> Message | None:
        with self._env.begin(db=self._snaps) as txn:
            raw = txn.get(_key(pid, slot))
        return None if raw is None else decode_message(bytes(raw))

    def latest_snapshot(self, pid: str, at_most: int) -> tuple[int, Message] | None:
        """The stored snapshot with the highest slot ≤ ``at_most``."""
        if at_most < 0:
            return None
        prefix = pid_bytes(pid) + b"\x00"
        with self._env.begin(db=self._snaps) as txn:
            cur = txn.cursor()
            found = cur.prev() if cur.set_range(_key(pid, at_most + 1)) else cur.last()
            if not found:
                return None
            key, raw = cur.item()
            if not key.startswith(prefix) or len(key) != len(prefix) + 8:
                return None
            return int.from_bytes(key[-8:], "big"), decode_message(bytes(raw))

    def snapshot_slots(self, pid: str) -> list[int]:
        prefix = pid_bytes(pid) + b"\x00"
        out: list[int] = []
        with self._env.begin(db=self._snaps) as txn:
            cur = txn.cursor()
            if not cur.set_range(prefix):
                return out
            for key in cur.iternext(keys=True, values=False):
                if not key.startswith(prefix):
                    break
                out.append(int.from_bytes(key[-8:], "big"))
        return out
