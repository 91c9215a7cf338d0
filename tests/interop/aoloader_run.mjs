// Runs an aos image through @permaweb/ao-loader (pinned in package.json) the way the reference CU
// does (servers/cu/src/effects/wasm.js: AoLoader((info, receiveInstance) =>
// WebAssembly.instantiate(wasmModule, info).then(receiveInstance), moduleOptions)).
// Driven by tests/interop/test_aoloader_equivalence.py.
//
// Usage: node --experimental-wasm-memory64 aoloader_run.mjs <wasm file> <job json file>
//   job = {env: "<json>", messages: ["<json>", ...], envs?: ["<json>" | null, ...],
//          memory_out: "<path>" | null, out: "<path>" | null, loader_options?: {...}}
//   envs[i], when given and not null, replaces env. The report goes to `out` when given (the glue
//   writes guest stdout, e.g. aos-2-pure's debug print, to this process's stdout), else stdout.
//   loader_options (bench only, e.g. {UNSAFE_MEMORY: true}) are added to the bridged load's options.
//
// Two attempts are made:
//   strict  - exactly the CU's call; on aos-2-pure(-xs) it fails at link time because ao-loader's
//             JS glue (generated for the aos64 build) provides neither wasi proc_exit nor
//             clock_time_get. The error text is reported.
//   bridged - the same call, with an adapter inside the CU's own instantiateWasm hook that fills
//             only what the glue expects and this module lacks (BRIDGE_IMPORTS, BRIDGE_EXPORTS,
//             and a memory-growth notice, see growthNotice).
//             Everything else - the glue's import implementations, JSON.stringify of msg/env,
//             cwrap's stack-allocated arguments, JSON.parse of the result, the returned Memory -
//             is ao-loader's own.
// Prints {loader, format, strict_error, bridge, inputs_reproduced, results, memory_sha256,
//         memory_bytes, timing}; results[i] = {ok: true, result: {Output, Messages, Spawns, Assignments,
//         Error}} or {ok: false, thrown: <what ao-loader threw>}.
// timing (for bench/wasm_vs_aoloader.py; performance.now(), ms): compile_ms (WebAssembly.compile),
//   load_ms (the bridged AoLoader call up to a ready handle), handle_ms[i] (the `await handle(...)`
//   of message i alone: ao-loader's JSON.stringify, the call, JSON.parse, the returned Memory).
import fs from 'node:fs';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import AoLoader from '@permaweb/ao-loader';

const require = createRequire(import.meta.url);
const LOADER_VERSION = require('@permaweb/ao-loader/package.json').version;
const FORMAT = 'wasm64-unknown-emscripten-draft_2024_02_15';
const OPTIONS = () => ({
  format: FORMAT,
  inputEncoding: 'JSON-1',
  outputEncoding: 'JSON-1',
  memoryLimit: String(16 * 1024 * 1024 * 1024),
  computeLimit: (9e12).toString(),
  extensions: [],
});

// Imports aos-2-pure-xs needs that ao-loader's wasm64 glue does not provide. Semantics are
// HyperBEAM's (and devices/wasm/_host.py's): proc_exit traps, clock_time_get answers errno 1.
const BRIDGE_IMPORTS = {
  proc_exit: (code) => { throw new Error(`proc_exit(${code})`); },
  clock_time_get: () => 1,
};
// Exports the glue calls during start-up that a STANDALONE (pure WASI) build does not have.
// No constructors are run (aos-2-pure's _start is not called, as in HyperBEAM); stack end 0 makes
// the glue's stack cookie land in bytes [0, 12) of memory.
const BRIDGE_EXPORTS = {
  __wasm_call_ctors: () => {},
  emscripten_stack_init: () => {},
  emscripten_stack_get_end: () => 0n,
  emscripten_stack_get_base: () => 0n,
  emscripten_stack_get_free: () => 0n,
};

const [wasmPath, jobPath] = process.argv.slice(2);
const job = JSON.parse(fs.readFileSync(jobPath, 'utf8'));
const wasmBytes = fs.readFileSync(wasmPath);
const compileStart = performance.now();
const wasmModule = await WebAssembly.compile(wasmBytes);
const compileMs = performance.now() - compileStart;

