"""Hypothesis strategies for structured messages that every codec can carry."""

from __future__ import annotations

from hypothesis import strategies as st

from devices.core import Atom, Message

RESERVED = {
    "commitments",
    "ao-types",
    "ao-ids",
    "ao-body-key",
    "inline-body-key",
    "body-keys",
    "content-digest",
    "content-type",
    "signature",
    "signature-input",
    "unsigned_id",
}
_KEY_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."

_COMMON = [
    "body",
    "data",
    "path",
    "method",
    "status",
    "Key-One",
    "OTHER",
    "a",
    "b",
    "n",
    "1",
    "2",
    "IYkkrqlZNW_J-4T-5eFApZOMRl5P4VjvrcOXWvIqB1Q",
]
keys = st.one_of(
    st.sampled_from(_COMMON),
    st.text(_KEY_ALPHABET, min_size=1, max_size=8).filter(
        lambda k: k not in RESERVED and not k.lower().startswith("priv") and not k.endswith("+link")
    ),
)
text_bytes = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(str.encode)
atoms = st.sampled_from(["ok", "null", "undefined", "some_atom", "error", "x1"]).map(Atom)
scalars = st.one_of(
    text_bytes,
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    atoms,
)


def _no_empty_bodies(msg: Message, top: bool = True) -> bool:
    """An empty inline body has no wire form (HTTP cannot tell it from no body), as upstream."""
    if top and "body" not in msg and msg.get("data") == b"":
        return False
    for key, value in msg.items():
        if key == "body" and value == b"":
            return False
        if isinstance(value, Message) and not _no_empty_bodies(value, top=False):
            return False
        if isinstance(value, tuple) and not all(_no_empty_bodies(v, top=False) for v in _maps_in(value)):
            return False
    return True


def _maps_in(items: tuple[object, ...]) -> list[Message]:
    out: list[Message] = []
    for item in items:
        if isinstance(item, Message):
            out.append(item)
        elif isinstance(item, tuple):
            out.extend(_maps_in(item))
    return out


def _extend(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=4).map(Message),
    )


values = st.recursive(scalars, _extend, max_leaves=12)
messages = st.dictionaries(keys, values, max_size=6).map(Message).filter(_no_empty_bodies)
json_scalars = st.one_of(
    st.text(max_size=20).map(str.encode),
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.just(Atom("null")),
)
json_values = st.recursive(json_scalars, _extend, max_leaves=12)
json_messages = st.dictionaries(keys, json_values, max_size=6).map(Message)
