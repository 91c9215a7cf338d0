"""The gateway's item index: data-item records in LMDB with secondary indexes for GraphQL queries.

Theory of operation:

1. Every added item gets the next *sequence number* (1, 2, …). Sequences stand in for block heights:
   ``HEIGHT_ASC``/``HEIGHT_DESC`` order by sequence, ``block: {min, max}`` bounds it, and cursors encode it.
2. ``items`` maps the 8-byte big-endian sequence to the CBOR record; ``ids`` maps the raw id to the sequence.
3. Postings are keys ``<32-byte term> ‖ <8-byte sequence>`` (no values) in one sub-db per dimension:
   owner address, recipient, tag name+value, tag name, parent bundle. A filter with several values is the
   union of their postings; several filters are intersected by a leapfrog join that seeks each cursor to
   the next common sequence, so a query costs about the size of its most selective filter.
4. Postings only narrow the candidates: every candidate record is re-checked against the full query, so
   hash collisions and ``NEQ`` tag filters stay exact.
"""

from __future__ import annotations

import hashlib
import struct
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from devices.core import DecodeError, b64u_decode, b64u_encode

from ._errors import QueryError
from ._record import ItemRecord

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    import lmdb

Sort = Literal["HEIGHT_DESC", "HEIGHT_ASC"]

MAX_FIRST = 100
MAX_LIST = 100  # ids, owners, recipients, bundledIn, values of one tag filter
MAX_TAG_FILTERS = 10
DB_NAMES = ("items", "ids", "owner", "recipient", "tag", "tagname", "bundle")

_SEQ = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Items with a tag ``name`` whose value is one of ``values`` (``EQ``) or is none of them (``NEQ``)."""

    name: bytes
    values: tuple[bytes, ...]
    op: Literal["EQ", "NEQ"] = "EQ"


@dataclass(frozen=True, slots=True)
class ItemQuery:
    """A ``transactions`` query; empty tuples mean "no filter". Filters are ANDed, list values ORed."""

    ids: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    tags: tuple[TagFilter, ...] = ()
    bundled_in: tuple[str, ...] = ()
    min_height: int | None = None
    max_height: int | None = None
    first: int = 10
    after: str | None = None
    sort: Sort = "HEIGHT_DESC"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of results: ``(cursor, record)`` pairs and whether more follow."""

    edges: tuple[tuple[str, ItemRecord], ...]
    has_next_page: bool


def encode_cursor(seq: int) -> str:
    return b64u_encode(_SEQ.pack(seq))


def decode_cursor(cursor: str) -> int:
    """Raises: QueryError: the cursor was not made by this index."""
    try:
        raw = b64u_decode(cursor)
    except DecodeError as exc:
        raise QueryError("invalid cursor") from exc
    if len(raw) != 8:
        raise QueryError("invalid cursor")
    return int(_SEQ.unpack(raw)[0])


def _term(raw: bytes) -> bytes:
    return raw if len(raw) == 32 else hashlib.sha256(b"term\0" + raw).digest()


def _id_term(text: str) -> bytes:
    try:
        return _term(b64u_decode(text))
    except DecodeError:
        return hashlib.sha256(b"text\0" + text.encode("utf-8", "surrogatepass")).digest()


def _tag_term(name: bytes, value: bytes) -> bytes:
    return hashlib.sha256(struct.pack(">I", len(name)) + name + value).digest()


def _tagname_term(name: bytes) -> bytes:
    return hashlib.sha256(b"name\0" + name).digest()


def owner_term(owner: str) -> str:
    """An ``owners`` entry is an address; a longer value is taken as a public key (newer HB accepts both)."""
    if len(owner) > 43:
        try:
            return b64u_encode(hashlib.sha256(b64u_decode(owner)).digest())
        except DecodeError:
            return owner
    return owner


def matches(record: ItemRecord, q: ItemQuery) -> bool:
    """The exact semantics of ``q``'s filters (the postings only pre-select)."""
    if q.ids and record.id not in q.ids:
        return False
    if q.owners and record.owner_address not in {owner_term(o) for o in q.owners}:
        return False
    if q.recipients and record.recipient not in q.recipients:
        return False
    if q.bundled_in and record.bundled_in not in q.bundled_in:
        return False
    for f in q.tags:
        hit = any(n == f.name and ((v in f.values) == (f.op == "EQ")) for n, v in record.tags)
        if not hit:
            return False
    return True


