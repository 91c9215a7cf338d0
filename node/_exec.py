"""Process execution for the node: the scheduler, the process-state cache and the WASM service
behind ``process@1.0``, ``push@1.0``, ``scheduler@1.0``, ``stack@1.0``, ``wasm-64@1.0`` and
``json-iface@1.0``/``genesis-wasm@1.0``.

``Execution.open(config, wallet)`` opens one LMDB environment under ``<data_dir>/processes`` (the
assignment log and the state cache) and a ``WasmService`` from the ``[wasm]`` section (compile
cache under ``<data_dir>/wasm-cache``, fuel and memory cap per process, worker threads).
``run`` is the scheduler's writer task (start it in the node's nursery); ``close`` after the
server stops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, final

import lmdb

from node._errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from trio_typing import TaskStatus

    from devices._base import Device
    from devices.core import RsaWallet
    from node._config import NodeConfig


def _devices() -> dict[str, Device]:
    from devices import json_iface, process, push, scheduler_device, stack, wasm_device

    found: list[Device] = [
        process.DEVICE,
        push.DEVICE,
        scheduler_device.DEVICE,
        stack.DEVICE,
        wasm_device.DEVICE,
        *json_iface.DEVICES,
    ]
    return {d.id: d for d in found}


EXEC_DEVICE_NAMES: Final = frozenset(
    {
        "process@1.0",
        "push@1.0",
        "scheduler@1.0",
        "stack@1.0",
        "wasm-64@1.0",
        "json-iface@1.0",
        "genesis-wasm@1.0",
    }
)


def exec_device(name: str) -> Callable[[], Device]:
    """A loader for one execution device (imports on first use: wasmtime is heavy)."""
    return lambda: _devices()[name]


@final
class Execution:
    """The services the execution devices need, opened for one node."""

    def __init__(self, env: lmdb.Environment, services: dict[str, Any]) -> None:
        self.env = env
        self.services = services

    @classmethod
    def open(cls, config: NodeConfig, wallet: RsaWallet) -> Execution:
        """Raises ConfigError when the processes directory cannot be opened."""
        from devices.scheduler import AssignmentLog, MessageOps, Scheduler, StateCache
        from devices.wasm_service import WasmService

        try:
            config.processes_dir.mkdir(parents=True, exist_ok=True)
            # Not synced per commit: the assignment log syncs its own batches (it checks the
            # flags); the state cache is a cache and a crash only costs recomputation.
            env = lmdb.open(
                str(config.processes_dir), max_dbs=16, map_size=config.store.map_size_bytes,
                sync=False, metasync=False,
            )
        except (OSError, lmdb.Error) as exc:
            raise ConfigError(f"cannot open {config.processes_dir}: {exc}") from exc
        w = config.wasm
        services: dict[str, Any] = {
            "scheduler": Scheduler(AssignmentLog(env), MessageOps.for_wallet(wallet), address=wallet.address),
            "process-cache": StateCache(env, snapshot_every=w.snapshot_every),
            "wasm": WasmService.create(
                config.wasm_cache_dir, fuel=w.fuel, memory_bytes=w.memory_bytes, threads=w.threads
            ),
        }
        return cls(env, services)

    async def run(self, *, task_status: TaskStatus[None]) -> None:
        """The scheduler's writer task, until cancelled."""
        await self.services["scheduler"].run(task_status=task_status)

    def close(self) -> None:
        self.env.close()
