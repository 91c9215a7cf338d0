"""Hashpaths: the chaining vectors of the May set that do not depend on ids, and Sep rules."""

from __future__ import annotations

import pytest

from devices.core import (
    DecodeError,
    Message,
    RsaWallet,
    b64u_decode,
    b64u_encode,
    commit,
    hashpath,
    hashpath_of,
    message_id,
)
from devices.core._hashpath import accumulate_256, sha256_chain
from tests.core._vectors import decode, load

MAY = "hyperbeam-2025-05"


def _case(name: str) -> dict[str, object]:
    return next(r for r in load("hashpaths.json", MAY) if r["name"] == name)


def test_chain_function_vector() -> None:
    one, two = (1).to_bytes(32, "big"), (2).to_bytes(32, "big")
    assert b64u_encode(sha256_chain(one, two)) == _case("sha256_chain(<<1:256>>, <<2:256>>)")["result_b64url"]
    # Sep's accumulate/2 is the plain 256-bit sum (May added sha256(a ‖ b)).
    assert accumulate_256(one, two) == (3).to_bytes(32, "big")


@pytest.mark.parametrize("name", ["chained: msg1 already has hashpath"])
def test_chaining_from_a_stored_hashpath(name: str) -> None:
    case = _case(name)
    assert hashpath(decode(case["msg1"]), decode(case["msg2"])) == case["hashpath"]


def test_binary_base() -> None:
    case = _case("binary msg1")
    assert hashpath_of(case["msg1_binary"].encode()) == case["hashpath"]


def test_sep_rules_use_current_ids() -> None:
    base = Message(base=b"message")
    root = message_id(base)
    assert hashpath(base, Message(path=b"base")) == f"{root}/base"
    req = Message(path=b"a", k=b"v")
    assert hashpath(base, req) == f"{root}/{message_id(req)}"
    chained = hashpath(f"{root}/base", Message(path=b"next"))
    assert chained.endswith("/next")
    assert chained.split("/")[0] == b64u_encode(sha256_chain(b64u_decode(root), b"base"))


def test_signed_base_sums_all_commitments(wallet1: RsaWallet) -> None:
    signed = commit(Message(base=b"message"), wallet1)
    ids = sorted(signed["commitments"])
    total = sum(int.from_bytes(b64u_decode(i), "big") for i in ids)
    assert hashpath_of(signed) == b64u_encode((total % (1 << 256)).to_bytes(32, "big"))


def test_accumulate_alg_selected_by_base() -> None:
    root = message_id(Message(base=b"m"))
    out = hashpath(Message(base=b"m", **{"hashpath-alg": b"accumulate-256"}), Message(path=b"x"))
    assert out == f"{message_id(Message(base=b'm', **{'hashpath-alg': b'accumulate-256'}))}/x"
    assert root != out.split("/")[0]


@pytest.mark.parametrize("bad", ["a/b/c", "", "short/x", "x" * 43 + "/a/b"])
def test_malformed_hashpaths_are_rejected_not_crashing(bad: str) -> None:
    with pytest.raises(DecodeError):
        hashpath(bad, "key")


def test_malformed_stored_hashpath_falls_back_to_the_id() -> None:
    base = Message(priv=Message(hashpath=b"a/b/c/d"), x=b"y")
    assert hashpath_of(base) == message_id(Message(x=b"y"))


def test_unknown_alg() -> None:
    with pytest.raises(DecodeError):
        hashpath(Message(x=b"1", **{"hashpath-alg": b"md5"}), "k")
