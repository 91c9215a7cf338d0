"""The launch digest from HyperBEAM's local-hashes, and trusted-software matching."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest import (
    COMMITTED_PARAMETERS,
    OVMF_AMDSEV_2023,
    CertPool,
    EvidenceMalformed,
    LaunchParameters,
    PolicyRejected,
    SimulatedChain,
    SimulatedSnpProvider,
    VerifierPolicy,
    launch_digest,
    match_trusted,
    ovmf_layout,
    verify_snp,
)
from attest._measure import SNP_KERNEL_HASHES, hashes_page, vmsa_page

from ._vectors import NOW, hb, snp


def _cases() -> list[dict[str, Any]]:
    return json.loads(snp("launch-digest-vectors.json").read_text())["cases"]


@pytest.mark.parametrize("vector", ["V4", "V5", "V6"])
def test_launch_digest_vectors(vector: str) -> None:
    [case] = [c for c in _cases() if c["vector"] == vector]
    params = LaunchParameters.from_local_hashes(case["inputs"])  # V4 carries decimal strings
    assert launch_digest(params).hex() == case["expected_measurement_hex"]


def test_ovmf_layout_constant_matches_vector() -> None:
    layout = json.loads(snp("launch-digest-vectors.json").read_text())["ovmf_layout_AmdSev_2023"]
    assert int(layout["sev_es_reset_eip"], 16) == OVMF_AMDSEV_2023.reset_eip
    assert int(layout["sev_hashes_table_gpa"], 16) == OVMF_AMDSEV_2023.hashes_table_gpa
    names = {"SNP_SEC_MEM": 1, "SNP_SECRETS": 2, "CPUID": 3, "SNP_KERNEL_HASHES": SNP_KERNEL_HASHES}
    got = [(names[s["type"]], int(s["gpa"], 16), int(s["size"], 16)) for s in layout["metadata_sections"]]
    assert tuple(got) == OVMF_AMDSEV_2023.sections


def test_ovmf_suffix_file_parses_to_the_embedded_layout() -> None:
    data = snp("sev-snp-measure-ovmf_AmdSev_suffix-945bb7a.bin").read_bytes()
    assert ovmf_layout(data) == OVMF_AMDSEV_2023
    assert ovmf_layout(bytes(1000) + data) == OVMF_AMDSEV_2023


@settings(max_examples=150, derandomize=True, deadline=None)
@given(st.data())
def test_ovmf_parser_garbage_raises_only_our_error(data: st.DataObject) -> None:
    real = snp("sev-snp-measure-ovmf_AmdSev_suffix-945bb7a.bin").read_bytes()
    cut = data.draw(st.integers(min_value=0, max_value=len(real)))
    flip = data.draw(st.integers(min_value=0, max_value=len(real) - 1))
    mutated = bytearray(real[cut:] if data.draw(st.booleans()) else real)
    if mutated and flip < len(mutated):
        mutated[flip] ^= data.draw(st.integers(min_value=1, max_value=255))
    try:
        layout = ovmf_layout(bytes(mutated))
    except EvidenceMalformed:
        return
    assert isinstance(layout.sections, tuple)


def test_append_convention_v7() -> None:
    conv = json.loads(snp("launch-digest-vectors.json").read_text())["append_convention"]
    digest = hashlib.sha256(conv["cmdline"].encode() + b"\0").hexdigest()
    assert digest == conv["append_sha256_of_cmdline_plus_nul"]


def test_admissible_report_measurement_from_its_local_hashes() -> None:
    msg = json.loads(hb("admissible-report-eterm.json").read_text())
    report = json.loads(msg["report"])
    assert launch_digest(LaunchParameters.from_local_hashes(msg["local-hashes"])) == bytes(
        report["measurement"]
    )
    assert match_trusted(msg["local-hashes"], msg["node-message"]["snp_trusted"]) == 0


def test_building_blocks() -> None:
    page = hashes_page(b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, 0xC00)
    assert len(page) == 4096
    assert page[:0xC00] == bytes(0xC00)
    assert page[0xC10:0xC12] == (168).to_bytes(2, "little")
    assert page[0xC00 + 176 :] == bytes(4096 - 0xC00 - 176)
    assert len(vmsa_page(0xFFFFFFF0, 1, 0x800F12, 1)) == 4096
    assert vmsa_page(0xFFFFFFF0, 1, 0x800F12, 2) != vmsa_page(0xFFFFFFF0, 1, 0x800F12, 1)
    with pytest.raises(EvidenceMalformed, match="vmm_type"):
        vmsa_page(0xFFFFFFF0, 1, 0x800F12, 3)


BASE = {
    "vcpus": 1,
    "vcpu_type": 5,
    "vmm_type": 1,
    "guest_features": 1,
    "firmware": "ab" * 48,
    "kernel": "cd" * 32,
    "initrd": "ef" * 32,
    "append": "01" * 32,
}


def test_match_trusted_is_whole_entry_and_normalised() -> None:
    other = {**BASE, "vcpus": 2, "kernel": "99" * 32}
    assert match_trusted(BASE, [other, BASE]) == 1
    # type normalisation: decimal strings and uppercase hex are the same value
    assert match_trusted({**BASE, "vcpus": "1", "kernel": "CD" * 32}, [BASE]) == 0
    # mix-and-match across entries is refused (HyperBEAM main accepts it)
    mixed = {**BASE, "kernel": "99" * 32}
    with pytest.raises(PolicyRejected) as info:
        match_trusted(mixed, [BASE, {**BASE, "initrd": "00" * 32, "kernel": "99" * 32}])
    assert info.value.check == "measurement"
    # a key missing from local-hashes is an error, not silently unchecked
    with pytest.raises(EvidenceMalformed, match="kernel"):
        match_trusted({k: v for k, v in BASE.items() if k != "kernel"}, [BASE])
    # enforced keys can exclude vcpus (as HyperBEAM edge's test config does)
    enforced = tuple(k for k in COMMITTED_PARAMETERS if k != "vcpus")
    assert match_trusted({**BASE, "vcpus": 64}, [BASE], enforced) == 0
    # an incomplete trusted entry never matches
    with pytest.raises(PolicyRejected):
        match_trusted(BASE, [{k: v for k, v in BASE.items() if k != "append"}])


@pytest.mark.parametrize(
    "bad",
    [
        {"vcpus": -1},
        {"vcpus": True},
        {"vcpus": "x"},
        {"firmware": "ab"},
        {"kernel": 5},
        {"initrd": "zz" * 32},
    ],
)
def test_malformed_local_hashes(bad: dict[str, object]) -> None:
    with pytest.raises(EvidenceMalformed):
        LaunchParameters.from_local_hashes({**BASE, **bad})


def test_verifier_recomputes_measurement(sim_chain: SimulatedChain) -> None:
    digest = launch_digest(LaunchParameters.from_local_hashes(BASE))
    data = bytes(64)
    evidence = SimulatedSnpProvider(sim_chain, measurement=digest).get_report(data)
    pool = CertPool.from_cert_table(evidence.certs)
    policy = VerifierPolicy.simulation([sim_chain.root_sha256], VerifierPolicy(trusted_software=(BASE,)))
    ok = verify_snp(
        evidence.raw, expected_report_data=data, policy=policy, certs=pool, now=NOW, local_hashes=BASE
    )
    assert ok.trust == "simulated"
    for local, fragment in (({**BASE, "vcpus": 2}, "launch digest"), (None, "no launch parameters")):
        with pytest.raises(PolicyRejected, match=fragment) as info:
            verify_snp(
                evidence.raw,
                expected_report_data=data,
                policy=policy,
                certs=pool,
                now=NOW,
                local_hashes=local,
            )
        assert info.value.check == "measurement"
    untrusted = VerifierPolicy.simulation([sim_chain.root_sha256], VerifierPolicy(trusted_software=()))
    with pytest.raises(PolicyRejected, match="no trusted configuration"):
        verify_snp(
            evidence.raw, expected_report_data=data, policy=untrusted, certs=pool, now=NOW, local_hashes=BASE
        )
