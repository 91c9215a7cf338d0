"""WASM execution on wasmtime: legacy-EH translation, runtime, aos driving.

Theory of operation:

1. ``WasmRuntime(cache_dir)`` owns the wasmtime engine (memory64 + exceptions + fuel).
   ``runtime.load(image, image_id=...)`` *prepares* the image — legacy exception handling is
   rewritten to exnref form (``translate_legacy_eh``) and mutable globals are exported so they can be
   snapshotted — then compiles it; both steps are cached on disk.
2. ``module.instantiate(limits=..., resolver=...)`` gives a ``WasmInstance`` with its own store.
   Imports resolve through the caller's resolver, then built-in WASI stubs, then a zero stub.
   ``instance.call(name, *params)`` runs one export under a fuel budget and the memory cap.
3. Any trap discards the instance (``WasmInstanceDead`` afterwards). ``snapshot()`` copies memory
   and globals; ``restore()`` grows a fresh instance's memory and copies them back.
4. ``AosProcess`` drives aos-2 images through ``handle`` with HyperBEAM's JSON-Iface conventions.
5. Everything is synchronous; async callers use ``WasmThreads`` / ``run_wasm`` (``_thread``),
   the only module here that imports trio.

Errors::

    WasmError
    ├── WasmDecodeError, WasmTranslateError, WasmCompileError, WasmLinkError
    ├── WasmTrap
    │   └── WasmLimitExceeded
    ├── WasmMemoryError, WasmInstanceDead
    └── AosError
"""

from __future__ import annotations

from ._aos import AosError as AosError
from ._aos import AosProcess as AosProcess
from ._aos import compact_json as compact_json
from ._aos import json_iface_results as json_iface_results
from ._aos import json_struct as json_struct
from ._eh_translate import translate_legacy_eh as translate_legacy_eh
from ._errors import WasmCompileError as WasmCompileError
from ._errors import WasmDecodeError as WasmDecodeError
from ._errors import WasmError as WasmError
from ._errors import WasmInstanceDead as WasmInstanceDead
from ._errors import WasmLimitExceeded as WasmLimitExceeded
from ._errors import WasmLinkError as WasmLinkError
from ._errors import WasmMemoryError as WasmMemoryError
from ._errors import WasmTranslateError as WasmTranslateError
from ._errors import WasmTrap as WasmTrap
from ._globals import expose_mutable_globals as expose_mutable_globals
from ._host import HostCall as HostCall
from ._host import HostFunction as HostFunction
from ._host import Resolver as Resolver
from ._instance import WasmInstance as WasmInstance
from ._runtime import PREPARE_VERSION as PREPARE_VERSION
from ._runtime import WASMTIME_VERSION as WASMTIME_VERSION
from ._runtime import ImportSpec as ImportSpec
from ._runtime import RuntimeStatistics as RuntimeStatistics
from ._runtime import WasmLimits as WasmLimits
from ._runtime import WasmModule as WasmModule
from ._runtime import WasmRuntime as WasmRuntime
from ._snapshot import WasmSnapshot as WasmSnapshot

__all__ = [
    "PREPARE_VERSION",
    "WASMTIME_VERSION",
    "AosError",
    "AosProcess",
    "HostCall",
    "HostFunction",
    "ImportSpec",
    "Resolver",
    "RuntimeStatistics",
    "WasmCompileError",
    "WasmDecodeError",
    "WasmError",
    "WasmInstance",
    "WasmInstanceDead",
    "WasmLimitExceeded",
    "WasmLimits",
    "WasmLinkError",
    "WasmMemoryError",
    "WasmModule",
    "WasmRuntime",
    "WasmSnapshot",
    "WasmTranslateError",
    "WasmTrap",
    "compact_json",
    "expose_mutable_globals",
    "json_iface_results",
    "json_struct",
    "translate_legacy_eh",
]
