"""WASM layer benchmark: wrapper overhead vs raw wasmtime-py, aos throughput, compile/translate costs.

Run: AO_VECTORS=/work/shared/vectors python bench/wasm.py   (prints ratios measured in this run)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import wasmtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.wasm import AosProcess, WasmRuntime, translate_legacy_eh

VECTORS = Path(os.environ.get("AO_VECTORS", Path(__file__).resolve().parents[2] / "shared" / "vectors"))
DATA = VECTORS / "hyperbeam-test-data"
PROCESS = {"id": "AOS", "owner": "FOOBAR", "original-tags": [("Name", "Thomas"), ("Authority", "FOOBAR")]}


def rate(fn, seconds: float = 1.0) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            fn()
        n += 100
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def timed(fn, repeat: int = 3) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    fac = (DATA / "test-64.wasm").read_bytes()
    aos_image = (DATA / "aos-2-pure-xs.wasm").read_bytes()

    # 1. fac(5): our wrapper vs raw wasmtime-py (default engine, and same config as ours)
    raw_engine = wasmtime.Engine()
    raw_store = wasmtime.Store(raw_engine)
    raw_fac = wasmtime.Instance(raw_store, wasmtime.Module(raw_engine, fac), []).exports(raw_store)["fac"]
    raw = rate(lambda: raw_fac(raw_store, 5.0))
    runtime = WasmRuntime()
    inst = runtime.load(fac).instantiate()
    ours = rate(lambda: inst.call("fac", 5.0))
    nofuel_inst = WasmRuntime(fuel=False).load(fac).instantiate()
    ours_nofuel = rate(lambda: nofuel_inst.call("fac", 5.0))
    print(f"fac(5) raw wasmtime-py          {raw:10.0f} calls/s")
    print(f"fac(5) WasmInstance.call (fuel) {ours:10.0f} calls/s  ratio {ours / raw:.2f} (target >= 0.30)")
    print(f"fac(5) WasmInstance.call (none) {ours_nofuel:10.0f} calls/s  ratio {ours_nofuel / raw:.2f}")

    # 2. translation, compile, cache hit, instantiate
    t_translate = timed(lambda: translate_legacy_eh(aos_image))
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        module = WasmRuntime(cache).load(aos_image)
        t_cold = time.perf_counter() - start
        t_warm = timed(lambda: WasmRuntime(cache).load(aos_image))
    raw_translated = translate_legacy_eh(aos_image)
    exc_config = wasmtime.Config()
    exc_config.wasm_exceptions = True
    exc_config.wasm_memory64 = True
    t_raw_compile = timed(lambda: wasmtime.Module(wasmtime.Engine(exc_config), raw_translated), repeat=1)
    t_inst = timed(lambda: module.instantiate(), repeat=20)
    print(f"aos-2-pure-xs translate          {t_translate * 1000:8.1f} ms")
    print(f"aos-2-pure-xs load, cold cache   {t_cold * 1000:8.1f} ms (prepare + compile)")
    print(f"  raw wasmtime compile, no fuel  {t_raw_compile * 1000:8.1f} ms")
    print(
        f"aos-2-pure-xs load, disk cache   {t_warm * 1000:8.1f} ms (ratio cold/warm {t_cold / t_warm:.0f}x)"
    )
    print(f"aos-2-pure-xs instantiate        {t_inst * 1000:8.2f} ms")

    # 3. aos Eval throughput and memory per process
    proc = AosProcess.spawn(runtime, module, PROCESS)
    start = time.perf_counter()
    proc.handle({"id": "boot", "owner": "FOOBAR", "action": "Eval", "data": "return 1"})
    t_boot = time.perf_counter() - start
    counter = iter(range(10**9))

    def evaluate() -> None:
        proc.handle({"id": f"m{next(counter)}", "owner": "FOOBAR", "action": "Eval", "data": "return 1+1"})

    evals = _aos_rate(evaluate)
    print(f"aos first handle (boot)          {t_boot * 1000:8.1f} ms")
    print(
        f"aos Eval 'return 1+1'            {evals:8.0f} msgs/s  (fuel per msg {proc.instance.last_fuel_used})"
    )
    snap_t = timed(proc.snapshot, repeat=5)
    snap = proc.snapshot()
    restore_t = timed(lambda: AosProcess.from_snapshot(module, PROCESS, snap), repeat=5)
    mib = len(snap.memory) >> 20
    print(f"aos snapshot / restore ({mib} MiB)  {snap_t * 1000:6.1f} ms / {restore_t * 1000:.1f} ms")

    before = rss_bytes()
    procs = []
    for i in range(5):
        p = AosProcess.spawn(runtime, module, PROCESS)
        p.handle({"id": f"b{i}", "owner": "FOOBAR", "action": "Eval", "data": "return 1"})
        procs.append(p)
    per = (rss_bytes() - before) / len(procs)
    linear = procs[0].instance.memory_size >> 20
    print(f"aos RSS per live process         {per / (1 << 20):8.1f} MiB (linear memory {linear} MiB)")


def _aos_rate(fn) -> float:
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < 2.0:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
