"""Legacy-mode GraphQL users against a real node on loopback (issue "Gateway compatibility").

``legacy_graphql.mjs`` drives ``@permaweb/ao-scheduler-utils`` (the version ``@permaweb/aoconnect``
0.0.98 installs: ``locate``, ``validate``, ``raw``, ``getProcess``) and ``@permaweb/aoconnect``
0.0.98 in ``MODE: "legacy"`` (``spawn`` checks the module's tags through GraphQL, then uploads the
process to ``MU_URL``, pointed here at the node's bundler ingress ``POST /tx``; ``message`` likewise).
The node holds a module, two ``Scheduler-Location`` records from one wallet (the newer one must win,
``sort: HEIGHT_DESC, first: 1``), one without a ``Url`` tag from another wallet, and processes with
a ``Scheduler`` tag, all uploaded as signed ANS-104 items through ``POST /tx``.

Offline stand-in: scheduler-utils' ``locate`` first asks the hard-coded
``https://su-router.ao-testnet.xyz``; the driver answers that one host 404 (the router does not know
the process), the case in which scheduler-utils falls back to GraphQL. Every other host is refused.

Not driven (they need more than a gateway): legacy ``result``/``results``/``dryrun`` (a CU),
``monitor``/``unmonitor``/``assign`` (MU-only routes), ``getMessages``/``getLastSlot``/
``getMessageById`` (an SU). ``@ar.io/wayfinder-core`` is driven in ``test_wayfinder_gateway.py``;
``@ar.io/sdk`` is not applicable offline (it reads the ar.io network's AO process through a CU).
"""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from devices.core import RsaWallet
from devices.core.ans104 import DataItem, UnsignedItem, sign_item
from node._config import load_config
from node._server import Running, run_node
from tests.conftest import vector_path
from tests.node._client import request

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPT = HERE / "legacy_graphql.mjs"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (HERE / "node_modules" / "@permaweb" / "ao-scheduler-utils").exists(),
        reason="tests/interop/node_modules missing: run scripts/setup.sh --test (npm ci)",
    ),
]

MODULE_TAGS = [
    (b"Data-Protocol", b"ao"),
    (b"Variant", b"ao.TN.1"),
    (b"Type", b"Module"),
    (b"Module-Format", b"wasm64-unknown-emscripten-draft_2024_02_15"),
    (b"Input-Encoding", b"JSON-1"),
    (b"Output-Encoding", b"JSON-1"),
]


def _location(url: str, ttl: str = "3600000") -> list[tuple[bytes, bytes]]:
    return [
        (b"Data-Protocol", b"ao"),
        (b"Variant", b"ao.TN.1"),
        (b"Type", b"Scheduler-Location"),
        (b"Url", url.encode()),
        (b"Time-To-Live", ttl.encode()),
    ]


def _process(module: str, scheduler: str, name: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"Data-Protocol", b"ao"),
        (b"Variant", b"ao.TN.1"),
        (b"Type", b"Process"),
        (b"Module", module.encode()),
        (b"Scheduler", scheduler.encode()),
        (b"Name", name),
    ]


async def _upload(running: Running, item: DataItem) -> None:
    up = await request(running.port, "POST", "/tx", body=item.serialize(), limit_s=10)
    assert up.status == 200, up.body
    assert json.loads(up.body)["id"] == item.id


async def _drive(tmp_path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    user_file = vector_path("hyperbeam-test-data", "key-2.json")
    user = RsaWallet.load(user_file)
    scheduler = RsaWallet.load(vector_path("hyperbeam-test-data", "key-1.json"))
    other = RsaWallet.generate(4096)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    RsaWallet.generate(2048).save(data_dir / "wallet.json")
    config = load_config(ROOT / "configs" / "test.toml", {"data_dir": str(data_dir)})
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(partial(run_node, config))
            su_url = running.url.rstrip("/")
            module = sign_item(UnsignedItem(b"\0asm\1\0\0\0", MODULE_TAGS), user)
            old = sign_item(UnsignedItem(b" ", _location("http://127.0.0.1:1/old")), scheduler)
            new = sign_item(UnsignedItem(b" ", _location(su_url + "/")), scheduler)
            bad = sign_item(UnsignedItem(b" ", [t for t in _location(su_url) if t[0] != b"Url"]), other)
            proc = sign_item(UnsignedItem(b"1", _process(module.id, scheduler.address, b"p1")), user)
            proc2 = sign_item(UnsignedItem(b"2", _process(module.id, scheduler.address, b"p2")), user)
            for item in (module, old, new, bad, proc, proc2):
                await _upload(running, item)
            ids = {
                "url": su_url,
                "wallet": str(user_file),
                "scheduler": scheduler.address,
                "bad_scheduler": other.address,
                "unknown": "A" * 43,
                "module": module.id,
                "process": proc.id,
                "process2": proc2.id,
                "user": user.address,
            }
            job = tmp_path / "job.json"
            job.write_text(json.dumps(ids))
            done = await trio.run_process(
                ["node", str(SCRIPT), str(job)],
                cwd=HERE,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
            nursery.cancel_scope.cancel()
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    out: dict[str, Any] = json.loads(done.stdout)
    return out, ids


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, str]]:
    return trio.run(_drive, tmp_path_factory.mktemp("legacyq"))


