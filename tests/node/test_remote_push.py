"""Remote push between two real nodes: an outbox message of a process scheduled on A reaches its
target process scheduled on B through B's HTTP API, found by B's scheduler location record;
signed by A, delivered once however often the slot is pushed; an unreachable peer is a 503."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import pytest
import trio

from devices import test_exec
from devices.core import Ed25519Key, Message, RsaWallet, commit, httpsig_encode, signers
from devices.core.ans104 import UnsignedItem, sign_item
from node._config import NodeConfig, load_config
from node._peer_client import PeerClient, PeerUnavailable
from node._server import Running, run_node
from tests.node._client import Response, request

if TYPE_CHECKING:
    from pathlib import Path

DEVICES = [
    "message@1.0",
    "meta@1.0",
    "process@1.0",
    "push@1.0",
    "scheduler@1.0",
    "stack@1.0",
    "test-exec@1.0",
]


def _config(tmp_path: Path, name: str, wallet: RsaWallet, **extra: object) -> NodeConfig:
    data = tmp_path / name
    data.mkdir()
    wallet.save(data / "wallet.json")
    return load_config(
        None, {"data_dir": str(data), "http.host": "127.0.0.1", "http.port": 0, "devices": DEVICES, **extra}
    )


def _process(wallet: RsaWallet, scheduler: str) -> Message:
    return commit(
        Message(
            {
                "type": "Process",
                "device": "process@1.0",
                "scheduler": scheduler,
                "execution-device": "test-exec@1.0",
            }
        ),
        wallet,
    )


async def _push(
    port: int, pid: str, msg: Message, extra: list[tuple[str, str | bytes]] | None = None
) -> Response:
    parts = httpsig_encode(msg, bundle=True)
    headers: list[tuple[str, str | bytes]] = [*parts.headers, *(extra or [])]
    return await request(
        port, "POST", f"/{pid}~process@1.0/push", headers=headers, body=parts.body, limit_s=30
    )


async def _dead_port() -> int:
    sock = trio.socket.socket()
    await sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()  # nothing listens there any more: connections are refused
    return port


async def test_outbox_message_reaches_a_process_on_another_node(tmp_path: Path) -> None:
    wa, wb, user = RsaWallet.generate(2048), RsaWallet.generate(2048), RsaWallet.generate(2048)
    with trio.fail_after(90):
        async with trio.open_nursery() as nursery:
            a: Running = await nursery.start(
                partial(run_node, _config(tmp_path, "a", wa), extra_devices=[test_exec.DEVICE])
            )
            b: Running = await nursery.start(
                partial(run_node, _config(tmp_path, "b", wb), extra_devices=[test_exec.DEVICE])
            )
            sched_a, sched_b = a.node.services["scheduler"], b.node.services["scheduler"]
            assert isinstance(a.node.services["peer"], PeerClient)
            operator_b = PeerClient(wb, sources=[b.url])

            # B's operator publishes B's location on B; the signed record is handed to A.
            made = await operator_b(
                "POST", b.url, "/~scheduler@1.0/location", Message({"url": b.url, "nonce": 1})
            )
            assert made.get_text("url") == b.url, made
            record = await operator_b.locate(wb.address)
            assert record is not None
            assert signers(record) == [wb.address]
            stored = await operator_b("POST", a.url, "/~scheduler@1.0/location", record)
            assert stored.get("status") is None, stored
            assert (sched_a.location(wb.address) or Message()).get_text("url") == b.url

            # P2 is scheduled on B; A knows only its definition (uploaded, signed, to A).
            p2 = _process(user, wb.address)
            pid2 = sched_b.ops.message_id(p2)
            b.node.store.write_message(p2, [pid2])
            await sched_b.schedule(pid2, p2)
            up = await operator_b("POST", a.url, "/", p2)
            assert up.get("status") is None, up
            assert a.node.store.read_message(pid2) is not None
            assert not sched_a.knows(pid2)
            # P1 is scheduled on A.
            p1 = _process(user, wa.address)
            pid1 = sched_a.ops.message_id(p1)
            a.node.store.write_message(p1, [pid1])
            await sched_a.schedule(pid1, p1)

            msg = commit(Message({"type": "Message", "target": pid1, "emit-to": pid2, "data": "hello"}), user)
            first = await _push(a.port, pid1, msg)
            assert first.status == 200, first.body
            assert sched_b.current(pid2) == 1
            delivered = sched_b.assignment(pid2, 1).message.get_message("body")
            assert delivered is not None
            assert signers(delivered) == [wa.address]  # signed by A's node wallet
            assert delivered.get_text("from-process") == pid1
            assert delivered.get_text("data") == "hello"
            assert sched_b.ops.verify(delivered)
            current = await request(b.port, "GET", f"/{pid2}/slot/current", limit_s=10)
            assert current.status == 200, current
            assert current.body.strip() == b"1", current

            # The sender kept the signed message; the receiver knows it: a resend is no new slot.
            kept = a.node.store.read_result(f"push-delivery/{pid1}/1/1/message")
            assert kept is not None
            assert sched_b.ops.message_id(kept) == sched_b.ops.message_id(delivered)
            resent = await operator_b("POST", b.url, f"/{pid2}~process@1.0/push", kept)
            assert resent.get_int("slot") == 1, resent
            assert sched_b.current(pid2) == 1

            # Pushing P1's slot 1 again delivers nothing twice.
            again = await request(
                a.port, "POST", f"/{pid1}~process@1.0/push", headers=[("slot", "1")], limit_s=30
            )
            assert again.status == 200, again.body
            assert sched_b.current(pid2) == 1
            assert sched_a.current(pid1) == 1

            # Two concurrent pushes of a slot not yet pushed: one delivery.
            two = commit(Message({"type": "Message", "target": pid1, "emit-to": pid2, "data": "2"}), user)
            slot2 = (await sched_a.schedule(pid1, two)).slot
            statuses: list[int] = []

            async def push_slot() -> None:
                got = await request(
                    a.port, "POST", f"/{pid1}~process@1.0/push", headers=[("slot", str(slot2))], limit_s=30
                )
                statuses.append(got.status)

            async with trio.open_nursery() as pushes:
                pushes.start_soon(push_slot)
                pushes.start_soon(push_slot)
            assert statuses == [200, 200]
            assert sched_b.current(pid2) == 2

            # A target whose scheduler cannot be reached: a 503 naming the peer, promptly.
            dead = f"http://127.0.0.1:{await _dead_port()}"
            p3 = _process(user, f"{user.address}?hint={dead}")
            pid3 = sched_a.ops.message_id(p3)
            a.node.store.write_message(p3, [pid3])
            msg3 = commit(Message({"type": "Message", "target": pid1, "emit-to": pid3, "data": "x"}), user)
            with trio.fail_after(20):
                failed = await _push(a.port, pid1, msg3)
            assert failed.status == 503, (failed.status, failed.body)
            assert dead.encode() in failed.body, failed.body
            nursery.cancel_scope.cancel()


async def test_peer_client_refuses_non_http_urls_and_names_the_peer(tmp_path: Path) -> None:
    wallet = RsaWallet.generate(2048)
    client = PeerClient(wallet, timeout_s=5)
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/", "127.0.0.1:80"):
        with pytest.raises(PeerUnavailable, match="only http") as info:
            await client("POST", url, "/x", Message({"a": 1}))
        assert info.value.status == 503
        assert url in info.value.reason
    assert wallet.to_jwk()["d"] not in repr(client)
    assert wallet.address in repr(client)


async def test_target_definition_and_location_are_discovered_through_the_gateway(tmp_path: Path) -> None:
    """A knows nothing of P2 or of B: it loads P2's definition (an ANS-104 item) from its gateway
    (node B), reads P2's scheduler, asks B for that scheduler's location record and delivers."""
    wa, wb, user = RsaWallet.generate(2048), RsaWallet.generate(2048), RsaWallet.generate(2048)
    item = sign_item(
        UnsignedItem(
            tags=(
                (b"Type", b"Process"),
                (b"Device", b"process@1.0"),
                (b"Scheduler", wb.address.encode()),
                (b"Execution-Device", b"test-exec@1.0"),
            ),
            data=b"P2",
        ),
        Ed25519Key.generate(),
    )
    with trio.fail_after(90):
        async with trio.open_nursery() as nursery:
            b: Running = await nursery.start(
                partial(run_node, _config(tmp_path, "b", wb), extra_devices=[test_exec.DEVICE])
            )
            cfg_a = _config(tmp_path, "a", wa, **{"gateway.urls": [b.url], "gateway.attempts": 1})
            a: Running = await nursery.start(partial(run_node, cfg_a, extra_devices=[test_exec.DEVICE]))
            sched_a, sched_b = a.node.services["scheduler"], b.node.services["scheduler"]
            up = await request(
                b.port, "POST", "/", headers=[("content-type", "application/ans104")], body=item.serialize()
            )
            assert up.status == 200, up.body
            p2 = b.node.store.read_message(item.id)
            assert p2 is not None
            assert sched_b.ops.message_id(p2) == item.id
            await sched_b.schedule(item.id, p2)
            made = await PeerClient(wb)(
                "POST", b.url, "/~scheduler@1.0/location", Message({"url": b.url, "nonce": 7})
            )
            assert made.get_int("nonce") == 7, made
            assert a.node.store.read_message(item.id) is None
            assert sched_a.location(wb.address) is None

            p1 = _process(user, wa.address)
            pid1 = sched_a.ops.message_id(p1)
            a.node.store.write_message(p1, [pid1])
            await sched_a.schedule(pid1, p1)
            msg = commit(Message({"type": "Message", "target": pid1, "emit-to": item.id, "data": "hi"}), user)
            pushed = await _push(a.port, pid1, msg)
            assert pushed.status == 200, pushed.body
            assert sched_b.current(item.id) == 1
            body = sched_b.assignment(item.id, 1).message.get_message("body")
            assert body is not None
            assert signers(body) == [wa.address]
            assert body.get_text("from-process") == pid1
            # A now holds both, verified: the definition (from the gateway) and B's location record.
            assert a.node.store.read_message(item.id) is not None
            assert (sched_a.location(wb.address) or Message()).get_text("url") == b.url

            # scheduler@1.0 on A proxies a message for P2 to B (a followed redirect).
            direct = commit(Message({"type": "Message", "target": item.id, "n": 2}), user)
            parts = httpsig_encode(direct, bundle=True)
            proxied = await request(
                a.port, "POST", "/~scheduler@1.0/schedule", headers=list(parts.headers), body=parts.body
            )
            assert proxied.status == 200, proxied.body
            assert sched_b.current(item.id) == 2
            assert not sched_a.knows(item.id)
            nursery.cancel_scope.cancel()


async def test_peer_client_bounds_silent_oversized_and_redirecting_peers() -> None:
    """A peer that never answers times out, one that answers too much is cut off, a redirect to a
    non-http scheme is refused: each a 503 naming the peer, none a hang."""
    behaviour: dict[str, bytes] = {}

    async def handler(stream: trio.SocketStream) -> None:
        await stream.receive_some(65536)
        answer = behaviour["answer"]
        if answer:
            await stream.send_all(answer)
        await trio.sleep_forever()  # hold the connection open: only the client's bounds end it

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        client = PeerClient(RsaWallet.generate(2048), timeout_s=1.0, max_body_bytes=1024)
        cases = {
            b"": "no answer within",
            b"HTTP/1.1 200 OK\r\ncontent-length: 4096\r\n\r\n" + b"x" * 4096: "larger than 1024",
            b"HTTP/1.1 307 Temporary Redirect\r\nlocation: file:///etc/passwd\r\ncontent-length: 0\r\n\r\n": (
                "refusing a redirect"
            ),
            b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n": "HTTP 502",
        }
        with trio.fail_after(20):
            for answer, reason in cases.items():
                behaviour["answer"] = answer
                with pytest.raises(PeerUnavailable, match=reason) as info:
                    await client("POST", url, "/x", Message({"a": 1}))
                assert info.value.status == 503
                assert url in info.value.reason
            behaviour["answer"] = (
                b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 31\r\n\r\n"
                b'{"error":"gone","status":404}  '
            )
            gone = await client("GET", url, "/x", Message({"a": 1}))
            assert gone.get_int("status") == 404
            assert gone.get_text("reason") == f"peer {url}: gone"
        nursery.cancel_scope.cancel()
