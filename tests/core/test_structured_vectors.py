"""structured@1.0 against hyperbeam-2025-09/structured.json (every record)."""

from __future__ import annotations

import pytest

from devices.core import DecodeError, decode_ao_types, decode_value, to_tabm
from tests.core._vectors import Failure, decode, load, result

MESSAGES = range(21)


@pytest.mark.parametrize("index", MESSAGES)
@pytest.mark.parametrize(("bundle", "field"), [(True, "tabm_bundle"), (False, "tabm_default_offload")])
def test_to_tabm_matches_reference(index: int, bundle: bool, field: str) -> None:
    record = load("structured.json")[index]
    assert to_tabm(decode(record["message"]), bundle=bundle) == result(record[field])


@pytest.mark.parametrize("index", range(21, 28))
def test_decode_value(index: int) -> None:
    record = load("structured.json")[index]
    assert record["name"] == "decode_value"
    expected = result(record["decoded"])
    raw = record["value"].encode()
    if isinstance(expected, Failure):
        with pytest.raises(DecodeError):
            decode_value(record["type"], raw)
    else:
        assert decode_value(record["type"], raw) == expected


@pytest.mark.parametrize("index", range(28, 31))
def test_decode_ao_types(index: int) -> None:
    record = load("structured.json")[index]
    expected = {k: v.decode() for k, v in result(record["decoded"]).items()}
    assert decode_ao_types(record["value"].encode()) == expected


def test_lenient_reads_ao_core_libs_lists() -> None:
    """§13.6: the unquoted ao-core-libs list and its (ao-type-binary) items, when asked to."""
    assert decode_value("list", b"(ao-type-integer) 1,(ao-type-binary) a", lenient=True) == (1, b"a")
    assert decode_value("list", b'"(ao-type-integer) 1","(ao-type-binary) a"', lenient=True) == (1, b"a")
