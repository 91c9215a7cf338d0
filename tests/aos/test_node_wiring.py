"""The node wires process execution from its configuration: ``[wasm]``, the scheduler task, and
a clean shutdown (the scheduler task ends with the server)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from devices.core import Message, RsaWallet, commit
from node._config import load_config
from node._errors import ConfigError
from node._server import Running, run_node
from tests.aos.conftest import image_id, read_vector
from tests.conftest import vector_path
from tests.node._client import request

if TYPE_CHECKING:
    from pathlib import Path

EXEC = ["message@1.0", "meta@1.0", "process@1.0", "push@1.0", "scheduler@1.0", "genesis-wasm@1.0"]


async def test_configured_node_runs_aos_and_stops(tmp_path: Path) -> None:
    wallet = RsaWallet.load(vector_path("hyperbeam-test-data", "key-1.json"))
    (tmp_path / "d").mkdir()
    wallet.save(tmp_path / "d" / "wallet.json")
    config = load_config(
        None,
        {
            "data_dir": str(tmp_path / "d"),
            "http.port": 0,
            "devices": EXEC,
            "wasm.fuel": 2_000_000_000,
            "wasm.threads": 1,
            "http.graceful_timeout_s": 1.0,
        },
    )
    stop = trio.Event()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(
                lambda task_status: run_node(config, shutdown_trigger=stop.wait, task_status=task_status)
            )
            node = running.node
            assert node.execution is not None
            svc = node.execution.services
            assert svc["wasm"].limits.fuel == 2_000_000_000
            image = read_vector("aos-2-pure-xs.wasm")
            ident = image_id(image)
            node.store.write_message(Message({"body": image}), [ident])
            proc = commit(
                Message(
                    {
                        "type": "Process",
                        "device": "process@1.0",
                        "scheduler": wallet.address,
                        "execution-device": "genesis-wasm@1.0",
                        "module": ident,
                    }
                ),
                wallet,
            )
            sched = svc["scheduler"]
            pid = sched.ops.message_id(proc)
            await sched.schedule(pid, proc)
            node.store.write_message(proc, [pid])
            await sched.schedule(
                pid,
                commit(
                    Message({"type": "Message", "target": pid, "action": "Eval", "data": "return 1+1"}),
                    wallet,
                ),
            )
            resp = await request(running.port, "GET", f"/{pid}/compute&slot=1/results/data", limit_s=30)
            assert (resp.status, resp.body) == (200, b"2")
            stop.set()
    assert (tmp_path / "d" / "wasm-cache").is_dir()
    assert (tmp_path / "d" / "processes").is_dir()


@pytest.mark.parametrize("bad", [{"wasm.fuel": 0}, {"wasm.threads": 0}, {"wasm.memory_bytes": 1024}])
def test_bad_wasm_config_is_rejected(bad: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match="wasm"):
        load_config(None, bad)
