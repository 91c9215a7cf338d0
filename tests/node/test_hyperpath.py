"""HyperPATH parser: the 54 Sep-2025 singleton vectors plus bad input."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.core import Atom, Message
from node._errors import PathError
from node._hyperpath import As, PathLimits, Resolve, parse, split_target
from tests.conftest import vector_path

# Cases where the spec deliberately departs from the Sep reference, with our expected result.
# §13.2 rule 5: "strip quotes in both places, as later HB does".
DIVERGENT = {
    "query quoted value unquoted?": [{"k": "v"}, {"k": "v", "path": "a"}],
}


def _value(v: Any) -> Any:
    if isinstance(v, str):
        return v.encode()
    if isinstance(v, bool | int):
        return v
    if isinstance(v, list):
        return tuple(_value(x) for x in v)
    assert isinstance(v, dict)
    if "$b64" in v:
        return base64.b64decode(v["$b64"])
    if "$float" in v:
        return float(v["$float"])
    if "$atom" in v:
        return Atom(v["$atom"])
    return Message({k: _value(x) for k, x in v.items()})


def _elem(e: Any) -> Any:
    if isinstance(e, str):
        return e
    if "$as" in e:
        dev, msg = e["$as"]
        return As(dev if isinstance(dev, str) else _elem(dev), _value(msg))
    if "$resolve" in e:
        return Resolve(tuple(_elem(x) for x in e["$resolve"]))
    return _value(e)


def _records() -> list[dict[str, Any]]:
    return json.loads(vector_path("hyperbeam-2025-09", "singleton.json").read_text())


def _singleton(inp: dict[str, str]) -> Message:
    return Message({k: v.encode() for k, v in inp.items()})


def test_vector_count() -> None:
    assert len(_records()) == 54


@pytest.mark.parametrize("index", range(54))
def test_singleton_vector(index: int) -> None:
    rec = _records()[index]
    status, result = rec["output"]["$tuple"]
    if isinstance(rec["input"], str):  # from_path cases
        segments, query = split_target(rec["input"])
        assert status == {"$atom": "ok"}
        assert [segments, query] == [result[0], {k: _value(v) for k, v in result[1].items()}]
        return
    single = _singleton(rec["input"])
    if status == {"$atom": "error"}:
        with pytest.raises(PathError) as info:
            parse(single)
        assert info.value.status == 400
        return
    expected = DIVERGENT.get(rec["name"], result)
    assert parse(single) == [_elem(e) for e in expected], rec["name"]


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/a%zz", "malformed percent escape at byte 2"),
        ("/a%2", "malformed percent escape"),
        ("/a%", "malformed percent escape"),
        ("/a%ff", "not UTF-8"),
        ("/" + "x" * 513, "segment too long"),
        ("/a&" + "k" * 600 + "=1", "segment too long"),
        ("/" + "/".join("s" for _ in range(65)), "too many segments"),
        ("/" + "(" * 6 + "x" + ")" * 6, "nested deeper"),
        ("/a&k=(x/y)", "sub-resolution in keys"),
        ("/a&k+resolve=x", "sub-resolution in keys"),
        ("/a&n+int=7", "type"),
        ("/a&n+integer=abc", "not an integer"),
        ("/a&f+float=1", "decimal point"),
        ("/a?n+integer=zz", "not an integer"),
        ("/" + "a" * 20000, "path too long"),
    ],
)
def test_bad_paths(path: str, fragment: str) -> None:
    with pytest.raises(PathError) as info:
        parse(Message(path=path))
    assert fragment in info.value.reason
    assert info.value.status == 400


def test_exact_512_segment_accepted() -> None:
    assert parse(Message(path="/" + "b" * 512)) == [Message(), Message(path="b" * 512)]


def test_subpath_device_and_depth() -> None:
    assert parse(Message(path="/a/b~(x/y)/c"))[2] == As(
        Resolve((Message(), Message(path="x"), Message(path="y"))), Message(path="b")
    )
    assert parse(Message(path="/((((x))))"), PathLimits(max_depth=4))
    with pytest.raises(PathError):
        parse(Message(path="/((((x))))"), PathLimits(max_depth=3))


def test_non_integer_scope_is_global() -> None:
    out = parse(Message({"path": "/a", "content.type": "x"}))
    assert out == [Message({"content.type": "x"}), Message({"path": "a", "content.type": "x"})]


def test_typed_atom_and_float() -> None:
    out = parse(Message(path="/a&f+float=1.5&t+atom=true&o+atom=ok"))
    assert out[1] == Message(path="a", f=1.5, t=True, o=Atom("ok"))


@settings(max_examples=300, derandomize=True)
@given(st.text(max_size=200))
def test_fuzz_parse_or_path_error(text: str) -> None:
    with contextlib.suppress(PathError):
        parse(Message(path="/" + text))


@settings(max_examples=300, derandomize=True)
@given(st.binary(max_size=200))
def test_fuzz_bytes(raw: bytes) -> None:
    with contextlib.suppress(PathError):
        parse(Message(path=b"/" + raw))
