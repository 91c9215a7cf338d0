"""aos ``Eval`` messages/s: our ``devices.wasm.AosProcess`` vs ``@permaweb/ao-loader`` under Node.

Issue 5's reference: the same module (``aos-2-pure-xs.wasm``) and the very same message bytes go
through (a) ``AosProcess.handle`` on wasmtime and (b) ao-loader 0.0.49 on V8, driven by
``tests/interop/aoloader_run.mjs`` in one Node process per run (the CU's ``instantiateWasm`` call
plus the small documented bridge that module needs, see that file and
``tests/interop/test_aoloader_equivalence.py``). Node times itself with ``performance.now()``
around each ``await handle(null, msg, env)``, so Node start-up and module compile are excluded from
msgs/s; compile (ours: translate + Cranelift, cold cache; V8: ``WebAssembly.compile``) and load
(instantiate up to a ready handle) are reported separately.

Sequence on both sides, one process each: 1 boot message (timed apart), N x ``return 1+1``, then
N messages cycling through a mix (state, string work, a loop, handlers, a message a handler answers,
an outbox send, a Lua ``error``). Both sides' outputs are compared message by message.
Per message both sides pay: encoding the message to JSON (ours: ``message_json``; ao-loader:
``JSON.stringify``), the ``handle`` call, decoding the JSON result. ao-loader by default also copies
the whole linear memory into its result (``Memory: HEAPU8.slice()``, 12+ MiB here); ours does not
(the node snapshots memory separately). So ao-loader runs twice: with its default options (the
reference) and with ``UNSAFE_MEMORY: true`` (returns the live buffer, no copy: closer to the engine).

Run: ``AO_VECTORS=/work/shared/vectors python -m bench.wasm_vs_aoloader [N]``   (default N = 200).
Needs ``node`` and ``npm ci`` in ``tests/interop``; otherwise that part is skipped with a message.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devices.core import b64u_encode
from devices.wasm import AosProcess, WasmRuntime

ROOT = Path(__file__).resolve().parents[1]
INTEROP = ROOT / "tests" / "interop"
RUNNER = INTEROP / "aoloader_run.mjs"
LOADER = INTEROP / "node_modules" / "@permaweb" / "ao-loader" / "package.json"
VECTORS = Path(os.environ.get("AO_VECTORS", ROOT.parent / "shared" / "vectors"))
IMAGE = VECTORS / "hyperbeam-test-data" / "aos-2-pure-xs.wasm"
PROCESS = {"id": "AOS", "owner": "FOOBAR", "original-tags": [("Name", "Thomas"), ("Authority", "FOOBAR")]}

MIX: list[tuple[str, str]] = [
    ("Eval", "X = (X or 0) + 1 return X"),
    ("Eval", "return string.rep('ab', 64) .. tostring(X)"),
    ("Eval", "local t = {} for i = 1, 200 do t[i] = i * i end return #t"),
    ("Eval", "Handlers.add('ping', 'Ping', function(msg) msg.reply({Data = 'pong ' .. msg.Data}) end)"),
    ("Ping", "hello"),
    ("Eval", "Send({Target = 'OTHER', Action = 'Note', Data = 'x'}) return 'sent'"),
    ("Eval", "error('boom')"),
    ("Eval", "return #Inbox"),
]


def sequence(n: int) -> list[tuple[str, str]]:
    simple = [("Eval", "return 1+1")] * n
    mix = [MIX[i % len(MIX)] for i in range(n)]
    return [("Eval", "return 1"), *simple, *mix]


def output_of(decoded: dict[str, Any]) -> str:
    """What both sides are compared on: ok flag, Output.data, Error, outbox sizes."""
    if decoded.get("ok") is not True:
        return "thrown"
    r = decoded["response"]
    out = r.get("Output", {})
    data = out.get("data") if isinstance(out, dict) else out
    return json.dumps([data, r.get("Error"), len(r.get("Messages", [])), len(r.get("Spawns", []))])


def ours(image: bytes, steps: list[tuple[str, str]], cache: Path, *, fuel: bool = True) -> dict[str, Any]:
    ident = b64u_encode(hashlib.sha256(image).digest())
    t0 = time.perf_counter()
    module = WasmRuntime(cache, fuel=fuel).load(image, image_id=ident)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    proc = AosProcess(module.instantiate(), PROCESS, ident)
    load_s = time.perf_counter() - t0
    fields = [
        {"id": f"msg-{i}", "owner": "FOOBAR", "target": "AOS", "action": action, "data": data}
        for i, (action, data) in enumerate(steps)
    ]
    times, outputs = [], []
    for i, f in enumerate(fields):
        start = time.perf_counter()
        decoded = proc.handle_raw(proc.message_json(f, block_height=i))
        times.append(time.perf_counter() - start)
        outputs.append(output_of(decoded))
    jobs = [proc.message_json(f, block_height=i).decode() for i, f in enumerate(fields)]
    return {
        "compile_s": compile_s,
        "load_s": load_s,
        "times": times,
        "outputs": outputs,
        "messages": jobs,
        "env": proc.env_json.decode(),
    }


def aoloader(node: str, job: dict[str, Any], tmp: Path) -> dict[str, Any]:
    (tmp / "job.json").write_text(json.dumps({**job, "out": str(tmp / "report.json")}), encoding="utf-8")
    done = subprocess.run(
        [node, "--experimental-wasm-memory64", str(RUNNER), str(IMAGE), str(tmp / "job.json")],
        capture_output=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"aoloader_run.mjs failed: {done.stderr.decode(errors='replace')[-2000:]}")
    report: dict[str, Any] = json.loads((tmp / "report.json").read_bytes())
    outputs = []
    for r in report["results"]:
        if not r["ok"]:
            outputs.append("thrown")
        else:
            outputs.append(output_of({"ok": True, "response": r["result"]}))
    report["outputs"] = outputs
    return report


def line(label: str, ours_s: list[float], theirs_ms: list[float]) -> None:
    mine = len(ours_s) / sum(ours_s)
    theirs = len(theirs_ms) / (sum(theirs_ms) / 1000)
    med_o = statistics.median(ours_s) * 1e3
    med_t = statistics.median(theirs_ms)
    print(f"{label:<22}{mine:10.0f}{theirs:12.0f}{mine / theirs:9.2f}x   {med_o:6.3f} / {med_t:6.3f}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    if not IMAGE.exists():
        print(f"skipped: {IMAGE} not found (set AO_VECTORS to the vectors directory)")
        return
    image = IMAGE.read_bytes()
    steps = sequence(n)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        mine = ours(image, steps, tmp / "cache")
        nofuel = ours(image, steps, tmp / "cache-nofuel", fuel=False)
        node = shutil.which("node")
        if node is None or not LOADER.exists():
            print(
                "ao-loader part skipped: need `node` on PATH and `npm ci` in tests/interop "
                "(@permaweb/ao-loader); our figures alone:"
            )
            simple = mine["times"][1 : n + 1]
            print(f"AosProcess 'return 1+1' {len(simple) / sum(simple):.0f} msgs/s")
            return
        job = {"env": mine["env"], "messages": mine["messages"]}
        theirs = aoloader(node, job, tmp)
        nocopy = aoloader(node, {**job, "loader_options": {"UNSAFE_MEMORY": True}}, tmp)
    timing = theirs["timing"]
    differ = [i for i, (a, b) in enumerate(zip(mine["outputs"], theirs["outputs"], strict=True)) if a != b]
    differ = sorted(
        set(differ)
        | {i for i, (a, b) in enumerate(zip(mine["outputs"], nocopy["outputs"], strict=True)) if a != b}
    )
    print(
        f"module aos-2-pure-xs.wasm, ao-loader {theirs['loader']} (bridged: "
        f"{', '.join(theirs['bridge']['imports'] + ['stack exports', 'growth notice'])}), "
        f"inputs reproduced by JSON.stringify: {theirs['inputs_reproduced']}"
    )
    print(
        f"outputs compared on {len(steps)} messages (both ao-loader runs): {len(steps) - len(differ)} equal"
        + (f", differ at {differ[:10]}" if differ else "")
    )
    print(
        f"compile  ours (translate+compile, cold) {mine['compile_s'] * 1e3:8.1f} ms   "
        f"V8 WebAssembly.compile {timing['compile_ms']:8.1f} ms"
    )
    print(
        f"load     ours (instantiate)             {mine['load_s'] * 1e3:8.1f} ms   "
        f"ao-loader to ready handle {timing['load_ms']:6.1f} ms"
    )
    after = nofuel["times"][1:]
    print(
        f"ours without fuel metering (not the node's setting): {len(after) / sum(after):.0f} msgs/s after boot, "
        f"median {statistics.median(after) * 1e3:.3f} ms (with fuel: "
        f"{len(mine['times'][1:]) / sum(mine['times'][1:]):.0f} msgs/s)"
    )
    print(f"boot msg ours {mine['times'][0] * 1e3:8.2f} ms   ao-loader {timing['handle_ms'][0]:8.2f} ms")
    for label, report in (("default options (copies Memory)", theirs), ("UNSAFE_MEMORY: true", nocopy)):
        print(f"-- ao-loader {label}")
        print(f"{'Eval msgs/s':<22}{'ours':>10}{'ao-loader':>12}{'ratio':>10}   (median ms ours / ao-loader)")
        hm = report["timing"]["handle_ms"]
        line(f"{n} x return 1+1", mine["times"][1 : n + 1], hm[1 : n + 1])
        line(f"{n} x mix", mine["times"][n + 1 :], hm[n + 1 :])
        line("all after boot", mine["times"][1:], hm[1:])
    print("mix, per message kind: median ms ours / ao-loader UNSAFE_MEMORY")
    hm = nocopy["timing"]["handle_ms"]
    for k, (action, data) in enumerate(MIX):
        idx = range(n + 1 + k, len(steps), len(MIX))
        med_o = statistics.median(mine["times"][i] for i in idx) * 1e3
        med_t = statistics.median(hm[i] for i in idx)
        print(f"  {med_o:6.3f} / {med_t:6.3f}  ({med_o / med_t:4.1f}x)  {action}: {data[:60]}")


if __name__ == "__main__":
    main()
