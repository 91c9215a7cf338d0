"""Reply negotiation and encoding against the Sep-2025 ``reply.json`` records (unsigned)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devices.core import Atom, Message
from node import _codec_io
from node._http import reply_codec, reply_message
from tests.conftest import vector_path


def _value(v: Any) -> Any:
    if isinstance(v, str):
        return v.encode()
    if isinstance(v, bool | int):
        return v
    if isinstance(v, list):
        return tuple(_value(x) for x in v)
    if "$atom" in v:
        return Atom(v["$atom"])
    return Message({k: _value(x) for k, x in v.items()})


def _records() -> list[dict[str, Any]]:
    return json.loads(vector_path("hyperbeam-2025-09", "reply.json").read_text())


@pytest.mark.parametrize("index", range(4))
def test_negotiation(index: int) -> None:
    rec = _records()[index]
    request = Message({k: (b"true" if v is True else v.encode()) for k, v in rec["request"].items()})
    assert reply_codec(request) == rec["accept_to_codec"]["$tuple"][1]


@pytest.mark.parametrize("index", [1, 2, 3])
def test_encoding(index: int) -> None:
    rec = _records()[index]
    codec = rec["accept_to_codec"]["$tuple"][1]
    value = _value(rec["message"])
    msg = value if isinstance(value, Message) else Message(body=value)
    headers, body = _codec_io.encode_reply(msg, codec, bundle=True)
    want_headers, want_body = rec["encoded"]["$tuple"][1]["$tuple"][1:]
    got = dict(headers)
    if codec == "json@1.0":
        assert json.loads(body) == json.loads(want_body)
        # HyperBEAM also repeats some top-level keys as headers; clients read the JSON body.
        assert {k: got[k] for k in ("codec-device", "content-type")} == {
            k: want_headers[k] for k in ("codec-device", "content-type")}
    else:
        assert body == want_body.encode()
        assert got == want_headers


def test_results_json_keeps_literals() -> None:
    """Spec §13.8.3: never stringify JSON literals inside ``raw`` (the reference does)."""
    rec = _records()[0]
    headers, body = _codec_io.encode_reply(_value(rec["message"]), "json@1.0", bundle=True)
    raw = json.loads(body)["raw"]
    assert raw["Output"]["print"] is True
    assert raw["Messages"][0]["Tags"] == [{"name": "Action", "value": "Reply"}]
    assert raw["GasUsed"] == 0
    assert dict(headers)["content-type"] == "application/json"


def test_bare_and_list_results() -> None:
    assert reply_message(b"x") == Message({"ao-result": b"body", "body": b"x"})
    assert reply_message((b"a", b"b")) == Message({"1": b"a", "2": b"b"})
    assert reply_message(Message(k=b"v", priv=Message(hashpath=b"h"))) == Message(k=b"v")
    assert reply_codec(Message(accept=b"text/html, application/json;q=0.9")) == "json@1.0"
    assert reply_codec(Message(accept=b"*/*")) == "httpsig@1.0"
