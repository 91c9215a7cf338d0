"""The Structured-Field dialect and scalar formats (May-2025 misc.json cases the spec keeps)."""

from __future__ import annotations

import pytest

from devices.core import DecodeError, EncodeError, decode_value, encode_value
from devices.core._http import content_digest
from devices.core._sf import (
    ByteSeq,
    InnerList,
    Item,
    Token,
    parse_dictionary,
    parse_item,
    parse_list,
    ser_dictionary,
    ser_list,
)
from devices.core._structured import escape_key, unescape_key
from tests.core._vectors import load

MAY = "hyperbeam-2025-05"


def _cases(name: str) -> list[object]:
    return next(r for r in load("misc.json", MAY) if r["name"] == name)["cases"]


def test_escape_cases() -> None:
    for raw, escaped in _cases("hb_escape:encode"):
        if raw == "a.b-c_d/e?f&g+h":  # Sep escapes '+' (May kept it)
            assert escape_key(raw) == "a.b-c_d/e?f&g%2bh"
        else:
            assert escape_key(raw) == escaped
        assert unescape_key(escape_key(raw)) == raw
    assert unescape_key("hello%2c%20%57orld%21") == "hello, World!"


@pytest.mark.parametrize("bad", ["%", "%4", "%zz", "%ff"])
def test_bad_escapes(bad: str) -> None:
    with pytest.raises(DecodeError):
        unescape_key(bad)


def test_serialization_cases() -> None:
    dict_text, list_text = _cases("sf dictionary/list serialization")
    pairs = [
        ("a", Item(b'x"y')),
        ("b", Item(1, (("p", True),))),
        ("c", Item(ByteSeq(b"abc"))),
        ("d", Item(True)),
        ("e", Item(Token("tok"))),
    ]
    assert ser_dictionary(pairs).decode() == dict_text
    assert parse_dictionary(dict_text.encode()) == pairs
    members = [Item(b"(ao-type-integer) 1"), InnerList((Item(b"a"),), (("k", b"v"),))]
    assert ser_list(members).decode() == list_text
    assert parse_list(list_text.encode()) == members


def test_float_format() -> None:
    for text_codes, expected in _cases("float_to_binary default"):
        value = float(bytes(text_codes).decode())
        assert encode_value(value) == ("float", expected.encode())
        assert decode_value("float", expected.encode()) == value


def test_content_digest() -> None:
    for body, fields in _cases("add_content_digest"):
        if body:
            assert content_digest(body.encode()) == fields["content-digest"].encode()


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        ("integer", b"-7", -7),
        ("integer", b"123456789012345", 123456789012345),
        ("float", b"1.5", 1.5),
        ("atom", b"ok", None),
        ("atom", b'"true"', True),
        ("list", b'"(ao-type-integer) 1", "x", 2, ?1, :YWJj:', (1, b"x", 2, True, b"abc")),
        ("Integer", b"5", 5),
    ],
)
def test_decode_value_table(kind: str, raw: bytes, value: object) -> None:
    got = decode_value(kind, raw)
    if value is not None:
        assert got == value


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("integer", b"1234567890123456"),
        ("integer", b"1.5"),
        ("integer", b"abc"),
        ("float", b"1"),
        ("float", b"1e5"),
        ("float", b".5"),
        ("atom", b"?1"),
        ("atom", b"1"),
        ("binary", b"x"),
        ("int", b"1"),
        ("list", b'"(ao-type-binary) a"'),
        ("list", b"(ao-type-integer) 1,(ao-type-binary) a"),
        ("map", b"a=(1 2)"),
    ],
)
def test_decode_value_rejects(kind: str, raw: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_value(kind, raw)


@pytest.mark.parametrize("value", [10**15, -(10**15), float("nan"), float("inf")])
def test_encode_value_refuses_what_cannot_be_read_back(value: object) -> None:
    with pytest.raises(EncodeError):
        encode_value(value)  # type: ignore[arg-type]


def test_parser_dialect() -> None:
    assert parse_item(b'multipart/form-data; boundary="x"').params == (("boundary", b"x"),)
    assert parse_dictionary(b'.="list", 1="integer"')[0][0] == "."
    assert parse_dictionary(b'IYkkrqlZNW_J-4T-5eFApZOMRl5P4VjvrcOXWvIqB1Q="v"')[0][0].startswith("IY")
    assert parse_item(b'"caf\xc3\xa9"').value == "café".encode()  # raw bytes >= 0x80 (D18)
    for bad in (b'"unterminated', b"1234567890123456", b"(a", b"a,", b"?2", b":%%:", b"", b"1 2"):
        with pytest.raises(DecodeError):
            parse_item(bad) if not bad.startswith(b"(") else parse_list(bad)
