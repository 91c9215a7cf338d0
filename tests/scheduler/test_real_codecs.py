"""The scheduler and devices with the real message layer (httpsig RSA commitments, real ids)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from devices._errors import BadRequest
from devices.core import Message, RsaWallet, b64u_encode, commit, message_id, verify
from devices.scheduler import AssignmentLog, Scheduler, next_hash_chain
from tests.conftest import vector_path
from tests.scheduler._harness import Node, make_node

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import lmdb


@pytest.fixture
def wallets() -> tuple[RsaWallet, RsaWallet]:
    return (
        RsaWallet.load(vector_path("hyperbeam-test-data", "key-1.json")),
        RsaWallet.load(vector_path("hyperbeam-test-data", "key-2.json")),
    )


@pytest.fixture
async def node(env: lmdb.Environment, wallets: tuple[RsaWallet, RsaWallet]) -> AsyncIterator[Node]:
    s = Scheduler.for_wallet(AssignmentLog(env), wallets[0])
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        yield make_node(env, s)
        nursery.cancel_scope.cancel()


async def test_real_signatures_end_to_end(node: Node, wallets: tuple[RsaWallet, RsaWallet]) -> None:
    node_wallet, user = wallets
    proc = commit(
        Message(
            {
                "type": "Process",
                "device": "process@1.0",
                "scheduler": node_wallet.address,
                "execution-device": "test-exec@1.0",
            }
        ),
        user,
    )
    pid = message_id(proc, "all")
    a0 = await node.resolve(
        Message(device="scheduler@1.0"), Message(path="schedule", method="POST", body=proc)
    )
    assert isinstance(a0, Message)
    assert a0["slot"] == 0
    assert verify(a0).valid
    assert node_wallet.address in verify(a0).committers
    msg = commit(Message({"type": "Message", "target": pid, "action": "Eval", "data": "hi"}), user)
    a1 = await node.resolve(Message(device="scheduler@1.0"), msg.update(path="schedule", method="POST"))
    assert a1["slot"] == 1  # type: ignore[index]
    assert a1.get_text("hash-chain") == b64u_encode(  # type: ignore[union-attr]
        next_hash_chain(next_hash_chain(b"", pid), message_id(msg, "all"))
    )
    forged = msg.set("data", "tampered")
    with pytest.raises(BadRequest, match="not valid"):
        await node.resolve(Message(device="scheduler@1.0"), forged.update(path="schedule", method="POST"))
    assert node.scheduler.current(pid) == 1
    state = await node.get(proc, path="compute", slot=1)
    assert state["counter"] == 2  # type: ignore[index]
