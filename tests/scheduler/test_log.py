from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest
import trio

from devices._errors import Conflict
from devices.core import Message, b64u_encode
from devices.scheduler import (
    AssignmentLog,
    ChainHead,
    MessageOps,
    Scheduler,
    StorageCorrupt,
    build_assignment,
    legacy_first_hash_chain,
    legacy_next_hash_chain,
    next_hash_chain,
    next_hash_chain_text,
)
from devices.scheduler._assignment import DEBUG_BLOCK
from tests.scheduler._support import NODE_ADDR, NODE_KEY, fake_ops, open_env, signer, user_msg

if TYPE_CHECKING:
    from pathlib import Path

    import lmdb

M0 = "4iZaXaryQ3eeCDB_2ZS4WmET6DTm35QukI6dNEhQPmw"
M1 = "FRlw0hbk1-nlAbJ2DbMmwqGV8u6rWgrFYJWjm1mBMjk"


def test_hash_chain_vectors() -> None:
    hc0 = next_hash_chain(b"", M0)
    assert b64u_encode(hc0) == "Dfp0BUVUxfJxSGOS1LGrsaIqGnw2lziV9VNT2NhyXMo"
    assert b64u_encode(next_hash_chain(hc0, M1)) == "sg1XMehaa76LYisxjk65UYE7zUv1IldbntW51yAr-o8"
    assert next_hash_chain_text(b64u_encode(hc0), M1) == "ThgGKqbS2kMcUOUEpHPpoEIMs-Ra6qKdnQxwiKjZnxE"
    first = legacy_first_hash_chain(M0)
    assert first == "MXlmDwDgyrr9jYUiPr2H4opNR6U-bNJTaYyuw4O7UY4"
    assert legacy_next_hash_chain("P_N-NEMtNRpNXemOHMNu9Gjx4AbNhAl-7_5CGtPC6PM", first) == (
        "8cXkfR70DJ4a_Es1TjhN3mpwX_lld0w2C9Z7EeNvCy8"
    )


def _build(pid: str, head: ChainHead, msg: Message) -> object:
    ops = fake_ops()
    return build_assignment(
        process_id=pid,
        head=head,
        message=msg,
        message_id=ops.message_id(msg),
        timestamp_ms=5,
        block=DEBUG_BLOCK,
        sign=signer(NODE_KEY),
    )


def test_assignment_shape(env: lmdb.Environment) -> None:
    msg = user_msg(1, "P")
    a = _build("P", ChainHead(), msg)
    m = a.message  # type: ignore[attr-defined]
    assert m["epoch"] == b"0"
    assert m["slot"] == 0
    assert m["variant"] == b"ao.N.1"
    assert m["data-protocol"] == b"ao"
    assert m["path"] == b"compute"
    assert m["process"] == b"P"
    assert m["block-height"] == 0
    assert m["block-hash"] == b"A" * 43
    assert m["timestamp"] == 5
    assert m["body"] == msg
    assert "commitments" in m


def test_append_rejects_gaps_and_broken_links(env: lmdb.Environment) -> None:
    log = AssignmentLog(env)
    a0 = _build("P", ChainHead(), user_msg(0, "P"))
    log.append([a0])  # type: ignore[list-item]
    skip = _build("P", ChainHead(next_slot=2, chain=a0.chain_raw), user_msg(2, "P"))  # type: ignore[attr-defined]
    with pytest.raises(Conflict, match="not the next slot"):
        log.append([skip])  # type: ignore[list-item]
    bad = _build("P", ChainHead(next_slot=1, chain=b"\x01" * 32), user_msg(1, "P"))
    good_other = _build("Q", ChainHead(), user_msg(0, "Q"))
    with pytest.raises(Conflict, match="hash chain"):
        log.append([good_other, bad])  # type: ignore[list-item]
    assert log.head("Q") == ChainHead()  # nothing of the failed batch was stored
    assert log.head("P").next_slot == 1
    assert log.verify_chain("P") == 1
    assert log.processes() == ["P"]


def test_reopen_reads_heads_back(tmp_path: Path) -> None:
    env = open_env(tmp_path / "db", sync=False)  # exercises the explicit env.sync path
    log = AssignmentLog(env)
    head = ChainHead()
    for i in range(5):
        a = _build("P", head, user_msg(i, "P"))
        log.append([a])  # type: ignore[list-item]
        head = ChainHead(next_slot=a.slot + 1, chain=a.chain_raw)  # type: ignore[attr-defined]
    env.close()
    env2 = open_env(tmp_path / "db")
    log2 = AssignmentLog(env2)
    assert log2.head("P") == head
    assert [a.slot for a in log2.read_range("P", 1, 3)] == [1, 2, 3]
    assert log2.read_range("P", 3, 99)[-1].slot == 4
    assert log2.get("P", 5) is None
    assert log2.get("P", -1) is None
    env2.close()


def test_corrupt_head_is_reported(env: lmdb.Environment) -> None:
    log = AssignmentLog(env)
    proc_db = env.open_db(b"sched-proc")
    with env.begin(write=True) as txn:
        txn.put(b"P", b"\xff\x00garbage", db=proc_db)
    with pytest.raises(StorageCorrupt):
        log.head("P")


async def test_chain_valid_over_10k_assignments(env: lmdb.Environment) -> None:
    # Cheap stand-ins: this test is about the log and the chain, not about signing.
    def cheap_id(m: Message) -> str:
        return b64u_encode(hashlib.sha256(b"%d" % (m.get_int("i") or -1)).digest())

    ops = MessageOps(message_id=cheap_id, sign=lambda m: m, verify=lambda m: True)
    log = AssignmentLog(env)
    s = Scheduler(log, ops, address=NODE_ADDR, max_batch=512)
    proc = Message({"type": "Process", "i": -1})
    pid = ops.message_id(proc)
    n = 10_000
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(s.run)
            await s.schedule(pid, proc)

            async def writer(k: int) -> None:
                for i in range(k, n, 100):
                    await s.schedule(pid, Message({"type": "Message", "target": pid, "i": i}))

            async with trio.open_nursery() as writers:
                for k in range(100):
                    writers.start_soon(writer, k)
            nursery.cancel_scope.cancel()
    assert log.verify_chain(pid) == n + 1
    assert s.statistics()["batches"] < n // 4  # group commit actually grouped
