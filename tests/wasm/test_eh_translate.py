"""Legacy-EH -> exnref translation: behaviour of translated hand-written modules, determinism, aos images."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
import wasmtime

from devices.wasm import WasmDecodeError, WasmRuntime, WasmTranslateError, translate_legacy_eh
from devices.wasm._binary import parse_module
from devices.wasm._opcodes import LEGACY_EH, THROW_REF, TRY_TABLE, decode
from tests.conftest import vector_path
from tests.wasm.conftest import HERE, read_vector

# (export, x) -> expected i32, or None for "the exception escapes (trap)".
EXPECTED: dict[tuple[str, int], int | None] = {
    ("catch_basic", 4): 1004, ("catch_basic", 0): 7, ("catch_basic", -1): -1,
    ("rethrow_outer", 4): 2004, ("rethrow_outer", 0): 9, ("rethrow_outer", -1): -1,
    ("rethrow_nested", 4): 3004, ("rethrow_nested", 0): 33, ("rethrow_nested", -1): -1,
    ("delegate_skip", 4): 4004, ("delegate_skip", 0): 44, ("delegate_skip", -1): -1,
    ("delegate_middle", 4): 104, ("delegate_middle", 0): 101, ("delegate_middle", -1): -1,
    ("delegate_caller", 4): 5004, ("delegate_caller", 0): None, ("delegate_caller", -1): -1,
    ("delegate_block", 4): 6004, ("delegate_block", 0): None, ("delegate_block", -1): -1,
    ("delegate_handler", 4): 104, ("delegate_handler", 2): 7009, ("delegate_handler", -1): -1,
    ("pair", 2): 42, ("pair_rethrow", 2): 43,
    ("try_plain", 4): 5,
    ("uncaught", 4): None, ("uncaught", -1): -1,
    ("branches", 4): 81, ("branches", 0): 9, ("branches", -1): 104, ("branches", 2): 30, ("branches", 1): 78,
}  # fmt: skip


@pytest.fixture(scope="module")
def legacy_module() -> bytes:
    return bytes(wasmtime.wat2wasm((HERE / "legacy_eh.wat").read_text()))


@pytest.fixture(scope="module")
def translated(legacy_module: bytes) -> tuple[wasmtime.Engine, wasmtime.Module]:
    config = wasmtime.Config()
    config.wasm_exceptions = True
    engine = wasmtime.Engine(config)
    return engine, wasmtime.Module(engine, translate_legacy_eh(legacy_module))


def _opcodes(image: bytes) -> set[int]:
    mod = parse_module(image)
    return {ins[0] for body in mod.bodies for ins in decode(body.code, body.offset)}


def test_fixture_really_uses_legacy_eh(legacy_module: bytes) -> None:
    assert _opcodes(legacy_module) >= LEGACY_EH
    config = wasmtime.Config()
    config.wasm_exceptions = True
    with pytest.raises(wasmtime.WasmtimeError, match="legacy"):
        wasmtime.Module(wasmtime.Engine(config), legacy_module)


def test_translation_removes_every_legacy_opcode(legacy_module: bytes) -> None:
    ops = _opcodes(translate_legacy_eh(legacy_module))
    assert not ops & LEGACY_EH
    assert {TRY_TABLE, THROW_REF} <= ops


@pytest.mark.parametrize(("export", "x"), sorted(EXPECTED))
def test_translated_behaviour(
    translated: tuple[wasmtime.Engine, wasmtime.Module], export: str, x: int
) -> None:
    engine, module = translated
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, module, [])
    func = instance.exports(store)[export]
    expected = EXPECTED[(export, x)]
    if expected is None:
        with pytest.raises(wasmtime.Trap):
            func(store, x)
    else:
        assert func(store, x) == expected


def test_translation_is_deterministic_and_keeps_other_sections(legacy_module: bytes) -> None:
    first = translate_legacy_eh(legacy_module)
    assert first == translate_legacy_eh(legacy_module)
    before = parse_module(legacy_module)
    after = parse_module(first)
    changed = [sid for (sid, a), (_, b) in zip(before.sections, after.sections, strict=True) if a != b]
    assert changed == [1, 10]  # types (multi-value handler types added) and code only
    # handler blocks: [i32 exnref], [i32 i64], [i32 i64 exnref]
    assert len(after.types) == len(before.types) + 3


def test_module_without_legacy_eh_is_returned_unchanged() -> None:
    image = read_vector("pow_calculator.wasm")
    assert translate_legacy_eh(image) is image


def test_only_functions_with_legacy_eh_are_reencoded(legacy_module: bytes) -> None:
    before = parse_module(legacy_module).bodies
    after = parse_module(translate_legacy_eh(legacy_module)).bodies
    thrower_before, thrower_after = before[0], after[0]
    assert thrower_before.raw == thrower_after.raw
    uncaught = 12  # the "uncaught" export has no try
    assert before[uncaught].raw == after[uncaught].raw
    assert before[1].raw != after[1].raw


def test_try_with_block_parameters_is_rejected(wat) -> None:
    image = wat(
        "(module (tag $e) (type $t (func (param i32) (result i32)))"
        " (func (result i32) i32.const 1 try (type $t) catch $e i32.const 2 end))"
    )
    with pytest.raises(WasmTranslateError, match="block parameters"):
        translate_legacy_eh(image)


@pytest.mark.parametrize(
    "source",
    [
        "(module (func try rethrow 0 end))",  # rethrow outside a catch
        "(module (func block try delegate 5 end))",  # delegate label out of range
    ],
)
def test_bad_labels_raise_decode_error(wat, source: str) -> None:
    try:
        image = wat(source)
    except wasmtime.WasmtimeError:
        pytest.skip("the WAT parser rejects this one itself")
    with pytest.raises(WasmDecodeError):
        translate_legacy_eh(image)


@pytest.mark.parametrize("name", ["aos-2-pure-xs.wasm", "test-standalone-wex-aos.wasm"])
def test_aos_images_translate_and_compile(runtime: WasmRuntime, name: str) -> None:
    image = read_vector(name)
    out = translate_legacy_eh(image)
    assert out != image
    assert not _opcodes(out) & LEGACY_EH
    assert hashlib.sha256(out).digest() == hashlib.sha256(translate_legacy_eh(image)).digest()
    module = runtime.load(image)  # compiles under wasmtime (memory64 + exceptions)
    assert module.legacy_eh_translated
    summary = json.loads(vector_path("hyperbeam-test-data", "wasm-modules.json").read_text())[name]
    declared = [re.split(r"[ (]", entry, maxsplit=1)[0] for entry in summary["exports"]]
    assert list(module.exports) == declared
    assert [f"{i.module}.{i.name}" for i in module.imports] == [
        entry.split("(")[0] for entry in summary["imports"]
    ]


def test_excessive_nesting_is_rejected(wat) -> None:
    depth = 260
    body = "block\n" * depth + "end\n" * depth
    image = wat(f"(module (tag $e) (func try {body} catch $e end))")
    with pytest.raises(WasmTranslateError, match="nesting"):
        translate_legacy_eh(image)
