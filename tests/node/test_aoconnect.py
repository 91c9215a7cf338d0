"""Real aoconnect 0.0.98 requests against the node's intake (``aoconnect.json``)."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pytest

from devices.core import Message, RsaWallet
from node._config import load_config
from node._http import HttpApp
from node._hyperpath import As, parse
from node._node import Node
from tests.conftest import vector_path
from tests.node._client import request

if TYPE_CHECKING:
    from pathlib import Path

    from node._server import Running

def _records() -> list[dict[str, Any]]:
    return json.loads(vector_path("hyperbeam-2025-09", "aoconnect.json").read_text())


def _body(rec: dict[str, Any]) -> bytes:
    raw = rec["body_b64"]
    return base64.b64decode(raw) if isinstance(raw, str) else b""


@pytest.fixture
def app(tmp_path: Path, wallet_jwk: dict[str, str], node_wallet: RsaWallet) -> HttpApp:
    RsaWallet.from_jwk(dict(wallet_jwk)).save(tmp_path / "wallet.json")
    node = Node.open(load_config(None, {"data_dir": str(tmp_path)}), wallet=node_wallet)
    yield HttpApp(node)
    node.close()


@pytest.mark.parametrize("index", range(9))
async def test_requests_never_fail_inside(node: Running, index: int) -> None:
    """Each captured request is answered without an internal error; signed items verify."""
    rec = _records()[index]
    headers = list(rec["headers"].items())
    resp = await request(node.port, rec["method"], rec["url_path"], headers=headers, body=_body(rec))
    assert resp.status < 500, resp.body
    if rec["label"] == "spawn" and rec["method"] == "GET":
        assert (resp.status, resp.body) == (200, node.node.wallet.address.encode())
    elif _body(rec):  # verified; process@1.0 is not loaded in this node, the process not stored
        assert resp.status == 404, resp.body
    if _body(rec):
        assert "verify" not in resp.body.decode("utf-8", "replace")


@pytest.mark.parametrize("index", [1, 2, 3, 4, 5, 6])
def test_item_singleton_and_steps(app: HttpApp, index: int) -> None:
    """Intake of an ANS-104 request builds the reference's singleton and message list."""
    rec = _records()[index]
    headers = {k.lower(): v for k, v in rec["headers"].items()}
    target = rec["url_path"].encode()
    singleton = app._singleton("ans104@1.0", rec["method"], target, headers, _body(rec))
    want = rec["req_to_tabm_singleton"]["$tuple"][1]
    got = singleton.without("priv")
    assert sorted(got) == sorted(want)
    for key in ("method", "path", "accept", "accept-bundle", "data-protocol", "type"):
        if key in want:
            assert got[key] == want[key].encode(), key
    assert singleton["priv"]["committers"] == (b"vcaPe4JWnrSOCktDHBgXge-zWUb6JRkqbom5w9t7i-4",)
    steps = parse(singleton)
    expected = rec["singleton_messages"]["$tuple"][1]
    assert len(steps) == len(expected)
    for got_step, want_step in zip(steps, expected, strict=True):
        if isinstance(want_step, str):
            assert got_step == want_step
        elif "$as" in want_step:
            assert isinstance(got_step, As)
            assert got_step.device == want_step["$as"][0]
            assert sorted(got_step.msg) == sorted(want_step["$as"][1])
        else:
            assert isinstance(got_step, Message)
            assert sorted(got_step.without("priv")) == sorted(want_step)
            assert got_step.get("path") == want_step.get("path", "").encode() or "path" not in want_step
