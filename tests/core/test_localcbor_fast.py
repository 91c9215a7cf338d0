"""The store's canonical local CBOR has a fast path for flat messages: byte for byte what cbor2's
canonical mode writes, for any keys (UTF-8 of any length) and scalar values; others take the
general path."""

from __future__ import annotations

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.core import Atom, Message
from devices.core._localcbor import _plain, decode_local, encode_local, thaw

scalars = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
)
flat = st.dictionaries(st.text(min_size=0, max_size=30), scalars, max_size=12).map(Message)
nested = st.dictionaries(
    st.text(max_size=10),
    st.one_of(scalars, st.floats(allow_nan=False), st.just(Atom("a")), flat, st.lists(scalars, max_size=3)),
    max_size=6,
).map(Message)


@settings(max_examples=400, derandomize=True)
@given(st.one_of(flat, nested))
def test_the_fast_path_writes_what_the_canonical_encoder_writes(msg: Message) -> None:
    expected = cbor2.dumps(_plain(msg, False), canonical=True)
    assert encode_local(msg, canonical=True) == expected
    assert thaw(decode_local(expected)) == msg


def test_keys_sort_by_encoded_length_then_bytes() -> None:
    msg = Message({"bb": 1, "a": 2, "é": 3, "zz": 4, "": 5, "ab": b"x"})
    assert list(cbor2.loads(encode_local(msg, canonical=True))) == ["", "a", "ab", "bb", "zz", "é"]
