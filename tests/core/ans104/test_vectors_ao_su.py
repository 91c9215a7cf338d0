"""Real AO scheduler-unit items and bundles (vectors/ans104-ao-su): parse, round-trip, verify."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from devices.core import b64u_decode, b64u_encode
from devices.core.ans104 import DataItem, parse_bundle
from tests.conftest import vector_path
from tests.core.ans104._vectors import load_index


@pytest.fixture(scope="module")
def su_items() -> list[tuple[dict[str, Any], bytes]]:
    folder = vector_path("ans104-ao-su")
    return [(e, (folder / e["file"]).read_bytes()) for e in load_index(folder)]


def test_every_su_item_parses_with_expected_fields(su_items: list[tuple[dict[str, Any], bytes]]) -> None:
    assert len(su_items) == 134
    for entry, raw in su_items:
        item = DataItem.parse(raw)
        assert item.id == entry["id"] == entry["file"].removesuffix(".bin")
        assert item.signature_type == entry["signature_type"] == 1
        assert item.signature_type_name == entry["signature_type_name"]
        assert item.owner_address == entry["owner_address"]
        assert item.target == (b64u_decode(entry["target"]) if entry["target"] else b"")
        assert item.anchor == (b64u_decode(entry["anchor"]) if entry["anchor"] else b"")
        assert len(item.tags) == entry["tag_count"]
        assert len(item.tag_bytes) == entry["tag_bytes_length"]
        assert [(n.decode(), v.decode()) for n, v in item.tags] == [
            (t["name"], t["value"]) for t in entry["tags"]
        ]
        assert len(item.data) == entry["data_length"]
        assert hashlib.sha256(item.data).hexdigest() == entry["data_sha256"]
        assert item.serialize() == raw
        assert item.strict_issues() == entry["spec_issues"]


def test_every_su_item_verifies_as_indexed(su_items: list[tuple[dict[str, Any], bytes]]) -> None:
    for entry, raw in su_items:
        item = DataItem.parse(raw)
        assert item.verify() is entry["verifies"], entry["id"]
        if entry["verifies"]:
            item.verify_or_raise()


def test_duplicate_tags_kept_in_order(su_items: list[tuple[dict[str, Any], bytes]]) -> None:
    raw = {e["id"]: r for e, r in su_items}["6oYAxVAnH8yKsZKpMgHSbRv7uVWey68PAqYuSXeZBbg"]
    item = DataItem.parse(raw)
    names = [n for n, _ in item.tags]
    assert names.count(b"Data-Protocol") == 2
    assert item.owner_address == "4QKhXnyl1z3HEPprMKfTeXrWPRuQjK6O99k5SFKGuck"
    assert b64u_encode(item.target) == "-oM8CYgbqsRcpI3tE_cpGM3kgDlamnYjSGA4nptPao0"


def test_su_bundles_parse_and_members_verify(su_items: list[tuple[dict[str, Any], bytes]]) -> None:
    bundles = [(e, r) for e, r in su_items if "bundle" in e]
    assert len(bundles) == 54
    for entry, raw in bundles:
        item = DataItem.parse(raw)
        assert item.is_bundle
        bundle = parse_bundle(item.data)
        assert not bundle.legacy_big_endian
        assert [b64u_encode(e.header_id) for e in bundle.entries] == entry["bundle"]["item_ids"]
        checks = bundle.check()
        assert all(c.ok and c.header_id_kind == "signed" for c in checks), checks
        assert [c.id for c in checks] == entry["bundle"]["item_ids"]
        for e, member in bundle.members():
            assert member.serialize() == bundle.member_bytes(e.index)
            assert item.data[e.offset : e.offset + e.size] == member.serialize()


def test_nested_items_match_their_bundles(su_items: list[tuple[dict[str, Any], bytes]]) -> None:
    by_id = {e["id"]: r for e, r in su_items}
    seen = 0
    for entry, raw in su_items:
        for where in entry.get("contained_in", []):
            parent = by_id.get(where["bundle_id"])
            if parent is None:
                continue
            bundle = parse_bundle(DataItem.parse(parent).data)
            assert bundle.member_bytes(where["index"]) == raw
            seen += 1
    assert seen > 0
