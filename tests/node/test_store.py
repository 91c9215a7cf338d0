"""The embedded LMDB store: messages under all ids, results, raw bytes, indexes, durability."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.core import Atom, Link, Message
from node._errors import StoreError
from node._serial import decode_message, encode_message
from node._store import LmdbStore

ROOT = Path(__file__).resolve().parents[2]


def _msg(i: int = 0) -> Message:
    return Message(
        {"n": i, "f": 1.5, "b": b"\x00\xff", "t": True, "a": Atom("ok"), "l": Link("x" * 43),
         "list": [1, b"x", [2]], "nested": {"k": b"v", "deep": {"e": ()}}, "priv": b"secret"}
    )


def test_serial_round_trip_and_canonical() -> None:
    msg = _msg(7)
    blob = encode_message(msg)
    assert decode_message(blob) == msg
    assert encode_message(Message(dict(reversed(list(msg.items()))))) == blob


def test_serial_rejects_garbage() -> None:
    for junk in (b"", b"\xff\xff", b"\x01", encode_message(Message())[:-1] + b"\xa1"):
        with pytest.raises(StoreError):
            decode_message(junk)


_values = st.recursive(
    st.binary(max_size=20) | st.integers() | st.booleans() | st.floats(allow_nan=False)
    | st.builds(Atom, st.text(max_size=5)),
    lambda inner: st.lists(inner, max_size=4).map(tuple)
    | st.dictionaries(st.text(max_size=5), inner, max_size=4).map(Message),
    max_leaves=20,
)


@settings(max_examples=30, derandomize=True)
@given(st.dictionaries(st.text(max_size=8), _values, max_size=6))
def test_serial_property(data: dict[str, object]) -> None:
    msg = Message(data)
    assert decode_message(encode_message(msg)) == msg


def test_messages_by_every_id(tmp_path: Path) -> None:
    with LmdbStore(tmp_path / "s") as store:
        store.write_message(_msg(1), ["id-one", "id-two", "id-three"])
        for ident in ("id-one", "id-two", "id-three"):
            assert store.read_message(ident) == _msg(1)
        assert store.read_message("nope") is None
        assert store.has_message("id-two")
        assert not store.has_message("nope")
        stats = store.statistics()
        assert (stats.messages, stats.aliases) == (1, 3)
        store.write_messages([(_msg(2), ["two"]), (_msg(3), ["three", "drei"])])
        assert [store.read_message(i) for i in ("two", "three", "drei")] == [_msg(2), _msg(3), _msg(3)]
        with pytest.raises(StoreError):
            store.write_messages([(_msg(4), ["four"]), (Message(), [])])
        assert store.read_message("four") is None  # one transaction: all or nothing


def test_results_raw_and_bad_keys(tmp_path: Path) -> None:
    with LmdbStore(tmp_path / "s") as store:
        store.write_result("a/b", _msg(2))
        assert store.read_result("a/b") == _msg(2)
        assert store.read_result("a/c") is None
        store.write_upload(b"\x01\x00raw-bytes", Message(data=b"raw"), ["signed-id", "unsigned-id"])
        assert store.read_raw("unsigned-id") == b"\x01\x00raw-bytes"
        assert store.read_message("signed-id") == Message(data=b"raw")
        with pytest.raises(StoreError):
            store.read_message("")
        with pytest.raises(StoreError):
            store.write_result("x" * 600, Message())
        with pytest.raises(StoreError):
            store.write_message(Message(), [])


def test_index_scan(tmp_path: Path) -> None:
    with LmdbStore(tmp_path / "s") as store:
        ix = store.index("sched")
        ix.put_many([(f"p1/{i:04d}", str(i).encode()) for i in range(20)])
        ix.put_many([(f"p2/{i:04d}", b"x") for i in range(5)])
        ix.put("p0", b"zero")
        assert ix.get("p1/0003") == b"3"
        assert ix.get_many(["p1/0003", "nope", b"p0"]) == [b"3", None, b"zero"]
        assert [k for k, _ in ix.scan("p1/", limit=3)] == [b"p1/0000", b"p1/0001", b"p1/0002"]
        assert [k for k, _ in ix.scan("p1/", start="p1/0018")] == [b"p1/0018", b"p1/0019"]
        assert [k for k, _ in ix.scan("p1/", reverse=True, limit=2)] == [b"p1/0019", b"p1/0018"]
        assert [k for k, _ in ix.scan("p1/", start="p1/0001", reverse=True)] == [b"p1/0001", b"p1/0000"]
        assert len(ix.scan("p2/")) == 5
        assert next(k for k, _ in ix.scan("p2/", reverse=True)) == b"p2/0004"
        assert ix.scan("zz") == []
        assert len(ix.scan()) == 26
        assert ix.delete("p0")
        assert not ix.delete("p0")
        assert store.statistics().indexes == {"sched": 25}
        assert ix.count() == 25


def test_survives_reopen(tmp_path: Path) -> None:
    with LmdbStore(tmp_path / "s") as store:
        store.write_message(_msg(3), ["a"])
        store.index("x").put("k", b"v")
    with LmdbStore(tmp_path / "s") as store:
        assert store.read_message("a") == _msg(3)
        assert store.index("x").get("k") == b"v"


_WRITER = """
import sys
from devices.core import Message
from node._store import LmdbStore
store = LmdbStore(sys.argv[1])
i = 0
while True:
    store.write_message(Message(n=i, pad=b"x" * 2000), [f"id-{i}"])
    store.index("seq").put(f"{i:08d}", b"%d" % i)
    print(i, flush=True)
    i += 1
"""


async def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with trio.fail_after(30):
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None
        buf = b""
        while buf.count(b"\n") < 50:
            chunk = await proc.stdout.receive_some(4096)
            assert chunk, "writer exited early"
            buf += chunk
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    acked = [int(line) for line in buf.split(b"\n")[:-1]]
    with LmdbStore(path) as store:
        for i in acked:
            assert store.read_message(f"id-{i}") == Message(n=i, pad=b"x" * 2000)
            assert store.index("seq").get(f"{i:08d}") == b"%d" % i
