"""Converged vs recomputed: the time for a peer to serve slot S from two trusted peers' attestations
against the time to compute slot S from scratch.

Three ``Peering`` peers over ``Libp2pNode`` (all to all, every attester trusted, k = 2), each serving
the ``results`` service to a ``process@1.0`` node (the scheduler harness node: registry, in-memory
store, scheduler, state cache). A and B hold the same schedule of S messages; A computes slot S cold
(fresh state cache without snapshots, fresh WASM service; the module compiled beforehand into the disk
cache) — that is the *recompute* time — and attests it; B does the same; C holds no schedule and serves
slot S from their attestations (lookup, fetch of the result over libp2p, id check): the *converged*
time. C's execution device is wrapped in a counter that must stay at 0, and the answer must carry
``attested-by``.

* ``aos_eval(slots, wallets, image)``: ``genesis-wasm@1.0`` running ``aos-2-pure-xs.wasm``; every
  message is an ``Eval`` with a Lua loop.
* ``test_exec(slots, wallets)``: ``stack@1.0`` over ``test-exec@1.0`` (cheap per slot).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from devices.core import Message, RsaWallet, b64u_encode

if TYPE_CHECKING:
    from devices._base import Context, Device, DeviceInfo

EVAL = "local s = 0; for i = 1, {n} do s = s + (i * {k}) % 7 end; Total = (Total or 0) + s; return Total"
EVAL_LOOP = 20_000
SERVE_TIMEOUT_S = 60.0


@dataclass
class Outcome:
    converged_s: float
    recompute_s: float
    again_s: float  # C serving the slot a second time: the result is in its store by then, no fetch
    device_runs: int  # calls into C's execution device (must be 0)
    attested_by: int
    detail: str = ""
    fetch_s: float = 0.0  # of converged_s: C's libp2p requests (the result fetched from A or B)
    state_bytes: int = 0  # the served state as fetched

    def ratio(self) -> float:
        return self.recompute_s / self.converged_s if self.converged_s > 0 else 0.0


class Counting:
    """A device wrapper that counts every call (any key)."""

    def __init__(self, inner: Device) -> None:
        self.inner = inner
        self.id = inner.id
        self.calls = 0

    def info(self) -> DeviceInfo:
        return self.inner.info()

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> Any:
        self.calls += 1
        return await self.inner.resolve(key, base, req, ctx)


async def _run(
    slots: int,
    wallets: list[RsaWallet],
    tmp: Path,
    definition: dict[str, Any],
    message: Any,
    node_for: Any,
) -> tuple[Outcome, list[Message]]:
    from bench.gossip_inproc import start_peers
    from devices.scheduler import StateCache
    from tests.scheduler._harness import new_scheduler
    from tests.scheduler._support import open_env, process_def

    proc = process_def("bench", **definition)
    envs = [open_env(tmp / f"db-{i}", sync=False) for i in range(3)]
    try:
        async with AsyncExitStack() as stack, trio.open_nursery() as nursery:
            peers = await start_peers(stack, nursery, tmp, wallets[:3], 2, chain=False)
            schedulers = [new_scheduler(env) for env in envs]
            for s in schedulers:
                await nursery.start(s.run)  # type: ignore[arg-type]  # trio-typing vs TaskStatus[None]
            nodes, counters = zip(
                *(
                    node_for(i, schedulers[i], StateCache(envs[i], snapshot_every=10**9), peers[i])
                    for i in range(3)
                ),
                strict=True,
            )
            pid = schedulers[0].ops.message_id(proc)
            for s in schedulers[:2]:  # A and B hold the same schedule; C holds none
                await s.schedule(pid, proc)
                for n in range(1, slots + 1):
                    await s.schedule(pid, message(n, pid))
            with trio.fail_after(SERVE_TIMEOUT_S * 5):
                t0 = time.perf_counter()
                state_a = await nodes[0].get(proc, path="compute", slot=slots)
                recompute_s = time.perf_counter() - t0
                state_b = await nodes[1].get(proc, path="compute", slot=slots)
            assert isinstance(state_a, Message) and state_a == state_b, "A and B disagree"
            with trio.fail_after(SERVE_TIMEOUT_S):
                await peers[2].wait_for(pid, slots, 2)
                request = peers[2].p2p.request
                fetch_s = 0.0

                async def timed_request(*args: Any, **kw: Any) -> bytes:
                    nonlocal fetch_s
                    t = time.perf_counter()
                    try:
                        return await request(*args, **kw)
                    finally:
                        fetch_s += time.perf_counter() - t

                peers[2].p2p.request = timed_request  # type: ignore[method-assign]
                t0 = time.perf_counter()
                served = await nodes[2].get(proc, path="compute", slot=slots)
                converged_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                again = await nodes[2].get(proc, path="compute", slot=slots)
                again_s = time.perf_counter() - t0
            assert again == served, "C served the slot differently the second time"
            assert isinstance(served, Message), "C served no state"
            attested = served.get("attested-by")
            assert isinstance(attested, tuple) and len(attested) == 2, f"attested-by is {attested!r}"
            assert served.without("attested-by") == state_a, "C served another state"
            assert counters[2].calls == 0, f"C's execution device ran {counters[2].calls} times"
            nursery.cancel_scope.cancel()
    finally:
        for env in envs:
            env.close()
    from node._serial import encode_message

    size = len(encode_message(state_a.public()))
    outcome = Outcome(converged_s, recompute_s, again_s, counters[2].calls, len(attested))
    outcome.fetch_s, outcome.state_bytes = fetch_s, size
    return outcome, [state_a]


async def test_exec(slots: int, wallets: list[RsaWallet]) -> Outcome:
    from devices import test_exec as test_exec_device
    from devices._registry import Registry
    from tests.scheduler._harness import DEVICES, MemStore, Node
    from tests.scheduler._support import user_msg

    def node_for(i: int, sched: Any, cache: Any, results: Any) -> tuple[Node, Counting]:
        counter = Counting(test_exec_device.DEVICE)
        registry = Registry([*(d for d in DEVICES if d.id != counter.id), counter])
        node = Node(registry, MemStore(), sched, cache)
        node.services.update({"scheduler": sched, "process-cache": cache, "results": results})
        return node, counter

    definition = {"execution-device": "stack@1.0", "device-stack": ["test-exec@1.0"]}
    with tempfile.TemporaryDirectory() as tmp:
        outcome, _ = await _run(slots, wallets, Path(tmp), definition, user_msg, node_for)
    return outcome


async def aos_eval(slots: int, wallets: list[RsaWallet], image: bytes) -> Outcome:
    from devices import json_iface, wasm_device
    from devices._registry import Registry
    from devices.wasm import WasmLimits, WasmRuntime
    from devices.wasm_service import WasmService
    from tests.scheduler._harness import DEVICES, MemStore, Node
    from tests.scheduler._support import user_msg

    ident = b64u_encode(hashlib.sha256(image).digest())
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = Path(tmp) / "wasm-cache"
        t0 = time.perf_counter()
        WasmRuntime(cache_dir).load(image, image_id=ident)  # compile once into the disk cache
        compile_s = time.perf_counter() - t0

        def node_for(i: int, sched: Any, cache: Any, results: Any) -> tuple[Node, Counting]:
            genesis = next(d for d in json_iface.DEVICES if d.id == "genesis-wasm@1.0")
            counter = Counting(genesis)
            others = [d for d in json_iface.DEVICES if d.id != counter.id]
            registry = Registry([*DEVICES, wasm_device.DEVICE, *others, counter])
            node = Node(registry, MemStore(), sched, cache)
            wasm = WasmService(
                WasmRuntime(cache_dir), limits=WasmLimits(fuel=20_000_000_000, memory_bytes=1 << 30)
            )
            node.services.update(
                {"scheduler": sched, "process-cache": cache, "results": results, "wasm": wasm}
            )
            if i < 2:  # C never needs the module: it computes nothing
                node.store.write_message(Message({"body": image}), [ident])
            return node, counter

        def message(n: int, pid: str) -> Message:
            return user_msg(n, pid, action="Eval", data=EVAL.format(n=EVAL_LOOP, k=n))

        definition = {"execution-device": "genesis-wasm@1.0", "module": ident}
        outcome, states = await _run(slots, wallets, Path(tmp), definition, message, node_for)
    results = states[0].get_message("results")
    data = results.get("data") if results is not None else None
    outcome.detail = (
        f"module compiled once beforehand in {compile_s:.1f} s; slot {slots} Eval returned {data!r}"
    )
    return outcome
