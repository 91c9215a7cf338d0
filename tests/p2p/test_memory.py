"""The in-memory backend: the same gossip, validation, scoring, request/response and size rules as libp2p."""

from __future__ import annotations

import itertools

import pytest
import trio
import trio.testing

from p2p import (
    FETCH_PROTOCOL,
    GossipMessage,
    MemoryNetwork,
    MemoryNode,
    MessageTooLarge,
    NodeClosed,
    P2PConfig,
    PeerBanned,
    PeerUnreachable,
    ProtocolNotSupported,
    ProtocolViolation,
    RequestFailed,
    RequestTimeout,
    ValidationResult,
)

TOPIC = "hyperpeer/attestations/1"


async def chain(net: MemoryNetwork, nursery: trio.Nursery, n: int = 3) -> list[MemoryNode]:
    nodes = [await nursery.start(net.node(f"n{i}").run) for i in range(n)]
    for a, b in itertools.pairwise(nodes):
        assert await a.connect(b.listen_addrs[0]) == b.peer_id
    return nodes


async def recv(channel: trio.MemoryReceiveChannel[GossipMessage]) -> GossipMessage:
    with trio.fail_after(2):
        return await channel.receive()


async def test_publish_reaches_the_far_end_through_a_relay(nursery: trio.Nursery) -> None:
    a, b, c = await chain(MemoryNetwork(), nursery)
    assert b.peers() == ["n0", "n2"]
    async with a.subscribe(TOPIC) as ra, b.subscribe(TOPIC) as rb, c.subscribe(TOPIC) as rc:
        await a.publish(TOPIC, b"hello")
        got_c = await recv(rc)
        got_b = await recv(rb)
        assert got_c == GossipMessage(TOPIC, b"hello", "n0", "n1")
        assert got_b == GossipMessage(TOPIC, b"hello", "n0", "n0")
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.WouldBlock):
            ra.receive_nowait()  # our own publications are not delivered back to us
        with pytest.raises(trio.WouldBlock):
            rc.receive_nowait()  # exactly once
    stats = c.statistics()
    assert stats.accepted == 1
    assert a.statistics().published == 1


async def test_non_subscribers_do_not_relay(nursery: trio.Nursery) -> None:
    a, _b, c = await chain(MemoryNetwork(), nursery)
    async with c.subscribe(TOPIC) as rc:
        await a.publish(TOPIC, b"x")
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.WouldBlock):
            rc.receive_nowait()


async def test_validator_rejection_stops_forwarding(nursery: trio.Nursery) -> None:
    a, b, c = await chain(MemoryNetwork(), nursery)
    seen: list[tuple[str, bytes]] = []

    def validate(origin: str, data: bytes) -> ValidationResult:
        seen.append((origin, data))
        if data.startswith(b"forged"):
            return ValidationResult.REJECT
        if data.startswith(b"boring"):
            return ValidationResult.IGNORE
        return ValidationResult.ACCEPT

    b.set_validator(TOPIC, validate)
    async with b.subscribe(TOPIC) as rb, c.subscribe(TOPIC) as rc:
        await a.publish(TOPIC, b"forged-1")
        await a.publish(TOPIC, b"boring-1")
        await a.publish(TOPIC, b"good")
        assert (await recv(rc)).data == b"good"
        assert (await recv(rb)).data == b"good"
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.WouldBlock):
            rc.receive_nowait()
    assert seen == [("n0", b"forged-1"), ("n0", b"boring-1"), ("n0", b"good")]
    stats = b.statistics()
    assert (stats.rejected, stats.ignored, stats.accepted) == (1, 1, 1)
    assert b.score("n0") < 0
    b.set_validator(TOPIC, None)


