"""A real node with the process stack and the WASM devices, served by hypercorn on 127.0.0.1:0
behind the gateway routes (so ``POST /tx`` uploads module items): scheduler, process cache and
``WasmService`` as services, as the node's boot would wire them."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import lmdb
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from devices import json_iface, process, push, scheduler_device, stack, wasm_device
from devices.gateway import GatewayApp, ItemIndex
from devices.scheduler import AssignmentLog, MessageOps, Scheduler, StateCache
from node._config import load_config
from node._http import HttpApp
from node._node import Node

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from devices.core import RsaWallet
    from devices.wasm_service import WasmService

DEVICES = [
    process.DEVICE,
    push.DEVICE,
    scheduler_device.DEVICE,
    stack.DEVICE,
    wasm_device.DEVICE,
    *json_iface.DEVICES,
]


@dataclass
class AosNode:
    node: Node
    url: str
    scheduler: Scheduler
    cache: StateCache
    wasm: WasmService

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@asynccontextmanager
async def aos_node(
    tmp_path: Path, wallet: RsaWallet, wasm: WasmService, *, snapshot_every: int = 16
) -> AsyncIterator[AosNode]:
    data = tmp_path / "node"
    data.mkdir(exist_ok=True)
    wallet.save(data / "wallet.json")
    env = lmdb.open(str(tmp_path / "sched"), max_dbs=16, map_size=1 << 30, sync=False, metasync=False)
    sched = Scheduler(AssignmentLog(env), MessageOps.for_wallet(wallet), address=wallet.address)
    cache = StateCache(env, snapshot_every=snapshot_every)
    services = {"scheduler": sched, "process-cache": cache, "wasm": wasm}
    config = load_config(None, {"data_dir": str(data), "limits.max_body_bytes": 64 << 20})
    node = Node.open(config, extra_devices=DEVICES, services=services)
    app = GatewayApp(
        ItemIndex(env),
        read_raw=node.store.read_raw,
        store_raw=lambda item_id, raw: node.store.write_upload(raw, None, [item_id]),
        fallback=HttpApp(node),
    )
    hc = Config()
    hc.bind = ["127.0.0.1:0"]
    hc.accesslog = None
    hc.errorlog = None
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(sched.run)
            binds = await nursery.start(serve, cast("Any", app), hc)
            yield AosNode(node, binds[0], sched, cache, wasm)
            nursery.cancel_scope.cancel()
    finally:
        node.close()
        env.close()
