"""Nested messages that carry commitments survive ``httpsig@1.0`` in bundle and default mode.

Bundle mode inlines a nested message's ``commitments`` as multipart parts
(``<key>/commitments/<id>``, an ANS-104 ``committed`` list as the numbered part
``<key>/commitments/<id>/committed``); default mode writes ``<key>+link: <id>`` and the linked
value (from ``linked_values``) is encoded on its own. Either way the nested commitment verifies
after the round trip.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.core import (
    Ed25519Key,
    EncodeError,
    Link,
    Message,
    RsaWallet,
    Value,
    commit,
    flat_decode,
    flat_encode,
    hmac_commitment,
    httpsig_decode,
    httpsig_encode,
    item_to_message,
    json_decode,
    json_encode,
    linked_values,
    message_id,
    verify,
)
from devices.core._flat import flatten
from devices.core._http import encode_tabm
from devices.core.ans104 import UnsignedItem, sign_item
from tests.core.strategies import _extend, _no_empty_bodies, keys, scalars

if TYPE_CHECKING:
    from collections.abc import Iterator


@functools.cache
def rsa() -> RsaWallet:
    return RsaWallet.generate(4096)  # ANS-104 type 1 needs 4096 bits; one key for the module


@functools.cache
def ed() -> Ed25519Key:
    return Ed25519Key.from_seed(bytes(range(32)))


def ans104_rsa() -> Message:
    return item_to_message(sign_item(UnsignedItem(tags=((b"a", b"b"),), data=b"x"), rsa()))


@functools.cache
def ans104_full() -> Message:
    """Mixed-case tags, target and anchor: ``original-tags``, ``field-target``, ``field-anchor``."""
    unsigned = UnsignedItem(
        tags=((b"Action", b"Eval"), (b"Data-Protocol", b"ao"), (b"n", b"1")),
        data=b"payload",
        target=bytes(range(32)),
        anchor=bytes(range(32, 64)),
    )
    return item_to_message(sign_item(unsigned, ed()))


@functools.cache
def ans104_unsigned() -> Message:
    """An unsigned item with a mixed-case tag: an ``unsigned-sha256`` commitment."""
    from devices.core.ans104 import DataItem

    item = DataItem(1, bytes(512), bytes(512), b"", b"", ((b"Action", b"Eval"),), b"d")
    return item_to_message(item)


@functools.cache
def httpsig_rsa() -> Message:
    return commit(Message({"k": b"v", "n": 7, "l": [1, 2], "m": {"x": b"y"}}), rsa())


@functools.cache
def pool() -> tuple[Message, ...]:
    return (
        ans104_rsa(),
        ans104_full(),
        ans104_unsigned(),
        httpsig_rsa(),
        commit(Message({"k": b"w"}), rsa(), bundle=True),
        hmac_commitment(Message({"h": b"mac", "t": True}))[1],
    )


def _round_trip(msg: Message, *, bundle: bool) -> Message:
    parts = httpsig_encode(msg, bundle=bundle)
    return httpsig_decode(parts.headers, parts.body)


def _committed(value: Value) -> Iterator[Message]:
    """Every message holding commitments inside ``value`` (itself included)."""
    if isinstance(value, Message):
        if "commitments" in value:
            yield value
        for key, child in value.items():
            if key != "commitments":
                yield from _committed(child)
    elif isinstance(value, tuple):
        for child in value:
            yield from _committed(child)


def _assert_verifies(msg: Message) -> None:
    found = list(_committed(msg))
    assert found
    for inner in found:
        report = verify(inner)
        assert report.valid, report.failed


def _resolve(value: Value, store: dict[str, Message | tuple[Value, ...]]) -> Value:
    """Replace links by the stored values, as a node's store would."""
    if isinstance(value, Link):
        return store[value.id]
    if isinstance(value, Message):
        return Message({k: (v if k == "commitments" else _resolve(v, store)) for k, v in value.items()})
    if isinstance(value, tuple):
        return tuple(_resolve(v, store) for v in value)
    return value


# -- explicit cases -------------------------------------------------------------------------------


def test_reported_case_nested_ans104_in_body() -> None:
    inner = ans104_rsa()
    comms = inner["commitments"]
    assert isinstance(comms, Message)
    (cid,) = comms
    parts = httpsig_encode(Message({"body": inner}))
    assert f'name="body/commitments/{cid}"'.encode() in parts.body
    name = f"body/commitments/{cid}/committed".encode()
    committed_part = b'1: data\r\n2: a\r\nao-types: .="list"\r\ncontent-disposition: form-data;name="'
    assert committed_part + name + b'"' in parts.body
    decoded = httpsig_decode(parts.headers, parts.body)
    assert decoded == Message({"body": inner})
    report = verify(decoded["body"])  # type: ignore[arg-type]
    assert report.valid
    assert [c.id for c in report.checks] == [cid]


@pytest.mark.parametrize("make", [ans104_rsa, ans104_full, ans104_unsigned, httpsig_rsa])
@pytest.mark.parametrize("key", ["body", "data", "x"])
def test_nested_commitment_bundle_mode(make: object, key: str) -> None:
    inner = make()  # type: ignore[operator]
    outer = Message({key: inner, "k": b"v"})
    decoded = _round_trip(outer, bundle=True)
    assert decoded == outer
    _assert_verifies(decoded)


