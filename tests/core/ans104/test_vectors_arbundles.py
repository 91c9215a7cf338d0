"""Items, a bundle and negative cases made by @dha-team/arbundles 1.0.3 (vectors/ans104-arbundles)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import pytest

from devices.core import DecodeError, SignatureInvalid, b64u_decode, b64u_encode
from devices.core.ans104 import DataItem, ethereum_address, parse_bundle
from tests.conftest import VECTORS, vector_path
from tests.core.ans104._vectors import load_index

if TYPE_CHECKING:
    from pathlib import Path


def _folder() -> Path:
    return vector_path("ans104-arbundles")


def _entries(kind: str) -> list[dict[str, Any]]:
    folder = _folder()
    return [e for e in load_index(folder) if e["kind"] == kind]


def _raw(entry: dict[str, Any]) -> bytes:
    return (_folder() / str(entry["file"])).read_bytes()


def _valid_params() -> list[Any]:
    """Collection-time parameters: one per valid item, or one skipped case without vectors."""
    folder = VECTORS / "ans104-arbundles"
    if not (folder / "index.json").exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"AO vectors not available: {folder}"))]
    return [pytest.param(e, id=e["file"]) for e in load_index(folder) if e["kind"] == "valid"]


def test_index_has_all_cases() -> None:
    entries = load_index(_folder())
    assert sum(e["kind"] == "valid" for e in entries) == 19
    assert sum(e["kind"].startswith("negative") for e in entries) == 16


@pytest.mark.parametrize("entry", _valid_params())
def test_valid_item(entry: dict[str, Any]) -> None:
    raw = _raw(entry)
    item = DataItem.parse(raw)
    assert item.id == entry["id"]
    assert item.signature_type == entry["signature_type"]
    assert item.owner_address == entry["owner_address"]
    if "owner_public_key_hex" in entry:
        assert item.owner.hex() == entry["owner_public_key_hex"]
    if "ethereum_address" in entry:
        assert ethereum_address(item.owner) == entry["ethereum_address"]
        assert item.signature[64] == entry["ethereum_v"]
    assert item.target == (b64u_decode(entry["target"]) if entry["target"] else b"")
    assert item.anchor == (b64u_decode(entry["anchor"]) if entry["anchor"] else b"")
    if entry["anchor_text"]:
        assert item.anchor == entry["anchor_text"].encode()
    assert len(item.tags) == entry["tag_count"]
    assert len(item.tag_bytes) == entry["tag_bytes_length"]
    assert [(n.decode(), v.decode()) for n, v in item.tags] == [
        (t["name"], t["value"]) for t in entry["tags"]
    ]
    assert len(item.data) == entry["data_length"]
    assert hashlib.sha256(item.data).hexdigest() == entry["data_sha256"]
    assert item.serialize() == raw
    assert item.verify() is True
    item.verify_or_raise()
    assert item.strict_issues() == []


def test_bundle_and_bundle_item() -> None:
    (bundle_entry,) = _entries("bundle")
    raw = _raw(bundle_entry)
    bundle = parse_bundle(raw)
    assert len(bundle) == bundle_entry["bundle_item_count"] == 4
    checks = bundle.check()
    for check, member in zip(checks, bundle_entry["members"], strict=True):
        assert check.ok is member["verifies"] is True
        assert check.id == member["id"]
        assert check.header_id_kind == "signed"
    assert [m.signature_type for _, m in bundle.members()] == [
        m["signature_type"] for m in bundle_entry["members"]
    ]
    assert [e.size for e in bundle.entries] == [m["item_length"] for m in bundle_entry["members"]]
    assert bundle.verify()

    outer = next(e for e in _entries("valid") if e["variant"] == "bundle-item")
    item = DataItem.parse(_raw(outer))
    assert item.is_bundle
    assert item.data == raw
    assert [b64u_encode(e.header_id) for e in parse_bundle(item.data).entries] == outer["bundle"]["item_ids"]


# What each negative case must name when it is rejected.
_EXPECTED_REASON = {
    "flipped-signature-byte": "signature does not verify",
    "flipped-data-byte": "signature does not verify",
    "truncated-data": "signature does not verify",
    "truncated-header": "truncated inside the owner",
    "tag-count-mismatch": "tag count mismatch",
}


@pytest.mark.parametrize("case", sorted(_EXPECTED_REASON))
@pytest.mark.parametrize("sig_type", [1, 2, 3])
def test_negative_item_is_rejected_with_reason(sig_type: int, case: str) -> None:
    (entry,) = [e for e in _entries("negative") if e["file"] == f"neg-type{sig_type}-{case}.bin"]
    raw = _raw(entry)
    expected = _EXPECTED_REASON[case]
    if "parse_error" in entry:
        with pytest.raises(DecodeError) as info:
            DataItem.parse(raw)
        assert expected in info.value.reason
        assert info.value.offset is not None
        return
    item = DataItem.parse(raw)
    assert item.id == entry["id"]  # an ID says nothing about validity
    assert item.verify() is False
    with pytest.raises(SignatureInvalid) as sig_info:
        item.verify_or_raise()
    assert expected in sig_info.value.reason
    assert "signature" in sig_info.value.reason


def test_negative_bundle_reports_the_bad_member() -> None:
    (entry,) = _entries("negative-bundle")
    bundle = parse_bundle(_raw(entry))
    checks = bundle.check()
    assert [c.ok for c in checks] == [m["verifies"] for m in entry["members"]] == [True, False, True, True]
    bad = checks[1]
    assert bad.reason is not None
    assert "bundle member 1" in bad.reason
    assert "signature" in bad.reason
    assert bad.header_id_kind == "signed"
    assert not bundle.verify()
