"""Three real nodes (``run_node`` with libp2p on 127.0.0.1, port 0): a result attested by two is served
by the third from their attestations, its content fetched over the libp2p fetch protocol."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from devices.core import Message, commit, message_id
from node._codec_io import message_ids
from node._config import NodeConfig, load_config
from node._server import Running, run_node
from tests.converge._cluster import PROCESS, result_for
from tests.node._client import request

if TYPE_CHECKING:
    from trio_typing import TaskStatus

    from devices.core import RsaWallet
    from node.peering import Peering

ROOT = Path(__file__).resolve().parents[2]


def peering_of(running: Running) -> Peering:
    assert running.peering is not None
    return running.peering


async def test_three_libp2p_nodes_converge(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    await three_nodes(tmp_path, wallets)
    gc.collect()  # a socket leaked at shutdown would raise ResourceWarning (an error) here


async def three_nodes(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    trusted = ",".join(w.address for w in wallets[:3])
    running: list[Running] = []
    stops = [trio.Event() for _ in range(3)]
    stopped = [trio.Event() for _ in range(3)]

    async def one(config: NodeConfig, i: int, task_status: TaskStatus[Running]) -> None:
        try:
            await run_node(config, shutdown_trigger=stops[i].wait, task_status=task_status)
        finally:
            stopped[i].set()

    async with trio.open_nursery() as nursery:
        for i in range(3):
            data_dir = tmp_path / f"peer-{i}"
            data_dir.mkdir()
            wallets[i].save(data_dir / "wallet.json")
            bootstrap = ",".join(addr for r in running for addr in r.p2p_addrs)
            config = load_config(
                ROOT / "configs" / "test.toml",
                {
                    "data_dir": str(data_dir),
                    "devices": "message@1.0,meta@1.0,attest@1.0",
                    "p2p.listen": "/ip4/127.0.0.1/tcp/0",
                    "p2p.bootstrap": bootstrap,
                    "trust.attesters": trusted,
                    "trust.k": 2,
                },
            )
            with trio.fail_after(15):
                running.append(await nursery.start(one, config, i))
        a, b, c = running
        assert a.peering is not None
        assert b.peering is not None
        assert c.peering is not None
        with trio.fail_after(15):  # bootstrapped: b dials a, c dials a and b
            for r, s in ((b, a), (c, a), (c, b), (a, b), (a, c), (b, c)):
                await peering_of(r).p2p.wait_peer_state(s.peer_id or "", connected=True)
            info = (
                await request(c.port, "GET", "/~meta@1.0/info", headers=[("accept", "application/json")])
            ).json()
        assert info["peer-id"] == c.peer_id
        assert info["p2p-addrs"] == c.p2p_addrs
        msg, hashpath = result_for(PROCESS, 1)
        await a.peering.announce(PROCESS, 1, msg, hashpath, ["test-exec@1.0"])
        await b.peering.announce(PROCESS, 1, msg, hashpath, ["test-exec@1.0"])
        with trio.fail_after(15):
            await c.peering.wait_for(PROCESS, 1, 2)
            converged = await c.peering.lookup(PROCESS, 1)
        assert converged is not None
        assert converged.message == msg
        assert converged.attested_by == tuple(sorted(w.address for w in wallets[:2]))
        assert c.peering.stats.fetched_results == 1
        reply = await request(c.port, "GET", "/~attest@1.0/status", headers=[("accept", "application/json")])
        status = reply.json()  # what an operator sees over HTTP
        assert status["peering"] == "on"
        assert status["peer-id"] == c.peer_id
        assert sorted(status["peers"]) == sorted([a.peer_id, b.peer_id])
        assert (status["served-converged"], status["fetched-results"], status["rejected"]) == (1, 1, 0)
        assert status["gossip"]["connected-peers"] == 2
        assert status["trust"]["k"] == 2
        note = commit(Message({"type": "Message", "note": "stored on a only"}), wallets[3])
        a.node.store.write_message(note, message_ids(note))
        signed_id = message_id(note, "all")
        reply = await request(c.port, "GET", f"/{signed_id}", headers=[("accept", "application/json")])
        assert reply.status == 200, reply.body  # c had no copy: it loaded it from a peer, verified
        assert reply.json()["note"] == "stored on a only"
        assert c.node.store.read_message(signed_id) is not None
        for r in running:  # hang up first: GossipSub would auto-dial a peer that is shutting down
            for peer in peering_of(r).p2p.peers():
                await peering_of(r).p2p.disconnect(peer)
        with trio.fail_after(10):
            for r, s in ((b, a), (c, a), (c, b), (a, b), (a, c), (b, c)):
                await peering_of(r).p2p.wait_peer_state(s.peer_id or "", connected=False)
        for i in (2, 1, 0):  # one at a time, so each closes its own connections
            stops[i].set()
            with trio.fail_after(10):
                await stopped[i].wait()
