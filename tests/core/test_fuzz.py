"""Fuzz invariant for every parser: any input parses or raises DecodeError (LimitExceeded is one).

Each Hypothesis example also runs ``MUTANTS`` seeded mutations of its input (byte flips, cuts,
grammar-piece insertions), so the six parsers see 6 x 200 x 11 = 13,200 inputs in a few seconds.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.core import (
    DecodeError,
    Message,
    decode_ao_types,
    decode_value,
    flat_decode,
    from_tabm,
    httpsig_decode,
    json_decode,
    verify,
)
from devices.core._sf import parse_dictionary, parse_item, parse_list

FUZZ = settings(max_examples=200, derandomize=True, deadline=None)
MUTANTS = 10
seeds = st.integers(min_value=0, max_value=2**32 - 1)
SF_ALPHABET = b'abcAZ019 ,;=()"\\:?*%-_./+\t\xc3\xa9\x00'
sf_bytes = st.lists(st.sampled_from(list(SF_ALPHABET)), max_size=40).map(bytes)
# Multipart-shaped bodies built from the pieces that matter to the part parser.
PIECES = [
    b"--B\r\n",
    b"\r\n--B--",
    b"\r\n--B",
    b"\r\n\r\n",
    b"\r\n",
    b"content-disposition: ",
    b"inline",
    b'form-data;name="a"',
    b'form-data;name="a/b"',
    b"ao-types: ",
    b'.="list"',
    b"empty-message",
    b"x: y",
    b": ",
    b"1",
]
multipart = st.lists(st.sampled_from(PIECES), max_size=20).map(b"".join)
HEADERS = ["ao-types", "ao-ids", "ao-body-key", "signature", "signature-input", "content-type", "a", "b"]


def mutants(data: bytes, seed: int) -> list[bytes]:
    """``data`` and MUTANTS seeded variants of it."""
    rnd = random.Random(seed)
    out = [data]
    for _ in range(MUTANTS):
        buf = bytearray(data)
        for _ in range(rnd.randint(1, 3)):
            op = rnd.randrange(4)
            pos = rnd.randint(0, len(buf))
            if op == 0 and buf:
                buf[min(pos, len(buf) - 1)] = rnd.randrange(256)
            elif op == 1:
                del buf[pos:]
            elif op == 2:
                buf[pos:pos] = rnd.choice(PIECES)
            else:
                buf[pos:pos] = bytes([rnd.choice(SF_ALPHABET)])
        out.append(bytes(buf))
    return out


def _only_decode_errors(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except DecodeError:
        return None


@FUZZ
@given(sf_bytes, seeds)
def test_sf_parsers(data: bytes, seed: int) -> None:
    for case in mutants(data, seed):
        for fn in (parse_item, parse_list, parse_dictionary, decode_ao_types):
            _only_decode_errors(fn, case)


@FUZZ
@given(st.sampled_from(["integer", "float", "atom", "list", "map", "binary"]), sf_bytes, st.booleans(), seeds)
def test_decode_value(kind: str, data: bytes, lenient: bool, seed: int) -> None:
    for case in mutants(data, seed):
        _only_decode_errors(lambda c: decode_value(kind, c, lenient=lenient), case)


@FUZZ
@given(st.dictionaries(st.sampled_from(HEADERS), sf_bytes, max_size=5), multipart, st.booleans(), seeds)
def test_httpsig_decode(headers: dict[str, bytes], body: bytes, multi: bool, seed: int) -> None:
    if multi:
        headers["content-type"] = b'multipart/form-data; boundary="B"'
    for case in mutants(body, seed):
        msg = _only_decode_errors(httpsig_decode, headers, case)
        if msg is not None:
            verify(msg)  # must report, never raise


@FUZZ
@given(st.one_of(st.binary(max_size=60), st.text(max_size=40).map(str.encode)), seeds)
def test_json_decode(data: bytes, seed: int) -> None:
    for case in mutants(data, seed):
        _only_decode_errors(json_decode, case)


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                b"a: 1\n",
                b"a/b: 2\n",
                b'ao-types: a="integer"\n',
                b": \n",
                b"b: x: y\n",
                b"\n",
                b"ao-types: zz\n",
                b"a/: 3\n",
            ]
        ),
        max_size=8,
    ).map(b"".join),
    seeds,
)
def test_flat_decode(data: bytes, seed: int) -> None:
    for case in mutants(data, seed):
        _only_decode_errors(flat_decode, case)


@FUZZ
@given(st.dictionaries(st.sampled_from(["a", "b", "ao-types", "x+link", "."]), sf_bytes, max_size=4), seeds)
def test_from_tabm(tabm: dict[str, bytes], seed: int) -> None:
    keys = sorted(tabm)
    for i, case in enumerate(mutants(b"|".join(tabm[k] for k in keys), seed)):
        mutated = dict(tabm)
        if keys:
            mutated[keys[i % len(keys)]] = case
        _only_decode_errors(from_tabm, Message(mutated))
