from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from devices._errors import BadRequest
from devices.core import Message
from tests.scheduler._harness import Node, make_node, new_scheduler
from tests.scheduler._support import process_def, user_msg

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import lmdb


@pytest.fixture
async def node(env: lmdb.Environment) -> AsyncIterator[Node]:
    s = new_scheduler(env)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        yield make_node(env, s)
        nursery.cancel_scope.cancel()


def _proc(name: str) -> Message:
    return process_def(name, **{"execution-device": "stack@1.0", "device-stack": ["test-exec@1.0"]})


async def _spawn(node: Node, name: str) -> tuple[Message, str]:
    proc = _proc(name)
    reply = await node.resolve(proc, Message(path="push"))  # aoconnect spawn: POST /push of the item
    assert isinstance(reply, Message)
    pid = node.scheduler.ops.message_id(proc)
    assert reply["process"] == pid.encode()
    assert reply["slot"] == 0
    assert node.store.read_message(pid) == proc  # loadable by id for /<pid>/compute
    return proc, pid


async def test_spawn_then_push_delivers_outbox_locally(node: Node) -> None:
    a, apid = await _spawn(node, "a")
    _b, bpid = await _spawn(node, "b")
    msg = user_msg(1, apid, **{"emit-to": bpid, "data": "ping"})
    reply = await node.resolve(a, msg.set("path", "push"))
    assert isinstance(reply, Message)
    assert reply["slot"] == 1
    assert reply["process"] == apid.encode()
    assert reply["id"] == node.scheduler.ops.message_id(msg).encode()
    assert reply["data"].startswith(b"2:")  # type: ignore[union-attr]  # results merged in
    sent = reply["1"]
    assert isinstance(sent, Message)
    assert sent["target"] == bpid.encode()
    assert sent["slot"] == 1
    assert sent["resulted-in"]["process"] == bpid.encode()  # type: ignore[index]
    # B really received it: slot 1 of B is the echo, signed by the node, from-process = A.
    delivered = node.scheduler.assignment(bpid, 1).body
    assert delivered["from-process"] == apid.encode()
    assert delivered["action"] == b"Echo"
    assert node.scheduler.ops.verify(delivered)
    b_state = await node.get(_b, path="compute", slot=1)
    assert b_state["counter"] == 2  # type: ignore[index]


async def test_push_existing_slot_and_remote_targets(node: Node) -> None:
    a, apid = await _spawn(node, "a")
    remote = process_def("far", scheduler="R" * 43 + "?hint=http://127.0.0.1:9")
    rpid = node.scheduler.ops.message_id(remote)
    node.store.write_message(remote, [rpid])
    await node.scheduler.schedule(apid, user_msg(1, apid, **{"emit-to": f"{rpid},{'N' * 43}"}))
    reply = await node.resolve(a, Message(path="push", slot=1))
    assert isinstance(reply, Message)
    assert reply["1"]["status"] == 404  # type: ignore[index]  # no peer service offered
    assert reply["2"]["reason"] == b"Could not access target process!"  # type: ignore[index]
    calls: list[str] = []

    async def peer(method: str, url: str, path: str, message: Message) -> Message:
        calls.append(f"{method} {url}{path}")
        assert message["from-process"] == apid.encode()
        return Message(slot=3, process=rpid)

    node.services["peer"] = peer
    reply = await node.resolve(a, Message(path="push", slot=1))
    assert calls == [f"POST http://127.0.0.1:9/{rpid}~process@1.0/push&max-push-hops=31"]
    assert reply["1"]["resulted-in"]["slot"] == 3  # type: ignore[index]


async def test_spawn_request_carrying_the_process_keys(node: Node) -> None:
    proc = _proc("c")
    pid = node.scheduler.ops.message_id(proc)
    # aoconnect: [ProcMsg, {path: push, ...the same keys...}] (spec §8.1)
    reply = await node.resolve(proc, proc.without("commitments").update(path="push", method="POST"))
    assert reply["slot"] == 0  # type: ignore[index]
    assert node.scheduler.assignment(pid, 0).body == proc


async def test_push_rejects_forged_messages(node: Node) -> None:
    a, apid = await _spawn(node, "a")
    forged = user_msg(1, apid).set("n", 5).set("path", "push")
    with pytest.raises(BadRequest, match="not valid"):
        await node.resolve(a, forged)
    assert node.scheduler.current(apid) == 0
