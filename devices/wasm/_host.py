"""Host imports: the calling context handed to host functions, and the default import table.

Resolution order for an import ``(module, name)`` (see ``WasmModule.instantiate``):

1. the caller's resolver, if it returns a function;
2. the built-in table below (the WASI subset aos needs, emscripten ``invoke_*``);
3. a stub returning zeros (no results for a ``() -> ()`` import) that records the call in
   ``WasmInstance.undefined_calls`` — HyperBEAM's "return [0]" default.

Built-ins follow HyperBEAM where it matters for determinism (``clock_time_get`` answers errno 1
and writes nothing) and ordinary WASI semantics otherwise (``fd_write`` captures fd 1/2, wasm64 or
wasm32 iovec layout chosen from the import's signature; ``proc_exit`` traps).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import wasmtime

from ._errors import WasmMemoryError, WasmTrap

if TYPE_CHECKING:
    from ._instance import WasmInstance

Number = int | float
HostResult = Number | Sequence[Number] | None
HostFunction = Callable[..., HostResult]
"""A host import: called as ``fn(call: HostCall, *args)``; returns None, a number or a sequence."""
Resolver = Callable[[str, str], HostFunction | None]

WASI: Final = "wasi_snapshot_preview1"
ERRNO_BADF: Final = 8
ERRNO_INVAL: Final = 28


class HostCall:
    """What a host function sees: the calling instance and bounds-checked access to its memory."""

    __slots__ = ("_caller", "instance", "params", "results")

    def __init__(
        self,
        instance: WasmInstance,
        caller: wasmtime.Caller,
        params: tuple[str, ...],
        results: tuple[str, ...],
    ) -> None:
        self.instance = instance
        self._caller = caller
        self.params = params
        self.results = results

    @property
    def store(self) -> wasmtime.Caller:
        """The store context to use for calls back into the guest during this host call."""
        return self._caller

    def _memory(self) -> wasmtime.Memory:
        mem = self.instance.memory_extern
        if mem is None:
            found = self._caller.get("memory")
            if not isinstance(found, wasmtime.Memory):
                raise WasmMemoryError("the module exports no memory")
            return found
        return mem

    def read(self, ptr: int, length: int) -> bytes:
        """Read ``length`` bytes at ``ptr``; out of bounds raises WasmMemoryError."""
        mem = self._memory()
        if ptr < 0 or length < 0 or ptr + length > mem.data_len(self._caller):
            raise WasmMemoryError(f"read of {length} bytes at {ptr} is out of bounds")
        return bytes(mem.read(self._caller, ptr, ptr + length))

    def write(self, ptr: int, data: bytes) -> None:
        """Write ``data`` at ``ptr``; out of bounds raises WasmMemoryError."""
        mem = self._memory()
        if ptr < 0 or ptr + len(data) > mem.data_len(self._caller):
            raise WasmMemoryError(f"write of {len(data)} bytes at {ptr} is out of bounds")
        mem.write(self._caller, data, ptr)


def _wide(call: HostCall) -> bool:
    """Whether the import uses the wasm64 WASI layout (pointer parameters are i64)."""
    return len(call.params) > 1 and call.params[1] == "i64"


def wasi_fd_write(call: HostCall, fd: int, iovs: int, count: int, nwritten: int) -> int:
    """WASI ``fd_write``: gather iovecs, append fd 1/2 output to the instance's capture buffers."""
    wide = _wide(call)
    size, fmt = (16, "<QQ") if wide else (8, "<II")
    if count < 0 or count > 1 << 16:
        return ERRNO_INVAL
    raw = call.read(iovs & 0xFFFFFFFFFFFFFFFF, size * count)
    chunks = []
    for k in range(count):
        ptr, length = struct.unpack_from(fmt, raw, size * k)
        chunks.append(call.read(ptr, length))
    data = b"".join(chunks)
    if fd == 1:
        call.instance.stdout += data
    elif fd == 2:
        call.instance.stderr += data
    else:
        return ERRNO_BADF
    call.write(nwritten, struct.pack("<Q" if wide else "<I", len(data)))
    return 0


def wasi_fd_read(call: HostCall, fd: int, iovs: int, count: int, nread: int) -> int:
    """WASI ``fd_read``: stdin is empty; report 0 bytes read."""
    if fd != 0:
        return ERRNO_BADF
    call.write(nread, bytes(8 if _wide(call) else 4))
    return 0


def wasi_environ_sizes_get(call: HostCall, count_ptr: int, size_ptr: int) -> int:
    """WASI ``environ_sizes_get``: an empty environment."""
    width = 8 if call.params[0] == "i64" else 4
    call.write(count_ptr, bytes(width))
    call.write(size_ptr, bytes(width))
    return 0


def wasi_clock_time_get(call: HostCall, clock_id: int, precision: int, out: int) -> int:
    """WASI ``clock_time_get`` as HyperBEAM answers it: errno 1, nothing written (deterministic)."""
    return 1


def wasi_proc_exit(call: HostCall, code: int) -> None:
    """WASI ``proc_exit``: end the call with a trap carrying the exit code."""
    raise WasmTrap(f"guest called proc_exit({code})")


class EmscriptenLongjmp(Exception):
    """Raised by ``_emscripten_throw_longjmp``; caught by the nearest ``invoke_*`` (JS-EH builds)."""


def emscripten_throw_longjmp(call: HostCall) -> None:
    """emscripten ``_emscripten_throw_longjmp``: unwind to the nearest ``invoke_*``."""
    raise EmscriptenLongjmp


def emscripten_invoke(call: HostCall, index: int, *args: Any) -> HostResult:
    """emscripten ``invoke_*``: call table entry ``index`` with ``args``, as emscripten's JS glue does.

    The stack pointer is saved first; a longjmp unwinding through the call restores it and calls
    the module's ``setThrew(1, 0)`` so the C code sees it; anything else propagates (traps).
    """
    inst = call.instance
    table = inst.table_extern
    if table is None:
        raise WasmTrap("invoke_* needs an exported __indirect_function_table")
    func = table.get(call.store, index)  # type: ignore[arg-type]  # a Caller is a store context
    if not isinstance(func, wasmtime.Func):
        raise WasmTrap(f"invoke_* of a null table entry {index}")
    save = inst.export_func("emscripten_stack_get_current") or inst.export_func("stackSave")
    restore = inst.export_func("_emscripten_stack_restore") or inst.export_func("stackRestore")
    sp = save(call.store) if save is not None else None
    try:
        result: HostResult = func(call.store, *args)
    except EmscriptenLongjmp:
        if restore is not None and sp is not None:
            restore(call.store, sp)
        set_threw = inst.export_func("setThrew")
        if set_threw is None:
            raise WasmTrap("longjmp caught by invoke_* but the module exports no setThrew") from None
        set_threw(call.store, 1, 0)
        return [0.0 if k in ("f32", "f64") else 0 for k in call.results] or None
    return result


BUILTINS: Final[dict[tuple[str, str], HostFunction]] = {
    (WASI, "fd_write"): wasi_fd_write,
    (WASI, "fd_read"): wasi_fd_read,
    (WASI, "environ_sizes_get"): wasi_environ_sizes_get,
    (WASI, "clock_time_get"): wasi_clock_time_get,
    (WASI, "proc_exit"): wasi_proc_exit,
}


def builtin(module: str, name: str) -> HostFunction | None:
    """The built-in host function for an import, if there is one."""
    if module == "env" and name.startswith("invoke_"):
        return emscripten_invoke
    if module == "env" and name == "_emscripten_throw_longjmp":
        return emscripten_throw_longjmp
    return BUILTINS.get((module, name))