def test_versions(session: tuple[dict[str, Any], dict[str, str]]) -> None:
    out, _ = session
    assert out["versions"] == {"@permaweb/aoconnect": "0.0.98", "@permaweb/ao-scheduler-utils": "0.0.29"}
    assert out["mode"] == "legacy"


def test_scheduler_utils_validate_and_raw(session: tuple[dict[str, Any], dict[str, str]]) -> None:
    out, ids = session
    assert out["validate"] is True
    assert out["validate_no_url"] is False  # InvalidSchedulerLocationError → false
    assert out["validate_unknown"]["error"] == "TransactionNotFound"
    # the newer record; ``raw`` hits the cache ``validate`` filled, which keeps the tag's trailing slash
    assert out["raw"] == {"url": ids["url"] + "/"}
    assert out["raw_no_url"] is None


def test_scheduler_utils_locate(session: tuple[dict[str, Any], dict[str, str]]) -> None:
    out, ids = session
    expected = {"url": ids["url"], "address": ids["scheduler"]}
    assert out["locate"] == expected
    assert out["locate_hint"] == expected
    assert out["locate_no_tag"]["error"] == "SchedulerTagNotFound"
    assert out["locate_missing"]["error"] == "TransactionNotFound"


def test_scheduler_utils_get_process(session: tuple[dict[str, Any], dict[str, str]]) -> None:
    out, ids = session
    tags = [
        {"name": k.decode(), "value": v.decode()} for k, v in _process(ids["module"], ids["scheduler"], b"p1")
    ]
    # HyperBEAM path: the node's JSON answer (commitments with ``original-tags``) for an item that
    # was uploaded through the gateway's ``POST /tx``
    assert out["get_process_hb"] == {"id": ids["process"], "tags": tags, "data": "1"}
    # GraphQL fallback: the full legacy transaction selection (duplicate ``block`` merged)
    got = out["get_process_gql"]
    assert "thrown" not in got, got
    assert got["id"] == ids["process"]
    assert got["owner"]["address"] == ids["user"]
    assert got["tags"] == tags
    assert got["data"] == {"size": "1", "type": None}
    assert got["fee"] == got["quantity"] == {"winston": "0", "ar": "0.000000000000"}
    assert got["parent"] == {"id": ""}
    paths = [r["path"] for r in out["requests"] if r["host"] == out_host(session)]
    assert f"/{ids['process']}" in paths


def test_legacy_spawn_and_message(session: tuple[dict[str, Any], dict[str, str]]) -> None:
    out, ids = session
    pid = out["spawn"]
    assert isinstance(pid, str), out
    assert len(pid) == 43
    assert "Tag 'Type'" in out["spawn_not_module"]["thrown"]
    # the GraphQL answer has no edge; aoconnect's own zod schema rejects the missing node
    assert out["spawn_missing_module"]["thrown"] == "Invalid Return 'undefined': Required."
    expected = {"url": ids["url"], "address": ids["scheduler"]}
    assert out["locate_spawned"] == expected
    assert out["locate_spawned_fresh"] == expected
    mid = out["message"]
    assert isinstance(mid, str), out
    assert len(mid) == 43
    later = out["send_signed"]
    assert later["sent"] == later["id"]
    assert out["locate_follow"] == expected
    first, second = out["by_recipient"]["data"]["transactions"]["edges"]
    assert first["node"]["id"] == mid
    assert first["node"]["recipient"] == pid
    assert {"name": "Action", "value": "Ping"} in first["node"]["tags"]
    assert second["node"]["id"] == later["id"]
    assert {"name": "Action", "value": "Later"} in second["node"]["tags"]


def test_only_loopback_and_the_stubbed_router(session: tuple[dict[str, Any], dict[str, str]]) -> None:
    out, _ = session
    hosts = {r["host"] for r in out["requests"]}
    assert hosts <= {out_host(session), "127.0.0.1:9", "su-router.ao-testnet.xyz"}, hosts
    assert any(
        r["path"] == "/" and r["host"] == out_host(session) for r in out["requests"]
    )  # followRedirects
    queries = [r["query"] for r in out["requests"] if r["path"] == "/graphql"]
    assert any("GetSchedulerLocation" in q for q in queries)
    assert any("GetTransactions" in q for q in queries)


def out_host(session: tuple[dict[str, Any], dict[str, str]]) -> str:
    return session[1]["url"].split("://", 1)[1]