def _check_bounds(q: ItemQuery) -> None:
    for label, values in (
        ("ids", q.ids),
        ("owners", q.owners),
        ("recipients", q.recipients),
        ("bundledIn", q.bundled_in),
    ):
        if len(values) > MAX_LIST:
            raise QueryError(f"at most {MAX_LIST} {label} per query")
    if len(q.tags) > MAX_TAG_FILTERS:
        raise QueryError(f"at most {MAX_TAG_FILTERS} tag filters per query")
    for f in q.tags:
        if not f.values:
            raise QueryError("a tag filter needs at least one value")
        if len(f.values) > MAX_LIST:
            raise QueryError(f"at most {MAX_LIST} values per tag filter")
    if q.first < 0:
        raise QueryError("first must not be negative")


class _Posting:
    """The union of several posting prefixes in one sub-db, seekable in either direction."""

    def __init__(self, txn: lmdb.Transaction, db: lmdb._Database, terms: Sequence[bytes]) -> None:
        self._cursors = [(t, txn.cursor(db=db)) for t in dict.fromkeys(terms)]

    def seek(self, seq: int, asc: bool) -> int | None:
        """The nearest sequence ``>= seq`` (ascending) or ``<= seq`` (descending) in any prefix."""
        best: int | None = None
        for term, cur in self._cursors:
            found: int | None = None
            if asc:
                if cur.set_range(term + _SEQ.pack(seq)):
                    key = cur.key()
                    if key[:32] == term:
                        found = _SEQ.unpack(key[32:])[0]
            else:
                positioned = cur.prev() if cur.set_range(term + _SEQ.pack(seq + 1)) else cur.last()
                if positioned:
                    key = cur.key()
                    if key[:32] == term and _SEQ.unpack(key[32:])[0] <= seq:
                        found = _SEQ.unpack(key[32:])[0]
            if found is not None and (best is None or (found < best if asc else found > best)):
                best = found
        return best


