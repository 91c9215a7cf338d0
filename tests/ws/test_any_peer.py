"""Subscribe on any peer: a client subscribes on C to the results of a process that only A schedules
and computes. C admits the subscription (it loads the process from A), and as A's attestations reach
C, C serves each agreed slot from them and pushes it, in order, with ``attested-by``."""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Any

import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from devices import test_exec
from devices.core import Message, RsaWallet, commit, json_decode
from node._config import load_config
from node._evmsg import check_event
from node._server import Running, run_node
from p2p import MemoryNetwork

if TYPE_CHECKING:
    from pathlib import Path

DEVICES = ["message@1.0", "meta@1.0", "process@1.0", "scheduler@1.0", "stack@1.0", "test-exec@1.0"]


async def _frame(ws: WebSocketConnection) -> dict[str, Any]:
    with trio.fail_after(30):
        return dict(json.loads(await ws.get_message()))


async def test_results_computed_on_a_reach_a_subscriber_on_c(tmp_path: Path) -> None:
    wallets = [RsaWallet.generate(2048) for _ in range(2)]
    net = MemoryNetwork()
    running: list[Running] = []
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            for name, wallet in zip("ac", wallets, strict=True):
                data = tmp_path / name
                data.mkdir()
                wallet.save(data / "wallet.json")
                config = load_config(
                    None,
                    {
                        "data_dir": str(data),
                        "http.port": 0,
                        "devices": DEVICES,
                        "http.sign_responses": False,
                        "trust.attesters": wallets[0].address,
                        "trust.k": 1,
                    },
                )
                node_run = partial(run_node, config, extra_devices=[test_exec.DEVICE], p2p=net.node(name))
                running.append(await nursery.start(node_run))
            a, c = running
            assert a.peering is not None
            assert c.peering is not None
            await c.peering.p2p.connect(a.peering.p2p.listen_addrs[0])
            sched = a.node.services["scheduler"]
            proc = commit(
                Message(
                    {
                        "type": "Process",
                        "device": "process@1.0",
                        "scheduler": wallets[0].address,
                        "execution-device": "test-exec@1.0",
                    }
                ),
                wallets[0],
            )
            pid = sched.ops.message_id(proc)
            a.node.store.write_message(proc, [pid])
            await sched.schedule(pid, proc)
            async with open_websocket_url(f"ws://127.0.0.1:{c.port}/~subscribe@1.0") as ws:
                await ws.send_message(
                    json.dumps({"op": "subscribe", "id": "r", "kind": "results", "process": pid})  # live
                )
                assert (await _frame(ws))["type"] == "subscribed"  # C loaded the process from A
                for n in range(1, 6):
                    await sched.schedule(
                        pid, commit(Message({"type": "Message", "target": pid, "n": n}), wallets[0])
                    )
                for n in range(1, 6):  # clients ask A for each slot; A attests each, and C hears of it
                    await a.node.handle(Message({"path": f"/{pid}~process@1.0/compute&slot={n}"}))
                slots = []
                while len(slots) < 5:
                    frame = await _frame(ws)
                    assert frame["type"] == "event", frame
                    msg = json_decode(json.dumps(frame["message"]).encode())
                    check_event(
                        msg, kind="result", process=pid, slot=frame["slot"], committer=wallets[1].address
                    )
                    body = msg.get_message("body")
                    assert body is not None
                    assert body.get("attested-by") == (wallets[0].address.encode(),)
                    slots.append(frame["slot"])
            assert slots == [1, 2, 3, 4, 5]
            assert c.node.services["process-cache"].results(pid, 3) is None  # C never computed
            nursery.cancel_scope.cancel()
