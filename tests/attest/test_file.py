"""verify_file: kind detection and the JSON-line fields for every kind of file."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from attest import (
    SimulatedChain,
    SimulatedSnpProvider,
    Statement,
    VerifierPolicy,
    encode_batched_attestation,
    encode_evidence,
    report_data_binding,
    sign_attestation,
    sign_batch,
    verify_file,
)

from ._vectors import NOW, expected, hb, snp, v1_raw

if TYPE_CHECKING:
    from pathlib import Path

    from devices.core import Ed25519Key

BASE_KEYS = {"file", "kind", "valid", "id", "committers", "error"}
SNP_KEYS = BASE_KEYS | {"hardware", "measurement", "report_data", "chip_id"}


def test_raw_report_file(tmp_path: Path) -> None:
    path = tmp_path / "report.bin"
    path.write_bytes(v1_raw())
    out = verify_file(
        path,
        vcek=snp("virtee-vcek_milan.der"),
        certs=[snp("virtee-ark-milan.pem"), snp("virtee-ask-milan.pem")],
        policy=VerifierPolicy(vmpl=0),
        now=NOW,
    )
    assert set(out) >= SNP_KEYS
    assert out["kind"] == "snp-report"
    assert out["valid"]
    assert out["hardware"] is True
    assert out["measurement"] == expected()["V1"]["measurement_hex"]
    assert out["chip_id"] == expected()["V1"]["chip_id_hex"]
    assert out["report_data_checked"] is False
    json.dumps(out)


def test_hex_report_and_wrong_nonce() -> None:
    out = verify_file(
        snp("virtee-report_milan.hex"),
        vcek=snp("virtee-vcek_milan.der"),
        certs=[hb("amd-vcek-v1-Milan-cert_chain.pem")],
        policy=VerifierPolicy(vmpl=0),
        nonce=bytes(64),
        now=NOW,
    )
    assert out["kind"] == "snp-report"
    assert not out["valid"]
    assert out["check"] == "report_data"
    assert out["hardware"] is False


def test_hyperbeam_json_report_file() -> None:
    out = verify_file(
        snp("hb-os-benign-report.json"),
        vcek=snp("hb-os-vcek.crt"),
        certs=[hb("amd-vcek-v1-Milan-cert_chain.pem")],
        now=NOW,
    )
    assert out["kind"] == "snp-report-json"
    assert out["valid"]
    assert out["hardware"]
    no_chain = verify_file(snp("hb-os-benign-report.json"), vcek=snp("hb-os-vcek.crt"), now=NOW)
    assert not no_chain["valid"]
    assert no_chain["check"] == "chain"
    no_vcek = verify_file(snp("hb-os-benign-report.json"), now=NOW)
    assert not no_vcek["valid"]
    assert no_vcek["check"] == "vcek"


def test_admissible_report_message_is_rejected_for_unbound_nonce() -> None:
    """V5: HyperBEAM accepts it; REPORT_DATA's second half is not the message's node-message id."""
    out = verify_file(
        hb("admissible-report-eterm.json"), certs=[hb("amd-vcek-v1-Milan-cert_chain.pem")], now=NOW
    )
    assert out["kind"] == "snp-message"
    assert not out["valid"]
    assert out["check"] == "report_data"
    assert out["report_data"] == expected()["V5"]["report_data_hex"]


def test_simulated_evidence_file(tmp_path: Path, sim_chain: SimulatedChain) -> None:
    data = report_data_binding(b"\x01" * 32, b"\x02" * 32)
    path = tmp_path / "sim.cbor"
    path.write_bytes(encode_evidence(SimulatedSnpProvider(sim_chain).get_report(data)))
    hardware = verify_file(path, now=NOW)
    assert hardware["kind"] == "snp-evidence"
    assert not hardware["valid"]
    assert hardware["check"] == "chain"
    sim = verify_file(path, policy=VerifierPolicy.simulation([sim_chain.root_sha256]), nonce=data, now=NOW)
    assert sim["valid"]
    assert sim["hardware"] is False
    assert sim["trust"] == "simulated"


def test_attestation_files(tmp_path: Path, ed_key: Ed25519Key) -> None:
    statements = [
        Statement(
            process="p", slot=i, result="r", hashpath="h", device_stack=("d@1.0",), attester=ed_key.address
        )
        for i in range(3)
    ]
    single = tmp_path / "a.cbor"
    single.write_bytes(sign_attestation(statements[0], ed_key))
    out = verify_file(single)
    assert set(out) >= BASE_KEYS
    assert out["kind"] == "attestation"
    assert out["valid"]
    assert out["committers"] == [ed_key.address]
    header, proofs = sign_batch(statements, ed_key)
    batched = tmp_path / "b.cbor"
    batched.write_bytes(encode_batched_attestation(statements[2], proofs[2], header))
    out = verify_file(batched)
    assert out["kind"] == "batched-attestation"
    assert out["valid"]
    assert out["id"].endswith("#2")
    batched.write_bytes(encode_batched_attestation(statements[1], proofs[2], header))
    out = verify_file(batched)
    assert not out["valid"]
    assert out["check"] == "proof"
    assert out["committers"] == []


def test_garbage_and_missing_files(tmp_path: Path) -> None:
    for name, content in (
        ("empty", b""),
        ("junk", b"\x00\x01garbage"),
        ("json", b"{not json"),
        ("list", b"[1]"),
        ("short", bytes(100)),
        ("cbor", b"\xa1\x61a\x01"),
    ):
        path = tmp_path / name
        path.write_bytes(content)
        out = verify_file(path)
        assert out["valid"] is False, name
        assert out["error"], name
    out = verify_file(tmp_path / "absent")
    assert out["check"] == "io"
    assert not out["valid"]
