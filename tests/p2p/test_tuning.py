"""``p2p._tuning`` on real py-libp2p nodes: yamux window updates per half window, cached addresses."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
import trio
from libp2p.host.basic_host import BasicHost
from libp2p.stream_muxer.yamux.yamux import YamuxStream

from p2p import FETCH_PROTOCOL, GossipMessage, Libp2pNode
from p2p._tuning import cache_addresses

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

TOPIC = "tuning/test"


@pytest.fixture(autouse=True)
def _no_leaked_sockets() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture
def window_updates(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every WINDOW_UPDATE any yamux stream sends in this test, by increment (counted at the library's
    own sending method, whichever path asks for it)."""
    sent: list[int] = []
    send = YamuxStream.send_window_update

    async def counting(self: YamuxStream, increment: int, skip_lock: bool = False) -> None:
        if increment > 0:
            sent.append(increment)
        await send(self, increment, skip_lock)

    monkeypatch.setattr(YamuxStream, "send_window_update", counting)
    return sent


async def _pair(a: Libp2pNode, b: Libp2pNode) -> None:
    await b.connect(a.listen_addrs[0])


@asynccontextmanager
async def _gossip(a: Libp2pNode, b: Libp2pNode) -> AsyncIterator[trio.MemoryReceiveChannel[GossipMessage]]:
    """Both subscribed to ``TOPIC`` and in each other's mesh; yields ``b``'s subscription."""
    async with a.subscribe(TOPIC), b.subscribe(TOPIC) as rb:
        await a.wait_for_mesh(b.peer_id, TOPIC)
        await b.wait_for_mesh(a.peer_id, TOPIC)
        yield rb


async def test_gossip_sends_window_updates_per_half_window_not_per_read(window_updates: list[int]) -> None:
    a, b = Libp2pNode(seed=b"\x11" * 32), Libp2pNode(seed=b"\x12" * 32)
    count, size = 60, 2048  # 120 KiB in all: under half of yamux's 256 KiB initial window
    with trio.fail_after(20):
        async with a, b:
            await _pair(a, b)
            async with _gossip(a, b) as rb:
                before = len(window_updates)
                for n in range(count):
                    await a.publish(TOPIC, n.to_bytes(2, "big") + b"g" * size)
                got = [int.from_bytes((await rb.receive()).data[:2], "big") for _ in range(count)]
                assert got == list(range(count))
                during = len(window_updates) - before
    # The library's default sends an update on nearly every read (several per message: > count).
    assert during <= 4, f"{during} window updates for {count} gossip messages"


async def test_large_transfers_still_flow(window_updates: list[int]) -> None:
    """Many windows' worth over one stream (a 3 MiB reply) and over the gossip stream (a burst of
    200 KiB messages): the sender is credited in time, nothing stalls."""
    a, b = Libp2pNode(seed=b"\x21" * 32), Libp2pNode(seed=b"\x22" * 32)
    blob = bytes(range(256)) * (3 * 4096)

    async def serve(peer: str, payload: bytes) -> bytes:
        return blob

    b.set_request_handler(FETCH_PROTOCOL, serve)
    with trio.fail_after(30):
        async with a, b:
            await _pair(a, b)
            assert await a.request(b.peer_id, FETCH_PROTOCOL, b"x", timeout_s=20) == blob
            assert await a.request(b.peer_id, FETCH_PROTOCOL, b"y", timeout_s=20) == blob
            async with _gossip(a, b) as rb:
                for n in range(12):  # 2.4 MiB through the gossip stream
                    await a.publish(TOPIC, bytes([n]) * (200 * 1024))
                assert [(await rb.receive()).data[0] for _ in range(12)] == list(range(12))
    assert window_updates, "no window was ever credited back"
    assert min(window_updates) >= 128 * 1024, "an update smaller than half the initial window"


async def test_addresses_are_cached_not_rebuilt_per_message(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    library = BasicHost.get_addrs

    def counting(self: BasicHost) -> Any:
        calls.append(1)
        return library(self)

    monkeypatch.setattr(BasicHost, "get_addrs", counting)
    a, b = Libp2pNode(seed=b"\x31" * 32), Libp2pNode(seed=b"\x32" * 32)
    with trio.fail_after(20):
        async with a, b:
            await _pair(a, b)
            async with _gossip(a, b) as rb:
                assert a._host.get_addrs() == library(a._host)  # the same answer as the library's
                before = len(calls)
                for n in range(40):
                    await a.publish(TOPIC, bytes([n]))
                for _ in range(40):
                    await rb.receive()
                assert len(calls) - before <= 4, "get_addrs rebuilt for every message"


def test_cache_addresses_expires_and_never_caches_empty() -> None:
    now = [0.0]
    answers: list[list[str]] = [[], ["/ip4/127.0.0.1/tcp/1"], ["/ip4/127.0.0.1/tcp/2"]]

    class Host:
        def get_addrs(self) -> list[str]:
            return answers.pop(0) if len(answers) > 1 else answers[0]

    host = Host()
    cache_addresses(host, ttl_s=1.0, clock=lambda: now[0])
    assert host.get_addrs() == []  # not listening yet: asked again next time
    assert host.get_addrs() == ["/ip4/127.0.0.1/tcp/1"]
    now[0] = 0.5
    assert host.get_addrs() == ["/ip4/127.0.0.1/tcp/1"]  # cached
    now[0] = 1.5
    assert host.get_addrs() == ["/ip4/127.0.0.1/tcp/2"]  # expired: rebuilt
    host.get_addrs().append("mutated")
    assert host.get_addrs() == ["/ip4/127.0.0.1/tcp/2"]  # callers get copies
