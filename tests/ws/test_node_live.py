"""Subscriptions through the real node: a process scheduled over the node's scheduler, its results
computed eagerly for the subscriber, delivered in order, verifiable, and resumable without gap or
duplicate after the connection drops."""

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

if TYPE_CHECKING:
    from pathlib import Path

DEVICES = ["message@1.0", "meta@1.0", "process@1.0", "scheduler@1.0", "stack@1.0", "test-exec@1.0"]


async def _frame(ws: WebSocketConnection) -> dict[str, Any]:
    with trio.fail_after(30):
        return dict(json.loads(await ws.get_message()))


def _check(frame: dict[str, Any], pid: str, node_address: str) -> int:
    assert frame["type"] == "event", frame
    msg = json_decode(json.dumps(frame["message"]).encode())
    check_event(msg, kind="result", process=pid, slot=frame["slot"], committer=node_address)
    return int(frame["slot"])


async def test_results_live_in_order_and_resume_after_a_drop(tmp_path: Path) -> None:
    wallet = RsaWallet.generate(2048)
    data = tmp_path / "d"
    data.mkdir()
    wallet.save(data / "wallet.json")
    config = load_config(None, {"data_dir": str(data), "http.port": 0, "devices": DEVICES,
                                "http.sign_responses": False})
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(
                partial(run_node, config, extra_devices=[test_exec.DEVICE]))
            sched = running.node.services["scheduler"]
            proc = commit(Message({"type": "Process", "device": "process@1.0", "scheduler": wallet.address,
                                   "execution-device": "test-exec@1.0"}), wallet)
            pid = sched.ops.message_id(proc)
            running.node.store.write_message(proc, [pid])
            await sched.schedule(pid, proc)
            url = f"ws://127.0.0.1:{running.port}/~subscribe@1.0"

            async def schedule(n: int, first: int) -> None:
                for i in range(n):
                    msg = commit(Message({"type": "Message", "target": pid, "n": first + i}), wallet)
                    await sched.schedule(pid, msg)

            seen: list[int] = []
            async with open_websocket_url(url) as ws:
                await ws.send_message(json.dumps({"op": "subscribe", "id": "r", "kind": "results",
                                                  "process": pid, "from": 1}))
                assert (await _frame(ws))["type"] == "subscribed"
                nursery.start_soon(schedule, 100, 1)
                while len(seen) < 50:
                    seen.append(_check(await _frame(ws), pid, wallet.address))
            # the connection dropped at 50: resume from the next slot
            async with open_websocket_url(url) as ws:
                await ws.send_message(json.dumps({"op": "subscribe", "id": "r", "kind": "results",
                                                  "process": pid, "from": seen[-1] + 1}))
                assert (await _frame(ws))["type"] == "subscribed"
                while len(seen) < 100:
                    seen.append(_check(await _frame(ws), pid, wallet.address))
            assert seen == list(range(1, 101))
            # unknown process and malformed frames get error frames; the connection stays usable
            async with open_websocket_url(url) as ws:
                await ws.send_message(json.dumps({"op": "subscribe", "id": "x", "kind": "results",
                                                  "process": "Z" * 43, "from": 0}))
                assert (await _frame(ws))["type"] == "error"
                await ws.send_message("{not json")
                assert (await _frame(ws))["type"] == "error"
                await ws.send_message(json.dumps({"op": "subscribe", "id": "a", "kind": "assignments",
                                                  "process": pid, "from": 100}))
                assert (await _frame(ws))["type"] == "subscribed"
                event = await _frame(ws)
                assert (event["kind"], event["slot"]) == ("assignment", 100)
            nursery.cancel_scope.cancel()
