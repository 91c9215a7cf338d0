"""Keys added to a signed message after signing are never taken as signed (spec §11 D22)."""

from __future__ import annotations

import pytest

from devices.core import Message, RsaWallet, commit, committed_keys, only_committed, verify
from devices.scheduler._assignment import committed_only


@pytest.fixture(scope="module")
def wallet() -> RsaWallet:
    return RsaWallet.generate(2048)


def test_added_keys_are_dropped_even_when_ao_types_is_committed(wallet: RsaWallet) -> None:
    # typed values make ``ao-types`` one of the committed (TABM) keys
    signed = commit(Message({"action": "Eval", "n": 7, "flag": True}), wallet)
    assert "ao-types" in committed_keys(signed)
    forged = signed.set("injected", "not signed")
    assert verify(forged).valid  # httpsig verification only covers the committed keys
    for reduce in (only_committed, committed_only):
        reduced = reduce(forged)
        assert "injected" not in reduced
        assert reduced.without("commitments") == signed.without("commitments")
        assert verify(reduced).valid


def test_unsigned_messages_are_unchanged() -> None:
    msg = Message({"a": "b"})
    assert only_committed(msg) == msg
    assert committed_only(msg) == msg
