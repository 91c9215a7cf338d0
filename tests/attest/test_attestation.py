"""Result attestations (single and batched): signatures, strict CBOR, Merkle proofs."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest import (
    BatchHeader,
    BatchProofInvalid,
    CertPool,
    EvidenceInvalid,
    EvidenceMalformed,
    Proof,
    SimulatedChain,
    SimulatedSnpProvider,
    Statement,
    VerifierPolicy,
    encode_batched_attestation,
    merkle_root,
    report_data_binding,
    sign_attestation,
    sign_batch,
    verify_attestation,
    verify_batched_attestation,
    verify_snp,
    verify_with_proof,
)
from attest._merkle import leaf_hash, node_hash, root_from_proof
from devices.core import b64u_decode

from ._vectors import NOW

if TYPE_CHECKING:
    from devices.core import Ed25519Key, RsaWallet


def _statement(attester: str, slot: int = 7, **kw: object) -> Statement:
    base = {
        "process": "P" * 43,
        "slot": slot,
        "result": "R" * 43,
        "hashpath": "H1/H2",
        "device_stack": ("wasm-64@1.0", "json-iface@1.0"),
        "attester": attester,
        "evidence": None,
    }
    base.update(kw)
    return Statement(**base)


def test_facts_have_string_keys_and_round_trip(ed_key: Ed25519Key) -> None:
    st_ = _statement(ed_key.address, evidence="E" * 43)
    facts = st_.facts()
    assert set(facts) == {"process", "slot", "result", "hashpath", "device-stack", "attester", "evidence"}
    assert Statement.from_facts(facts) == st_
    assert "evidence" not in _statement(ed_key.address).facts()
    assert cbor2.loads(st_.to_cbor()) == facts


@pytest.mark.parametrize("signer_name", ["rsa", "ed25519"])
def test_single_attestation_signs_and_verifies(
    signer_name: str, rsa_wallet: RsaWallet, ed_key: Ed25519Key
) -> None:
    signer = rsa_wallet if signer_name == "rsa" else ed_key
    data = sign_attestation(_statement(signer.address), signer)
    report = verify_attestation(data)
    assert report.valid
    assert report.attester == signer.address
    assert report.committers == (signer.address,)
    assert report.facts["slot"] == 7
    assert report.hardware is None
    assert report.kind == "attestation"
    obj = cbor2.loads(data)
    assert obj["alg"] == ("rsa-pss-sha256" if signer_name == "rsa" else "ed25519")
    report.raise_for_invalid()


def test_tampered_attestation_is_invalid(ed_key: Ed25519Key, rsa_wallet: RsaWallet) -> None:
    data = sign_attestation(_statement(ed_key.address), ed_key)
    obj = cbor2.loads(data)
    obj["statement"]["slot"] = 8
    report = verify_attestation(cbor2.dumps(obj, canonical=True))
    assert not report.valid
    assert report.check == "signature"
    with pytest.raises(EvidenceInvalid):
        report.raise_for_invalid()
    obj = cbor2.loads(data)
    obj["key"] = rsa_wallet.modulus  # a key that is not the attester's
    report = verify_attestation(cbor2.dumps(obj, canonical=True))
    assert not report.valid
    assert report.check == "attester"
    obj = cbor2.loads(data)
    obj["alg"] = "rsa-pss-sha256"
    assert verify_attestation(cbor2.dumps(obj, canonical=True)).check == "signature"


def test_signing_for_another_attester_is_refused(ed_key: Ed25519Key) -> None:
    with pytest.raises(ValueError, match="attester"):
        sign_attestation(_statement("someone-else"), ed_key)
    with pytest.raises(ValueError, match="attester"):
        sign_batch([_statement("someone-else")], ed_key)
    with pytest.raises(ValueError, match="at least one"):
        sign_batch([], ed_key)


def test_malformed_attestations(ed_key: Ed25519Key) -> None:
    good = cbor2.loads(sign_attestation(_statement(ed_key.address), ed_key))
    non_canonical = cbor2.dumps(good)  # default encoder: map keys not in canonical order
    cases = [
        b"",
        b"\xff",
        cbor2.dumps([1, 2]),
        cbor2.dumps({"type": "other"}, canonical=True),
        cbor2.dumps({**good, "statement": {**good["statement"], "slot": -1}}, canonical=True),
        cbor2.dumps({**good, "statement": {**good["statement"], "extra": 1}}, canonical=True),
        cbor2.dumps({**good, "statement": {**good["statement"], "device-stack": [1]}}, canonical=True),
        cbor2.dumps({**good, "key": "text"}, canonical=True),
    ]
    if non_canonical != cbor2.dumps(good, canonical=True):
        cases.append(non_canonical)
    for case in cases:
        with pytest.raises(EvidenceMalformed):
            verify_attestation(case)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_attestation_garbage_raises_only_our_error(data: bytes) -> None:
    try:
        report = verify_attestation(data)
    except EvidenceMalformed:
        return
    assert not report.valid


def test_merkle_odd_node_rule_is_promotion() -> None:
    a, b, c = (leaf_hash(bytes([i])) for i in range(3))
    assert merkle_root([a]) == a
    assert merkle_root([a, b]) == node_hash(a, b)
    assert merkle_root([a, b, c]) == node_hash(node_hash(a, b), c)
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])  # no duplicate-last ambiguity
    assert leaf_hash(b"x") != node_hash(b"x"[:0], b"x"[:0])


@pytest.mark.parametrize("size", [1, 2, 3, 64, 65])
def test_batch_proofs(size: int, ed_key: Ed25519Key) -> None:
    statements = [_statement(ed_key.address, slot=i) for i in range(size)]
    header, proofs = sign_batch(statements, ed_key)
    assert header.count == size
    assert len(proofs) == size
    assert header.signature_ok()
    for statement, proof in zip(statements, proofs, strict=True):
        assert verify_with_proof(statement, proof, header).valid
        # any single-result change breaks its proof
        changed = dataclasses.replace(statement, result="X" * 43)
        bad = verify_with_proof(changed, proof, header)
        assert not bad.valid
        assert bad.check == "proof"
        with pytest.raises(BatchProofInvalid):
            bad.raise_for_invalid()
    if size > 1:
        # a proof used for another statement's position fails
        assert not verify_with_proof(statements[0], proofs[1], header).valid
        assert not verify_with_proof(statements[0], Proof(0, proofs[0].siblings[:-1]), header).valid
        assert not verify_with_proof(
            statements[0], Proof(0, (*proofs[0].siblings, b"\x00" * 32)), header
        ).valid
    assert not verify_with_proof(statements[0], Proof(size, proofs[0].siblings), header).valid
    assert not verify_with_proof(statements[0], Proof(-1, proofs[0].siblings), header).valid


def test_proofs_do_not_cross_batches(ed_key: Ed25519Key) -> None:
    first = [_statement(ed_key.address, slot=i) for i in range(8)]
    second = [_statement(ed_key.address, slot=100 + i) for i in range(8)]
    h1, p1 = sign_batch(first, ed_key)
    h2, p2 = sign_batch(second, ed_key)
    for i in range(8):
        assert verify_with_proof(first[i], p1[i], h1).valid
        assert not verify_with_proof(first[i], p1[i], h2).valid
        assert not verify_with_proof(second[i], p2[i], h1).valid


def test_batch_header_signature_and_attester(ed_key: Ed25519Key, rsa_wallet: RsaWallet) -> None:
    statements = [_statement(rsa_wallet.address, slot=i) for i in range(3)]
    header, proofs = sign_batch(statements, rsa_wallet)
    forged = dataclasses.replace(header, count=4)
    assert verify_with_proof(statements[0], proofs[0], forged).check in ("proof", "signature")
    other_root = dataclasses.replace(header, root=b"\x00" * 32)
    assert not other_root.signature_ok()
    assert verify_with_proof(statements[0], proofs[0], header, header_checked=True).valid
    foreign = _statement(ed_key.address)
    assert verify_with_proof(foreign, proofs[0], header).check == "attester"
    stolen = dataclasses.replace(header, attester=ed_key.address)
    assert not stolen.signature_ok()


def test_batched_bundle_round_trip(ed_key: Ed25519Key) -> None:
    statements = [_statement(ed_key.address, slot=i) for i in range(5)]
    header, proofs = sign_batch(statements, ed_key)
    data = encode_batched_attestation(statements[3], proofs[3], header)
    report = verify_batched_attestation(data)
    assert report.valid
    assert report.kind == "batched-attestation"
    assert report.id.endswith("#3")
    assert BatchHeader.from_dict(header.to_dict()) == header
    obj = cbor2.loads(data)
    obj["statement"]["slot"] = 99
    assert verify_batched_attestation(cbor2.dumps(obj, canonical=True)).check == "proof"
    obj = cbor2.loads(data)
    obj["header"]["count"] = 0
    with pytest.raises(EvidenceMalformed):
        verify_batched_attestation(cbor2.dumps(obj, canonical=True))
    obj = cbor2.loads(data)
    obj["proof"]["siblings"] = ["x"]
    with pytest.raises(EvidenceMalformed):
        verify_batched_attestation(cbor2.dumps(obj, canonical=True))


def test_root_from_proof_rejects_bad_siblings() -> None:
    leaf = leaf_hash(b"a")
    assert root_from_proof(leaf, 0, 2, [b"short"]) is None
    assert root_from_proof(leaf, 0, 1, []) == leaf


def test_attestation_bound_to_verified_evidence(ed_key: Ed25519Key, sim_chain: SimulatedChain) -> None:
    data = report_data_binding(b64u_decode(ed_key.address), b"\x05" * 32)
    evidence = SimulatedSnpProvider(sim_chain).get_report(data)
    verified = verify_snp(
        evidence.raw,
        expected_report_data=data,
        certs=CertPool.from_cert_table(evidence.certs),
        policy=VerifierPolicy.simulation([sim_chain.root_sha256]),
        now=NOW,
    )
    good = sign_attestation(_statement(ed_key.address, evidence=verified.evidence_id), ed_key)
    report = verify_attestation(good, evidence=verified)
    assert report.valid
    assert report.hardware is False
    unbound = sign_attestation(_statement(ed_key.address, evidence="E" * 43), ed_key)
    assert verify_attestation(unbound, evidence=verified).check == "evidence"
    header, proofs = sign_batch([_statement(ed_key.address, evidence=verified.evidence_id)], ed_key)
    batched = verify_with_proof(
        _statement(ed_key.address, evidence=verified.evidence_id), proofs[0], header, evidence=verified
    )
    assert batched.valid
    assert batched.hardware is False


def test_evidence_of_another_node_is_not_bound(ed_key: Ed25519Key, sim_chain: SimulatedChain) -> None:
    data = report_data_binding(b"\x09" * 32, b"\x05" * 32)
    evidence = SimulatedSnpProvider(sim_chain).get_report(data)
    verified = verify_snp(
        evidence.raw,
        expected_report_data=data,
        certs=CertPool.from_cert_table(evidence.certs),
        policy=VerifierPolicy.simulation([sim_chain.root_sha256]),
        now=NOW,
    )
    signed = sign_attestation(_statement(ed_key.address, evidence=verified.evidence_id), ed_key)
    report = verify_attestation(signed, evidence=verified)
    assert report.check == "evidence"
    assert "attester" in (report.error or "")
