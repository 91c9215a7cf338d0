"""Package hygiene: exports, no trio outside ``_thread``, the thread helper."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import trio

import devices.wasm as wasm
from devices.wasm._thread import WasmThreads, run_wasm
from tests.wasm.conftest import read_vector

if TYPE_CHECKING:
    from devices.wasm import WasmRuntime


def test_every_public_name_is_exported_once() -> None:
    assert len(wasm.__all__) == len(set(wasm.__all__))
    for name in wasm.__all__:
        assert getattr(wasm, name) is not None
    assert all(issubclass(getattr(wasm, n), wasm.WasmError) for n in wasm.__all__ if n.endswith("Error"))


def test_sync_modules_never_import_trio() -> None:
    code = (
        "import sys, devices.wasm, devices.wasm._aos, devices.wasm._runtime;"
        "assert 'trio' not in sys.modules, 'trio imported'"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=str(read_vector.__code__.co_filename).rsplit("/tests/", 1)[0],
    )


async def test_thread_helpers_run_calls(runtime: WasmRuntime) -> None:
    inst = runtime.load(read_vector("test-64.wasm")).instantiate()
    threads = WasmThreads(limit=1)
    with trio.fail_after(10):
        assert await threads.run(inst.call, "fac", 5.0) == [120.0]
        assert await run_wasm(inst.call, "fac", 4.0, limiter=threads.limiter) == [24.0]
