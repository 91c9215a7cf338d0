"""Gateway benchmark: GraphQL queries/s over 100k indexed items, and /raw throughput vs the disk.

Run from the repository root: /work/venv/bin/python -m bench.gateway [items]
(not as ``python bench/gateway.py``: ``bench/http.py`` would then shadow the standard ``http`` module)

References measured in the same run: the same queries through the index without GraphQL, a full scan
of every record (what a query would cost without postings), and reading the served bytes straight from
the files they are stored in.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import lmdb
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from devices.core import b64u_encode
from devices.gateway import GatewayApp, ItemIndex, ItemQuery, ItemRecord, TagFilter
from devices.gateway._index import matches
from node._gateway_client import HttpRequest, h11_transport

if TYPE_CHECKING:
    from collections.abc import Callable

N_PROCS, N_OWNERS = 100, 1000


def owner_of(i: int) -> bytes:
    return hashlib.sha512(b"o%d" % (i % N_OWNERS)).digest() * 8


def record(i: int, data_size: int = 100) -> ItemRecord:
    sig = hashlib.sha512(b"s%d" % i).digest() * 8
    tags = (
        (b"Data-Protocol", b"ao"),
        (b"Type", b"Message" if i % 10 else b"Process"),
        (b"Process", b"P%d" % (i % N_PROCS)),
        (b"Action", b"A%d" % (i % 7)),
    )
    return ItemRecord(
        id=b64u_encode(hashlib.sha256(sig).digest()),
        signature=sig,
        signature_type=1,
        owner=owner_of(i),
        target=b"",
        anchor=b"",
        tags=tags,
        data_size=data_size,
        data_offset=0,
    )


def rate(fn: Callable[[int], object], seconds: float = 1.0) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(n)
        n += 1
    return n / (time.perf_counter() - start)


def bench_graphql(index: ItemIndex, app: GatewayApp, n: int) -> None:
    owner_addr = [b64u_encode(hashlib.sha256(owner_of(i)).digest()) for i in range(N_OWNERS)]
    by_tag = (
        '{ transactions(tags: [{name: "Process", values: ["P%d"]}, {name: "Type", values: ["Message"]}], '
        "first: 100) { edges { cursor node { id owner { address } tags { name value } } } } }"
    )
    by_owner = '{ transactions(owners: ["%s"], first: 100) { edges { node { id tags { name value } } } } }'

    def gq_tag(k: int) -> None:
        body = json.dumps({"query": by_tag % (k % N_PROCS)}).encode()
        assert app.graphql.execute_request(body).status == 200

    def gq_owner(k: int) -> None:
        body = json.dumps({"query": by_owner % owner_addr[k % N_OWNERS]}).encode()
        assert app.graphql.execute_request(body).status == 200

    def ix_tag(k: int) -> None:
        tf = (TagFilter(b"Process", (b"P%d" % (k % N_PROCS),)), TagFilter(b"Type", (b"Message",)))
        index.query(ItemQuery(tags=tf, first=100))

    def ix_owner(k: int) -> None:
        index.query(ItemQuery(owners=(owner_addr[k % N_OWNERS],), first=100))

    q = ItemQuery(tags=(TagFilter(b"Process", (b"P7",)), TagFilter(b"Type", (b"Message",))), first=100)
    start = time.perf_counter()
    with index._env.begin() as txn:  # the no-postings reference: decode and test every record
        hits = sum(1 for _, v in txn.cursor(db=index._db["items"]) if matches(ItemRecord.from_bytes(v), q))
    scan = 1 / (time.perf_counter() - start)
    assert hits == n // N_PROCS * 9 // 10 or hits > 0
    ids = [record(i).id for i in range(0, n, max(1, n // 1000))]
    by_id = (
        "query GetTransactions($transactionIds: [ID!]!) { transactions(ids: $transactionIds) { edges { node "
        "{ owner { address } tags { name value } block { id height timestamp } } } } }"
    )

    def gq_id(k: int) -> None:
        body = json.dumps({"query": by_id, "variables": {"transactionIds": [ids[k % len(ids)]]}}).encode()
        assert len(app.graphql.execute_request(body).body["data"]["transactions"]["edges"]) == 1

    def ix_id(k: int) -> None:
        index.query(ItemQuery(ids=(ids[k % len(ids)],)))

    cases = (("by tag", gq_tag, ix_tag), ("by owner", gq_owner, ix_owner), ("by id", gq_id, ix_id))
    for label, gq, ix in cases:
        g, i = rate(gq), rate(ix)
        print(f"GraphQL {label:9s}: {g:8.0f} q/s   index only {i:8.0f} q/s   full scan {scan:6.2f} q/s")
        print(f"  ratio GraphQL/index = {g / i:.2f}   GraphQL/full-scan = {g / scan:.0f}x")


async def bench_raw(index: ItemIndex, tmp: Path) -> None:
    files = tmp / "raw"
    files.mkdir()
    size, count = 256 * 1024, 64
    ids = []
    recs = []
    for i in range(count):
        rec = record(10_000_000 + i, size)
        (files / rec.id).write_bytes(hashlib.sha256(b"%d" % i).digest() * (size // 32))
        ids.append(rec.id)
        recs.append(rec)
    index.add_many(recs)

    def read_raw(item_id: str) -> bytes:
        return (files / item_id).read_bytes()

    app = GatewayApp(index, read_raw=read_raw, store_raw=lambda i, r: None, parse_item=lambda r: record(0))
    rounds = 8
    start = time.perf_counter()
    for _ in range(rounds):
        for item_id in ids:
            assert len(read_raw(item_id)) == size
    disk = rounds * count * size / (time.perf_counter() - start) / 1e6

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    async with trio.open_nursery() as nursery:
        (base,) = await nursery.start(serve, app, config)
        start = time.perf_counter()
        for _ in range(rounds):
            for item_id in ids:
                resp = await h11_transport(HttpRequest("GET", f"{base}/raw/{item_id}"))
                assert resp.status == 200
                assert len(resp.body) == size
        http = rounds * count * size / (time.perf_counter() - start) / 1e6
        nursery.cancel_scope.cancel()
    print(
        f"/raw over loopback HTTP: {http:8.1f} MB/s   disk read: {disk:8.1f} MB/s   ratio = {http / disk:.3f}"
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = lmdb.open(str(tmp / "db"), max_dbs=16, map_size=1 << 32)
        index = ItemIndex(env)
        start = time.perf_counter()
        for base in range(0, n, 1000):
            index.add_many([record(i) for i in range(base, min(n, base + 1000))])
        took = time.perf_counter() - start
        print(f"indexed {n} items in {took:.1f} s ({n / took:.0f} items/s)")
        app = GatewayApp(
            index, read_raw=lambda i: None, store_raw=lambda i, r: None, parse_item=lambda r: record(0)
        )
        bench_graphql(index, app, n)
        trio.run(bench_raw, index, tmp)
        env.close()


if __name__ == "__main__":
    main()
