"""Real ANS-104 items (shared vectors and freshly signed ones) through the routes and the client."""

from __future__ import annotations

import json

import pytest
import trio

from devices.core import Ed25519Key
from devices.core.ans104 import UnsignedItem, sign_item
from devices.gateway import GatewayApp, ItemIndex, NotFoundOnGateways, parse_verified_item, verify_item
from node._gateway_client import GatewayClient
from tests.conftest import vector_path


def arbundles(kind: str | None = None) -> list[dict]:
    items = json.loads(vector_path("ans104-arbundles", "index.json").read_text())["items"]
    return [i for i in items if kind is None or i["kind"] == kind]


def raw_of(folder: str, name: str) -> bytes:
    return vector_path(folder, name).read_bytes()


async def post(app, raw: bytes, path: str = "/tx") -> tuple[int, dict]:
    sent = []
    events = [{"type": "http.request", "body": raw, "more_body": False}]

    async def receive():
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(m):
        sent.append(m)

    await app({"type": "http", "method": "POST", "path": path, "headers": []}, receive, send)
    return sent[0]["status"], json.loads(sent[1]["body"])


class Store(dict):
    def put(self, item_id: str, raw: bytes) -> None:
        self[item_id] = raw


@pytest.fixture
def real(index: ItemIndex) -> tuple[GatewayApp, Store]:
    store = Store()
    return GatewayApp(index, read_raw=store.get, store_raw=store.put), store


async def test_valid_vector_items_are_accepted(real) -> None:
    app, store = real
    for entry in arbundles("valid"):
        raw = raw_of("ans104-arbundles", entry["file"])
        status, reply = await post(app, raw, "/tx/arweave")
        assert status == 200, (entry["file"], reply)
        assert reply["id"] == entry["id"]
        assert reply["owner"] == entry["owner_address"]
        assert store[entry["id"]] == raw
        rec = app.index.get(entry["id"])
        assert rec.data_size == entry["data_length"]
        assert [{"name": n.decode(), "value": v.decode()} for n, v in rec.tags] == entry["tags"]


async def test_negative_vector_items_are_400_and_not_stored(real) -> None:
    app, store = real
    for entry in arbundles("negative"):
        status, reply = await post(app, raw_of("ans104-arbundles", entry["file"]))
        assert status == 400, entry["file"]
        assert reply["error"].startswith("invalid data item: ")
        assert len(reply["error"]) > len("invalid data item: ") + 5
    assert store == {}
    assert app.index.height() == 0


async def test_bundle_upload_indexes_members(real) -> None:
    app, store = real
    (wrapper,) = [e for e in arbundles("valid") if e["file"] == "bundle-item.bin"]
    status, _ = await post(app, raw_of("ans104-arbundles", "bundle-item.bin"))
    assert status == 200
    member_ids = wrapper["bundle"]["item_ids"]
    for member_id in member_ids:
        assert app.index.get(member_id).bundled_in == wrapper["id"]
        verify_item(store[member_id])
    q = '{ transactions(bundledIn: ["%s"], sort: HEIGHT_ASC) { edges { node { id bundledIn { id } } } } }'
    result = app.graphql.execute(q % wrapper["id"])
    assert [e["node"]["id"] for e in result.body["data"]["transactions"]["edges"]] == member_ids


async def test_bundle_with_a_bad_member_keeps_the_good_ones(real) -> None:
    app, _ = real
    key = Ed25519Key.from_seed(bytes(32))
    bad_bundle = raw_of("ans104-arbundles", "neg-bundle-member-flipped-data-byte.bin")
    tags = ((b"Bundle-Format", b"binary"), (b"Bundle-Version", b"2.0.0"))
    wrapper = sign_item(UnsignedItem(data=bad_bundle, tags=tags), key)
    status, reply = await post(app, wrapper.serialize())
    assert status == 200
    assert reply["id"] == wrapper.id
    (neg,) = arbundles("negative-bundle")
    for member in neg["members"]:
        assert (member["id"] in app.index) == member["verifies"]


async def test_client_rebuilds_real_items_byte_for_byte(real, running) -> None:
    """GraphQL + /raw → rebuilt ANS-104 bytes equal to what was uploaded, and they verify."""
    app, _store = real
    names = [e["file"] for e in arbundles("valid") if "1mib" not in e["file"]]
    su = json.loads(vector_path("ans104-ao-su", "index.json").read_text())["items"]
    uploads = [raw_of("ans104-arbundles", n) for n in names]
    uploads += [raw_of("ans104-ao-su", e["file"]) for e in su[:12] if e.get("verifies")]
    anchored = [e for e in su if e.get("anchor") and e.get("verifies")][:3]
    uploads += [raw_of("ans104-ao-su", e["file"]) for e in anchored]
    ids = []
    for raw in uploads:
        status, reply = await post(app, raw)
        assert status == 200, reply
        ids.append(reply["id"])
    with trio.fail_after(30):
        async with running(app) as base:
            client = GatewayClient([base], verify=verify_item, backoff_s=0.001)
            for item_id, raw in zip(ids, uploads, strict=True):
                loaded = await client.load_item(item_id)
                assert loaded.raw == raw, item_id
                assert loaded.verified.id == item_id
            with pytest.raises(NotFoundOnGateways):
                await client.load_item("Z" * 43)
    assert anchored  # the SU fixtures include binary anchors


async def test_parse_verified_item_record_fields() -> None:
    (entry,) = [e for e in arbundles("valid") if e["file"] == "type2-target-anchor.bin"]
    raw = raw_of("ans104-arbundles", entry["file"])
    rec = parse_verified_item(raw)
    assert rec.id == entry["id"]
    assert rec.owner_address == entry["owner_address"]
    assert rec.recipient == entry["target"]
    assert raw[rec.data_offset :] == raw[len(raw) - entry["data_length"] :]
    assert rec.signature_type == 2
