// V8 reference harness for the WASM layer's interop tests (run by tests/interop/test_wasm_v8.py).
//
// Usage: node --experimental-wasm-memory64 v8_wasm_harness.cjs <mode> <wasm file> <job json file>
//   mode "calls": job = [[export, [args...]], ...]; fresh instance per call, no imports;
//                 prints [result | "trap", ...].
//   mode "aos":   job = {env: "<json>", messages: ["<json>", ...]}; one instance, the *original*
//                 (legacy-EH) image, imports stubbed exactly like devices/wasm/_host.py;
//                 prints {results: ["<raw result json>", ...], memory_sha256, memory_bytes}.
'use strict';
const fs = require('fs');
const crypto = require('crypto');

const [mode, wasmPath, jobPath] = process.argv.slice(2);
const module_ = new WebAssembly.Module(fs.readFileSync(wasmPath));
const job = JSON.parse(fs.readFileSync(jobPath, 'utf8'));

if (mode === 'calls') {
  const out = [];
  for (const [name, args] of job) {
    const instance = new WebAssembly.Instance(module_, {});
    try {
      out.push(instance.exports[name](...args));
    } catch (e) {
      out.push('trap');
    }
  }
  process.stdout.write(JSON.stringify(out));
} else if (mode === 'aos') {
  let memory = null;
  const view = () => new DataView(memory.buffer);
  const imports = {};
  for (const imp of WebAssembly.Module.imports(module_)) {
    imports[imp.module] = imports[imp.module] || {};
    let fn = () => 0;
    if (imp.module === 'wasi_snapshot_preview1') {
      if (imp.name === 'clock_time_get') fn = () => 1;
      else if (imp.name === 'proc_exit') fn = (code) => { throw new Error(`proc_exit(${code})`); };
      else if (imp.name === 'environ_sizes_get') fn = (a, b) => {
        view().setBigUint64(Number(a), 0n, true); view().setBigUint64(Number(b), 0n, true); return 0;
      };
      else if (imp.name === 'fd_read') fn = (fd, iovs, n, nread) => {
        if (fd !== 0) return 8; view().setBigUint64(Number(nread), 0n, true); return 0;
      };
      else if (imp.name === 'fd_write') fn = (fd, iovs, n, nwritten) => {
        let total = 0n;
        for (let k = 0n; k < n; k++) total += view().getBigUint64(Number(iovs + 16n * k + 8n), true);
        if (fd !== 1 && fd !== 2) return 8;
        view().setBigUint64(Number(nwritten), total, true); return 0;
      };
    }
    imports[imp.module][imp.name] = fn;
  }
  const instance = new WebAssembly.Instance(module_, imports);
  memory = instance.exports.memory;
  const { malloc, handle } = instance.exports;
  const enc = new TextEncoder();
  const writeString = (s) => {
    const bytes = enc.encode(s);
    const ptr = malloc(BigInt(bytes.length + 1));
    const mem = new Uint8Array(memory.buffer);
    mem.set(bytes, Number(ptr));
    mem[Number(ptr) + bytes.length] = 0;
    return ptr;
  };
  const readString = (ptr) => {
    const mem = new Uint8Array(memory.buffer);
    let end = Number(ptr);
    while (mem[end] !== 0) end++;
    return Buffer.from(mem.subarray(Number(ptr), end)).toString('utf8');
  };
  const results = [];
  for (const msg of job.messages) {
    const m = writeString(msg);
    const e = writeString(job.env);
    results.push(readString(handle(m, e)));
  }
  const mem = new Uint8Array(memory.buffer);
  process.stdout.write(JSON.stringify({
    results,
    memory_sha256: crypto.createHash('sha256').update(mem).digest('hex'),
    memory_bytes: mem.length,
  }));
} else {
  throw new Error(`unknown mode ${mode}`);
}
