"""Websocket results through a real node: schedule → computed result event at 1 and 100 subscribers.

Run: ``python -m bench.websocket_node [--events N] [--subscribers 1,100]`` (also run at the end of
``python -m bench.websocket``).

A node (``run_node``, 127.0.0.1 port 0, devices ``process@1.0 scheduler@1.0 stack@1.0
test-exec@1.0 push@1.0``, replies unsigned) runs in this process under the same trio loop as the
websocket clients, so the figures include both sides' CPU. Clients subscribe to a process's
``results`` (``ws://…/~subscribe@1.0``); the node computes each new slot eagerly and publishes one
node-signed result event, which every subscriber receives. Messages are signed before timing.

* latency, idle: one message at a time (the next is scheduled once every subscriber has the
  previous event); latency = scheduling call start → receipt at a subscriber, p50/p99 over all
  (message, subscriber) receipts. Two ways in: the node's scheduler service in-process
  (``schedule(pid, msg)``), and ``POST /<pid>~process@1.0/push`` over HTTP (httpsig-signed
  message; the push also computes the slot and replies with its results).
* events/s under load: all messages scheduled from 8 concurrent tasks; deliveries/s
  (events x subscribers / time from the first schedule to the last receipt), latency p50/p99
  (mostly queueing: the scheduler accepts messages faster than results are computed and sent).
* latency at 50% load: messages scheduled at half the events/s just measured.

References measured in the same run: the scheduler alone (schedule calls/s, same 8 tasks, on a
process nobody subscribes to) and signing one event (RSA-2048 node wallet, once per event).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the stdlib ``http`` package: put the repository root first instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402
from typing import Any  # noqa: E402

import h11  # noqa: E402
import trio  # noqa: E402
from trio_websocket import open_websocket_url  # noqa: E402

from devices import test_exec  # noqa: E402
from devices.core import Message, RsaWallet, commit, httpsig_encode  # noqa: E402
from node._config import load_config  # noqa: E402
from node._evmsg import sign_event  # noqa: E402
from node._server import Running, run_node  # noqa: E402

DEVICES = [
    "message@1.0",
    "meta@1.0",
    "process@1.0",
    "scheduler@1.0",
    "stack@1.0",
    "test-exec@1.0",
    "push@1.0",
]
TASKS = 8


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Bench:
    def __init__(self, running: Running, wallet: RsaWallet) -> None:
        self.running = running
        self.node = running.node
        self.sched = running.node.services["scheduler"]
        self.wallet = wallet
        self.url = f"ws://127.0.0.1:{running.port}/~subscribe@1.0"

    async def spawn(self, name: str) -> str:
        proc = commit(
            Message(
                {
                    "type": "Process",
                    "device": "process@1.0",
                    "scheduler": self.wallet.address,
                    "execution-device": "test-exec@1.0",
                    "name": name,
                }
            ),
            self.wallet,
        )
        pid: str = self.sched.ops.message_id(proc)
        self.node.store.write_message(proc, [pid])
        await self.sched.schedule(pid, proc)
        return pid

    def messages(self, pid: str, n: int) -> list[Message]:
        return [commit(Message({"type": "Message", "target": pid, "n": i}), self.wallet) for i in range(n)]

    async def subscribers(
        self, nursery: trio.Nursery, pid: str, count: int, slots: int
    ) -> tuple[dict[int, list[float]], list[trio.Event]]:
        """``count`` subscribed clients; receipts[slot] = receipt times; done[i] set per slot seen by all."""
        receipts: dict[int, list[float]] = {s: [] for s in range(1, slots + 1)}
        all_seen = [trio.Event() for _ in range(slots + 1)]
        ready = trio.Semaphore(0)

        async def client() -> None:
            async with open_websocket_url(self.url, message_queue_size=256) as ws:
                sub = {"op": "subscribe", "id": "b", "kind": "results", "process": pid, "from": 1}
                await ws.send_message(json.dumps(sub))
                assert json.loads(await ws.get_message())["type"] == "subscribed"
                ready.release()
                seen = 0
                while seen < slots:
                    text = await ws.get_message()
                    now = time.perf_counter()
                    frame = json.loads(text)
                    if frame.get("type") != "event":
                        raise SystemExit(f"unexpected frame {text[:200]!r}")
                    slot = int(frame["slot"])
                    receipts[slot].append(now)
                    if len(receipts[slot]) == count:
                        all_seen[slot].set()
                    seen += 1

        for _ in range(count):
            nursery.start_soon(client)
        for _ in range(count):
            await ready.acquire()
        return receipts, all_seen

    async def run(self, subs: int, n: int, mode: str, interval: float = 0.0) -> tuple[float, list[float]]:
        """Deliveries/s and latencies (s) for ``n`` messages to ``subs`` subscribers."""
        pid = await self.spawn(f"{mode}-{subs}")
        msgs = self.messages(pid, n)
        bodies = [httpsig_encode(m) for m in msgs] if mode == "http" else []
        sent: dict[int, float] = {}
        with trio.fail_after(300):
            async with trio.open_nursery() as nursery:
                receipts, all_seen = await self.subscribers(nursery, pid, subs, n)
                start = time.perf_counter()
                if mode == "load":
                    queue = iter(msgs)

                    async def worker() -> None:
                        for m in queue:
                            t = time.perf_counter()
                            sent[(await self.sched.schedule(pid, m)).slot] = t

                    async with trio.open_nursery() as workers:
                        for _ in range(TASKS):
                            workers.start_soon(worker)
                elif mode == "paced":

                    async def one(m: Message) -> None:
                        t = time.perf_counter()
                        sent[(await self.sched.schedule(pid, m)).slot] = t

                    async with trio.open_nursery() as workers:
                        for m in msgs:
                            workers.start_soon(one, m)
                            await trio.sleep(interval)
                else:
                    http = HttpClient(self.running.port) if mode == "http" else None
                    for slot in range(1, n + 1):
                        sent[slot] = time.perf_counter()
                        if http is not None:
                            parts = bodies[slot - 1]
                            status = await http.post(f"/{pid}~process@1.0/push", parts.headers, parts.body)
                            if status != 200:
                                raise SystemExit(f"push answered {status}")
                        else:
                            await self.sched.schedule(pid, msgs[slot - 1])
                        await all_seen[slot].wait()
                    if http is not None:
                        await http.aclose()
                await all_seen[n].wait()
                elapsed = time.perf_counter() - start
                nursery.cancel_scope.cancel()
        for s in range(1, n + 1):
            if len(receipts[s]) != subs:
                raise SystemExit(f"slot {s}: {len(receipts[s])} of {subs} receipts")
        lat = [t - sent[s] for s, times in receipts.items() for t in times]
        return n * subs / elapsed, lat

    async def schedule_rate(self, n: int) -> float:
        pid = await self.spawn("reference")
        msgs = iter(self.messages(pid, n))
        start = time.perf_counter()

        async def worker() -> None:
            for m in msgs:
                await self.sched.schedule(pid, m)

        async with trio.open_nursery() as nursery:
            for _ in range(TASKS):
                nursery.start_soon(worker)
        return n / (time.perf_counter() - start)


class HttpClient:
    """One keep-alive HTTP/1.1 connection (h11) to the node."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stream: trio.SocketStream | None = None
        self.conn = h11.Connection(h11.CLIENT)

    async def post(self, target: str, headers: Any, body: bytes) -> int:
        if self.stream is None or self.conn.our_state is h11.MUST_CLOSE:
            if self.stream is not None:
                await self.stream.aclose()
            self.stream = await trio.open_tcp_stream("127.0.0.1", self.port)
            self.conn = h11.Connection(h11.CLIENT)
        hdrs = [("host", f"127.0.0.1:{self.port}"), ("content-length", str(len(body)))]
        hdrs += [(k, v) for k, v in headers if k.lower() != "content-length"]
        data = self.conn.send(h11.Request(method="POST", target=target, headers=hdrs))
        data += self.conn.send(h11.Data(data=body)) + self.conn.send(h11.EndOfMessage())
        await self.stream.send_all(data)
        status = 0
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.stream.receive_some(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.EndOfMessage):
                break
        if self.conn.our_state is not h11.MUST_CLOSE:
            self.conn.start_next_cycle()
        return status

    async def aclose(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()


async def node_bench(events: int, subscribers: list[int]) -> None:
    wallet = RsaWallet.generate(2048)
    body = Message({"data": "1:" + "x" * 43})
    t0 = time.perf_counter()
    for s in range(20):
        sign_event(wallet, "result", "P" * 43, body, slot=s)
    sign_ms = (time.perf_counter() - t0) / 20 * 1000
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "d"
        data.mkdir()
        wallet.save(data / "wallet.json")
        config = load_config(
            None, {"data_dir": str(data), "http.port": 0, "devices": DEVICES, "http.sign_responses": False}
        )
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(
                partial(run_node, config, extra_devices=[test_exec.DEVICE])
            )
            bench = Bench(running, wallet)
            ref = await bench.schedule_rate(events)
            print(
                f"node reference: scheduler alone {ref:,.0f} schedule/s ({TASKS} tasks); "
                f"sign one event {sign_ms:.2f} ms (≤ {1000 / sign_ms:,.0f} events/s)"
            )
            for subs in subscribers:
                n_load = events if subs == 1 else max(50, events // 4)
                n_idle = min(100, n_load)
                rate, lat_load = await bench.run(subs, n_load, "load")
                _, lat_idle = await bench.run(subs, n_idle, "idle")
                _, lat_http = await bench.run(subs, max(20, n_idle // 2), "http")
                events_s = rate / subs
                _, lat_paced = await bench.run(subs, n_idle, "paced", interval=1 / (0.5 * events_s))
                print(
                    f"node, {subs:>3} subscriber(s): {rate:,.0f} deliveries/s = {events_s:,.0f} events/s "
                    f"(ratio to scheduler alone {events_s / ref:.3f}), latency under load "
                    f"p50 {pct(lat_load, 0.5) * 1e3:.1f} ms p99 {pct(lat_load, 0.99) * 1e3:.1f} ms"
                )
                print(
                    f"    schedule→event at 50% load ({0.5 * events_s:,.0f} events/s): "
                    f"p50 {pct(lat_paced, 0.5) * 1e3:.2f} ms p99 {pct(lat_paced, 0.99) * 1e3:.2f} ms"
                )
                print(
                    f"    schedule→event, one at a time: scheduler service p50 {pct(lat_idle, 0.5) * 1e3:.2f} ms "
                    f"p99 {pct(lat_idle, 0.99) * 1e3:.2f} ms; HTTP POST push p50 "
                    f"{pct(lat_http, 0.5) * 1e3:.2f} ms p99 {pct(lat_http, 0.99) * 1e3:.2f} ms"
                )
            nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--subscribers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 100])
    args = parser.parse_args()
    trio.run(node_bench, args.events, args.subscribers)


if __name__ == "__main__":
    main()
