"""The wasmtime wrapper: HyperBEAM's W1-W9 cases, host imports, limits, caches, snapshots."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from devices.wasm import (
    HostCall,
    WasmInstanceDead,
    WasmLimitExceeded,
    WasmLimits,
    WasmLinkError,
    WasmMemoryError,
    WasmRuntime,
    WasmSnapshot,
    WasmTrap,
)
from devices.wasm._errors import WasmDecodeError
from tests.wasm.conftest import read_vector

if TYPE_CHECKING:
    from pathlib import Path

LOOP_WAT = """(module
  (func (export "spin") (loop $l (br $l)))
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"""

BOMB_WAT = """(module (memory 1)
  (func (export "bomb") (result i32)
    (loop $l
      (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1)) (then unreachable))
      (br $l))
    (i32.const 0)))"""

COUNTER_WAT = """(module (memory (export "memory") 1)
  (global $n (mut i64) (i64.const 0))
  (global $seed (mut i32) (i32.const 7))
  (func (export "step") (result i64)
    (global.set $seed (i32.add (i32.mul (global.get $seed) (i32.const 1103515245)) (i32.const 12345)))
    (i64.store (i32.wrap_i64 (i64.mul (global.get $n) (i64.const 8))) (i64.extend_i32_u (global.get $seed)))
    (if (i32.eqz (i32.and (global.get $seed) (i32.const 3)))
      (then (drop (memory.grow (i32.const 1)))))
    (global.set $n (i64.add (global.get $n) (i64.const 1)))
    (global.get $n)))"""


def test_fac_wasm64(runtime: WasmRuntime) -> None:
    inst = runtime.load(read_vector("test-64.wasm")).instantiate()
    assert inst.call("fac", 5.0) == [120.0]
    assert inst.call("fac", 6) == [720.0]  # ints are converted to the declared f64


def test_fac_wasm32(runtime: WasmRuntime) -> None:
    inst = runtime.load(read_vector("test.wasm")).instantiate()
    assert inst.call("fac", 3.0) == [6.0]


def test_imported_function_through_resolver(runtime: WasmRuntime) -> None:
    calls: list[tuple[int, int]] = []

    def mul(call: HostCall, a: int, b: int) -> list[int]:
        calls.append((a, b))
        return [a * b]

    def resolve(module: str, name: str):
        return mul if (module, name) == ("my_lib", "mul") else None

    module = runtime.load(read_vector("pow_calculator.wasm"))
    inst = module.instantiate(resolver=resolve)
    assert inst.call("pow", 2, 5) == [32]
    assert len(calls) == 5
    assert inst.call("pow", 2, 2) == [4]
    assert inst.undefined_calls == []


def test_missing_import_handler_returns_zero_and_is_recorded(runtime: WasmRuntime, wat) -> None:
    src = """(module (import "x" "y" (func $y (param i32) (result i32)))
      (func (export "f") (result i32) (call $y (i32.const 9))))"""
    inst = runtime.load(wat(src)).instantiate()
    assert inst.call("f") == [0]
    assert inst.undefined_calls == [("x", "y", (9,))]


def test_wasi_fd_write_wasm32_is_captured(runtime: WasmRuntime) -> None:
    inst = runtime.load(read_vector("test-print.wasm")).instantiate()
    assert inst.memory_size == 65536
    assert inst.read(66, 13) == b"Hello, World!"
    assert inst.call("hello") == [22]
    assert bytes(inst.stdout).startswith(b"Hello, World!\nHowdy!\n")


def test_memory_bounds(runtime: WasmRuntime) -> None:
    inst = runtime.load(read_vector("test-print.wasm")).instantiate()
    inst.write(0, b"Hello, World!")
    assert inst.read(0, 13) == b"Hello, World!"
    with pytest.raises(WasmMemoryError):
        inst.write(1_000_000, b"Hello, World!")
    with pytest.raises(WasmMemoryError):
        inst.read(1_000_000, 13)
    with pytest.raises(WasmMemoryError):
        inst.read(65530, 13)


def test_malloc_and_strings_wasm64(runtime: WasmRuntime) -> None:
    inst = runtime.load(read_vector("test-calling.wasm")).instantiate()
    assert inst.malloc(100) > 0
    with pytest.raises(WasmMemoryError, match="malloc_failed"):
        inst.malloc(128 * 1024 * 1024)
    ptr = inst.write_string(b"Hello, World!")
    assert inst.read_string(ptr) == b"Hello, World!"
    assert inst.alive


def test_fuel_exhaustion_discards_the_instance(runtime: WasmRuntime, wat) -> None:
    module = runtime.load(wat(LOOP_WAT))
    inst = module.instantiate(limits=WasmLimits(fuel=100_000))
    with pytest.raises(WasmLimitExceeded, match="fuel"):
        inst.call("spin")
    assert not inst.alive
    with pytest.raises(WasmInstanceDead):
        inst.call("add", 1, 2)
    fresh = module.instantiate(limits=WasmLimits(fuel=100_000))
    assert fresh.call("add", 1, 2) == [3]
    assert 0 < fresh.last_fuel_used < 100
    fresh.close()
    with pytest.raises(WasmInstanceDead, match="closed"):
        fresh.call("add", 1, 2)


def test_fuel_budget_is_per_call(runtime: WasmRuntime, wat) -> None:
    inst = runtime.load(wat(LOOP_WAT)).instantiate(limits=WasmLimits(fuel=50))
    for _ in range(100):  # 100 calls together need far more than 50 units
        assert inst.call("add", 2, 3) == [5]


def test_memory_bomb_hits_the_cap(runtime: WasmRuntime, wat) -> None:
    cap = 16 * 1024 * 1024
    inst = runtime.load(wat(BOMB_WAT)).instantiate(limits=WasmLimits(memory_bytes=cap))
    with pytest.raises(WasmLimitExceeded, match="memory cap"):
        inst.call("bomb")
    assert not inst.alive


def test_initial_memory_above_cap(runtime: WasmRuntime) -> None:
    module = runtime.load(read_vector("test-calling.wasm"))  # 258 pages
    with pytest.raises(WasmLimitExceeded):
        module.instantiate(limits=WasmLimits(memory_bytes=1 << 20))


def test_trap_and_host_failures(runtime: WasmRuntime, wat) -> None:
    inst = runtime.load(wat('(module (func (export "u") unreachable))')).instantiate()
    with pytest.raises(WasmTrap, match="unreachable") as info:
        inst.call("u")
    assert not isinstance(info.value, WasmLimitExceeded)

    src = '(module (import "h" "boom" (func $b)) (func (export "f") (call $b)))'

    def boom(call: HostCall) -> None:
        raise RuntimeError("host bug")

    bad = runtime.load(wat(src)).instantiate(resolver=lambda m, n: boom)
    with pytest.raises(WasmTrap, match="host bug"):
        bad.call("f")
    assert not bad.alive


def test_proc_exit_traps(runtime: WasmRuntime, wat) -> None:
    src = """(module (import "wasi_snapshot_preview1" "proc_exit" (func $e (param i32)))
      (func (export "f") (call $e (i32.const 3))))"""
    inst = runtime.load(wat(src)).instantiate()
    with pytest.raises(WasmTrap, match=r"proc_exit\(3\)"):
        inst.call("f")


def test_call_errors(runtime: WasmRuntime) -> None:
    inst = runtime.load(read_vector("test-64.wasm")).instantiate()
    with pytest.raises(WasmLinkError):
        inst.call("nope")
    with pytest.raises(WasmLinkError):
        inst.call("fac")
    with pytest.raises(WasmLinkError):
        inst.call("fac", "5")  # type: ignore[arg-type]
    assert inst.alive


def test_disk_cache_hit_on_second_load(tmp_path: Path, wat) -> None:
    image = wat(LOOP_WAT)
    first = WasmRuntime(tmp_path)
    first.load(image).instantiate().call("add", 1, 1)
    assert first.statistics().compiled == 1
    second = WasmRuntime(tmp_path)
    module = second.load(image)
    stats = second.statistics()
    assert (stats.compiled, stats.compile_cache_hits, stats.prepared, stats.prepare_cache_hits) == (
        0,
        1,
        0,
        1,
    )
    assert module.instantiate().call("add", 2, 2) == [4]
    assert second.load(image) is module  # memoised in memory too


def test_corrupt_compiled_artefact_is_recompiled(tmp_path: Path, wat) -> None:
    image = wat(LOOP_WAT)
    WasmRuntime(tmp_path).load(image)
    for art in (tmp_path / "compiled").iterdir():
        art.write_bytes(b"garbage")
    again = WasmRuntime(tmp_path)
    assert again.load(image).instantiate().call("add", 3, 4) == [7]
    assert again.statistics().compiled == 1


def _run_steps(inst, n: int) -> None:
    for _ in range(n):
        inst.call("step")


def test_snapshot_restore_is_bit_identical(runtime: WasmRuntime, wat) -> None:
    module = runtime.load(wat(COUNTER_WAT))
    assert [kind for _, kind in module.exposed_globals] == ["i64", "i32"]
    straight = module.instantiate()
    _run_steps(straight, 40)

    first = module.instantiate()
    _run_steps(first, 17)
    snap = WasmSnapshot.decode(first.snapshot().encode())
    assert snap.pages > 1  # memory grew, so restore has to grow first
    resumed = module.instantiate()
    resumed.restore(snap)
    assert resumed.snapshot() == snap
    _run_steps(resumed, 23)
    assert resumed.snapshot() == straight.snapshot()
    assert resumed.snapshot().digest() == straight.snapshot().digest()


def test_restore_rejects_mismatches(runtime: WasmRuntime, wat) -> None:
    module = runtime.load(wat(COUNTER_WAT))
    inst = module.instantiate()
    with pytest.raises(WasmMemoryError):
        inst.restore(WasmSnapshot(b"\x00" * 100))
    with pytest.raises(WasmDecodeError):
        inst.restore(WasmSnapshot(bytes(65536), ((5, "i64", 1),)))
    with pytest.raises(WasmLimitExceeded):
        module.instantiate(limits=WasmLimits(memory_bytes=1 << 17)).restore(WasmSnapshot(bytes(1 << 18)))


def test_snapshot_decode_rejects_garbage() -> None:
    snap = WasmSnapshot(bytes(65536), ((0, "i64", -5), (1, "i32", 7), (2, "f64", 1.5), (3, "f32", 0.25)))
    assert WasmSnapshot.decode(snap.encode()) == snap
    for bad in (b"", b"HPWSNAP1", snap.encode()[:-1], b"XXXXXXXX" + snap.encode()[8:]):
        with pytest.raises(WasmDecodeError):
            WasmSnapshot.decode(bad)


GRACEFUL_WAT = """(module (memory 1 2)
  (func (export "try_grow") (result i32) (memory.grow (i32.const 5)))
  (func (export "crash") unreachable))"""


def test_failed_grow_handled_by_guest_is_not_a_limit_error(runtime: WasmRuntime, wat) -> None:
    inst = runtime.load(wat(GRACEFUL_WAT)).instantiate()
    assert inst.call("try_grow") == [-1]  # beyond the module's own maximum
    assert inst.grow_failures == 1
    assert inst.alive
    with pytest.raises(WasmTrap) as info:
        inst.call("crash")
    assert not isinstance(info.value, WasmLimitExceeded)


def test_unexported_memory_is_still_snapshotted(runtime: WasmRuntime, wat) -> None:
    module = runtime.load(wat('(module (memory 2) (data (i32.const 10) "abc") (func (export "f")))'))
    assert module.exports == ("f",)
    inst = module.instantiate()
    assert inst.read(10, 3) == b"abc"
    assert len(inst.snapshot().memory) == 2 * 65536


INVOKE_WAT = """(module
  (import "env" "invoke_vi" (func $invoke_vi (param i32 i32)))
  (import "env" "_emscripten_throw_longjmp" (func $throw_lj))
  (memory (export "memory") 1)
  (table (export "__indirect_function_table") 2 funcref)
  (elem (i32.const 0) $jumper $normal)
  (global $sp (mut i32) (i32.const 1000))
  (global $threw (mut i32) (i32.const 0))
  (func (export "emscripten_stack_get_current") (result i32) global.get $sp)
  (func (export "_emscripten_stack_restore") (param i32) local.get 0 global.set $sp)
  (func (export "setThrew") (param i32 i32) local.get 0 global.set $threw)
  (func $jumper (param i32)
    global.get $sp i32.const 64 i32.sub global.set $sp
    call $throw_lj)
  (func $normal (param i32) local.get 0 global.set $threw)
  (func (export "run") (param i32) (result i32)
    i32.const 0 global.set $threw
    local.get 0 i32.const 5 call $invoke_vi
    global.get $threw i32.const 10000 i32.mul global.get $sp i32.add)
  (func (export "bare") call $throw_lj))"""


def test_emscripten_invoke_and_longjmp(runtime: WasmRuntime, wat) -> None:
    inst = runtime.load(wat(INVOKE_WAT)).instantiate()
    assert inst.call("run", 1) == [51000]  # plain call through the table
    assert inst.call("run", 0) == [11000]  # longjmp: stack pointer restored, setThrew(1, 0)
    assert inst.call("run", 1) == [51000]
    with pytest.raises(WasmTrap, match="EmscriptenLongjmp"):
        inst.call("bare")  # no invoke_* to catch it


@pytest.mark.parametrize("name", ["test-standalone-ex-aos.wasm", "test-wasi-aos.wasm"])
def test_js_eh_aos_builds_answer_handle(runtime: WasmRuntime, name: str) -> None:
    from devices.wasm import AosProcess

    proc = AosProcess.spawn(runtime, read_vector(name), {"id": "AOS", "owner": "FOOBAR"})
    response = proc.handle({"id": "1", "owner": "FOOBAR", "action": "Eval", "data": "return 1"})
    assert response["Output"] == "sent pong reply"  # HyperBEAM's dummy test processes
