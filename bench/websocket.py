"""Websocket subscriptions: events/s delivered to 1 and 100 subscribers, and publish→receipt latency.

Run: ``python -m bench.websocket [--events N] [--subscribers 1,100] [--node-events N | --no-node]``

Server (hypercorn, trio worker, 127.0.0.1:0, ``handle_websocket``) and clients (trio-websocket)
share one process and one trio loop, so the numbers include both sides' CPU. Reference: the same
events through ``EventHub`` in memory (no network, no JSON framing), measured in the same run.
Also reported: the cost of signing one event (RSA-PSS, node wallet), which bounds how fast a node
can *produce* events; delivery reuses pre-signed envelopes (clients do not verify here).

Then, unless ``--no-node``, the end-to-end figures through a real node (``bench.websocket_node``):
schedule → computed, signed result event at the subscribers, p50/p99 and events/s.
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
import time  # noqa: E402
from functools import partial  # noqa: E402

import trio  # noqa: E402
from hypercorn.config import Config  # noqa: E402
from hypercorn.trio import serve  # noqa: E402
from trio_websocket import open_websocket_url  # noqa: E402

from bench.websocket_node import node_bench  # noqa: E402
from devices.core import Message, RsaWallet, json_decode, verify  # noqa: E402
from node._events import EventHub, Filter  # noqa: E402
from node._evmsg import Event, sign_event  # noqa: E402
from node._ws import SUBSCRIBE_PATH, WsConfig, handle_websocket  # noqa: E402

PID = "B" * 43


def make_events(wallet: RsaWallet, n: int) -> list[Event]:
    """``n`` events (distinct slots) sharing one signed result envelope, JSON-encoded up front
    (a node encodes each event once at publish, whatever the number of subscribers)."""
    body = Message({"Output": {"data": "x" * 200}, "GasUsed": 1, "Messages": []})
    signed = sign_event(wallet, "result", PID, body, slot=0)
    events = [Event("result", PID, s, signed.message) for s in range(n)]
    for ev in events:
        ev.message_json()
    return events


async def hub_reference(events: list[Event]) -> float:
    hub = EventHub(buffer_events=len(events))
    sub = hub.subscribe(Filter("result", PID))
    start = time.perf_counter()
    for ev in events:
        hub.publish(ev)
    for _ in events:
        await sub.receive()
    return len(events) / (time.perf_counter() - start)


class App:
    def __init__(self, hub: EventHub, buffer_events: int) -> None:
        self.hub = hub
        self.config = WsConfig(buffer_events=buffer_events, max_subscriptions=4)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "websocket":
            await handle_websocket(scope, receive, send, self.hub, None, self.config)


async def run_ws(events: list[Event], subscribers: int, paced_s: float | None) -> tuple[float, list[float]]:
    """Deliveries per second and per-receipt latencies (seconds)."""
    hub = EventHub()
    hconfig = Config()
    hconfig.bind = ["127.0.0.1:0"]
    hconfig.accesslog = None
    hconfig.errorlog = None
    hconfig.graceful_timeout = 1
    shutdown = trio.Event()
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    last = len(events) - 1
    done = trio.Event()
    finished = 0
    ready = 0
    all_ready = trio.Event()

    async def client(url: str) -> None:
        nonlocal finished, ready
        async with open_websocket_url(url, message_queue_size=64) as ws:
            await ws.send_message(
                json.dumps({"op": "subscribe", "id": "b", "kind": "results", "process": PID})
            )
            assert json.loads(await ws.get_message())["type"] == "subscribed"
            ready += 1
            if ready == subscribers:
                all_ready.set()
            while True:
                text = await ws.get_message()
                now = time.perf_counter()
                slot = int(text[text.index('"slot":') + 7 : text.index(',"message"')])
                latencies.append(now - sent_at[slot])
                if slot == last:
                    break
        finished += 1
        if finished == subscribers:
            done.set()

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            partial(serve, App(hub, len(events) + 8), hconfig, shutdown_trigger=shutdown.wait)
        )
        url = binds[0].replace("http://", "ws://") + SUBSCRIBE_PATH
        for _ in range(subscribers):
            nursery.start_soon(client, url)
        await all_ready.wait()
        start = time.perf_counter()
        for ev in events:
            sent_at[ev.slot] = time.perf_counter()  # type: ignore[index]
            hub.publish(ev)
            if paced_s is not None:
                await trio.sleep(paced_s)
            elif ev.slot % 64 == 0:  # type: ignore[operator]
                await trio.lowlevel.checkpoint()
        await done.wait()
        elapsed = time.perf_counter() - start
        shutdown.set()
    return len(events) * subscribers / elapsed, latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    wallet = RsaWallet.generate(2048)
    body = Message({"Output": {"data": "x" * 200}})
    t0 = time.perf_counter()
    for s in range(20):
        signed = sign_event(wallet, "result", PID, body, slot=s)
    sign_ms = (time.perf_counter() - t0) / 20 * 1000
    t0 = time.perf_counter()
    for _ in range(20):
        assert verify(json_decode(signed.message_json())).valid
    verify_ms = (time.perf_counter() - t0) / 20 * 1000
    print(f"sign one event (RSA-2048): {sign_ms:.2f} ms  -> at most {1000 / sign_ms:,.0f} events/s per core")
    print(f"client verify (json_decode + verify): {verify_ms:.2f} ms per event")
    t0 = time.perf_counter()
    for _ in range(200):
        Event("result", PID, 1, signed.message).message_json()
    print(f"encode one envelope to JSON (once per event): {(time.perf_counter() - t0) / 200 * 1000:.3f} ms")

    events = make_events(wallet, args.events)
    ref = await hub_reference(events)
    print(f"reference: EventHub in memory, 1 subscriber: {ref:,.0f} events/s")
    for subs in args.subscribers:
        n = max(50, args.events // subs) if subs > 1 else args.events
        rate, _ = await run_ws(events[:n], subs, None)
        pace_s = subs / (args.load * rate)  # latency at a fraction of the measured capacity
        _, lat = await run_ws(events[: min(n, 200)], subs, pace_s)
        print(
            f"websocket, {subs:>3} subscriber(s): {rate:,.0f} deliveries/s "
            f"(ratio to reference {rate / ref:.3f}); latency at {args.load:.0%} load "
            f"({1 / pace_s:,.0f} events/s): p50 {pct(lat, 0.5) * 1000:.2f} ms, "
            f"p99 {pct(lat, 0.99) * 1000:.2f} ms"
        )
    if args.node_events > 0:
        print("-- end to end through a node (bench.websocket_node)")
        await node_bench(args.node_events, args.subscribers)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--subscribers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 100])
    parser.add_argument("--load", type=float, default=0.5, help="latency run's share of the capacity")
    parser.add_argument("--node-events", type=int, default=400, help="messages for the node part")
    parser.add_argument("--no-node", dest="node_events", action="store_const", const=0)
    trio.run(main, parser.parse_args())
