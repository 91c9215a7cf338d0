from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import trio

import devices.scheduler._scheduler as sched_mod
from devices._errors import BadRequest, NotFound
from devices.core import Message
from tests.scheduler._harness import Node, make_node, new_scheduler
from tests.scheduler._support import NODE_ADDR, NODE_KEY, process_def, signer, user_msg

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import lmdb

SCHED = Message(device="scheduler@1.0")


@pytest.fixture
async def node(env: lmdb.Environment) -> AsyncIterator[Node]:
    s = new_scheduler(env)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        yield make_node(env, s)
        nursery.cancel_scope.cancel()


async def _post(node: Node, msg: Message, **extra: object) -> Message:
    out = await node.resolve(SCHED, msg.update({"path": "schedule", "method": "POST", **extra}))
    assert isinstance(out, Message)
    return out


async def test_post_process_then_message(node: Node) -> None:
    proc = process_def()
    pid = node.scheduler.ops.message_id(proc)
    a0 = await node.resolve(SCHED, Message(path="schedule", method="POST", body=proc))
    assert isinstance(a0, Message)
    assert a0["slot"] == 0
    assert a0["process"] == pid.encode()
    assert node.store.read_message(pid) == proc
    a1 = await _post(node, user_msg(1, pid, inner="test-message"))  # the request is the message
    assert a1["slot"] == 1
    assert a1["body"]["inner"] == b"test-message"  # type: ignore[index]
    assert "path" not in a1["body"]  # type: ignore[operator]  # uncommitted transport keys dropped
    assert a1.get_text("hash-chain")
    assert a1.get_text("epoch") == "0"
    again = await _post(node, proc)  # no de-duplication (HyperBEAM behaviour)
    assert again["slot"] == 2
    via_record = await node.resolve(SCHED, user_msg(3, pid).update({"path": "record", "method": "POST"}))
    assert via_record["slot"] == 3  # type: ignore[index]