// Growth notice. The glue caches typed-array views of memory and refreshes them only when growth
// goes through its own emscripten_resize_heap import; this module grows memory with memory.grow,
// which detaches those views (the result then reads as "", later calls abort). Emscripten's answer
// for code that grows memory itself is emscripten_notify_memory_growth -> updateMemoryViews; the
// bridge does the same through the glue's own emscripten_resize_heap (whose growMemory(current
// size) grows by 0 pages and refreshes the views) before every import and after every export
// call, whenever the glue's HEAPU8 no longer views the live buffer. Memory contents are untouched.
function growthNotice(glue, info) {
  const state = { memory: null };
  const resizeHeap = info.env.emscripten_resize_heap;
  const refresh = () => {
    if (state.memory && glue.HEAPU8.buffer !== state.memory.buffer) {
      resizeHeap(BigInt(state.memory.buffer.byteLength));
    }
  };
  const wrap = (fns) => Object.fromEntries(Object.entries(fns).map(([name, fn]) => [
    name, typeof fn === 'function' ? (...args) => { refresh(); return fn(...args); } : fn,
  ]));
  return { state, refresh, wrap };
}

function loadBridged() {
  // The glue calls the hook as a method of its Module object (Module.instantiateWasm(...)).
  return AoLoader(function instantiateWasm(info, receiveInstance) {
    const growth = growthNotice(this, info);
    const wasi = { ...info.wasi_snapshot_preview1, ...BRIDGE_IMPORTS };
    const imports = { ...info, env: growth.wrap(info.env), wasi_snapshot_preview1: growth.wrap(wasi) };
    return WebAssembly.instantiate(wasmModule, imports).then((instance) => {
      growth.state.memory = instance.exports.memory;
      const exports = { ...BRIDGE_EXPORTS, ...instance.exports };
      for (const [name, fn] of Object.entries(instance.exports)) {
        if (typeof fn === 'function') {
          exports[name] = (...args) => { try { return fn(...args); } finally { growth.refresh(); } };
        }
      }
      return receiveInstance({ exports });
    });
  }, { ...OPTIONS(), ...(job.loader_options || {}) });
}

// The CU's exact call. The glue ignores the hook's promise, so a link failure would otherwise be
// an unhandled rejection and AoLoader's promise would never settle: catch it to report it.
const strictError = await new Promise((resolve) => {
  const text = (e) => String(e && e.message ? e.message : e);
  AoLoader(
    (info, receiveInstance) => WebAssembly.instantiate(wasmModule, info)
      .then(receiveInstance)
      .catch((e) => resolve(text(e))),
    OPTIONS(),
  ).then(() => resolve(null), (e) => resolve(text(e)));
});

const originalLog = console.log;
const loadStart = performance.now();
const handle = await loadBridged();
const loadMs = performance.now() - loadStart;
const handleMs = [];
// ao-loader stringifies the objects itself: feed it objects whose JSON.stringify reproduces the
// exact bytes our side writes, and record that it does.
let inputsReproduced = true;
const parse = (text) => {
  const value = JSON.parse(text);
  inputsReproduced = inputsReproduced && JSON.stringify(value) === text;
  return value;
};
const results = [];
let memory = null;
for (const [i, text] of job.messages.entries()) {
  const msg = parse(text);
  const env = parse((job.envs && job.envs[i]) || job.env);
  const start = performance.now();
  try {
    const r = await handle(null, msg, env);
    handleMs.push(performance.now() - start);
    memory = r.Memory instanceof ArrayBuffer ? new Uint8Array(r.Memory) : r.Memory; // UNSAFE_MEMORY
    const result = {};
    for (const k of ['Output', 'Messages', 'Spawns', 'Assignments', 'Error']) {
      if (r[k] !== undefined) result[k] = r[k];
    }
    results.push({ ok: true, result });
  } catch (e) {
    if (handleMs.length === i) handleMs.push(performance.now() - start);
    results.push({ ok: false, thrown: e instanceof Error ? `${e.name}: ${e.message}` : e });
  } finally {
    console.log = originalLog; // ao-loader leaves console.log silenced when handle throws
  }
}
if (memory && job.memory_out) fs.writeFileSync(job.memory_out, memory);
const report = JSON.stringify({
  loader: LOADER_VERSION,
  format: FORMAT,
  strict_error: strictError,
  bridge: {
    imports: Object.keys(BRIDGE_IMPORTS),
    exports: Object.keys(BRIDGE_EXPORTS),
    growth_notice: 'emscripten_resize_heap(current size) when HEAPU8 is stale',
  },
  inputs_reproduced: inputsReproduced,
  results,
  memory_sha256: memory ? crypto.createHash('sha256').update(memory).digest('hex') : null,
  memory_bytes: memory ? memory.length : 0,
  timing: { compile_ms: compileMs, load_ms: loadMs, handle_ms: handleMs },
});
if (job.out) fs.writeFileSync(job.out, report);
else process.stdout.write(report);
// The failed strict instance leaves the glue's run-dependency watchdog timer behind.
process.exit(0);
