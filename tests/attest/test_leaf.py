"""``Statement.to_cbor`` (assembled by ``attest._leaf``) is ``cbor_canonical(facts())`` byte for byte:
at every head-size boundary, with multi-byte text, with and without evidence, through its caches,
and for values outside the plain case (which go through cbor2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest import Statement
from attest import _leaf as leaf_module
from attest._attestation import cbor_canonical

# Byte lengths around every text head size; "é" is two bytes in UTF-8, "€" three.
LENGTHS = [0, 1, 23, 24, 25, 255, 256, 257, 65535, 65536]
SLOTS = [0, 1, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1]


class _Refuse:
    @staticmethod
    def dumps(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("fell back to cbor2")


def _same(statement: Statement) -> None:
    assert statement.to_cbor() == cbor_canonical(statement.facts())


def _fast(statement: Statement) -> None:
    """Byte-identical, and assembled without cbor2 (the plain case must not fall back)."""
    expected = cbor_canonical(statement.facts())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(leaf_module, "cbor2", _Refuse)
        assert statement.to_cbor() == expected


def _plain(**changes: object) -> Statement:
    fields: dict[str, object] = {
        "process": "P" * 43,
        "slot": 7,
        "result": "R" * 43,
        "hashpath": "hp-7",
        "device_stack": ("wasm-64@1.0",),
        "attester": "A" * 43,
        "evidence": None,
    }
    fields.update(changes)
    return Statement(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", LENGTHS)
@pytest.mark.parametrize("field", ["process", "result", "hashpath", "attester", "evidence"])
def test_every_text_head_size(field: str, size: int) -> None:
    _fast(_plain(**{field: "x" * size}))
    _fast(_plain(**{field: "é" * (size // 2) + "x" * (size % 2)}))  # byte length, not characters


@pytest.mark.parametrize("slot", SLOTS)
def test_every_slot_head_size(slot: int) -> None:
    _fast(_plain(slot=slot))
    _fast(_plain(slot=slot, evidence="E" * 43))


@pytest.mark.parametrize("count", [0, 1, 23, 24, 300])
def test_device_stacks_of_every_head_size(count: int) -> None:
    _fast(_plain(device_stack=tuple(f"dev-{i}@1.0" for i in range(count))))


def test_the_caches_keep_evidence_and_stacks_apart() -> None:
    # The same process and attester with and without evidence, and stacks that differ only in order:
    # a cache keyed on too little would hand one of them the other's bytes.
    for evidence in (None, "E" * 43, "", None, "E" * 43):
        _fast(_plain(evidence=evidence))
    for stack in (("a", "b"), ("b", "a"), ("ab",), ("a", "b")):
        _fast(_plain(device_stack=stack))


@pytest.mark.parametrize(
    "changes",
    [
        {"slot": -1},
        {"slot": 2**64},
        {"slot": True},  # cbor2 writes a bool, not 1
        {"device_stack": ["wasm-64@1.0"]},  # a list: not hashable, still encodable
        {"device_stack": (1, 2)},
        {"evidence": b"raw"},
        {"result": 5},
    ],
)
def test_values_outside_the_plain_case_go_through_cbor2(changes: dict[str, object]) -> None:
    _same(_plain(**changes))


def test_text_that_is_not_utf8_fails_like_cbor2() -> None:
    statement = _plain(hashpath="\ud800")
    with pytest.raises(UnicodeEncodeError):
        cbor_canonical(statement.facts())
    with pytest.raises(UnicodeEncodeError):
        statement.to_cbor()


text = st.text(st.characters(codec="utf-8"), max_size=300)
names = st.sampled_from(["P" * 43, "Q" * 43, ""]) | text  # repeats exercise the caches
statements = st.builds(
    Statement,
    process=names,
    slot=st.integers(min_value=0, max_value=2**64 - 1) | st.sampled_from(SLOTS),
    result=text,
    hashpath=text,
    device_stack=st.lists(st.sampled_from(["wasm-64@1.0", "é"]) | text, max_size=30).map(tuple),
    attester=names,
    evidence=st.none() | names,
)


@settings(max_examples=500, derandomize=True, deadline=None)
@given(statements)
def test_to_cbor_is_the_canonical_encoding_of_the_facts(statement: Statement) -> None:
    _fast(statement)