@pytest.mark.parametrize("make", [ans104_rsa, ans104_full, ans104_unsigned, httpsig_rsa])
def test_nested_commitment_default_mode(make: object) -> None:
    inner = make()  # type: ignore[operator]
    outer = Message({"body": inner, "k": b"v"})
    parts = httpsig_encode(outer, bundle=False)
    link = message_id(inner, "all")
    assert parts.header("body+link") == link
    decoded = httpsig_decode(parts.headers, parts.body)
    assert decoded == Message({"body": Link(link), "k": b"v"})
    store = linked_values(outer)
    assert store[link] == inner
    alone = _round_trip(inner, bundle=False)  # the linked message, served on its own
    report = verify(alone)
    assert report.valid, report.failed
    comms = inner["commitments"]
    assert isinstance(comms, Message)
    signed = {cid for cid, c in comms.items() if isinstance(c, Message) and "signature" in c}
    assert {c.id for c in report.checks} >= signed  # an unsigned-sha256 one has no wire form alone
    _assert_verifies(_resolve(decoded, store))  # type: ignore[arg-type]


def test_httpsig_rsa_nested_keeps_committer() -> None:
    inner = httpsig_rsa()
    for bundle in (True, False):
        decoded = _resolve(_round_trip(Message({"x": inner}), bundle=bundle), linked_values({"x": inner}))
        assert isinstance(decoded, Message)
        report = verify(decoded["x"])  # type: ignore[arg-type]
        assert report.valid
        assert report.committers == [rsa().address]


@pytest.mark.parametrize("bundle", [True, False])
def test_two_levels_of_nesting(bundle: bool) -> None:
    middle = commit(Message({"inner": ans104_full(), "k": b"v", "deeper": {"s": httpsig_rsa()}}), rsa())
    outer = commit(Message({"middle": middle, "top": b"t"}), rsa(), bundle=bundle)
    decoded = _round_trip(outer, bundle=bundle)
    assert verify(decoded).valid
    if bundle:
        assert decoded == outer
    resolved = _resolve(decoded, linked_values(outer))
    assert isinstance(resolved, Message)
    assert len(list(_committed(resolved))) == 4  # outer, middle, inner, deeper/s
    _assert_verifies(resolved)


@pytest.mark.parametrize("bundle", [True, False])
def test_signed_reply_embedding_a_signed_item(bundle: bool) -> None:
    """The node's case: a reply signed in link mode, sent bundled (accept-bundle) or linked."""
    reply = commit(Message({"results": {"item": ans104_rsa()}, "status": 200}), rsa())
    decoded = _round_trip(reply, bundle=bundle)
    assert verify(decoded).valid
    resolved = _resolve(decoded, linked_values(reply))
    assert isinstance(resolved, Message)
    if bundle:
        assert decoded == reply
    assert len(list(_committed(resolved))) == 2
    _assert_verifies(resolved)


@pytest.mark.parametrize("bundle", [True, False])
def test_list_of_committed_messages(bundle: bool) -> None:
    items = (ans104_rsa(), ans104_full(), httpsig_rsa(), ans104_unsigned())
    outer = Message({"items": items, "k": b"v"})
    decoded = _round_trip(outer, bundle=bundle)
    if bundle:
        assert decoded == outer
    else:
        assert decoded["items"] == Link(message_id(items, "all"))
    resolved = _resolve(decoded, linked_values(outer))
    assert isinstance(resolved, Message)
    assert resolved == outer
    assert len(list(_committed(resolved))) == 4
    _assert_verifies(resolved)


@pytest.mark.parametrize(("encode", "decode"), [(flat_encode, flat_decode), (json_encode, json_decode)])
def test_flat_and_json_carry_nested_commitments(encode: Any, decode: Any) -> None:
    outer = Message({"body": ans104_rsa(), "items": (ans104_full(), httpsig_rsa()), "k": b"v"})
    decoded = decode(encode(outer))
    assert decoded == outer
    assert len(list(_committed(decoded))) == 3
    _assert_verifies(decoded)


def test_non_tabm_values_raise_encode_error() -> None:
    with pytest.raises(EncodeError):
        encode_tabm({"a": (b"x",)})
    with pytest.raises(EncodeError):
        encode_tabm({"a": {"b": 3}})
    with pytest.raises(EncodeError):
        flatten({"a": {"b": (b"x",)}})


# -- property -------------------------------------------------------------------------------------

committed = st.integers(min_value=0, max_value=5).map(lambda i: pool()[i])
values = st.recursive(st.one_of(scalars, committed), _extend, max_leaves=8)
messages = st.dictionaries(keys, values, max_size=5).map(Message).filter(_no_empty_bodies)


def _linked(msg: Message) -> Message:
    """What a default-mode round trip returns: nested maps and lists become links."""
    return Message(
        {k: (Link(message_id(v, "all")) if isinstance(v, Message | tuple) else v) for k, v in msg.items()}
    )


@settings(max_examples=80, derandomize=True, deadline=None)
@given(messages)
def test_encode_raises_only_encode_error_and_round_trips(msg: Message) -> None:
    for bundle in (True, False):
        try:
            parts = httpsig_encode(msg, bundle=bundle)
        except EncodeError:
            continue
        decoded = httpsig_decode(parts.headers, parts.body)
        assert decoded == (msg if bundle else _linked(msg))
        store = linked_values(msg)
        resolved = _resolve(decoded, store)
        assert resolved == msg
        for inner in _committed(resolved):
            assert verify(inner).valid
        if not bundle:  # each linked message, served on its own, still verifies
            for stored in store.values():
                if isinstance(stored, Message) and "commitments" in stored:
                    assert verify(_round_trip(stored, bundle=False)).valid
