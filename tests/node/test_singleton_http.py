"""The Sep-2025 singleton vectors through the real HTTP server on loopback: each path is sent as a
client sends it, and what the node resolves must be the message list HyperBEAM derives (minus the
transport keys every HTTP request adds: ``method``, ``accept``, ``accept-bundle``, the ``host``
header and the private verification record)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from devices._errors import NotFound
from devices.core import Message
from node._hyperpath import As, Resolve
from tests.conftest import vector_path
from tests.node._client import request
from tests.node.test_hyperpath import DIVERGENT, _elem

if TYPE_CHECKING:
    import pytest

    from node._server import Running

TRANSPORT = {"method", "accept", "accept-bundle", "host", "priv", "user-agent", "connection"}


def _strip(elem: Any) -> Any:
    if isinstance(elem, Message):
        return elem.without(*TRANSPORT)
    if isinstance(elem, As):
        return As(elem.device if isinstance(elem.device, str) else _strip(elem.device), _strip(elem.msg))
    if isinstance(elem, Resolve):
        return Resolve(tuple(_strip(e) for e in elem.steps))
    return elem


# What may stand in an HTTP/1.1 request target (RFC 9112; h11 and hypercorn enforce it). A client
# such as ``fetch`` turns a space into ``%20``; paths with other characters (a raw ``"``) cannot be
# sent over HTTP/1.1 at all, so they are covered by the parser tests only.
_TARGET_OK = re.compile(r"^[\x21-\x7e]*$")


def _as_sent(path: str) -> str | None:
    sent = path.replace(" ", "%20")
    return sent if _TARGET_OK.match(sent) and '"' not in sent else None


def _cases() -> list[dict[str, Any]]:
    records = json.loads(vector_path("hyperbeam-2025-09", "singleton.json").read_text())
    return [r for r in records if isinstance(r["input"], dict) and set(r["input"]) == {"path"}
            and _as_sent(r["input"]["path"]) is not None
            and r["input"]["path"] != "/"]  # the bare root answers gateway info (routes table)


async def test_singleton_vectors_over_http(node: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[Any]] = []

    async def capture(steps: list[Any]) -> Any:
        seen.append(list(steps))
        raise NotFound("captured")

    monkeypatch.setattr(node.node.resolver, "resolve_request", capture)
    cases = _cases()
    assert len(cases) >= 30
    checked = 0
    for rec in cases:
        status, result = rec["output"]["$tuple"]
        path = _as_sent(rec["input"]["path"])
        assert path is not None
        seen.clear()
        resp = await request(node.port, "GET", path, headers=[("accept", "application/json")])
        if status == {"$atom": "error"}:
            assert resp.status == 400, (rec["name"], resp.status, resp.body)
            assert not seen
            continue
        assert resp.status == 404, (rec["name"], resp.status, resp.body)  # the capture's answer
        expected = [_elem(e) for e in DIVERGENT.get(rec["name"], result)]
        assert [_strip(e) for e in seen[0]] == [_strip(e) for e in expected], rec["name"]
        checked += 1
    assert checked >= 25
