"""HyperBEAM ``snp@1.0`` message fields: generate, and verify with nonce and measurement binding."""

from __future__ import annotations

import pytest

from attest import (
    EvidenceInvalid,
    EvidenceMalformed,
    LaunchParameters,
    PolicyRejected,
    SimulatedChain,
    SimulatedSnpProvider,
    SnpReport,
    VcekUnavailable,
    VerifierPolicy,
    decode_nonce,
    generate_snp_message,
    launch_digest,
    message_nonce,
    verify_snp_message,
)
from devices.core import b64u_encode

from ._vectors import NOW, expected, snp

ADDRESS = b64u_encode(b"\x11" * 32)
NODE_ID = b"\x22" * 32
LOCAL = {
    "vcpus": 1,
    "vcpu_type": 5,
    "vmm_type": 1,
    "guest_features": 1,
    "firmware": "ab" * 48,
    "kernel": "cd" * 32,
    "initrd": "ef" * 32,
    "append": "01" * 32,
}


def _sim_message(chain: SimulatedChain) -> dict[str, object]:
    digest = launch_digest(LaunchParameters.from_local_hashes(LOCAL))
    provider = SimulatedSnpProvider(chain, measurement=digest)
    return generate_snp_message(provider, address=ADDRESS, node_message_id=NODE_ID, local_hashes=LOCAL)


def test_generated_message_shape(sim_chain: SimulatedChain) -> None:
    msg = _sim_message(sim_chain)
    assert msg["device"] == "snp-sim@1.0"
    assert msg["snp-mode"] == "simulated"
    assert isinstance(msg["nonce"], str)
    assert len(msg["nonce"]) == 86
    assert decode_nonce(msg["nonce"]) == b"\x11" * 32 + NODE_ID
    assert SnpReport.from_json(msg["report"]).report_data == b"\x11" * 32 + NODE_ID  # type: ignore[arg-type]
    assert set(msg["certs"]) == {"ark", "ask", "vcek"}  # type: ignore[arg-type]


def test_simulated_message_verifies_only_under_simulation(sim_chain: SimulatedChain) -> None:
    msg = _sim_message(sim_chain)
    policy = VerifierPolicy.simulation([sim_chain.root_sha256], VerifierPolicy(trusted_software=(LOCAL,)))
    result = verify_snp_message(msg, node_message_id=NODE_ID, policy=policy, now=NOW)
    assert result.trust == "simulated"
    with pytest.raises(PolicyRejected) as info:
        verify_snp_message(msg, node_message_id=NODE_ID, now=NOW)
    assert info.value.check == "hardware"
    # stripping the declared mode does not help: the chain is still not a pinned AMD root
    stripped = {k: v for k, v in msg.items() if k != "snp-mode"}
    with pytest.raises(EvidenceInvalid) as info:
        verify_snp_message(stripped, node_message_id=NODE_ID, now=NOW)
    assert info.value.check == "chain"


def test_message_bound_to_other_node_or_nonce(sim_chain: SimulatedChain) -> None:
    msg = _sim_message(sim_chain)
    policy = VerifierPolicy.simulation([sim_chain.root_sha256])
    with pytest.raises(EvidenceInvalid) as info:
        verify_snp_message(msg, node_message_id=b"\x33" * 32, policy=policy, now=NOW)
    assert info.value.check == "report_data"
    forged = {**msg, "nonce": b64u_encode(b"\x11" * 32 + b"\x44" * 32)}  # nonce rewritten, report unchanged
    with pytest.raises(PolicyRejected) as info:
        verify_snp_message(forged, policy=policy, now=NOW)
    assert info.value.check == "report_data"
    other_address = {**msg, "address": b64u_encode(b"\x55" * 32)}
    with pytest.raises(EvidenceInvalid) as info:
        verify_snp_message(other_address, policy=policy, now=NOW)
    assert info.value.check == "report_data"
    wrong_launch = {**msg, "local-hashes": {**LOCAL, "vcpus": 2}}
    with pytest.raises(PolicyRejected) as info:
        verify_snp_message(wrong_launch, policy=policy, now=NOW)
    assert info.value.check == "measurement"


def test_malformed_messages(sim_chain: SimulatedChain) -> None:
    msg = _sim_message(sim_chain)
    policy = VerifierPolicy.simulation([sim_chain.root_sha256])
    for bad in (
        {k: v for k, v in msg.items() if k != "report"},
        {**msg, "nonce": 5},
        {**msg, "nonce": "!!"},
        {**msg, "nonce": b64u_encode(b"x" * 10)},
        {**msg, "address": 7},
        {**msg, "certs": {"ark": "!!"}},
    ):
        with pytest.raises(EvidenceMalformed):
            verify_snp_message(bad, policy=policy, now=NOW)


def _flat(path: object) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_bytes().splitlines():  # type: ignore[attr-defined]
        key, sep, value = line.partition(b": ")
        if sep and b"/" not in key:
            out[key.decode()] = value.decode("utf-8", "replace")
    return out


def test_v4_real_generate_response() -> None:
    """HyperBEAM's own generate output: nonce binding and measurement check out; its VCEK is not offline."""
    flat = _flat(snp("hyperbeam-snp_attestation"))
    local = {
        k: flat[k]
        for k in (
            "vcpus",
            "vcpu_type",
            "vmm_type",
            "guest_features",
            "firmware",
            "kernel",
            "initrd",
            "append",
        )
    }
    msg = {
        "report": flat["report"],
        "nonce": flat["nonce"],
        "address": flat["address"],
        "local-hashes": local,
    }
    node_id = bytes.fromhex(expected()["V4"]["report_data_last_32_hex"])
    assert message_nonce(msg, node_id).hex() == expected()["V4"]["report_data_hex"]
    report = SnpReport.from_json(flat["report"])
    assert launch_digest(LaunchParameters.from_local_hashes(local)) == report.measurement
    with pytest.raises(VcekUnavailable):
        verify_snp_message(msg, node_message_id=node_id, now=NOW)
