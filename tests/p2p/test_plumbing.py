"""Backend plumbing: error mapping, the library-stream adapter, bootstrap redialling, validator faults."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from p2p import MemoryNetwork, P2PConfig, P2PError, ValidationResult
from p2p._service import library_leaf, map_errors, redial_forever
from p2p._streams import LibraryStream


class LibError(Exception):
    pass


class LibEOF(LibError):
    pass


def test_library_leaf_unwraps_only_pure_library_groups() -> None:
    deep = ExceptionGroup("a", [ExceptionGroup("b", [LibError("x")])])
    leaf = library_leaf(deep, (LibError,))
    assert isinstance(leaf, LibError)
    assert str(leaf) == "x"
    assert library_leaf(LibError("y"), (LibError,)) is not None
    assert library_leaf(ExceptionGroup("m", [LibError("x"), KeyError("k")]), (LibError,)) is None
    assert library_leaf(KeyError("k"), (LibError,)) is None


def test_map_errors_converts_library_errors_and_passes_the_rest() -> None:
    mapper = map_errors((LibError,), lambda e: P2PError(f"mapped: {e}"))
    with pytest.raises(P2PError, match="mapped: boom") as info, mapper:
        raise ExceptionGroup("g", [LibError("boom")])
    assert isinstance(info.value.__cause__, ExceptionGroup)
    with pytest.raises(KeyError), map_errors((LibError,), lambda e: P2PError(str(e))):
        raise KeyError("ours")
    with pytest.raises(ExceptionGroup), map_errors((LibError,), lambda e: P2PError(str(e))):
        raise ExceptionGroup("mixed", [LibError("a"), KeyError("b")])


class FakeStream:
    def __init__(self, chunks: list[bytes | BaseException]) -> None:
        self.chunks = chunks
        self.written: list[bytes] = []
        self.closed = False

    async def read(self, n: int) -> bytes:
        await trio.lowlevel.checkpoint()
        item = self.chunks.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item[:n]

    async def write(self, data: bytes) -> None:
        await trio.lowlevel.checkpoint()
        if data == b"fail":
            raise LibError("write failed")
        self.written.append(data)

    async def close(self) -> None:
        await trio.lowlevel.checkpoint()
        self.closed = True
        raise LibError("already closed")


async def test_library_stream_maps_eof_and_errors() -> None:
    fake = FakeStream([b"abc", LibEOF(), LibError("reset")])
    stream = LibraryStream(fake, eof=LibEOF, errors=(LibError,))
    assert await stream.receive_some(10) == b"abc"
    assert await stream.receive_some(10) == b""
    with pytest.raises(trio.BrokenResourceError):
        await stream.receive_some(10)
    await stream.send_all(b"ok")
    assert fake.written == [b"ok"]
    with pytest.raises(trio.BrokenResourceError):
        await stream.send_all(b"fail")
    await stream.aclose()  # a close error is logged, not raised
    assert fake.closed


async def test_redial_forever_reconnects_bootstrap_peers(autojump_clock: trio.testing.MockClock) -> None:
    net = MemoryNetwork()
    async with net.node("hub") as hub, net.node("leaf") as leaf, trio.open_nursery() as nursery:
        nursery.start_soon(redial_forever, leaf, [*hub.listen_addrs, "/memory/ghost/p2p/ghost"], 10.0)
        with trio.fail_after(1):
            await leaf.wait_peer_state("hub", connected=True)
        await leaf.disconnect("hub")
        assert leaf.peers() == []
        with trio.fail_after(11):
            await leaf.wait_peer_state("hub", connected=True)
        nursery.cancel_scope.cancel()


async def test_validator_faults_ignore_instead_of_penalising(nursery: trio.Nursery) -> None:
    net = MemoryNetwork(P2PConfig())
    a = await nursery.start(net.node("a").run)
    b = await nursery.start(net.node("b").run)
    await a.connect(b.listen_addrs[0])

    def broken(_origin: str, data: bytes) -> ValidationResult:
        if data == b"raise":
            raise RuntimeError("validator bug")
        return "yes"  # type: ignore[return-value]

    b.set_validator("t", broken)
    async with b.subscribe("t") as rb:
        await a.publish("t", b"raise")
        await a.publish("t", b"wrong type")
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.WouldBlock):
            rb.receive_nowait()
    assert b.statistics().ignored == 2
    assert b.score("a") == 0.0
