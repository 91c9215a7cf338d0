"""aos through the node's device path vs ``AosProcess.handle`` directly, in the same run.

Measures: Eval messages/s (a) ``AosProcess.handle`` on one instance, (b) ``process@1.0`` +
``genesis-wasm@1.0`` through the node's resolver (one ``compute`` request per slot, state cache and
snapshots included), (c) one ``compute`` folding many slots; compile (cold) vs load (cached) vs
instantiate; RSS per live aos process.

Run: AO_VECTORS=/work/shared/vectors python -m bench.wasm_aos [messages]
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from devices._aos_fields import message_fields
from devices.core import Message, RsaWallet, b64u_encode, commit
from devices.wasm import AosProcess, WasmRuntime
from node._config import load_config
from node._node import Node

VECTORS = Path(os.environ.get("AO_VECTORS", Path(__file__).resolve().parents[2] / "shared" / "vectors"))
DATA = VECTORS / "hyperbeam-test-data"
OWNER = "O" * 43
PROC = {"id": "P" * 43, "owner": OWNER}
EXTRA: dict[str, Any] = {}
EXEC = ["message@1.0", "meta@1.0", "process@1.0", "push@1.0", "scheduler@1.0", "genesis-wasm@1.0"]


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def timed(fn: Any, *args: Any, **kw: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


def compile_times(image: bytes, ident: str) -> None:
    with tempfile.TemporaryDirectory() as cache:
        cold, module = timed(WasmRuntime(cache).load, image, image_id=ident)
        cached, _ = timed(WasmRuntime(cache).load, image, image_id=ident)
        inst_s, inst = timed(module.instantiate)
        proc = AosProcess(inst, PROC, ident)
        boot, _ = timed(
            proc.handle,
            {"id": "M" * 43, "owner": OWNER, "target": "P" * 43, "action": "Eval", "data": "return 1"},
        )
    ratio = cold / cached
    print(f"compile cold {cold * 1e3:8.1f} ms   load cached {cached * 1e3:7.1f} ms   ratio {ratio:5.0f}x")
    print(f"instantiate  {inst_s * 1e3:8.2f} ms   first handle (boot) {boot * 1e3:7.1f} ms")


def direct_rate(runtime: WasmRuntime, image: bytes, ident: str, n: int) -> float:
    proc = AosProcess.spawn(runtime, image, PROC, image_id=ident)
    proc.handle({"id": "M" * 43, "owner": OWNER, "target": "P" * 43, "action": "Eval", "data": "return 1"})
    t0 = time.perf_counter()
    for i in range(n):
        fields = message_fields(
            Message({"action": "Eval", "data": "return 1+1", "target": "P" * 43}), f"{i:043d}"
        )
        fields["owner"] = OWNER
        assert proc.handle(fields)["Output"]["data"] == "2"
    return n / (time.perf_counter() - t0)


def rss_per_process(runtime: WasmRuntime, image: bytes, ident: str, k: int) -> float:
    module = runtime.load(image, image_id=ident)
    before = rss()
    procs = []
    for i in range(k):
        p = AosProcess(module.instantiate(), {"id": f"{i:043d}", "owner": OWNER}, ident)
        p.handle({"id": "M" * 43, "owner": OWNER, "target": "P" * 43, "action": "Eval", "data": "return 1"})
        procs.append(p)
    return (rss() - before) / k


async def node_rates(image: bytes, ident: str, n: int, workdir: Path) -> tuple[float, float]:
    wallet = RsaWallet.generate(2048)
    (workdir / "d").mkdir()
    wallet.save(workdir / "d" / "wallet.json")
    config = load_config(
        None,
        {"data_dir": str(workdir / "d"), "devices": EXEC, "wasm.cache_dir": str(workdir / "cache"), **EXTRA},
    )
    node = Node.open(config)
    assert node.execution is not None
    sched = node.execution.services["scheduler"]
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.execution.run)
            node.store.write_message(Message({"body": image}), [ident])
            rates = []
            for mode in ("per-slot", "fold"):
                proc = commit(
                    Message(
                        {
                            "type": "Process",
                            "device": "process@1.0",
                            "scheduler": wallet.address,
                            "execution-device": "genesis-wasm@1.0",
                            "module": ident,
                            "name": mode,
                        }
                    ),
                    wallet,
                )
                pid = sched.ops.message_id(proc)
                await sched.schedule(pid, proc)
                node.store.write_message(proc, [pid])
                msgs = [
                    commit(
                        Message(
                            {"type": "Message", "target": pid, "action": "Eval", "data": "return 1+1", "n": i}
                        ),
                        wallet,
                    )
                    for i in range(n)
                ]
                for m in msgs:
                    await sched.schedule(pid, m)
                await node.handle(Message({"path": f"/{pid}/compute&slot=0"}))  # boot, not timed
                t0 = time.perf_counter()
                if mode == "per-slot":
                    for s in range(1, n + 1):
                        out = await node.handle(Message({"path": f"/{pid}/compute&slot={s}/results/data"}))
                        assert out.value == b"2"
                else:
                    await node.handle(Message({"path": f"/{pid}/compute&slot={n}"}))
                rates.append(n / (time.perf_counter() - t0))
            nursery.cancel_scope.cancel()
    finally:
        node.close()
    return rates[0], rates[1]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    image = (DATA / "aos-2-pure-xs.wasm").read_bytes()
    ident = b64u_encode(hashlib.sha256(image).digest())
    compile_times(image, ident)
    with tempfile.TemporaryDirectory() as tmp:
        runtime = WasmRuntime(Path(tmp) / "cache")
        direct = direct_rate(runtime, image, ident, n)
        per_slot, fold = trio.run(node_rates, image, ident, n, Path(tmp))
        per_proc = rss_per_process(runtime, image, ident, 8)
    print(f"Eval msgs/s  AosProcess.handle {direct:8.0f}")
    print(f"             node, one compute per slot {per_slot:8.0f}  ({per_slot / direct:5.2f}x of direct)")
    print(f"             node, one compute folding {n} {fold:8.0f}  ({fold / direct:5.2f}x of direct)")
    print(f"RSS per live aos process (after boot) {per_proc / 2**20:6.1f} MiB")


if __name__ == "__main__":
    main()