async def test_get_schedule_and_slot_and_status(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = process_def()
    pid = node.scheduler.ops.message_id(proc)
    await _post(node, proc)
    for i in range(1, 6):
        await _post(node, user_msg(i, pid))
    page = await node.get(SCHED, path="schedule", target=pid, **{"from": "1", "to": "3"})
    assert isinstance(page, Message)
    assert page["type"] == b"schedule"
    assert sorted(page["assignments"]) == ["1", "2", "3"]  # type: ignore[arg-type]
    assert page["continues"] is False
    monkeypatch.setattr(sched_mod, "MAX_PAGE", 2)
    capped = await node.get(SCHED, path="schedule", target=pid)
    assert sorted(capped["assignments"]) == ["0", "1"]  # type: ignore[index]
    assert capped["continues"] is True  # type: ignore[index]
    one = await node.get(SCHED, path="schedule", target=pid, slot="4")
    assert one["slot"] == 4  # type: ignore[index]
    with pytest.raises(NotFound, match="current slot is 5"):
        await node.get(SCHED, path="schedule", target=pid, slot="6")
    slot = await node.get(SCHED, path="slot", target=pid)
    assert slot["current"] == 5  # type: ignore[index]
    assert slot["block-height"] == 0  # type: ignore[index]  # the right way round
    assert slot["block-hash"] == b"A" * 43  # type: ignore[index]
    assert slot["addresses"] == (NODE_ADDR.encode(),)  # type: ignore[index]
    assert await node.resolve(slot, Message(path="current")) == 5  # type: ignore[arg-type]
    status = await node.get(SCHED, path="status")
    assert status["processes"] == (pid.encode(),)  # type: ignore[index]
    assert status["address"] == NODE_ADDR.encode()  # type: ignore[index]


async def test_aos2_json_schedule(node: Node) -> None:
    proc = process_def()
    pid = node.scheduler.ops.message_id(proc)
    await _post(node, proc)
    for i in range(1, 4):
        await _post(node, user_msg(i, pid, inner="test"))
    out = await node.get(SCHED, path="schedule", target=pid, accept="application/aos-2")
    assert out["content-type"] == b"application/json"  # type: ignore[index]
    page = json.loads(out["body"])  # type: ignore[index,arg-type]
    assert page["page_info"]["process"] == pid
    assert page["page_info"]["has_next_page"] is False
    assert [e["cursor"] for e in page["edges"]] == [0, 1, 2, 3]
    node1 = page["edges"][1]["node"]
    tags = {t["name"]: t["value"] for t in node1["assignment"]["Tags"]}
    assert tags["Slot"] == "1"
    assert tags["Process"] == pid
    assert tags["Epoch"] == "0"
    assert node1["assignment"]["Owner"] == NODE_ADDR
    msg_tags = {t["name"]: t["value"] for t in node1["message"]["Tags"]}
    assert msg_tags["Inner"] == "test"
    assert node1["message"]["Target"] == pid
    assert node1["message"]["Id"] == node.scheduler.ops.message_id(user_msg(1, pid, inner="test"))


async def test_bad_input(node: Node) -> None:
    proc = process_def()
    pid = node.scheduler.ops.message_id(proc)
    await _post(node, proc)
    with pytest.raises(BadRequest, match="not valid"):
        await _post(node, user_msg(1, pid).set("n", 2))
    assert node.scheduler.current(pid) == 0
    with pytest.raises(NotFound):
        await _post(node, user_msg(1, "Z" * 43))
    with pytest.raises(NotFound):
        await node.get(SCHED, path="slot", target="Z" * 43)
    with pytest.raises(BadRequest, match="no process"):
        await node.get(SCHED, path="slot")
    with pytest.raises(BadRequest, match="integer"):
        await node.get(SCHED, path="schedule", target=pid, to="ten")
    for bad in ("x" * 600, "a\x00b"):
        with pytest.raises(BadRequest, match="not a process id"):
            await node.get(SCHED, path="slot", target=bad)
        with pytest.raises(BadRequest, match="not a process id"):
            await node.get(SCHED, path="location", address=bad)
    with pytest.raises(BadRequest, match="not a process id"):
        await _post(node, user_msg(1, "y" * 600))


async def test_redirects(node: Node) -> None:
    remote = process_def("remote", scheduler="R" * 43 + "?hint=http://127.0.0.1:9")
    rpid = node.scheduler.ops.message_id(remote)
    node.store.write_message(remote, [rpid])
    msg = user_msg(1, rpid)
    out = await _post(node, msg)
    assert out["status"] == 307
    assert out["location"] == b"http://127.0.0.1:9"
    assert out["body"] == b"Redirecting to scheduler: http://127.0.0.1:9"
    calls: list[tuple[str, str, str]] = []

    async def peer(method: str, url: str, path: str, message: Message) -> Message:
        calls.append((method, url, path))
        return Message(slot=7, process=rpid)

    node.services["peer"] = peer
    proxied = await _post(node, msg)
    assert proxied["slot"] == 7
    assert calls == [("POST", "http://127.0.0.1:9", f"/{rpid}/schedule")]
    unknown = process_def("nowhere", scheduler="Q" * 43)
    upid = node.scheduler.ops.message_id(unknown)
    node.store.write_message(unknown, [upid])
    with pytest.raises(NotFound, match="location"):
        await _post(node, user_msg(2, upid))


async def test_locations(node: Node) -> None:
    with pytest.raises(NotFound, match="No location found"):
        await node.get(SCHED, path="location")
    req = signer(NODE_KEY)(Message(url="http://127.0.0.1:8734", nonce=1))
    rec = await node.resolve(SCHED, req.update(path="location", method="POST"))
    assert rec["type"] == b"scheduler-location"  # type: ignore[index]
    assert rec["url"] == b"http://127.0.0.1:8734"  # type: ignore[index]
    got = await node.get(SCHED, path="location", address=NODE_ADDR)
    assert got["body"]["nonce"] == 1  # type: ignore[index]
    stale = await node.resolve(SCHED, req.update(path="location", method="POST"))
    assert stale["status"] == 400  # type: ignore[index]
    assert stale["existing-nonce"] == 1  # type: ignore[index]
    other = signer(b"bob")(Message(url="http://127.0.0.1:9999", nonce=3, type="scheduler-location"))
    await node.resolve(SCHED, other.update(path="location", method="POST"))
    bob = node.scheduler.ops.signers(other)[0]
    assert (await node.get(SCHED, path="location", address=bob))["body"]["nonce"] == 3  # type: ignore[index]
    with pytest.raises(BadRequest, match="signed"):
        await node.resolve(SCHED, Message(path="location", method="POST", url="x", nonce=5))
