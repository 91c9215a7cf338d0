"""Node lifecycle: graceful shutdown with in-flight requests, restart after SIGKILL (subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from devices._base import Context, DeviceInfo
from devices.core import Message, RsaWallet
from node._config import load_config
from node._server import Running, run_node
from node._store import LmdbStore
from tests.node._client import request
from tests.node.conftest import make_config

if TYPE_CHECKING:
    import pytest

ROOT = Path(__file__).resolve().parents[2]
ID = "zbGOOLXUuKbhwKXXW0sH7-lN1j0UjfYnSa1SSRcaj3I"


class _Gate:
    """A device whose ``wait`` key blocks until the test opens the gate."""

    id = "gate@1.0"

    def __init__(self) -> None:
        self.entered = trio.Event()
        self.release = trio.Event()

    def info(self) -> DeviceInfo:
        return DeviceInfo(keys=frozenset({"wait"}))

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> object:
        self.entered.set()
        await self.release.wait()
        return b"done"


async def test_graceful_shutdown_finishes_in_flight(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    gate = _Gate()
    stop = trio.Event()
    config = make_config(tmp_path, wallet_jwk, devices=["message@1.0", "meta@1.0", "gate@1.0"])
    answers: list[bytes] = []
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(
                lambda task_status: run_node(config, shutdown_trigger=stop.wait, extra_devices=[gate],
                                             task_status=task_status))

            async def client() -> None:
                answers.append((await request(running.port, "GET", "/~gate@1.0/wait")).body)

            nursery.start_soon(client)
            await gate.entered.wait()
            stop.set()  # shut down while the request is in flight
            await trio.testing.wait_all_tasks_blocked()
            gate.release.set()
    assert answers == [b"done"]


class _Broken:
    """A device with a bug: its key raises an unexpected exception."""

    id = "broken@1.0"

    def info(self) -> DeviceInfo:
        return DeviceInfo(keys=frozenset({"boom"}))

    async def resolve(self, key: str, base: Message, req: Message, ctx: Context) -> object:
        raise RuntimeError("secret internal detail")


async def test_internal_fault_is_500_without_trace(tmp_path: Path, wallet_jwk: dict[str, str],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(tmp_path, wallet_jwk, devices=["message@1.0", "broken@1.0"])
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(
                lambda task_status: run_node(config, extra_devices=[_Broken()], task_status=task_status))
            resp = await request(running.port, "GET", "/~broken@1.0/boom")
            assert resp.status == 500
            body = resp.json()
            assert body["error"].startswith("internal error (ref ")
            assert "secret" not in resp.body.decode()
            ref = body["error"].split("ref ")[1].rstrip(")")
            assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)
            ok = await request(running.port, "GET", "/~message@1.0&a=1/a")  # still serving
            assert ok.status == 200
            nursery.cancel_scope.cancel()


async def _start(data_dir: Path) -> tuple[trio.Process, dict[str, object], trio.abc.ReceiveStream]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HYPERPEER_CONFIG": str(ROOT / "configs" / "test.toml")}
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "node.cli", "--log-level", "warning", "node", "--port", "0",
         "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, env=env, cwd=str(ROOT),
    )
    assert proc.stdout is not None
    buf = b""
    while b"\n" not in buf:
        chunk = await proc.stdout.receive_some(4096)
        assert chunk, "node exited before listening"
        buf += chunk
    return proc, json.loads(buf.split(b"\n")[0]), proc.stdout


async def test_restart_after_sigkill(tmp_path: Path, wallet_jwk: dict[str, str]) -> None:
    data = tmp_path / "data"
    with trio.fail_after(40):
        proc, line, _ = await _start(data)
        assert line["event"] == "listening"
        port = int(str(line["port"]))
        address = line["address"]
        # Seed a message the way an upload would, then kill the node without warning.
        with LmdbStore(data / "store", map_size_bytes=1 << 28) as store:
            store.write_message(Message(greeting=b"persisted"), [ID])
        resp = await request(port, "GET", f"/{ID}/greeting")
        assert (resp.status, resp.body) == (200, b"persisted")
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

        proc, line, _ = await _start(data)
        try:
            assert line["address"] == address  # the wallet was kept (generated once, mode 0600)
            assert (data / "wallet.json").stat().st_mode & 0o777 == 0o600
            resp = await request(int(str(line["port"])), "GET", f"/{ID}/greeting")
            assert (resp.status, resp.body) == (200, b"persisted")
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await proc.wait() == 0


def test_config_files_load() -> None:
    dev = load_config(ROOT / "configs" / "dev.toml")
    assert (dev.http.host, dev.http.port) == ("127.0.0.1", 8734)
    test = load_config(ROOT / "configs" / "test.toml", {"http.port": "5"})
    assert test.http.port == 5
    assert RsaWallet  # imported for the session fixture's type
