"""Unsigned resolve requests/s through the node vs a bare hypercorn-trio ASGI app, same run.

    python bench/http.py [--seconds 3]

Both servers run in this process on 127.0.0.1 (port 0) under the same trio loop as the clients,
so absolute numbers are lower than with an external load generator; the ratio is what matters
(target: node >= 0.5 x bare). Clients keep connections alive and send
``GET /~message@1.0&hello=world/hello`` (node) or ``GET /`` (bare).
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the stdlib ``http`` package: keep its directory off the import path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import tempfile  # noqa: E402
from typing import Any  # noqa: E402

import h11  # noqa: E402
import trio  # noqa: E402
from hypercorn.config import Config  # noqa: E402
from hypercorn.trio import serve  # noqa: E402

from devices.core import RsaWallet  # noqa: E402
from node._config import load_config  # noqa: E402
from node._server import run_node  # noqa: E402


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"world"})


async def client(port: int, target: bytes, stop_at: float, counts: list[int]) -> None:
    while trio.current_time() < stop_at:  # hypercorn closes a connection after 1000 requests
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        conn = h11.Connection(h11.CLIENT)
        async with stream:
            while trio.current_time() < stop_at:
                data = conn.send(h11.Request(method="GET", target=target, headers=[("host", "b")]))
                data += conn.send(h11.EndOfMessage())
                await stream.send_all(data)
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(await stream.receive_some(65536))
                        continue
                    if isinstance(event, h11.Response):
                        assert event.status_code == 200, event
                    if isinstance(event, h11.EndOfMessage):
                        break
                counts[0] += 1
                if conn.our_state is h11.MUST_CLOSE:
                    break
                conn.start_next_cycle()


async def measure(port: int, target: bytes, clients: int, seconds: float) -> float:
    counts = [0]
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(client, port, target, start + seconds, counts)
    return counts[0] / (trio.current_time() - start)


async def main(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as tmp_signed:
        RsaWallet.generate(2048).save(Path(tmp) / "wallet.json")
        RsaWallet.generate(4096).save(Path(tmp_signed) / "wallet.json")
        config = load_config(_HERE.parent / "configs" / "test.toml",
                             {"data_dir": tmp, "http.sign_responses": False})
        signed_config = load_config(_HERE.parent / "configs" / "test.toml", {"data_dir": tmp_signed})
        hc = Config()
        hc.bind = ["127.0.0.1:0"]
        hc.accesslog = None
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(lambda task_status: serve(bare_app, hc, task_status=task_status))
            bare_port = int(binds[0].rsplit(":", 1)[1])
            running = await nursery.start(run_node, config)
            signing = await nursery.start(run_node, signed_config)
            target = b"/~message@1.0&hello=world/hello"
            for clients in (1, 16):
                bare = await measure(bare_port, b"/", clients, seconds)
                node = await measure(running.port, target, clients, seconds)
                signed = await measure(signing.port, target, clients, seconds)
                print(f"{clients:2d} client(s): bare {bare:7.0f} req/s | node, unsigned replies "
                      f"{node:7.0f} req/s (ratio {node / bare:.2f}) | node, RSA-4096-signed replies "
                      f"{signed:7.0f} req/s (ratio {signed / bare:.2f})")
            nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    trio.run(main, parser.parse_args().seconds)
