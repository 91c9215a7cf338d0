"""Loading a message this node lacks from its peers (``Peering.load_message``, the ``peer-loader``
service): accepted only when the message is known by the id asked for and every signature on it
verifies; stored before it is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from devices.core import Message, commit, message_id
from node._codec_io import message_ids
from node.peering import ResultsSlot
from p2p import FETCH_PROTOCOL
from tests.converge._cluster import cluster, trust_all

if TYPE_CHECKING:
    from pathlib import Path

    from devices.core import RsaWallet


def _signed(wallet: RsaWallet, n: int = 7) -> tuple[Message, str]:
    msg = commit(Message({"type": "Process", "device": "process@1.0", "n": n}), wallet)
    return msg, message_id(msg, "all")


async def test_a_message_is_loaded_from_a_peer_by_any_of_its_ids(
    tmp_path: Path, wallets: list[RsaWallet]
) -> None:
    trust = trust_all(wallets[:2], k=1)
    msg, signed_id = _signed(wallets[3])
    async with cluster(tmp_path, wallets) as net:
        a = await net.start(0, trust)
        c = await net.start(1, trust)
        a.store.write_message(msg, message_ids(msg))
        assert c.store.read_message(signed_id) is None
        loaded = await c.peering.load_message(signed_id)
        assert loaded == msg.public()
        assert c.store.read_message(signed_id) == loaded  # stored: the next load is local
        unsigned_id = message_id(msg, "none")
        assert c.store.read_message(unsigned_id) == loaded  # under all its ids
        assert c.peering.stats.fetched_messages == 1
        assert await c.peering.load_message("x" * 43) is None  # nobody has it
        assert c.peering.stats.bad_fetches == 0
        slot = ResultsSlot(trust)
        assert await slot.load(signed_id) is None  # no peering: nothing to ask
        slot.bind(c.peering)
        assert await slot.load(signed_id) == loaded


async def test_a_tampered_or_substituted_message_is_refused(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    trust = trust_all(wallets[:2], k=1)
    msg, signed_id = _signed(wallets[3])
    other, _ = _signed(wallets[4], 9)
    async with cluster(tmp_path, wallets) as net:
        evil = await net.start(0, trust)
        c = await net.start(1, trust)
        tampered = msg.set("n", 8)  # same commitments, other content: the signature no longer holds
        evil.store.write_message(tampered, [signed_id])
        assert await c.peering.load_message(signed_id) is None
        evil.store.write_message(other, [message_id(msg, "none")])  # a valid message, but not this one
        assert await c.peering.load_message(message_id(msg, "none")) is None
        assert c.peering.stats.bad_fetches == 2
        assert c.peering.stats.fetched_messages == 0
        assert c.store.read_message(signed_id) is None
        honest = await net.start(2, trust)
        honest.store.write_message(msg, message_ids(msg))
        assert await c.peering.load_message(signed_id) == msg.public()  # the next peer has it right


async def test_a_hanging_peer_costs_one_fetch_timeout_in_all(
    tmp_path: Path, wallets: list[RsaWallet]
) -> None:
    trust = trust_all(wallets[:2], k=1)
    _, signed_id = _signed(wallets[3])

    async def hang(peer: str, payload: bytes) -> bytes:
        await trio.Event().wait()  # a peer that never answers
        raise AssertionError("unreachable")

    async with cluster(tmp_path, wallets) as net:
        stuck = await net.start(0, trust)
        c = await net.start(1, trust, fetch_timeout_s=0.2)
        stuck.peering.p2p.set_request_handler(FETCH_PROTOCOL, hang)
        start = trio.current_time()
        with trio.fail_after(5):
            assert await c.peering.load_message(signed_id) is None
        assert trio.current_time() - start < 1.0