async def test_scoring_disconnects_and_bans_a_bad_peer(nursery: trio.Nursery) -> None:
    config = P2PConfig(score_disconnect_threshold=-2.5, score_reject_penalty=1.0)
    net = MemoryNetwork(config)
    a, b = await chain(net, nursery, 2)
    b.set_validator(TOPIC, lambda _o, d: ValidationResult.REJECT if d == b"bad" else ValidationResult.ACCEPT)
    async with b.subscribe(TOPIC) as rb:
        await a.publish(TOPIC, b"bad")
        await a.publish(TOPIC, b"bad")
        await trio.testing.wait_all_tasks_blocked()
        assert b.peers() == ["n0"]  # two strikes: still connected
        await a.publish(TOPIC, b"bad")
        await trio.testing.wait_all_tasks_blocked()
        assert b.peers() == []
        assert a.peers() == []
        await a.publish(TOPIC, b"good")  # no longer connected: goes nowhere
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.WouldBlock):
            rb.receive_nowait()
    stats = b.statistics()
    assert stats.disconnects_for_score == 1
    assert stats.banned_peers == 1
    with pytest.raises(PeerBanned):
        await b.connect(a.listen_addrs[0])
    with pytest.raises(PeerUnreachable):
        await a.connect(b.listen_addrs[0])  # the banning side refuses inbound too


async def test_scores_decay_and_bans_expire(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    config = P2PConfig(score_disconnect_threshold=-1.0, score_half_life_s=10.0, ban_duration_s=30.0)
    a, b = await chain(MemoryNetwork(config), nursery, 2)
    b.set_validator(TOPIC, lambda _o, _d: ValidationResult.REJECT)
    async with b.subscribe(TOPIC):
        await a.publish(TOPIC, b"bad")
        await trio.testing.wait_all_tasks_blocked()
    assert b.peers() == []
    assert b.score("n0") <= -1.0
    await trio.sleep(10)
    assert b.score("n0") == pytest.approx(-0.5, rel=1e-3)
    await trio.sleep(25)
    assert await b.connect(a.listen_addrs[0]) == "n0"
    assert b.score("n0") == 0.0


async def test_rate_limit_ignores_excess_per_forwarder(nursery: trio.Nursery) -> None:
    config = P2PConfig(rate_limit_per_s=0.001, rate_limit_burst=3)
    a, b = await chain(MemoryNetwork(config), nursery, 2)
    async with b.subscribe(TOPIC) as rb:
        for i in range(5):
            await a.publish(TOPIC, b"%d" % i)
        got = [(await recv(rb)).data for _ in range(3)]
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.WouldBlock):
            rb.receive_nowait()
    assert got == [b"0", b"1", b"2"]
    assert b.statistics().rate_limited == 2
    assert b.score("n0") >= 0  # rate limiting is not a penalty


async def test_size_limits_on_publish_and_receive(nursery: trio.Nursery) -> None:
    net = MemoryNetwork(P2PConfig(max_message_bytes=100))
    big_a = net.node("big", config=P2PConfig(max_message_bytes=1000))
    a = await nursery.start(big_a.run)
    b = await nursery.start(net.node("small").run)
    await a.connect(b.listen_addrs[0])
    with pytest.raises(MessageTooLarge):
        await b.publish(TOPIC, b"x" * 101)
    async with b.subscribe(TOPIC) as rb:
        await a.publish(TOPIC, b"x" * 500)  # allowed by the sender, over the receiver's cap
        await a.publish(TOPIC, b"y" * 100)
        assert (await recv(rb)).data == b"y" * 100
    stats = b.statistics()
    assert stats.oversize_dropped == 1
    assert stats.rejected == 1


async def test_publish_applies_back_pressure(nursery: trio.Nursery) -> None:
    net = MemoryNetwork(P2PConfig(subscription_buffer=2))
    a, b = await chain(net, nursery, 2)
    async with b.subscribe(TOPIC) as rb, trio.open_nursery() as inner:
        done = trio.Event()

        async def flood() -> None:
            for i in range(20):
                await a.publish(TOPIC, b"%d" % i)
            done.set()

        inner.start_soon(flood)
        got = [(await recv(rb)).data for _ in range(20)]
        with trio.fail_after(2):
            await done.wait()
    assert got == [b"%d" % i for i in range(20)]  # nothing lost: the publisher waited
    assert b.statistics().subscription_overflows == 0


async def test_slow_subscriber_overflow_is_counted(nursery: trio.Nursery) -> None:
    a, b = await chain(MemoryNetwork(P2PConfig(subscription_buffer=4)), nursery, 2)
    async with b.subscribe(TOPIC) as slow, b.subscribe(TOPIC) as fast:
        for i in range(6):
            await a.publish(TOPIC, b"%d" % i)
            assert (await recv(fast)).data == b"%d" % i
        assert [slow.receive_nowait().data for _ in range(4)] == [b"0", b"1", b"2", b"3"]
    assert b.statistics().subscription_overflows == 2


