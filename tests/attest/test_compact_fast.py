"""The batch-at-once statement decoder (``_usual_statements``) against the one-check-at-a-time reference
(``_checked_statements``): whatever the fast one accepts the reference accepts as the same statements,
and what the reference rejects the fast one leaves to it. The Merkle root over leaf data equals the
root over the leaves' hashes."""

from __future__ import annotations

from itertools import pairwise

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest import EvidenceMalformed, Statement, merkle_root
from attest._compact import _checked_statements, _usual_statements, statements_from_leaves
from attest._merkle import data_root, leaf_hash
from tests.attest import _strategies as strategies

text = st.text(max_size=40)
statements = strategies.statements(max_text=40, max_stack=3)
batches = st.lists(statements, min_size=1, max_size=6)


def _same_or_left(leaves: list[bytes]) -> None:
    """The fast decoder accepts only what the reference accepts, as equal statements with the leaves
    memoised as their encodings; when it declines, ``statements_from_leaves`` is the reference."""
    try:
        reference: list[Statement] | None = _checked_statements(leaves)
    except EvidenceMalformed:
        reference = None
    fast = _usual_statements(leaves)
    if fast is not None:
        assert reference is not None
        assert fast == reference
        assert [s.to_cbor() for s in fast] == leaves
        assert [type(s.device_stack) for s in fast] == [tuple] * len(fast)
    if reference is None:
        with pytest.raises(EvidenceMalformed):
            statements_from_leaves(leaves)
    else:
        assert statements_from_leaves(leaves) == reference


@settings(max_examples=200, derandomize=True)
@given(batches)
def test_what_to_cbor_writes_takes_the_fast_way(batch: list[Statement]) -> None:
    leaves = [s.to_cbor() for s in batch]
    assert _usual_statements(leaves) == batch
    _same_or_left(leaves)


@settings(max_examples=400, derandomize=True)
@given(batches, st.data())
def test_altered_leaves_are_never_accepted_by_the_fast_way_alone(
    batch: list[Statement], data: st.DataObject
) -> None:
    leaves = [s.to_cbor() for s in batch]
    joined = b"".join(leaves)
    n = data.draw(st.integers(0, len(leaves) - 1))
    leaf = leaves[n]
    kind = data.draw(st.sampled_from(["flip", "insert", "delete", "cut", "move"]))
    at = data.draw(st.integers(0, len(leaf) - 1))
    if kind == "flip":
        bit = data.draw(st.integers(0, 7))
        leaves[n] = leaf[:at] + bytes([leaf[at] ^ (1 << bit)]) + leaf[at + 1 :]
    elif kind == "insert":
        leaves[n] = leaf[:at] + bytes([data.draw(st.integers(0, 255))]) + leaf[at:]
    elif kind == "delete":
        leaves[n] = leaf[:at] + leaf[at + 1 :]
    else:  # the same bytes, cut elsewhere
        count = len(leaves) - 1
        cuts = sorted(data.draw(st.lists(st.integers(0, len(joined)), min_size=count, max_size=count)))
        leaves = [joined[a:b] for a, b in pairwise([0, *cuts, len(joined)])]
    _same_or_left(leaves)


def _canonical(value: object) -> bytes:
    return cbor2.dumps(value, canonical=True)


_GOOD: dict[str, object] = {
    "process": "P", "slot": 7, "result": "R", "hashpath": "H", "device-stack": ["d@1.0"], "attester": "A",
}


def _with(**changes: object) -> bytes:
    facts = {**_GOOD, **{k.replace("_", "-"): v for k, v in changes.items()}}
    return _canonical({k: v for k, v in facts.items() if v is not ...})


@pytest.mark.parametrize(
    "leaf",
    [
        _with(slot=-1),
        _with(slot=True),
        _with(slot=1.0),
        _with(slot=2**64),  # a bignum tag
        _with(result=b"R"),
        _with(result=None),
        _with(device_stack=["a", 1]),
        _with(device_stack=("a",)),  # still a CBOR array: accepted by both
        _with(device_stack="d@1.0"),
        _with(attester=["A"]),
        _with(evidence=5),
        _with(evidence=None),  # a null evidence: the reference reads it as no evidence
        _with(extra="x"),
        _with(process=...),
        _with(device_stack=[]),
        cbor2.dumps(_GOOD),  # keys in insertion order
        b"\xa6" + _with()[1:],
        b"\xb8\x06" + _with()[1:],  # the map's length in a longer head
        _with() + b"\x00",
        _with()[:-1],
        b"\xd8\x18" + _with(),  # tagged
        b"\x81" + _with(),  # in an array
        b"",
        # the slot as a non-minimal integer head, and the process as an indefinite-length string
        _with().replace(b"dslot\x07", b"dslot\x18\x07"),
        _with().replace(b"gprocessaP", b"gprocess\x7faP\xff"),
    ],
)
def test_crafted_leaves(leaf: bytes) -> None:
    good = _with()
    for leaves in ([leaf], [good, leaf], [leaf, good]):
        _same_or_left(leaves)


def test_a_leaf_holding_two_statements_next_to_an_empty_one() -> None:
    good = _with()
    for leaves in ([good + good, b""], [b"", good + good], [good, good + good, b""]):
        assert _usual_statements(leaves) is None
        _same_or_left(leaves)


@settings(max_examples=100, derandomize=True)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=40))
def test_the_root_over_leaf_data_is_the_root_over_their_hashes(data: list[bytes]) -> None:
    assert data_root(data) == merkle_root([leaf_hash(d) for d in data])
