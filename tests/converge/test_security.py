"""Forged, malformed, oversize, replayed and simulated-evidence items over a memory network."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import cbor2
import pytest
import trio
import trio.testing

from attest import (
    Evidence,
    SimulatedChain,
    SimulatedSnpProvider,
    Statement,
    VerifierPolicy,
    bundle_at,
    encode_evidence,
    report_data_binding,
    sign_batch,
    sign_compact,
)
from devices.core import Message, message_id
from node.peering import TOPIC, ItemIgnored, ItemRejected, verify_gossip
from node.peering._verify import EvidenceChecker, verify_fetched
from p2p import (
    FETCH_PROTOCOL,
    Envelope,
    Kind,
    P2PConfig,
    PeerBanned,
    PeerUnreachable,
    RequestFailed,
    encode_envelope,
)
from tests.converge._cluster import PROCESS, cluster, compute, result_for, serve, trust_all

if TYPE_CHECKING:
    from pathlib import Path

    from devices.core import RsaWallet


def batch_envelope(statements: list[Statement], signer: RsaWallet, **extra: object) -> bytes:
    header, proofs = sign_batch(statements, signer)
    body = {
        "header": header.to_dict(),
        "items": [
            {"statement": s.facts(), "proof": p.to_dict()} for s, p in zip(statements, proofs, strict=True)
        ],
        **extra,
    }
    return encode_envelope(Envelope(Kind.ATTESTATION_BATCH, body))


def compact_envelope(statements: list[Statement], signer: RsaWallet, **extra: object) -> bytes:
    header, leaves = sign_compact(statements, signer)
    body = {"header": header.to_dict(), "leaves": leaves, **extra}
    return encode_envelope(Envelope(Kind.ATTESTATION_BATCH, body))


def statement(attester: str, slot: int) -> Statement:
    msg, hashpath = result_for(PROCESS, slot)
    return Statement(PROCESS, slot, message_id(msg), hashpath, ("test-exec@1.0",), attester)


def forged(victim: RsaWallet, forger: RsaWallet, slot: int) -> bytes:
    """A batch claiming to be ``victim``'s, signed by ``forger`` with the victim's modulus swapped in."""
    header, proofs = sign_batch([statement(forger.address, slot)], forger)
    st = statement(victim.address, slot)
    body = {
        "header": {**header.to_dict(), "attester": victim.address, "key": victim.modulus},
        "items": [{"statement": st.facts(), "proof": proofs[0].to_dict()}],
    }
    return encode_envelope(Envelope(Kind.ATTESTATION_BATCH, body))


def test_verify_gossip_rejects_bad_items(wallets: list[RsaWallet]) -> None:
    checker = EvidenceChecker(VerifierPolicy())
    good = batch_envelope([statement(wallets[0].address, 1)], wallets[0])
    assert verify_gossip(good, checker).attester == wallets[0].address
    for bad in (
        b"",
        b"\xa0",
        good[:-1],
        good + b"\x00",
        forged(wallets[0], wallets[1], 1),
        batch_envelope([statement(wallets[0].address, 1)], wallets[0], junk=b"x"),
        encode_envelope(Envelope(Kind.ATTESTATION, b"not cbor")),
    ):
        with pytest.raises(ItemRejected):
            verify_gossip(bad, checker)
    # the compact form (every leaf, no proofs): accepted whole, rejected when anything differs
    mine = [statement(wallets[0].address, slot) for slot in range(5)]
    compact = compact_envelope(mine, wallets[0])
    item = verify_gossip(compact, checker)
    assert [c.statement for c in item.claims] == mine
    assert item.batch == compact
    assert [c.position for c in item.claims] == list(range(5))
    header, leaves = sign_compact(mine, wallets[0])
    batch_header = sign_batch(mine, wallets[0])[0]  # the same root as the proof form (PSS salts differ)
    assert (header.root, header.count, header.attester) == (batch_header.root, 5, wallets[0].address)
    bundles = [bundle_at(leaves, header, n) for n in range(5)]
    assert [verify_fetched(b).statement for b in bundles] == mine
    tampered = [replace(mine[0], result="X" * 43).to_cbor(), *leaves[1:]]
    noncanonical = [cbor2.dumps(mine[0].facts()), *leaves[1:]]  # same facts, keys out of canonical order
    assert noncanonical[0] != leaves[0]
    other = sign_compact([statement(wallets[1].address, 0)], wallets[1])[1]
    for body in (
        {"header": header.to_dict(), "leaves": leaves[:4]},  # one left out
        {"header": header.to_dict(), "leaves": leaves[::-1]},  # reordered
        {"header": header.to_dict(), "leaves": tampered},
        {"header": header.to_dict(), "leaves": noncanonical},
        {"header": header.to_dict(), "leaves": [*leaves[:4], other[0]]},  # another attester's statement
        {"header": header.to_dict(), "leaves": [*leaves[:4], b"\xa1\x64slot\x01"]},
        {"header": header.to_dict(), "leaves": [*leaves[:4], 7]},
        {"header": {**header.to_dict(), "signature": b"\x00" * 512}, "leaves": leaves},
        {"header": header.to_dict(), "leaves": leaves, "items": []},
        {"header": header.to_dict(), "leaves": []},
    ):
        with pytest.raises(ItemRejected):
            verify_gossip(encode_envelope(Envelope(Kind.ATTESTATION_BATCH, body)), checker)
    # the compact form of earlier versions (statement maps): ignored, its sender not scored down
    retired = {"header": header.to_dict(), "statements": [s.facts() for s in mine]}
    with pytest.raises(ItemIgnored, match="retired"):
        verify_gossip(encode_envelope(Envelope(Kind.ATTESTATION_BATCH, retired)), checker)
    # a statement another attester made, inside a validly signed batch
    with pytest.raises(ValueError, match="attester"):
        sign_batch([statement(wallets[1].address, 1)], wallets[0])


async def test_forger_is_rejected_and_disconnected(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    trust = trust_all(wallets[:3], k=1)
    async with cluster(tmp_path, wallets) as net:
        a, c = await net.start(0, trust), await net.start(2, trust)
        evil = net.net.node("evil", config=P2PConfig(max_message_bytes=900_000))
        async with evil, evil.subscribe(TOPIC):
            await evil.connect(c.peering.p2p.listen_addrs[0])
            await evil.publish(TOPIC, b"garbage")
            await evil.publish(TOPIC, b"\x00" * 300_000)  # over c's 256 KiB cap: dropped before validation
            for slot in range(20):
                if c.id not in evil.peers():
                    break
                await evil.publish(TOPIC, forged(wallets[0], wallets[3], slot))
                await trio.testing.wait_all_tasks_blocked()
            with trio.fail_after(5):
                await c.peering.p2p.wait_peer_state("evil", connected=False)
            assert c.peering.stats.rejected >= 5
            assert c.peering.p2p.statistics().oversize_dropped == 1
            assert c.peering.records(PROCESS, 0) == []
            assert a.peering.stats.rejected == 0  # never forwarded past c
            with pytest.raises((PeerBanned, PeerUnreachable)):
                await evil.connect(c.peering.p2p.listen_addrs[0])


async def test_replayed_and_duplicate_items_are_dropped(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    trust = trust_all(wallets[:3], k=1)
    async with cluster(tmp_path, wallets) as net:
        a, c = await net.start(0, trust), await net.start(2, trust)
        evil = net.net.node("replayer")
        async with evil, evil.subscribe(TOPIC) as inbox:
            await evil.connect(a.peering.p2p.listen_addrs[0])
            await compute(a, PROCESS, 5)
            with trio.fail_after(5):
                captured = await inbox.receive()
                await c.peering.wait_for(PROCESS, 5, 1)
            await evil.disconnect(a.id)
            await evil.connect(c.peering.p2p.listen_addrs[0])
            for _ in range(10):  # the same signed item, again and again
                await evil.publish(TOPIC, captured.data)
            await trio.testing.wait_all_tasks_blocked()
            assert c.peering.stats.duplicates == 10
            assert c.peering.stats.rejected == 0
            assert c.peering.p2p.score("replayer") >= 0  # duplicates are not punished
            assert len(c.peering.records(PROCESS, 5)) == 1


async def test_require_hardware_refuses_simulated_evidence(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    chain = SimulatedChain.generate()
    provider = SimulatedSnpProvider(chain)

    def evidence_for(w: RsaWallet) -> Evidence:
        return provider.get_report(report_data_binding(w.address, message_id(result_for(PROCESS, 0)[0])))

    sim_policy = VerifierPolicy.simulation([chain.root_sha256])
    verified = EvidenceChecker(sim_policy).check(encode_evidence(evidence_for(wallets[0])))
    assert verified is not None
    assert verified.trust == "simulated"
    everyone = [w.address for w in wallets[:4]]
    async with cluster(tmp_path, wallets) as net:
        a = await net.start(0, trust_all(wallets[:4], k=2), evidence=evidence_for(wallets[0]))
        b = await net.start(1, trust_all(wallets[:4], k=2), evidence=evidence_for(wallets[1]))
        strict = await net.start(
            2, trust_all(wallets[:4], k=2, require_hardware=True), evidence_policy=sim_policy
        )
        lax = await net.start(3, trust_all(wallets[:4], k=2), evidence_policy=sim_policy)
        await compute(a, PROCESS, 2)
        await compute(b, PROCESS, 2)
        with trio.fail_after(10):
            await strict.peering.wait_for(PROCESS, 2, 2)
            await lax.peering.wait_for(PROCESS, 2, 2)
        records = strict.peering.records(PROCESS, 2)
        assert {r.attester for r in records} <= set(everyone)
        assert all(r.hardware is False for r in records)  # verified, but simulated
        assert await strict.peering.lookup(PROCESS, 2) is None
        assert strict.executions == 0
        msg, _attested_by = await serve(strict, PROCESS, 2)
        assert strict.executions == 1  # had to compute
        late = await net.start(
            4, trust_all(wallets[:4], k=2, require_hardware=True), evidence_policy=sim_policy
        )
        assert await late.peering.lookup(PROCESS, 2) is None  # caught up, evidence and all: still simulated
        # strict's own attestation (no evidence) may or may not have reached anyone yet: look at a and b
        caught = [r for r in late.peering.records(PROCESS, 2) if r.attester in (a.address, b.address)]
        assert len(caught) == 2
        assert all(r.evidence and r.hardware is False for r in caught)
        converged = await lax.peering.lookup(PROCESS, 2)
        assert converged is not None
        assert len(converged.attested_by) == 2
        assert msg == converged.message


async def test_content_not_matching_the_attested_id(tmp_path: Path, wallets: list[RsaWallet]) -> None:
    trust = trust_all(wallets[:3], k=1)
    async with cluster(tmp_path, wallets) as net:
        a, c = await net.start(0, trust), await net.start(2, trust)
        await compute(a, PROCESS, 8)
        with trio.fail_after(5):
            await c.peering.wait_for(PROCESS, 8, 1)
        result_id = message_id(result_for(PROCESS, 8)[0])
        a.store.write_message(Message({"forged": b"content"}), [result_id])  # a now serves other bytes
        assert await c.peering.lookup(PROCESS, 8) is None
        assert c.peering.stats.bad_fetches == 1
        assert c.store.read_message(result_id) is None
        with pytest.raises(RequestFailed):  # a malformed fetch request is refused, not crashed on
            await c.peering.p2p.request(a.id, FETCH_PROTOCOL, b"\x00garbage", timeout_s=5)
