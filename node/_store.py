"""The embedded store: one LMDB environment with named sub-databases.

Layout (all keys UTF-8, at most 511 bytes — LMDB's key limit):

* ``msg``   primary id → the message in its internal form (``node._serial``);
* ``alias`` every id a message is known by → its primary id (so a message is stored once and can
  be loaded by its unsigned id, its signed id or any commitment id);
* ``res``   hashpath → result message;
* ``raw``   id → the exact bytes an item was uploaded as (served back byte-exact);
* ``ix:<name>`` one sub-database per ``index(name)``, for the scheduler, gateway, subscriptions.

Durability: the environment is opened with ``sync=True`` and ``metasync=True``, so every write
transaction is on disk when its method returns — callers acknowledge only after that. LMDB's
copy-on-write B-tree never overwrites live pages, so a crash (even SIGKILL or power loss) leaves the
last committed transaction intact. Methods are synchronous and short; call bulk writes from a worker
thread (``trio.to_thread.run_sync``). One ``LmdbStore`` per directory per process.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, final

import lmdb

from node._errors import StoreError
from node._serial import decode_message, encode_message

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from devices.core import Message

_MAX_KEY = 511


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except lmdb.MapFullError as exc:
        raise StoreError("store is full (raise store.map_size_bytes)") from exc
    except lmdb.Error as exc:
        raise StoreError(f"store failure: {exc}") from exc


def _key(key: str | bytes) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else key
    if not raw or len(raw) > _MAX_KEY:
        raise StoreError(f"store key must be 1..{_MAX_KEY} bytes, got {len(raw)}")
    return raw


def _keys_fit(keys: Sequence[bytes]) -> None:
    """``_key`` for a batch of byte keys, in two passes instead of one call per key."""
    if keys and not 0 < min(map(len, keys)) <= max(map(len, keys)) <= _MAX_KEY:
        raise StoreError(f"store keys must be 1..{_MAX_KEY} bytes")


@final
@dataclass(frozen=True)
class StoreStatistics:
    messages: int
    aliases: int
    results: int
    raw_items: int
    indexes: dict[str, int]
    used_bytes: int
    map_size_bytes: int


T = TypeVar("T")


@final
class IndexTxn:
    """Reads and writes inside ``Index.update``'s transaction."""

    __slots__ = ("_txn",)

    def __init__(self, txn: Any) -> None:
        self._txn = txn

    def get(self, key: str | bytes) -> bytes | None:
        value = self._txn.get(_key(key))
        return None if value is None else bytes(value)

    def put(self, key: str | bytes, value: bytes, *, overwrite: bool = True) -> bool:
        """Write ``key``; with ``overwrite=False`` an existing key is kept and False returned."""
        return bool(self._txn.put(_key(key), bytes(value), overwrite=overwrite))

    def found(self, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        """The stored values of those of ``keys`` that exist, by key: one C call for all of them."""
        _keys_fit(keys)
        return {key: bytes(value) for key, value in self._txn.cursor().getmulti(keys)}

    def put_absent(self, keys: Sequence[bytes], values: Sequence[bytes]) -> int:
        """Write each absent key with its value, in order (an existing key, or one repeated, is kept
        as it is): one C call for all of them. Returns how many were written."""
        _keys_fit(keys)
        return int(self._txn.cursor().putmulti(zip(keys, values, strict=True), overwrite=False)[1])


@final
class Index:
    """A named, ordered key → value table inside the store (byte keys, byte values)."""

    def __init__(self, store: LmdbStore, name: str, db: Any) -> None:
        self._store = store
        self.name = name
        self._db = db

    def put(self, key: str | bytes, value: bytes) -> None:
        """Write one entry durably."""
        self.put_many([(key, value)])

    def put_many(self, items: Iterable[tuple[str | bytes, bytes]]) -> None:
        """Write several entries in one durable transaction."""
        with _mapped(), self._store._env.begin(write=True, db=self._db) as txn:
            for key, value in items:
                txn.put(_key(key), bytes(value))

    def update(self, fn: Callable[[IndexTxn], T]) -> T:
        """Run ``fn`` in one durable write transaction: what it reads it sees under the write lock,
        so no other writer can slip in between a read and the write that depends on it."""
        with _mapped(), self._store._env.begin(write=True, db=self._db) as txn:
            return fn(IndexTxn(txn))

    def get(self, key: str | bytes) -> bytes | None:
        with _mapped(), self._store._env.begin(db=self._db) as txn:
            value = txn.get(_key(key))
            return None if value is None else bytes(value)

    def get_many(self, keys: Iterable[str | bytes]) -> list[bytes | None]:
        """Several lookups in one read transaction, in order."""
        with _mapped(), self._store._env.begin(db=self._db) as txn:
            values = [txn.get(_key(key)) for key in keys]
            return [None if value is None else bytes(value) for value in values]

    def delete(self, key: str | bytes) -> bool:
        with _mapped(), self._store._env.begin(write=True, db=self._db) as txn:
            return bool(txn.delete(_key(key)))

    def scan(
        self, prefix: str | bytes = b"", *, start: str | bytes | None = None, limit: int | None = None,
        reverse: bool = False,
    ) -> list[tuple[bytes, bytes]]:
        """Entries whose key starts with ``prefix``, in key order (descending with ``reverse``),
        beginning at ``start`` (inclusive) when given."""
        pre = prefix.encode("utf-8") if isinstance(prefix, str) else prefix
        first = start.encode("utf-8") if isinstance(start, str) else start
        out: list[tuple[bytes, bytes]] = []
        with _mapped(), self._store._env.begin(db=self._db) as txn:
            cur = txn.cursor()
            items = self._backward(cur, pre, first) if reverse else self._forward(cur, pre, first)
            for key, value in items:
                if not bytes(key).startswith(pre):
                    break
                out.append((bytes(key), bytes(value)))
                if limit is not None and len(out) >= limit:
                    break
        return out

    @staticmethod
    def _forward(cur: Any, pre: bytes, first: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        pos = first if first is not None and first > pre else pre
        found = cur.set_range(pos) if pos else cur.first()
        return cur.iternext() if found else iter(())

    @staticmethod
    def _backward(cur: Any, pre: bytes, first: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        # Position on the last key <= first (inclusive) or < the end of the prefix range.
        bound, inclusive = (first, True) if first is not None else (_prefix_end(pre), False)
        if bound is None:
            found = cur.last()
        elif cur.set_range(bound):
            key = bytes(cur.key())
            found = True if inclusive and key == bound else cur.prev()
        else:
            found = cur.last()
        return cur.iterprev() if found else iter(())

    def count(self) -> int:
        with _mapped(), self._store._env.begin(db=self._db) as txn:
            return int(txn.stat(self._db)["entries"])


def _prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix``."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


@final
class LmdbStore:
    """The node's durable store (satisfies ``devices._base.Store``)."""

    def __init__(self, path: str | Path, *, map_size_bytes: int = 8 << 30) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        with _mapped():
            self._env = lmdb.open(
                str(self.path), map_size=map_size_bytes, max_dbs=128, sync=True, metasync=True,
                writemap=False, readahead=False, max_readers=256,
            )
            self._msg = self._env.open_db(b"msg")
            self._alias = self._env.open_db(b"alias")
            self._res = self._env.open_db(b"res")
            self._raw = self._env.open_db(b"raw")
        self._indexes: dict[str, Index] = {}
        self._closed = False

    @property
    def env(self) -> Any:
        """The LMDB environment, for components that keep their own named sub-databases
        (the gateway index). Opened with ``sync=True``: a committed write is on disk."""
        return self._env

    def close(self) -> None:
        """Flush and close. Idempotent."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(lmdb.Error):
                self._env.sync(True)
            self._env.close()

    def __enter__(self) -> LmdbStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sync(self) -> None:
        """Force everything written so far to disk (writes already are; this is belt and braces)."""
        with _mapped():
            self._env.sync(True)

    # -- messages ----------------------------------------------------------------------------
    def _put_message(self, txn: Any, msg: Message, ids: list[str]) -> None:
        self._put_encoded(txn, encode_message(msg), ids)

    def _put_encoded(self, txn: Any, blob: bytes, ids: list[str]) -> None:
        if not ids:
            raise StoreError("a message needs at least one id to be stored")
        primary = _key(ids[0])
        txn.put(primary, blob, db=self._msg)
        for ident in ids:
            txn.put(_key(ident), primary, db=self._alias)

    def write_message(self, msg: Message, ids: list[str]) -> None:
        """Store ``msg`` under every id in ``ids`` (the first is its primary id), durably."""
        with _mapped(), self._env.begin(write=True) as txn:
            self._put_message(txn, msg, ids)

    def write_messages(self, entries: Iterable[tuple[Message, list[str]]]) -> None:
        """``write_message`` for each ``(msg, ids)``, in one durable transaction."""
        with _mapped(), self._env.begin(write=True) as txn:
            for msg, ids in entries:
                self._put_message(txn, msg, ids)

    def write_encoded_messages(self, entries: Iterable[tuple[bytes, list[str]]]) -> None:
        """``write_messages`` for messages already encoded with ``node._serial.encode_message``
        (encode on the event loop, then write from a worker thread that barely needs the GIL)."""
        with _mapped(), self._env.begin(write=True) as txn:
            for blob, ids in entries:
                self._put_encoded(txn, blob, ids)

    def read_message(self, msg_id: str) -> Message | None:
        """The message known by ``msg_id``, or ``None``."""
        with _mapped(), self._env.begin() as txn:
            primary = txn.get(_key(msg_id), db=self._alias)
            blob = None if primary is None else txn.get(bytes(primary), db=self._msg)
        return None if blob is None else decode_message(bytes(blob))

    def has_message(self, msg_id: str) -> bool:
        with _mapped(), self._env.begin() as txn:
            return txn.get(_key(msg_id), db=self._alias) is not None

    # -- results -----------------------------------------------------------------------------
    def write_result(self, hashpath: str, msg: Message) -> None:
        with _mapped(), self._env.begin(write=True) as txn:
            txn.put(_key(hashpath), encode_message(msg), db=self._res)

    def read_result(self, hashpath: str) -> Message | None:
        with _mapped(), self._env.begin() as txn:
            blob = txn.get(_key(hashpath), db=self._res)
        return None if blob is None else decode_message(bytes(blob))

    # -- raw uploads -------------------------------------------------------------------------
    def write_upload(self, raw: bytes, msg: Message | None, ids: list[str]) -> None:
        """Store an uploaded item's exact bytes (and its decoded message, if any) under ``ids``,
        in one durable transaction (both or neither survive a crash)."""
        if not ids:
            raise StoreError("an upload needs at least one id to be stored")
        with _mapped(), self._env.begin(write=True) as txn:
            if msg is not None:
                self._put_message(txn, msg, ids)
            else:
                for ident in ids:
                    txn.put(_key(ident), _key(ids[0]), db=self._alias)
            txn.put(_key(ids[0]), bytes(raw), db=self._raw)

    def read_raw(self, msg_id: str) -> bytes | None:
        """The bytes an item was uploaded as, by any of its ids."""
        with _mapped(), self._env.begin() as txn:
            primary = txn.get(_key(msg_id), db=self._alias)
            raw = None if primary is None else txn.get(bytes(primary), db=self._raw)
            return None if raw is None else bytes(raw)

    # -- indexes -----------------------------------------------------------------------------
    def index(self, name: str) -> Index:
        """The named index (created on first use)."""
        if name not in self._indexes:
            if not name or len(name) > 100:
                raise StoreError(f"bad index name {name!r}")
            with _mapped():
                db = self._env.open_db(b"ix:" + name.encode("utf-8"))
            self._indexes[name] = Index(self, name, db)
        return self._indexes[name]

    def statistics(self) -> StoreStatistics:
        with _mapped(), self._env.begin() as txn:
            def entries(db: Any) -> int:
                return int(txn.stat(db)["entries"])

            info = self._env.info()
            stat = self._env.stat()
            return StoreStatistics(
                messages=entries(self._msg),
                aliases=entries(self._alias),
                results=entries(self._res),
                raw_items=entries(self._raw),
                indexes={name: entries(ix._db) for name, ix in sorted(self._indexes.items())},
                used_bytes=int(stat["psize"]) * (int(info["last_pgno"]) + 1),
                map_size_bytes=int(info["map_size"]),
            )