class ItemIndex:
    """Indexed data-item records on a caller-owned ``lmdb.Environment``.

    The environment must allow ``len(DB_NAMES)`` more named databases (``max_dbs``); they are named
    ``<prefix><name>``. Writes commit before ``add`` returns, so an item is durable as the environment's
    sync settings make it. Methods are synchronous and short; call them from the event loop.
    """

    def __init__(
        self, env: lmdb.Environment, *, prefix: str = "gw-", clock: Callable[[], float] = time.time
    ) -> None:
        self._env = env
        self._clock = clock
        self._db = {n: env.open_db((prefix + n).encode()) for n in DB_NAMES}

    def add(self, record: ItemRecord) -> ItemRecord:
        """Index ``record``; returns it with ``height`` and ``timestamp`` assigned.

        Adding an id that is already indexed changes nothing and returns the stored record.
        """
        return self.add_many([record])[0]

    def add_many(self, records: Sequence[ItemRecord]) -> list[ItemRecord]:
        """Index several records in one write transaction (one commit; e.g. a bundle's members)."""
        now = int(self._clock())
        with self._env.begin(write=True) as txn:
            cur = txn.cursor(db=self._db["items"])
            seq = int(_SEQ.unpack(cur.key())[0]) if cur.last() else 0
            out = []
            for record in records:
                id_key = _id_term(record.id)
                existing = txn.get(id_key, db=self._db["ids"])
                if existing is not None:
                    out.append(ItemRecord.from_bytes(txn.get(existing, db=self._db["items"])))
                    continue
                seq += 1
                rec = replace(record, height=seq, timestamp=now)
                self._put(txn, id_key, rec)
                out.append(rec)
            return out

    def _put(self, txn: lmdb.Transaction, id_key: bytes, rec: ItemRecord) -> None:
        sk = _SEQ.pack(rec.height)
        txn.put(sk, rec.to_bytes(), db=self._db["items"], append=True)
        txn.put(id_key, sk, db=self._db["ids"])
        txn.put(_id_term(rec.owner_address) + sk, b"", db=self._db["owner"])
        if rec.target:
            txn.put(_term(rec.target) + sk, b"", db=self._db["recipient"])
        if rec.bundled_in:
            txn.put(_id_term(rec.bundled_in) + sk, b"", db=self._db["bundle"])
        for name, value in rec.tags:
            txn.put(_tag_term(name, value) + sk, b"", db=self._db["tag"])
            txn.put(_tagname_term(name) + sk, b"", db=self._db["tagname"])

    def get(self, item_id: str) -> ItemRecord | None:
        with self._env.begin() as txn:
            seq = txn.get(_id_term(item_id), db=self._db["ids"])
            if seq is None:
                return None
            return ItemRecord.from_bytes(txn.get(seq, db=self._db["items"]))

    def __contains__(self, item_id: str) -> bool:
        with self._env.begin() as txn:
            return txn.get(_id_term(item_id), db=self._db["ids"]) is not None

    def height(self) -> int:
        """The sequence of the newest item (0 when empty): the index's stand-in for the chain height."""
        with self._env.begin() as txn:
            cur = txn.cursor(db=self._db["items"])
            return int(_SEQ.unpack(cur.key())[0]) if cur.last() else 0

    def latest(self) -> ItemRecord | None:
        with self._env.begin() as txn:
            cur = txn.cursor(db=self._db["items"])
            return ItemRecord.from_bytes(cur.value()) if cur.last() else None

    def query(self, q: ItemQuery) -> Page:
        """Run ``q``. Raises: QueryError: a filter is over a bound, or the cursor is invalid."""
        _check_bounds(q)
        first = min(q.first, MAX_FIRST)
        asc = q.sort == "HEIGHT_ASC"
        with self._env.begin() as txn:
            top = self._top(txn)
            lo = max(1, q.min_height if q.min_height is not None else 1)
            hi = min(top, q.max_height if q.max_height is not None else top)
            if q.after is not None:
                after = decode_cursor(q.after)
                if asc:
                    lo = max(lo, after + 1)
                else:
                    hi = min(hi, after - 1)
            edges: list[tuple[str, ItemRecord]] = []
            more = False
            if lo <= hi:
                for seq in self._candidates(txn, q, lo, hi, asc):
                    rec = ItemRecord.from_bytes(txn.get(_SEQ.pack(seq), db=self._db["items"]))
                    if not matches(rec, q):
                        continue
                    if len(edges) == first:
                        more = True
                        break
                    edges.append((encode_cursor(seq), rec))
            return Page(edges=tuple(edges), has_next_page=more)

    def _top(self, txn: lmdb.Transaction) -> int:
        cur = txn.cursor(db=self._db["items"])
        return int(_SEQ.unpack(cur.key())[0]) if cur.last() else 0

    def _candidates(self, txn: lmdb.Transaction, q: ItemQuery, lo: int, hi: int, asc: bool) -> Iterator[int]:
        if q.ids:
            ids_db = self._db["ids"]
            seqs = {_SEQ.unpack(s)[0] for i in q.ids if (s := txn.get(_id_term(i), db=ids_db)) is not None}
            yield from sorted((s for s in seqs if lo <= s <= hi), reverse=not asc)
            return
        postings: list[_Posting] = []
        if q.owners:
            terms = [_id_term(owner_term(o)) for o in q.owners]
            postings.append(_Posting(txn, self._db["owner"], terms))
        if q.recipients:
            postings.append(_Posting(txn, self._db["recipient"], [_id_term(r) for r in q.recipients]))
        if q.bundled_in:
            postings.append(_Posting(txn, self._db["bundle"], [_id_term(b) for b in q.bundled_in]))
        for f in q.tags:
            if f.op == "EQ":
                terms = [_tag_term(f.name, v) for v in f.values]
                postings.append(_Posting(txn, self._db["tag"], terms))
            else:
                postings.append(_Posting(txn, self._db["tagname"], [_tagname_term(f.name)]))
        if not postings:
            yield from range(lo, hi + 1) if asc else range(hi, lo - 1, -1)
            return
        cand = lo if asc else hi
        step = 1 if asc else -1
        while lo <= cand <= hi:
            agreed, i = 0, 0
            while agreed < len(postings):
                found = postings[i].seek(cand, asc)
                if found is None:
                    return
                if found == cand:
                    agreed += 1
                else:
                    cand, agreed = found, 1
                i = (i + 1) % len(postings)
            if not lo <= cand <= hi:
                return
            yield cand
            cand += step
