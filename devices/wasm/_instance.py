"""A live instance: calls with fuel, trap mapping, bounds-checked memory access, snapshot/restore.

An instance owns one wasmtime store. After any trap (including an exhausted fuel budget or the
memory cap) it is *discarded*: further use raises ``WasmInstanceDead``; start a new instance or
restore a snapshot into one.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

import wasmtime

from ._errors import (
    WasmDecodeError,
    WasmError,
    WasmInstanceDead,
    WasmLimitExceeded,
    WasmLinkError,
    WasmMemoryError,
    WasmTrap,
)
from ._globals import GLOBAL_EXPORT_PREFIX, MEMORY_EXPORT
from ._growguard import GROW_FAILED_EXPORT
from ._host import HostCall, HostFunction, HostResult, Resolver, builtin
from ._snapshot import WasmSnapshot

if TYPE_CHECKING:
    from ._runtime import ImportSpec, WasmLimits, WasmModule

Number = int | float
PAGE: Final = 65536
_UNLIMITED_FUEL: Final = (1 << 63) - 1
_I32: Final = 1 << 32
_I64: Final = 1 << 64


def _convert(kind: str, value: object) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WasmLinkError(f"parameter {value!r} is not a number")
    if kind == "i32":
        v = int(value) % _I32
        return v - _I32 if v >= 1 << 31 else v
    if kind == "i64":
        v = int(value) % _I64
        return v - _I64 if v >= 1 << 63 else v
    if kind in ("f32", "f64"):
        return float(value)
    raise WasmLinkError(f"cannot pass a {kind} parameter from the host")


class WasmInstance:
    """One instance of a ``WasmModule`` with its own store; use from one thread at a time."""

    def __init__(self, module: WasmModule, limits: WasmLimits, resolver: Resolver | None) -> None:
        self.module = module
        self.limits = limits
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.undefined_calls: list[tuple[str, str, tuple[Number, ...]]] = []
        self.last_fuel_used = 0
        self._dead: str | None = None
        self._funcs: dict[str, tuple[wasmtime.Func, tuple[str, ...]]] = {}
        runtime = module.runtime
        self._store = wasmtime.Store(runtime.engine)
        self._store.set_limits(memory_size=limits.memory_bytes, table_elements=limits.table_elements)
        self._fuel = runtime.fuel
        if self._fuel:
            self._store.set_fuel(limits.fuel if limits.fuel is not None else _UNLIMITED_FUEL)
        linker = wasmtime.Linker(runtime.engine)
        for spec in module.imports:
            fn = (resolver(spec.module, spec.name) if resolver is not None else None) or builtin(
                spec.module, spec.name
            )
            functype = wasmtime.FuncType(
                [getattr(wasmtime.ValType, k)() for k in spec.params],
                [getattr(wasmtime.ValType, k)() for k in spec.results],
            )
            linker.define_func(spec.module, spec.name, functype, self._host(spec, fn), access_caller=True)
        self.memory_extern: wasmtime.Memory | None = None
        self.table_extern: wasmtime.Table | None = None
        try:
            self._instance = linker.instantiate(self._store, module.module)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            raise self._map_failure(exc, instantiating=True) from exc
        exports = self._instance.exports(self._store)
        self._exports = dict(exports.items())
        memories = [ext for ext in exports.values() if isinstance(ext, wasmtime.Memory)]
        named = exports.get("memory") or exports.get(MEMORY_EXPORT)
        if isinstance(named, wasmtime.Memory):
            self.memory_extern = named
        elif memories:
            self.memory_extern = memories[0]
        for name, ext in exports.items():
            if isinstance(ext, wasmtime.Table) and name == "__indirect_function_table":
                self.table_extern = ext
        flag = exports.get(GROW_FAILED_EXPORT)
        self._grow_flag = flag if isinstance(flag, wasmtime.Global) else None
        self.grow_failures = 0
        self._globals = {
            int(name[len(GLOBAL_EXPORT_PREFIX) :]): ext
            for name, ext in exports.items()
            if name.startswith(GLOBAL_EXPORT_PREFIX) and isinstance(ext, wasmtime.Global)
        }

    def _host(self, spec: ImportSpec, fn: HostFunction | None) -> Callable[..., HostResult]:
        params, results = spec.params, spec.results
        nres = len(results)
        if fn is None:
            zeros = [0.0 if k in ("f32", "f64") else 0 for k in results]

            def stub(caller: wasmtime.Caller, *args: Number) -> HostResult:
                self.undefined_calls.append((spec.module, spec.name, args))
                return None if nres == 0 else zeros[0] if nres == 1 else zeros

            return stub

        def host(caller: wasmtime.Caller, *args: Number) -> HostResult:
            out = fn(HostCall(self, caller, params, results), *args)
            if nres == 0:
                return None
            if nres == 1 and isinstance(out, Sequence):
                return out[0]
            return out

        return host

    def close(self) -> None:
        """Discard the instance now and release its store (memory is freed eagerly)."""
        if self._dead is None:
            self._dead = "closed by the host"
        self._funcs.clear()
        self._exports.clear()
        self.memory_extern = self.table_extern = None
        self._store.close()

    # -- calls -------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """False once the instance trapped and was discarded."""
        return self._dead is None

    def _check(self) -> None:
        if self._dead is not None:
            raise WasmInstanceDead(f"instance was discarded after: {self._dead}")

    def _grow_failed(self) -> bool:
        """Whether a ``memory.grow`` failed since the last check (and reset the flag)."""
        flag = self._grow_flag
        if flag is None or not flag.value(self._store):
            return False
        flag.set_value(self._store, 0)
        self.grow_failures += 1
        return True

    def _map_failure(self, exc: Exception, *, instantiating: bool = False) -> WasmError:
        message = exc.message if isinstance(exc, wasmtime.Trap) else str(exc)
        code = exc.trap_code if isinstance(exc, wasmtime.Trap) else None
        err: WasmError
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            err = WasmLimitExceeded("fuel exhausted")
        elif code == wasmtime.TrapCode.STACK_OVERFLOW:
            err = WasmLimitExceeded("wasm stack exhausted")
        elif instantiating and "limit" in message and "memory" in message:
            err = WasmLimitExceeded(f"initial memory exceeds the cap: {message}")
        elif not instantiating and self._grow_failed():
            err = WasmLimitExceeded(f"memory.grow failed at the memory cap or maximum; then: {message}")
        elif instantiating and not isinstance(exc, wasmtime.Trap):
            err = WasmLinkError(f"instantiation failed: {message}")
        else:
            err = WasmTrap(message)
        self._dead = err.reason
        return err

    def export_func(self, name: str) -> wasmtime.Func | None:
        """The exported function ``name``, or None (for host functions calling back into the guest)."""
        ext = self._exports.get(name)
        return ext if isinstance(ext, wasmtime.Func) else None

    def _export(self, name: str) -> tuple[wasmtime.Func, tuple[str, ...]]:
        found = self._funcs.get(name)
        if found is None:
            ext = self._exports.get(name)
            if not isinstance(ext, wasmtime.Func):
                raise WasmLinkError(f"no exported function {name!r}")
            kinds = tuple(str(p) for p in ext.type(self._store).params)
            found = self._funcs[name] = (ext, kinds)
        return found

    def call(self, name: str, *params: Number) -> list[Number]:
        """Call export ``name``; parameters are converted to its declared types.

        Raises:
            WasmLinkError: no such export, wrong arity or a non-numeric parameter.
            WasmTrap / WasmLimitExceeded: the guest trapped or ran out of fuel/memory (the
                instance is discarded).
            WasmInstanceDead: the instance was discarded earlier.
        """
        self._check()
        func, kinds = self._export(name)
        if len(params) != len(kinds):
            raise WasmLinkError(f"{name} takes {len(kinds)} parameters, got {len(params)}")
        args = [_convert(k, p) for k, p in zip(kinds, params, strict=True)]
        store = self._store
        budget = 0
        if self._fuel:
            budget = self.limits.fuel if self.limits.fuel is not None else _UNLIMITED_FUEL
            store.set_fuel(budget)
        try:
            out = func(store, *args)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            raise self._map_failure(exc) from exc
        except WasmError as exc:
            self._dead = exc.reason
            raise
        except Exception as exc:  # a host function failed: the guest cannot continue
            self._dead = f"host function raised {exc!r}"
            raise WasmTrap(self._dead) from exc
        finally:
            if self._fuel and self._dead is None:
                self.last_fuel_used = budget - store.get_fuel()
        if self._grow_flag is not None:
            self._grow_failed()  # the guest coped with a failed grow; don't blame a later trap on it
        if out is None:
            return []
        return out if isinstance(out, list) else [out]

    # -- memory ------------------------------------------------------------------------------

    def _mem(self) -> tuple[wasmtime.Memory, int, int]:
        self._check()
        mem = self.memory_extern
        if mem is None:
            raise WasmMemoryError("the module exports no memory")
        addr = ctypes.cast(mem.data_ptr(self._store), ctypes.c_void_p).value or 0
        return mem, addr, mem.data_len(self._store)

    @property
    def memory_size(self) -> int:
        """Linear memory size in bytes."""
        return self._mem()[2]

    def read(self, ptr: int, length: int) -> bytes:
        """Copy ``length`` bytes at ``ptr``; out of bounds raises WasmMemoryError."""
        _, addr, size = self._mem()
        if ptr < 0 or length < 0 or ptr + length > size:
            raise WasmMemoryError(f"read of {length} bytes at {ptr} is outside memory of {size} bytes")
        return ctypes.string_at(addr + ptr, length)

    def write(self, ptr: int, data: bytes) -> None:
        """Write ``data`` at ``ptr``; out of bounds raises WasmMemoryError (memory never grows)."""
        _, addr, size = self._mem()
        if ptr < 0 or ptr + len(data) > size:
            raise WasmMemoryError(f"write of {len(data)} bytes at {ptr} is outside memory of {size} bytes")
        ctypes.memmove(addr + ptr, data, len(data))

    def read_string(self, ptr: int) -> bytes:
        """Read the NUL-terminated byte string at ``ptr`` (without the NUL), bounded by memory."""
        _, addr, size = self._mem()
        if ptr < 0 or ptr >= size:
            raise WasmMemoryError(f"string pointer {ptr} is outside memory of {size} bytes")
        chunk = 4096
        pos = ptr
        while pos < size:
            n = min(chunk, size - pos)
            end = ctypes.string_at(addr + pos, n).find(b"\x00")
            if end >= 0:
                return ctypes.string_at(addr + ptr, pos - ptr + end)
            pos += n
            chunk *= 2
        raise WasmMemoryError(f"string at {ptr} is not NUL-terminated within memory")

    def malloc(self, size: int) -> int:
        """Call the guest's exported ``malloc``; a null result raises WasmMemoryError."""
        (ptr,) = self.call("malloc", size)
        if not ptr:
            raise WasmMemoryError(f"malloc_failed: guest malloc({size}) returned 0")
        return int(ptr) % _I64

    def write_string(self, data: bytes) -> int:
        """Write ``data`` + NUL into ``malloc(len(data) + 1)`` of the guest; returns the pointer."""
        ptr = self.malloc(len(data) + 1)
        self.write(ptr, data + b"\x00")
        return ptr

    # -- snapshots ---------------------------------------------------------------------------

    def snapshot(self) -> WasmSnapshot:
        """Copy the whole linear memory and every mutable global."""
        _, addr, size = self._mem()
        values = tuple(
            (index, kind, self._globals[index].value(self._store))
            for index, kind in self.module.exposed_globals
            if index in self._globals
        )
        return WasmSnapshot(ctypes.string_at(addr, size), values)

    def restore(self, snap: WasmSnapshot) -> None:
        """Load ``snap`` into this instance: grow memory to its size, copy it in, set the globals.

        Raises:
            WasmMemoryError: the snapshot is smaller than the current memory or not page-sized.
            WasmLimitExceeded: growing to the snapshot's size would pass the memory cap.
            WasmDecodeError: the snapshot names globals this module does not have.
        """
        mem, _, size = self._mem()
        want = len(snap.memory)
        if want % PAGE or want < size:
            raise WasmMemoryError(f"snapshot of {want} bytes does not fit memory of {size} bytes")
        if want > size:
            if want > self.limits.memory_bytes:
                raise WasmLimitExceeded(f"snapshot of {want} bytes exceeds the memory cap")
            try:
                mem.grow(self._store, (want - size) // PAGE)
            except wasmtime.WasmtimeError as exc:
                raise WasmLimitExceeded(f"cannot grow memory to {want} bytes: {exc}") from exc
        _, addr, size = self._mem()
        ctypes.memmove(addr, snap.memory, want)
        for index, kind, value in snap.globals:
            glob = self._globals.get(index)
            if glob is None or dict(self.module.exposed_globals).get(index) != kind:
                raise WasmDecodeError(f"snapshot global {index} ({kind}) does not match the module")
            glob.set_value(self._store, value)
