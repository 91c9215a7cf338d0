"""The wasmtime wrapper: engine + module caches (``WasmRuntime``), compiled modules (``WasmModule``).

Loading an image (``WasmRuntime.load``):

1. *prepare*: rewrite legacy exception handling to exnref form, export the mutable globals (and
   an unexported memory), flag failed ``memory.grow`` (``_eh_translate``, ``_globals``,
   ``_growguard``); cached in memory and on disk by the original image id
   (default: sha256 of the image) and ``PREPARE_VERSION``;
2. *compile*: ``Module.deserialize`` from ``<cache>/compiled/<sha256 of prepared bytes>-<engine
   fingerprint>.cwasm`` when present, else compile and ``serialize`` it there (atomic rename);
3. ``WasmModule.instantiate`` makes a ``WasmInstance`` (``_instance``) with its own store.

The cache directory must be trusted: wasmtime executes deserialised artefacts as native code.
Everything here is synchronous and thread-safe; a single instance is not (one caller at a time).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import wasmtime

from ._eh_translate import translate_legacy_eh
from ._errors import WasmCompileError, WasmLinkError
from ._globals import EXPORT_PREFIX, GLOBAL_EXPORT_PREFIX, expose_mutable_globals
from ._growguard import guard_memory_grow

if TYPE_CHECKING:
    from ._host import Resolver
    from ._instance import WasmInstance

WASMTIME_VERSION: Final = importlib.metadata.version("wasmtime")
PREPARE_VERSION: Final = "eh1-state2-grow1"
_FLAG_TRANSLATED: Final = 1


@dataclass(frozen=True)
class WasmLimits:
    """Per-instance resource limits.

    ``fuel``: instructions (roughly) one ``call`` may execute; None = unlimited (needs fuel off or
    a huge budget). ``memory_bytes``: cap on linear memory (``memory.grow`` fails beyond it).
    ``table_elements``: cap on table sizes.
    """

    fuel: int | None = 20_000_000_000
    memory_bytes: int = 2 << 30
    table_elements: int = 1 << 20


@dataclass(frozen=True)
class RuntimeStatistics:
    """Counters of a ``WasmRuntime`` (immutable snapshot)."""

    prepared: int
    prepare_cache_hits: int
    compiled: int
    compile_cache_hits: int


@dataclass(frozen=True)
class ImportSpec:
    """A function import: module, name, and parameter/result value types (``"i32"`` …)."""

    module: str
    name: str
    params: tuple[str, ...]
    results: tuple[str, ...]


def _kind(vt: object) -> str:
    return str(vt)


class WasmRuntime:
    """A wasmtime engine plus the prepare/compile caches. Create one per node."""

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        fuel: bool = True,
        max_wasm_stack: int = 1 << 20,
    ) -> None:
        config = wasmtime.Config()
        config.wasm_memory64 = True
        config.wasm_exceptions = True
        config.consume_fuel = fuel
        config.max_wasm_stack = max_wasm_stack
        self.engine = wasmtime.Engine(config)
        self.fuel = fuel
        self.fingerprint = f"wasmtime{WASMTIME_VERSION}-m64-exn-fuel{int(fuel)}-stack{max_wasm_stack}"
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._lock = threading.Lock()
        self._modules: dict[str, WasmModule] = {}
        self._stats = {"prepared": 0, "prepare_cache_hits": 0, "compiled": 0, "compile_cache_hits": 0}

    def statistics(self) -> RuntimeStatistics:
        """Counters since creation."""
        with self._lock:
            return RuntimeStatistics(**self._stats)

    def _bump(self, key: str) -> None:
        with self._lock:
            self._stats[key] += 1

    def _cache_file(self, sub: str, name: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / sub / name

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def prepare(self, image: bytes, *, image_id: str | None = None) -> tuple[bytes, bool]:
        """Translate legacy EH and export mutable globals; returns (prepared bytes, EH translated?).

        Raises:
            WasmDecodeError / WasmTranslateError: the image cannot be read or rewritten.
        """
        key = hashlib.sha256(f"{image_id or hashlib.sha256(image).hexdigest()}|{PREPARE_VERSION}".encode())
        path = self._cache_file("prepared", key.hexdigest() + ".bin")
        if path is not None and path.exists():
            blob = path.read_bytes()
            if blob:
                self._bump("prepare_cache_hits")
                return blob[1:], bool(blob[0] & _FLAG_TRANSLATED)
        translated = translate_legacy_eh(image)
        prepared = guard_memory_grow(expose_mutable_globals(translated)[0])
        was_translated = translated is not image
        self._bump("prepared")
        if path is not None:
            self._write_atomic(path, bytes([_FLAG_TRANSLATED if was_translated else 0]) + prepared)
        return prepared, was_translated

    def _compile(self, prepared: bytes) -> tuple[wasmtime.Module, str]:
        digest = hashlib.sha256(prepared).hexdigest()
        path = self._cache_file("compiled", f"{digest}-{self.fingerprint}.cwasm")
        if path is not None and path.exists():
            try:
                module = wasmtime.Module.deserialize(self.engine, path.read_bytes())
            except wasmtime.WasmtimeError:
                pass  # stale or corrupt artefact: recompile and overwrite below
            else:
                self._bump("compile_cache_hits")
                return module, digest
        try:
            module = wasmtime.Module(self.engine, prepared)
        except wasmtime.WasmtimeError as exc:
            raise WasmCompileError(f"wasmtime rejected the module: {exc}") from exc
        self._bump("compiled")
        if path is not None:
            self._write_atomic(path, bytes(module.serialize()))
        return module, digest

    def load(self, image: bytes, *, image_id: str | None = None) -> WasmModule:
        """Prepare and compile ``image`` (memoised per image id for this runtime's lifetime).

        ``image_id`` names the *original* image (e.g. its AO message id); it must identify the
        bytes, since cached artefacts are looked up by it. Default: sha256 hex of ``image``.

        Raises:
            WasmDecodeError, WasmTranslateError, WasmCompileError.
        """
        ident = image_id or hashlib.sha256(image).hexdigest()
        with self._lock:
            found = self._modules.get(ident)
        if found is not None:
            return found
        prepared, translated = self.prepare(image, image_id=ident)
        module, digest = self._compile(prepared)
        loaded = WasmModule(self, module, ident, digest, translated)
        with self._lock:
            return self._modules.setdefault(ident, loaded)


class WasmModule:
    """A compiled, prepared image. Instantiate it as often as needed (thread-safe)."""

    def __init__(
        self, runtime: WasmRuntime, module: wasmtime.Module, image_id: str, sha256: str, translated: bool
    ) -> None:
        self.runtime = runtime
        self.module = module
        self.image_id = image_id
        self.sha256 = sha256
        self.legacy_eh_translated = translated
        imports: list[ImportSpec] = []
        for imp in module.imports:
            ty = imp.type
            if not isinstance(ty, wasmtime.FuncType):
                raise WasmLinkError(f"non-function import {imp.module}.{imp.name} is not supported")
            imports.append(
                ImportSpec(
                    imp.module, imp.name or "", tuple(map(_kind, ty.params)), tuple(map(_kind, ty.results))
                )
            )
        self.imports: tuple[ImportSpec, ...] = tuple(imports)
        self.exports: tuple[str, ...] = tuple(
            e.name for e in module.exports if not e.name.startswith(EXPORT_PREFIX)
        )
        self.exposed_globals: tuple[tuple[int, str], ...] = tuple(
            (int(e.name[len(GLOBAL_EXPORT_PREFIX) :]), _kind(e.type.content))
            for e in module.exports
            if e.name.startswith(GLOBAL_EXPORT_PREFIX) and isinstance(e.type, wasmtime.GlobalType)
        )

    def instantiate(
        self, *, limits: WasmLimits | None = None, resolver: Resolver | None = None
    ) -> WasmInstance:
        """A fresh instance in its own store. No start/_start/main export is called.

        Raises:
            WasmLinkError: instantiation failed (e.g. a data segment does not fit).
            WasmLimitExceeded: the initial memory exceeds ``limits.memory_bytes``.
            WasmTrap: the module's start section trapped.
        """
        from ._instance import WasmInstance

        return WasmInstance(self, limits or WasmLimits(), resolver)
