"""``scripts/launch.sh -n 3``: three peers start, answer over HTTP, and stop cleanly on SIGTERM."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from tests.node._client import request

ROOT = Path(__file__).resolve().parents[2]


def fake_venv(tmp_path: Path) -> Path:
    """A venv whose python is this interpreter and whose setup stamp matches: setup.sh does nothing."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    lock = (ROOT / "requirements.lock").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    (venv / ".hyperpeer-stamp").write_text(hashlib.sha256(lock).hexdigest()[:16] + "\n")
    return venv


async def read_lines(stream: trio.abc.ReceiveStream, count: int) -> list[dict[str, object]]:
    buffer = b""
    lines: list[dict[str, object]] = []
    while len(lines) < count:
        chunk = await stream.receive_some()
        if not chunk:
            break
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            lines.append(json.loads(line))
    return lines


@pytest.mark.skipif(sys.platform != "linux", reason="bash and mkfifo")
async def test_launch_three_peers(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HYPERPEER_VENV": str(fake_venv(tmp_path)),
        "HYPERPEER_CONFIG": str(ROOT / "configs" / "test.toml"),
    }
    argv = [
        str(ROOT / "scripts" / "launch.sh"),
        "-n",
        "3",
        "--fresh",
        "--root",
        str(tmp_path / "peers"),
        "--base-port",
        "0",
    ]
    with (tmp_path / "launch.err").open("wb") as err:
        process = await trio.lowlevel.open_process(argv, stdout=subprocess.PIPE, stderr=err, env=env)
    try:
        assert process.stdout is not None
        with trio.fail_after(90):
            lines = await read_lines(process.stdout, 3)
        assert [line["event"] for line in lines] == ["listening"] * 3, (tmp_path / "launch.err").read_text()
        assert len({line["peer_id"] for line in lines}) == 3
        assert len({line["port"] for line in lines}) == 3
        for line in lines:
            port = line["port"]
            assert isinstance(port, int)
            reply = await request(port, "GET", "/~meta@1.0/info/address")
            assert reply.status == 200
            assert reply.body.decode() == line["address"]
        info = (
            await request(
                int(str(lines[2]["port"])), "GET", "/~meta@1.0/info", headers=[("accept", "application/json")]
            )
        ).json()
        assert sorted(info["trust"]["attesters"]) == sorted(str(line["address"]) for line in lines)
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            status = await process.wait()
        assert status == 0, (tmp_path / "launch.err").read_text()
        for line in lines:  # every node is gone
            with pytest.raises(OSError, match="connect"):
                await trio.open_tcp_stream("127.0.0.1", int(str(line["port"])))
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            with trio.move_on_after(30):
                await process.wait()
