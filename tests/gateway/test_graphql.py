# ruff: noqa: E501 - queries are kept in the exact shapes real clients send
"""GraphQL in the exact shapes AO tools send (spec §4.1), plus bad queries and bounds."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import pytest

from devices.core import b64u_encode
from devices.gateway._graphql import GraphQLService

if TYPE_CHECKING:
    from devices.gateway import ItemIndex

Q_READ = (
    "query($transactionIds: [ID!]!) { transactions(ids: $transactionIds, first: 1){ edges { node { id anchor "
    "signature recipient owner { key } fee { winston } quantity { winston } tags { name value } data { size } "
    "} } } } "
)

PROC_TARGET = hashlib.sha256(b"proc").digest()


@pytest.fixture
def world(index: ItemIndex, make_record):
    """A process, a scheduler location, checkpoints and messages."""
    anchor = b"00000000000000000000000000000042"
    proc = index.add(
        make_record(
            tags=[
                ("Data-Protocol", "ao"),
                ("Type", "Process"),
                ("Scheduler", "S" * 43),
                ("Content-Type", "text/x"),
            ],
            owner=1,
            anchor=anchor,
            data_size=1984,
        )
    )
    loc = index.add(
        make_record(
            tags=[
                ("Data-Protocol", "ao"),
                ("Type", "Scheduler-Location"),
                ("Url", "https://su"),
                ("Time-To-Live", "1"),
            ],
            owner=2,
        )
    )
    msgs = [
        index.add(
            make_record(
                tags=[("Data-Protocol", "ao"), ("Type", "Message"), ("i", str(i))], target=PROC_TARGET
            )
        )
        for i in range(5)
    ]
    cps = [
        index.add(
            make_record(
                tags=[("Process", proc.id), ("Type", "Checkpoint"), ("Data-Protocol", "ao")],
                owner=3,
                bundled_in="P" * 43,
            )
        )
        for _ in range(3)
    ]
    dev = index.add(make_record(tags=[("implements-device", "wasm-64@1.0")], owner=4))
    return {"proc": proc, "loc": loc, "msgs": msgs, "cps": cps, "dev": dev}


@pytest.fixture
def gql(index: ItemIndex) -> GraphQLService:
    return GraphQLService(index)


def run(gql: GraphQLService, query: str, variables=None, status: int = 200):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    result = gql.execute_request(json.dumps(body).encode())
    assert result.status == status, result.body
    if status == 200:
        assert "errors" not in result.body, result.body
        return result.body["data"]
    return result.body["errors"]


def test_hb_q_read_exact_string(gql, world) -> None:
    proc = world["proc"]
    data = run(gql, Q_READ, {"transactionIds": [proc.id]})
    node = data["transactions"]["edges"][0]["node"]
    assert node == {
        "id": proc.id,
        "anchor": b64u_encode(proc.anchor),
        "signature": b64u_encode(proc.signature),
        "recipient": "",
        "owner": {"key": b64u_encode(proc.owner)},
        "fee": {"winston": "0"},
        "quantity": {"winston": "0"},
        "tags": [
            {"name": "Data-Protocol", "value": "ao"},
            {"name": "Type", "value": "Process"},
            {"name": "Scheduler", "value": "S" * 43},
            {"name": "Content-Type", "value": "text/x"},
        ],
        "data": {"size": "1984"},
    }
    sub = Q_READ.replace("first: 1", 'tags: [{ name: "Data-Protocol", values: ["ao"]}], first: 1')
    assert run(gql, sub, {"transactionIds": [proc.id]})["transactions"]["edges"][0]["node"]["id"] == proc.id


def test_single_object_tags_q_loc(gql, world, addr) -> None:
    q = (
        f'{{ transactions(owners: ["{addr(2)}"], tags: {{name: "Type" values: ["Scheduler-Location"]}}, first: 1) '
        "{ edges { node { id tags { name value } } } } }"
    )
    edges = run(gql, q)["transactions"]["edges"]
    assert [e["node"]["id"] for e in edges] == [world["loc"].id]
    # the same through a variable holding one object (list input coercion)
    q = "query($t: [TagFilter!]) { transactions(tags: $t) { edges { node { id } } } }"
    data = run(gql, q, {"t": {"name": "Type", "values": ["Scheduler-Location"]}})
    assert [e["node"]["id"] for e in data["transactions"]["edges"]] == [world["loc"].id]


def test_aoconnect_load_transaction_meta(gql, world, addr) -> None:
    q = (
        "query GetTransactions($transactionIds: [ID!]!) { transactions(ids: $transactionIds) { edges { node "
        "{ owner { address } tags { name value } block { id height timestamp } } } } }"
    )
    node = run(gql, q, {"transactionIds": [world["proc"].id]})["transactions"]["edges"][0]["node"]
    assert node["owner"] == {"address": addr(1)}
    assert node["block"] is None  # pending


def test_scheduler_utils_load_process_duplicate_block(gql, world) -> None:
    q = """query GetTransactions ($ids: [ID!]!) { transactions(ids: $ids) { pageInfo { hasNextPage }
      edges { cursor node { id anchor signature recipient block { timestamp } owner { address key }
      fee { winston ar } quantity { winston ar } data { size type } tags { name value }
      block { id timestamp height previous } parent { id } bundledIn { id } } } } }"""
    data = run(gql, q, {"ids": [world["proc"].id]})["transactions"]
    assert data["pageInfo"] == {"hasNextPage": False}
    edge = data["edges"][0]
    assert edge["cursor"]
    node = edge["node"]
    assert node["fee"] == {"winston": "0", "ar": "0.000000000000"}
    assert node["data"] == {"size": "1984", "type": "text/x"}
    assert node["parent"] == {"id": ""}
    assert node["bundledIn"] == {"id": ""}  # never null for data items (A21)


def test_load_scheduler_sort_desc(gql, world, addr, index, make_record) -> None:
    newer = index.add(
        make_record(
            tags=[("Data-Protocol", "ao"), ("Type", "Scheduler-Location"), ("Url", "https://new")], owner=2
        )
    )
    q = """query GetSchedulerLocation ($owner: String!) {
      transactions (owners: [$owner], tags: [{ name: "Data-Protocol", values: ["ao"] },
        { name: "Type", values: ["Scheduler-Location"] }], sort: HEIGHT_DESC, first: 1) {
        edges { node { tags { name value } } } } }"""
    edges = run(gql, q, {"owner": addr(2)})["transactions"]["edges"]
    assert len(edges) == 1
    assert {"name": "Url", "value": "https://new"} in edges[0]["node"]["tags"]
    assert newer.height > world["loc"].height


def test_cu_skip_directives(gql, world) -> None:
    q = """query GetProcesses ($processIds: [ID!]!, $skipTags: Boolean!, $skipSignature: Boolean!,
      $skipAnchor: Boolean!) { transactions(ids: $processIds) { edges { node { id
      signature @skip(if: $skipSignature) anchor @skip(if: $skipAnchor) owner { address key }
      tags @skip(if: $skipTags) { name value } recipient } } } }"""
    base = {"processIds": [world["proc"].id]}
    node = run(gql, q, {**base, "skipTags": True, "skipSignature": True, "skipAnchor": False})
    node = node["transactions"]["edges"][0]["node"]
    assert set(node) == {"id", "anchor", "owner", "recipient"}
    node = run(gql, q, {**base, "skipTags": False, "skipSignature": False, "skipAnchor": True})
    assert set(node["transactions"]["edges"][0]["node"]) == {"id", "signature", "owner", "tags", "recipient"}
    node = run(gql, "{ transactions { edges { node { id tags @include(if: false) { name } } } } }")
    assert all(set(e["node"]) == {"id"} for e in node["transactions"]["edges"])


def test_cu_checkpoints(gql, world, addr) -> None:
    q = """query GetCheckpoints ($owners: [String!]!, $processId: String!, $limit: Int!) {
      transactions(tags: [{ name: "Process", values: [$processId] }, { name: "Type", values: ["Checkpoint"] },
        { name: "Data-Protocol", values: ["ao"] }], owners: $owners, first: $limit, sort: HEIGHT_DESC) {
        edges { node { id owner { address } tags { name value } } } } }"""
    edges = run(gql, q, {"owners": [addr(3)], "processId": world["proc"].id, "limit": 2})["transactions"][
        "edges"
    ]
    assert [e["node"]["id"] for e in edges] == [world["cps"][2].id, world["cps"][1].id]


def test_bundled_in_filter(gql, world) -> None:
    q = '{ transactions(bundledIn: ["%s"], sort: HEIGHT_ASC) { edges { node { id bundledIn { id } } } } }' % (
        "P" * 43
    )
    edges = run(gql, q)["transactions"]["edges"]
    assert [e["node"]["id"] for e in edges] == [c.id for c in world["cps"]]
    assert edges[0]["node"]["bundledIn"] == {"id": "P" * 43}


def test_cu_blocks_query_is_accepted_and_empty(gql, world) -> None:
    q = """query GetBlocks($min: Int!, $limit: Int!) { blocks(height: {min: $min}, first: $limit,
      sort: HEIGHT_ASC) { pageInfo { hasNextPage } edges { node { timestamp height } } } }"""
    assert run(gql, q, {"min": 0, "limit": 10}) == {
        "blocks": {"pageInfo": {"hasNextPage": False}, "edges": []}
    }
    assert run(gql, '{ block(id: "x") { height } }') == {"block": None}


def test_mu_scheduler_list_paging(gql, world, index, make_record) -> None:
    for i in range(4):
        index.add(make_record(tags=[("Type", "Scheduler-Location"), ("Data-Protocol", "ao"), ("n", str(i))]))
    q = """query GetSchedulers($cursor: String) { transactions(tags: [{ name: "Type", values: ["Scheduler-Location"] },
      { name: "Data-Protocol", values: ["ao"] }], first: 2, after: $cursor) {
      edges { node { id owner { address } tags { name value } block { id height timestamp } } cursor }
      pageInfo { hasNextPage } } }"""
    seen, cursor = [], None
    for _ in range(10):
        data = run(gql, q, {"cursor": cursor})["transactions"]
        seen += [e["node"]["id"] for e in data["edges"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        cursor = data["edges"][-1]["cursor"]
    assert len(seen) == len(set(seen)) == 5


def test_su_gql_tx_inline_ids_and_recipient(gql, world) -> None:
    msg = world["msgs"][0]
    q = '{ transactions(ids: ["%s"]) { edges { node { id signature anchor owner { address key } tags { name value } recipient } } } }'
    node = run(gql, q % msg.id)["transactions"]["edges"][0]["node"]
    assert node["recipient"] == b64u_encode(PROC_TARGET)
    assert node["anchor"] == ""
    q = f'{{ transactions(recipients: ["{b64u_encode(PROC_TARGET)}"], first: 100) {{ edges {{ node {{ id }} }} }} }}'
    assert len(run(gql, q)["transactions"]["edges"]) == 5


def test_newer_hb_device_search(gql, world, addr) -> None:
    q = """query($specid: [String!]!, $trusted: [String!], $h: Int) { transactions(
      tags: {name: "implements-device" values: $specid}, owners: $trusted, block: {max: $h}) {
      edges { cursor node { id bundledIn { id } } } } }"""
    data = run(gql, q, {"specid": ["wasm-64@1.0"], "trusted": [addr(4)], "h": world["dev"].height})
    assert [e["node"]["id"] for e in data["transactions"]["edges"]] == [world["dev"].id]
    data = run(gql, q, {"specid": ["wasm-64@1.0"], "trusted": [addr(4)], "h": world["dev"].height - 1})
    assert data["transactions"]["edges"] == []


def test_transaction_by_id_aliases_and_fragments(gql, world) -> None:
    q = """query {{ a: transaction(id: "{}") {{ ...F }} b: transaction(id: "{}") {{ id }} }}
      fragment F on Transaction {{ id owner {{ address }} signatureType }}""".format(
        world["proc"].id, "x" * 43
    )
    data = run(gql, q)
    assert data["a"]["id"] == world["proc"].id
    assert data["a"]["signatureType"] == 1
    assert data["b"] is None


def test_tag_op_neq(gql, world) -> None:
    q = '{ transactions(tags: [{name: "Type", values: ["Message", "Process"], op: NEQ}], first: 100) { edges { node { id } } } }'
    ids = {e["node"]["id"] for e in run(gql, q)["transactions"]["edges"]}
    assert ids == {world["loc"].id} | {c.id for c in world["cps"]}


@pytest.mark.parametrize(
    ("query", "variables", "fragment"),
    [
        ("{ transactions { edges { node { id } } }", None, "Syntax Error"),
        ("{ transactions { edges { node { nope } } } }", None, "nope"),
        ("query($x: Int!) { transactions(first: $x) { edges { cursor } } }", {"x": "ten"}, "Int"),
        ("query($x: Int!) { transactions(first: $x) { edges { cursor } } }", None, "to be provided"),
        ("{ transactions(sort: SIDEWAYS) { edges { cursor } } }", None, "SIDEWAYS"),
        ('{ transactions(after: "bogus!") { edges { cursor } } }', None, "cursor"),
        ("{ transactions(first: -5) { edges { cursor } } }", None, "negative"),
        (
            "{{ transactions(ids: [{}]) {{ edges {{ cursor }} }} }}".format(",".join(['"a"'] * 101)),
            None,
            "at most 100 ids",
        ),
        (
            "{{ {} }}".format(" ".join(f"t{i}: transactions {{ edges {{ cursor }} }}" for i in range(11))),
            None,
            "root fields",
        ),
    ],
)
def test_bad_queries_are_errors(gql, world, query, variables, fragment) -> None:
    errors = run(gql, query, variables, status=400)
    assert any(fragment in e["message"] for e in errors), errors


def test_bad_request_bodies(gql) -> None:
    assert gql.execute_request(b"not json").status == 400
    assert gql.execute_request(b'{"variables": {}}').status == 400
    assert gql.execute_request(b'{"query": "{ block { id } }", "variables": 3}').status == 400
    assert gql.execute_request(b'{"query": "{ block { id } }", "operationName": 3}').status == 400
    assert gql.execute_request(b"[1]").status == 400


def test_depth_and_size_bounds(gql) -> None:
    # a fragment cycle is refused by validation
    cyc = '{ transaction(id: "x") { ...A } } fragment A on Transaction { ...B } fragment B on Transaction { ...A }'
    assert gql.execute(cyc).status == 400
    # many fields through fragment reuse
    frag = "fragment F on Transaction { " + " ".join(f"i{i}: id" for i in range(100)) + " }"
    q = "{ transactions { edges { " + " ".join(f"n{i}: node {{ ...F }}" for i in range(10)) + " } } } " + frag
    res = gql.execute(q)
    assert res.status == 400
    assert "fields" in res.body["errors"][0]["message"]
    assert gql.execute("{ block { id } }" + " " * 70_000).status == 400


def test_validated_documents_are_cached_and_bounded(gql, world) -> None:
    from devices.gateway import _graphql

    q = '{ transaction(id: "%s") { id } }'
    for i in range(_graphql.DOCUMENT_CACHE + 5):
        assert gql.execute(q % ("x" * 40 + str(i).zfill(3))).status == 200
    assert len(gql._documents) == _graphql.DOCUMENT_CACHE
    assert run(gql, q % world["proc"].id) == {"transaction": {"id": world["proc"].id}}
    assert run(gql, q % world["proc"].id) == {"transaction": {"id": world["proc"].id}}
    assert gql.execute("{ nope }").status == 400
    assert gql.execute("{ nope }").status == 400  # failures are not cached as documents


def test_explicit_null_bundled_in_means_l1_only(gql, world) -> None:
    assert run(gql, "{ transactions(bundledIn: null) { edges { cursor } } }")["transactions"]["edges"] == []
    q = "query($p: [ID!]) { transactions(bundledIn: $p) { edges { cursor } } }"
    assert run(gql, q, {"p": None})["transactions"]["edges"] == []
    assert len(run(gql, q, {})["transactions"]["edges"]) == 10  # an absent variable is no filter
