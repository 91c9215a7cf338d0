"""Malformed wire input raises DecodeError (never another exception); signatures are reported."""

from __future__ import annotations

import pytest

from devices.core import DecodeError, Message, from_tabm, httpsig_decode, verify

MP = {"content-type": 'multipart/form-data; boundary="B"'}


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (MP, b"--B\r\nx: y\r\n--B--"),  # a part without content-disposition
        (MP, b"--B\r\ncontent-disposition: form-data\r\n--B--"),  # a part without a name
        (MP, b"no boundaries here"),
        (MP, b'--B\r\ncontent-disposition: form-data;name="a"\r\n\r\nx'),  # no closing boundary
        (
            MP,
            b'--B\r\ncontent-disposition: form-data;name="a"\r\n\r\nx\r\n'
            b'--B\r\ncontent-disposition: form-data;name="a/b"\r\n\r\ny\r\n--B--',
        ),  # path collision
        ({"ao-ids": "a=1"}, b""),
        ({"ao-types": "n=integer", "n": "x"}, b""),
        ({"ao-types": 'n="integer", zz'}, b""),
        ({"ao-types": "l=list", "l": '"(ao-type-nope) 1"'}, b""),
        ({"signature": "s=:AAAA:", "signature-input": 't=("a");alg="x";keyid="k"'}, b""),
        ({"signature": "s=:AAAA:", "signature-input": 's=("a")'}, b""),
        ({"signature": "s=1", "signature-input": 's=("a");alg="x";keyid="k"'}, b""),
    ],
)
def test_rejected(headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(DecodeError):
        httpsig_decode(headers, body)


def test_bad_signature_is_reported_not_raised() -> None:
    msg = httpsig_decode(
        {
            "a": "b",
            "signature": "comm-x=:" + "A" * 684 + ":",
            "signature-input": 'comm-x=("a");alg="rsa-pss-sha512";keyid="publickey:AAAA"',
        },
        b"",
    )
    report = verify(msg)
    assert not report.valid
    assert report.failed[0].type == "rsa-pss-sha512"


@pytest.mark.parametrize(
    "tabm",
    [
        Message({"ao-types": b'.="list"', "x": b"1"}),
        Message({"ao-types": b'a="float"', "a": b"1"}),
        Message({"ao-types": b'a="atom"', "a": b"?1"}),
    ],
)
def test_from_tabm_rejects(tabm: Message) -> None:
    with pytest.raises(DecodeError):
        from_tabm(Message({"inner": tabm}))
