"""httpsig@1.0 against hyperbeam-2025-09/httpsig.json: byte-exact fields, both modes, and decoding."""

from __future__ import annotations

import pytest

from devices.core import httpsig_decode, httpsig_encode
from devices.core._httpsig import decode_fields_to_message, encode_fields
from tests.core._vectors import decode, load, raw_result, result


def _fields(record: dict[str, object], key: str) -> dict[str, bytes]:
    return {k: v.encode("utf-8") for k, v in raw_result(record[key]).items()}


@pytest.mark.parametrize("index", range(21))
@pytest.mark.parametrize(("bundle", "field"), [(True, "httpsig_bundle"), (False, "httpsig_default")])
def test_encoding_is_byte_exact(index: int, bundle: bool, field: str) -> None:
    record = load("httpsig.json")[index]
    assert encode_fields(decode(record["message"]), bundle=bundle) == _fields(record, field)


@pytest.mark.parametrize("index", range(21))
def test_bundle_form_decodes_back(index: int) -> None:
    record = load("httpsig.json")[index]
    expected = result(record["decoded_from_bundle"])
    assert decode_fields_to_message(_fields(record, "httpsig_bundle")) == expected
    assert expected == decode(record["message"])


@pytest.mark.parametrize("index", range(21))
def test_public_api_round_trip(index: int) -> None:
    record = load("httpsig.json")[index]
    msg = decode(record["message"])
    parts = httpsig_encode(msg)
    fields = _fields(record, "httpsig_bundle")
    assert parts.body == fields.pop("body", b"")
    assert dict(parts.headers) == {k: v.decode("latin-1") for k, v in fields.items()}
    assert httpsig_decode(parts.headers, parts.body) == msg
