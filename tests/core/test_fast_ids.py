"""The flat fast path of the unsigned id (``flat_hmac_id``) agrees with the general path
(``hmac_over``: structured → TABM → httpsig fields → signature base) byte for byte, and is taken
for the messages it is meant for."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.core import Atom, EncodeError, Link, Message, RsaWallet, commit, hmac_commitment, message_id
from devices.core._commit import HMAC_KEYID, hmac_constant, hmac_over
from devices.core._ids import flat_hmac_id
from devices.core._siginfo import committed_list
from devices.core._structured import list_to_tabm
from tests.core.strategies import messages, values

PROPERTY = settings(max_examples=300, derandomize=True, deadline=None)

# Keys chosen to hit every branch of the fast path: inline keys, derived component names, ``@``,
# reserved and regenerated names, private keys, ``+link`` names, ID-shaped names (32/42/43 bytes,
# also as ``<key>+link``: ``ao-ids``), upper case and non-ASCII; values over 4096 bytes (multipart).
_EDGE_KEYS = [
    "body",
    "data",
    "path",
    "method",
    "@path",
    "@x",
    'q"uote',
    "back\\slash",
    "Key-One",
    "é",
    "日本",
    "ao-types",
    "ao-ids",
    "ao-body-key",
    "content-digest",
    "content-type",
    "unsigned_id",
    "signature",
    "signature-input",
    "priv",
    "Private-x",
    "a+link",
    "i" * 27,
    "k" * 32,
    "k" * 42,
    "I" * 43,
    "1",
    "10",
    "2",
]
_edge_keys = st.one_of(st.sampled_from(_EDGE_KEYS), st.text(min_size=1, max_size=6))
_big = st.sampled_from([b"", b"x" * 4096, b"y" * 4097, b"z" * 10_000])
_links = st.sampled_from(["IYkkrqlZNW_J-4T-5eFApZOMRl5P4VjvrcOXWvIqB1Q", "abc"]).map(Link)
_edge_values = st.one_of(values, _big, _links, st.integers(min_value=-(10**16), max_value=10**16))
_edge_messages = st.dictionaries(_edge_keys, _edge_values, max_size=7).map(Message)


def _general(msg: Message) -> str | None:
    try:
        return hmac_over(msg.without("commitments"))[0]
    except (EncodeError, UnicodeEncodeError):
        return None


def _fast(msg: Message) -> str | None:
    try:
        return flat_hmac_id(msg, None)
    except (EncodeError, UnicodeEncodeError):
        return None


def _check(msg: Message) -> None:
    fast = _fast(msg)
    if fast is not None:
        assert fast == _general(msg)


@PROPERTY
@given(messages)
def test_fast_path_agrees_on_codec_messages(msg: Message) -> None:
    _check(msg)


@PROPERTY
@given(_edge_messages)
def test_fast_path_agrees_on_edge_messages(msg: Message) -> None:
    _check(msg)


@PROPERTY
@given(st.lists(_edge_values, max_size=12).map(tuple))
def test_fast_path_agrees_on_lists(items: tuple[object, ...]) -> None:
    numbered = {str(i): v for i, v in enumerate(items, 1)}
    try:
        general: str | None = hmac_over(list_to_tabm(items, bundle=False))[0]  # type: ignore[arg-type]
    except EncodeError:
        general = None
    try:
        fast = flat_hmac_id(numbered, None, as_list=True)  # type: ignore[arg-type]
    except EncodeError:
        assert general is None
        return
    if fast is not None:
        assert fast == general


@PROPERTY
@given(_edge_messages, st.data())
def test_fast_path_agrees_over_a_committed_subset(msg: Message, data: st.DataObject) -> None:
    try:
        _, committed = hmac_commitment(msg)
    except (EncodeError, UnicodeEncodeError):
        return
    comms = committed["commitments"]
    assert isinstance(comms, Message)
    keys = committed_list(next(iter(comms.values())))  # type: ignore[arg-type]
    subset = data.draw(st.lists(st.sampled_from(keys), unique=True) if keys else st.just([]))
    for chosen in (keys, subset):
        fast = flat_hmac_id(msg, chosen)
        if fast is not None:
            assert fast == hmac_over(msg, chosen)[0]


@pytest.mark.parametrize(
    "msg",
    [
        Message(),
        Message({"slot": 1, "data": b"x" * 64}),
        Message({"data": b""}),
        Message({"body": b"", "data": b"d"}),
        Message({"body": b"b" * 9000, "Action": "Eval", "n": 7, "ok": True, "f": 0.5, "s": Atom("ok")}),
        Message({"path": b"/x", "method": b"GET", "@odd": b"1", "é": b"\xff"}),
        Message({"nested": {"a": 1, "b": [1, b"2", {"c": 3.5}]}, "link": Link("abc"), "n": -5}),
        Message({"priv": b"secret", "unsigned_id": b"x", "content-digest": b"y", "a": b"b"}),
        Message({"k" * 43: {"a": 1}, "l" * 32: Link("abc"), "data": b"d" * 5000}),
        Message({"k" * 43: b"id-shaped key", "j" * 32: 5, "i" * 27: {"linked": b"id-shaped"}}),
        Message({"a": b"x" * 4097}),
        Message({"body": b"b", "a": b"x" * 5000, "content-type": b"text/plain"}),
        Message({"body": b"", "a": b"x" * 5000}),
        Message({"data": b"d", "b": b"y" * 4097, "c": b"z" * 9000, "k" * 42: b"q" * 5000}),
        Message({"big": b"x" * 5000, "n": 1}),
        Message({"a" * 27: {"x": 1}, "a" * 27 + "!bbbb": b"v"}),  # "+link" reorders the ao-ids keys
    ],
)
def test_fast_path_is_taken_and_matches(msg: Message) -> None:
    fast = flat_hmac_id(msg, None)
    assert fast is not None
    assert fast == hmac_over(msg)[0]
    assert message_id(msg) == fast


@pytest.mark.parametrize(
    "msg",
    [
        Message({"ao-types": b'a="integer"', "a": b"1"}),
        Message({"ao-ids": b"x", "a": b"1"}),
        Message({"ao-body-key": b"a", "a": b"1"}),
        Message({"a+link": b"abc"}),
        Message({"signature": b"x"}),
        Message({"signature-input": b"x"}),
    ],
)
def test_fast_path_declines_other_layouts(msg: Message) -> None:
    assert flat_hmac_id(msg, None) is None
    assert message_id(msg) == hmac_over(msg)[0]


def test_signed_messages_take_the_fast_path_with_their_committed_keys(wallet1: RsaWallet) -> None:
    signed = commit(Message({"slot": 3, "data": b"x" * 64, "Target": b"t" * 10}), wallet1)
    comms = signed["commitments"]
    assert isinstance(comms, Message)
    (hmac_c,) = [c for c in comms.values() if isinstance(c, Message) and "committer" not in c]
    keys = committed_list(hmac_c)
    assert flat_hmac_id(signed, keys) is not None
    assert message_id(signed) == hmac_over(signed.without("commitments"), keys)[0]
    assert message_id(signed, "none") in comms


def test_unfrozen_lists_are_frozen_first() -> None:
    items: Any = ("a", [1, "b"], {"c": "d"}, bytearray(b"e"))
    frozen = Message(x=items)["x"]
    assert isinstance(frozen, tuple)
    assert message_id(items) == hmac_over(list_to_tabm(frozen, bundle=False))[0]
    assert message_id(items) == message_id((b"a", (1, b"b"), Message(c=b"d"), b"e"))


def test_flat_path_raises_like_the_general_path() -> None:
    for bad in (Message({"n": 10**15}), Message({"f": float("inf")}), Message({"s": Atom("not a token")})):
        with pytest.raises(EncodeError):
            hmac_over(bad)
        with pytest.raises(EncodeError):
            flat_hmac_id(bad, None)


@PROPERTY
@given(st.binary(max_size=300))
def test_constant_key_hmac_is_hmac_sha256(base: bytes) -> None:
    assert hmac_constant(base) == hmac.digest(HMAC_KEYID, base, hashlib.sha256)
