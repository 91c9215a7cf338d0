"""HyperBEAM (Sep 2025) items and the real aoconnect 0.0.98 requests (vectors/hyperbeam-2025-09)."""

from __future__ import annotations

import base64
import json
from typing import Any

from devices.core import b64u_encode
from devices.core.ans104 import DataItem
from tests.conftest import vector_path

KEY1_ADDRESS = "vcaPe4JWnrSOCktDHBgXge-zWUb6JRkqbom5w9t7i-4"


def _hb_bytes(value: Any) -> bytes:
    """The reference JSON form of an Erlang binary: a UTF-8 string or ``{"$b64": ...}``."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return base64.b64decode(value["$b64"])


def _ok(value: Any) -> Any:
    assert value["$tuple"][0] == {"$atom": "ok"}, value
    return value["$tuple"][1]


def test_hyperbeam_sep_items() -> None:
    records = json.loads(vector_path("hyperbeam-2025-09", "ans104.json").read_text("utf-8"))
    assert len(records) == 7
    for record in records:
        raw = _hb_bytes(_ok(record["serialized"]))
        item = DataItem.parse(raw)
        assert item.serialize() == raw
        assert [[n.decode(), v.decode()] for n, v in item.tags] == record["tx_tags"]
        if "tx_id" in record:  # the item HyperBEAM signed with key-1
            assert item.id == record["tx_id"]
            assert item.owner_address == KEY1_ADDRESS
            assert item.verify() is _ok(record["verify_item"]) is True
        else:
            assert not item.is_signed
            assert item.data == _hb_bytes(record["tx_data"])
            assert item.target == _hb_bytes(record["tx_target"])
            assert item.anchor == _hb_bytes(record["tx_anchor"])


def test_every_captured_aoconnect_item_parses_and_verifies() -> None:
    records = json.loads(vector_path("hyperbeam-2025-09", "aoconnect.json").read_text("utf-8"))
    checked = 0
    for record in records:
        if record["ans104_item"] == {"$atom": "none"}:
            continue
        expected = _ok(record["ans104_item"])
        raw = base64.b64decode(record["body_b64"])
        item = DataItem.parse(raw)
        assert item.serialize() == raw
        assert item.id == expected["id"]
        assert [[n.decode(), v.decode()] for n, v in item.tags] == expected["tags"]
        assert item.target == _hb_bytes(expected["target"])
        assert item.anchor == _hb_bytes(expected["anchor"])
        assert item.data == _hb_bytes(expected["data"])
        assert item.owner_address == KEY1_ADDRESS
        assert item.verify() is expected["verify_item"] is True
        assert b64u_encode(item.raw_id) == expected["id"]
        checked += 1
    assert checked == 6
