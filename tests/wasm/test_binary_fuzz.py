"""LEB128 round trips and the fuzz invariant: any bytes either work or raise a WasmError subclass."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.wasm import WasmError, translate_legacy_eh
from devices.wasm._binary import enc_s, enc_u, parse_module, read_s, read_u
from devices.wasm._globals import expose_mutable_globals
from devices.wasm._growguard import guard_memory_grow
from devices.wasm._opcodes import decode
from tests.wasm.conftest import HERE

FUZZ = settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_unsigned_leb_round_trip(value: int) -> None:
    raw = enc_u(value)
    assert read_u(raw + b"\x00", 0, 64) == (value, len(raw))


@FUZZ
@given(st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1))
def test_signed_leb_round_trip(value: int) -> None:
    raw = enc_s(value)
    assert read_s(raw, 0, 64) == (value, len(raw))


def test_leb_errors() -> None:
    with pytest.raises(WasmError):
        read_u(b"\x80\x80", 0)
    with pytest.raises(WasmError):
        read_u(b"\xff\xff\xff\xff\x7f", 0, 32)  # 35 bits
    with pytest.raises(WasmError):
        read_s(b"\x80" * 12, 0, 64)


def _all_stages(data: bytes) -> None:
    try:
        mod = parse_module(data)
        for body in mod.bodies:
            decode(body.code, body.offset)
        translate_legacy_eh(data)
        guard_memory_grow(expose_mutable_globals(data)[0])
    except WasmError:
        pass


@FUZZ
@given(st.binary(max_size=200))
def test_garbage_after_magic_raises_only_wasm_errors(tail: bytes) -> None:
    _all_stages(b"\x00asm\x01\x00\x00\x00" + tail)
    _all_stages(tail)


@pytest.fixture(scope="module")
def legacy_image() -> bytes:
    import wasmtime

    return bytes(wasmtime.wat2wasm((HERE / "legacy_eh.wat").read_text()))


@settings(max_examples=150, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_modules_raise_only_wasm_errors(legacy_image: bytes, data: st.DataObject) -> None:
    image = bytearray(legacy_image)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(8, len(image) - 1))
        image[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(8, len(image)))
    _all_stages(bytes(image[:cut]))
