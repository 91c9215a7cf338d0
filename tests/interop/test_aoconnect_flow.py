"""The real ``@permaweb/aoconnect`` 0.0.98 (mainnet mode) against a node running aos-2 processes.

``aoconnect_flow.mjs`` spawns two aos processes on a module uploaded to the node (``POST /tx``,
an ANS-104 item we sign), evaluates code, adds handlers, sends a message from one process to the
other (delivered by ``push@1.0``), raises a Lua error, reads ``results`` and runs a dry-run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trio

import devices.core as core
from devices.core import RsaWallet
from devices.core.ans104 import UnsignedItem, sign_item
from devices.wasm import WasmLimits
from devices.wasm_service import WasmService
from tests.aos._node import aos_node
from tests.conftest import vector_path
from tests.node._client import request

if TYPE_CHECKING:
    from devices.wasm import WasmRuntime

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "aoconnect_flow.mjs"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (HERE / "node_modules" / "@permaweb" / "aoconnect").exists(),
        reason="tests/interop/node_modules missing: run scripts/setup.sh --test (npm ci)",
    ),
    pytest.mark.skipif(
        not hasattr(core, "item_to_message"), reason="devices.core has no ANS-104 item mapping yet"
    ),
]

MODULE_TAGS = [
    (b"Data-Protocol", b"ao"),
    (b"Type", b"Module"),
    (b"Module-Format", b"wasm64-unknown-emscripten-draft_2024_02_15"),
    (b"Input-Encoding", b"JSON-1"),
    (b"Output-Encoding", b"JSON-1"),
    (b"Memory-Limit", b"1-gb"),
    (b"Compute-Limit", b"9000000000000"),
]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> WasmRuntime:
    from devices.wasm import WasmRuntime

    return WasmRuntime(tmp_path_factory.mktemp("wasm-cache"))


async def test_aoconnect_flow(tmp_path: Path, runtime: WasmRuntime) -> None:
    node_wallet = RsaWallet.load(vector_path("hyperbeam-test-data", "key-1.json"))
    user_file = vector_path("hyperbeam-test-data", "key-2.json")
    image = vector_path("hyperbeam-test-data", "aos-2-pure-xs.wasm").read_bytes()
    wasm = WasmService(runtime, limits=WasmLimits(fuel=5_000_000_000, memory_bytes=1 << 30), threads=2)
    module = sign_item(UnsignedItem(image, MODULE_TAGS), RsaWallet.load(user_file))
    with trio.fail_after(170):
        async with aos_node(tmp_path, node_wallet, wasm) as n:
            up = await request(n.port, "POST", "/tx", body=module.serialize(), limit_s=30)
            assert up.status == 200, up.body
            done = await trio.run_process(
                ["node", str(SCRIPT), n.url, str(user_file), module.id],
                cwd=HERE,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    out: dict[str, Any] = json.loads(done.stdout)
    pid, pid2 = out["pid"], out["pid2"]
    assert isinstance(pid, str), out["spawn"]
    assert isinstance(pid2, str), out["spawn2"]
    assert len(pid) == len(pid2) == 43
    assert pid != pid2

    def res(step: str) -> dict[str, Any]:
        got = out[step]
        assert "thrown" not in got, (step, got)
        return got["res"]  # type: ignore[no-any-return]

    assert out["eval"]["slot"] == 1
    assert res("eval")["Output"]["data"] == "2"
    assert "pong hi" in res("ping")["Output"]["data"]
    sent = res("send")["Messages"]
    assert sent[0]["Target"] == pid2
    assert res("received")["Output"]["data"] == f"from a|{pid}"
    assert "boom" in res("boom")["Error"]
    assert res("after")["Output"]["data"] == "4"
    edges = out["results"]["edges"]
    assert edges[0]["cursor"] == str(out["after"]["slot"])
    assert edges[0]["node"]["Output"]["data"] == "4"
    assert out["dryrun"]["Output"]["data"] == "42"
    assert res("after_dryrun")["Output"]["data"] == "nil"
