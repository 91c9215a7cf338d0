"""json@1.0 (reply.json shapes, HyperBEAM's stringified literals read back) and flat@1.0."""

from __future__ import annotations

import json

import pytest

from devices.core import (
    Atom,
    DecodeError,
    EncodeError,
    Link,
    Message,
    flat_decode,
    flat_encode,
    json_decode,
    json_encode,
)
from tests.core._vectors import decode, load, raw_result


def _hb_json(index: int) -> bytes:
    encoded = raw_result(load("reply.json")[index]["encoded"])["$tuple"]
    return encoded[-1].encode("utf-8")


def test_hyperbeam_results_json_reads_back_to_the_message() -> None:
    record = load("reply.json")[0]
    assert json_decode(_hb_json(0)) == decode(record["message"])
    assert json_decode(_hb_json(4)) == decode(record["message"])


def test_we_write_native_json_literals() -> None:
    ours = json.loads(json_encode(decode(load("reply.json")[0]["message"])))
    hb = json.loads(_hb_json(0))
    assert ours["raw"]["Error"] is None
    assert ours["raw"]["Output"]["print"] is True
    assert "ao-types" not in ours["raw"]
    assert "ao-types" not in ours["raw"]["Output"]
    # everything else has the shapes HyperBEAM writes
    for doc in (ours, hb):
        del doc["raw"]["Error"]
        doc["raw"].pop("ao-types", None)
        doc["raw"]["Output"].pop("ao-types", None)
        doc["raw"]["Output"].pop("print")
    assert ours == hb


def test_push_reply_has_a_numeric_slot() -> None:
    record = load("reply.json")[1]
    assert json.loads(json_encode(decode(record["message"]))) == json.loads(_hb_json(1))


def test_json_symbols_links_and_lists() -> None:
    msg = Message(ok=Atom("ok"), l=(1, Atom("x")), n=Atom("null"), ref=Link("A" * 43), f=1.5)
    text = json_encode(msg)
    assert json_decode(text) == msg
    assert json.loads(text)["n"] is None


@pytest.mark.parametrize("bad", [b"[1]", b"nope", b'{"a": NaN}', b'{"a":"x","ao-types":"a=\\"integer\\""}'])
def test_json_rejects(bad: bytes) -> None:
    with pytest.raises(DecodeError):
        json_decode(bad)


def test_json_refuses_binary() -> None:
    with pytest.raises(EncodeError):
        json_encode(Message(b=b"\xff"))


def test_flat_text_form() -> None:
    msg = Message(a=1, b=Message(c=b"d"))
    assert flat_encode(msg) == b'a: 1\nao-types: a="integer"\nb/c: d\n'
    assert flat_decode(b'a: 1\nao-types: a="integer"\nb/c: d\n') == msg


def test_flat_keeps_lines_with_several_separators() -> None:
    """D19: split at the first ': ' instead of dropping the line."""
    assert flat_decode(b"k: a: b\nnoise\n") == Message(k=b"a: b")


@pytest.mark.parametrize("bad", [Message(k=b"a\nb"), Message(**{"a: b": b"v"})])
def test_flat_refuses_what_it_cannot_read_back(bad: Message) -> None:
    with pytest.raises(EncodeError):
        flat_encode(bad)


def test_flat_collision() -> None:
    with pytest.raises(DecodeError):
        flat_decode(b"a: 1\na/b: 2\n")
