"""Unsigned ids and HMAC commitments against hyperbeam-2025-09/ids.json."""

from __future__ import annotations

import pytest

from devices.core import Link, Message, hmac_commitment, message_id, verify
from tests.core._vectors import decode, load, result


@pytest.mark.parametrize("index", range(21))
@pytest.mark.parametrize("mode", ["none", "default", "all"])
def test_ids(index: int, mode: str) -> None:
    record = load("ids.json")[index]
    msg = decode(record["message"])
    assert message_id(msg, mode) == result(record[f"id_{mode}"]).decode()


@pytest.mark.parametrize("index", range(21))
def test_hmac_commitment(index: int) -> None:
    record = load("ids.json")[index]
    msg = decode(record["message"])
    hid, committed = hmac_commitment(msg)
    expected = result(record["hmac_committed"])
    assert hid == result(record["id_none"]).decode()
    assert committed["commitments"] == expected["commitments"]
    as_links = Message(
        {
            k: (Link(message_id(v, "all")) if isinstance(v, Message | tuple) and k != "commitments" else v)
            for k, v in committed.items()
        }
    )
    assert as_links == expected
    report = verify(committed)
    assert report.valid
    assert len(report.checks) == 1
    assert message_id(committed, "none") == hid


def test_forged_hmac_commitment_does_not_verify_or_set_the_id() -> None:
    hid, committed = hmac_commitment(Message(a=b"b"))
    comms = committed["commitments"]
    assert isinstance(comms, Message)
    forged = committed.set("a", b"c")
    assert not verify(forged).valid
    assert message_id(forged) != hid