async def test_request_response(nursery: trio.Nursery) -> None:
    a, b = await chain(MemoryNetwork(P2PConfig(max_request_bytes=64, max_response_bytes=1000)), nursery, 2)
    calls: list[tuple[str, bytes]] = []

    async def handler(peer: str, payload: bytes) -> bytes:
        calls.append((peer, payload))
        if payload == b"refuse":
            raise RequestFailed("not found")
        if payload == b"crash":
            raise RuntimeError("secret detail")
        if payload == b"huge":
            return b"z" * 2000
        if payload == b"slow":
            await trio.sleep_forever()
        return payload[::-1]

    b.set_request_handler(FETCH_PROTOCOL, handler)
    assert await a.request("n1", FETCH_PROTOCOL, b"abc", timeout_s=2) == b"cba"
    assert calls == [("n0", b"abc")]
    with pytest.raises(RequestFailed, match="not found"):
        await a.request("n1", FETCH_PROTOCOL, b"refuse", timeout_s=2)
    with pytest.raises(RequestFailed, match="internal error") as info:
        await a.request("n1", FETCH_PROTOCOL, b"crash", timeout_s=2)
    assert "secret" not in str(info.value)
    with pytest.raises(RequestFailed, match="too large"):
        await a.request("n1", FETCH_PROTOCOL, b"huge", timeout_s=2)
    with pytest.raises(MessageTooLarge):
        await a.request("n1", FETCH_PROTOCOL, b"x" * 65, timeout_s=2)
    with pytest.raises(ProtocolNotSupported):
        await a.request("n1", "/other/1", b"x", timeout_s=2)
    with pytest.raises(PeerUnreachable):
        await a.request("nobody", FETCH_PROTOCOL, b"x", timeout_s=2)
    assert b.statistics().requests_served == 1
    assert a.statistics().requests_sent == 4


async def test_request_timeout(nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    a, b = await chain(MemoryNetwork(), nursery, 2)

    async def slow(_peer: str, _payload: bytes) -> bytes:
        await trio.sleep_forever()
        raise AssertionError

    b.set_request_handler(FETCH_PROTOCOL, slow)
    with pytest.raises(RequestTimeout):
        await a.request("n1", FETCH_PROTOCOL, b"x", timeout_s=1)


async def test_oversize_response_from_a_misbehaving_peer(nursery: trio.Nursery) -> None:
    a, b = await chain(MemoryNetwork(), nursery, 2)
    # b allows bigger responses than a accepts
    b.config = P2PConfig(max_response_bytes=10_000)

    async def big(_peer: str, _payload: bytes) -> bytes:
        return b"q" * 5000

    b.set_request_handler(FETCH_PROTOCOL, big)
    a.config = P2PConfig(max_response_bytes=100)
    with pytest.raises(ProtocolViolation):
        await a.request("n1", FETCH_PROTOCOL, b"x", timeout_s=2)


async def test_lifecycle_errors() -> None:
    net = MemoryNetwork()
    node = net.node("solo")
    with pytest.raises(NodeClosed):
        await node.publish(TOPIC, b"x")
    async with node as running:
        assert running is node
        assert node.listen_addrs == ["/memory/solo/p2p/solo"]
        with pytest.raises(NodeClosed):
            async with net.node("solo"):
                pass
        with pytest.raises(PeerUnreachable):
            await node.connect("/memory/ghost/p2p/ghost")
        with pytest.raises(PeerUnreachable):
            await node.connect("garbage")
        async with node.subscribe(TOPIC) as channel:
            pass
        with pytest.raises(trio.EndOfChannel):
            await channel.receive()
    with pytest.raises(NodeClosed):
        await node.request("x", FETCH_PROTOCOL, b"", timeout_s=1)


async def test_disconnect(nursery: trio.Nursery) -> None:
    a, b = await chain(MemoryNetwork(), nursery, 2)
    await a.disconnect(b.peer_id)
    assert a.peers() == b.peers() == []
    stats = a.statistics()
    assert stats.connected_peers == 0
    with pytest.raises(AttributeError):
        stats.published = 5  # type: ignore[misc]
