"""``Message`` is immutable, so its id is computed once per instance; copies and pickles stay equal."""

from __future__ import annotations

import copy
import pickle

import pytest

from devices.core import Message, _ids, message_id


def test_id_is_computed_once_per_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = _ids._unsigned_id

    def counting(msg: Message) -> str:
        calls.append(1)
        return real(msg)

    monkeypatch.setattr(_ids, "_unsigned_id", counting)
    msg = Message({"slot": 3, "data": b"x" * 64, "nested": {"a": 1}})
    first = message_id(msg)
    hashed = len(calls)
    assert hashed >= 1
    assert message_id(msg) == first
    assert len(calls) == hashed
    # a new message with other content gets its own id, never the memo of another instance
    other = msg.set("slot", 4)
    assert message_id(other) != first
    assert len(calls) > hashed


def test_copies_and_pickles_keep_content_and_id() -> None:
    msg = Message({"a": 1, "b": {"c": [1, b"x"]}})
    ident = message_id(msg)
    assert copy.copy(msg) is msg
    assert copy.deepcopy(msg) is msg
    again = pickle.loads(pickle.dumps(msg))
    assert again == msg
    assert message_id(again) == ident


def test_memo_cannot_be_set_from_outside() -> None:
    msg = Message({"a": 1})
    with pytest.raises(AttributeError):
        msg._id = "forged"  # type: ignore[misc]
