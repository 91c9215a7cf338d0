"""Simulated evidence: verifies as simulated, never as hardware, whatever is pinned."""

from __future__ import annotations

import pytest

from attest import (
    SIM_CHIP_MARKER,
    SIM_DEVICE,
    CertPool,
    ChainInvalid,
    EvidenceInvalid,
    PolicyRejected,
    Product,
    ProviderError,
    SimulatedChain,
    SimulatedSnpProvider,
    StaticVcek,
    Tcb,
    VerifierPolicy,
    load_certificates,
    report_data_binding,
    verify_snp,
)
from attest._certs import check_signed_by

from ._vectors import NOW, snp

DATA = report_data_binding(b"\xaa" * 32, b"\xbb" * 32)


def _sim_policy(chain: SimulatedChain, **kw: object) -> VerifierPolicy:
    return VerifierPolicy.simulation([chain.root_sha256], VerifierPolicy(**kw))  # type: ignore[arg-type]


def _verify(chain: SimulatedChain, raw: bytes, policy: VerifierPolicy, data: bytes | None = DATA) -> object:
    return verify_snp(
        raw, expected_report_data=data, policy=policy, certs=CertPool.from_cert_table(chain.certs()), now=NOW
    )


def test_simulated_evidence_is_marked(sim_chain: SimulatedChain) -> None:
    evidence = SimulatedSnpProvider(sim_chain).get_report(DATA)
    assert evidence.kind == "snp-sim"
    assert evidence.device == SIM_DEVICE == "snp-sim@1.0"
    assert evidence.report.chip_id.startswith(SIM_CHIP_MARKER)
    for cert in (sim_chain.ark, sim_chain.ask, sim_chain.vcek):
        assert "SIMULATED - NOT AMD" in cert.subject.rfc4514_string()
    assert sim_chain.ark.subject.rfc4514_string().startswith("O=SIMULATED - NOT AMD,CN=SIM-ARK")


def test_simulated_evidence_verifies_as_not_hardware(sim_chain: SimulatedChain) -> None:
    raw = SimulatedSnpProvider(sim_chain, measurement=b"\x07" * 48).get_report(DATA).raw
    result = _verify(sim_chain, raw, _sim_policy(sim_chain, trusted_measurements=frozenset({b"\x07" * 48})))
    assert result.trust == "simulated"
    assert result.hardware is False


def test_simulated_evidence_rejected_by_hardware_policy(sim_chain: SimulatedChain) -> None:
    raw = SimulatedSnpProvider(sim_chain).get_report(DATA).raw
    with pytest.raises(ChainInvalid, match="not a pinned AMD root"):
        _verify(sim_chain, raw, VerifierPolicy())
    # sim_roots are ignored while hardware is required
    with pytest.raises(ChainInvalid):
        _verify(sim_chain, raw, VerifierPolicy(sim_roots=frozenset({sim_chain.root_sha256})))


def test_pinning_a_simulated_root_still_is_not_hardware(
    sim_chain: SimulatedChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    import attest._certs as certs_mod

    monkeypatch.setitem(certs_mod.AMD_ARK_SHA256, sim_chain.root_sha256, Product.MILAN)
    raw = SimulatedSnpProvider(sim_chain).get_report(DATA).raw
    with pytest.raises(PolicyRejected) as info:
        _verify(sim_chain, raw, VerifierPolicy())
    assert info.value.check == "hardware"
    result = _verify(sim_chain, raw, _sim_policy(sim_chain))
    assert result.hardware is False  # type: ignore[attr-defined]


def test_simulated_vcek_fails_under_real_amd_ask(sim_chain: SimulatedChain) -> None:
    [ask] = load_certificates(snp("virtee-ask-milan.pem").read_bytes())
    with pytest.raises(ChainInvalid):
        check_signed_by(sim_chain.vcek, ask, "VCEK")
    pool = CertPool.load(snp("virtee-ark-milan.pem"), snp("virtee-ask-milan.pem"))
    raw = SimulatedSnpProvider(sim_chain).get_report(DATA).raw
    with pytest.raises(ChainInvalid):
        verify_snp(raw, expected_report_data=DATA, vcek=StaticVcek(sim_chain.vcek), certs=pool, now=NOW)


@pytest.mark.parametrize(
    ("mutate", "policy_kw", "check"),
    [
        ("debug", {}, "debug"),
        ("vmpl0", {}, "vmpl"),
        ("none", {"min_tcb": Tcb(4, 0, 23, 0)}, "tcb"),
        ("none", {"trusted_measurements": frozenset({b"\x01" * 48})}, "measurement"),
        ("migrate", {"allow_migrate_ma": False}, "policy"),
        ("vlek", {}, "signing_key"),
        ("mask", {}, "key_info"),
        ("zero_sig", {}, "signature"),
        ("zero_chip", {}, "chip_id"),
        ("tcb", {}, "tcb"),
    ],
)
def test_policy_failures_on_validly_signed_reports(
    sim_chain: SimulatedChain, mutate: str, policy_kw: dict[str, object], check: str
) -> None:
    provider = SimulatedSnpProvider(
        sim_chain,
        policy=0x30000 | (1 << 19 if mutate == "debug" else 0) | (1 << 18 if mutate == "migrate" else 0),
    )
    raw = bytearray(provider.get_report(DATA, vmpl=0 if mutate == "vmpl0" else 1).raw)
    if mutate == "vlek":
        raw[0x48] = 1 << 2
    elif mutate == "mask":
        raw[0x48] = 0b10
    elif mutate == "zero_chip":
        raw[0x1A0:0x1E0] = bytes(64)
    elif mutate == "tcb":
        raw[0x186] += 1  # REPORTED_TCB snp, re-signed: the VCEK's SPL no longer matches
    signed = bytes(raw) if mutate == "zero_sig" else sim_chain.sign_report(bytes(raw))
    if mutate == "zero_sig":
        signed = signed[:0x2A0] + bytes(144) + signed[0x330:]
    with pytest.raises(EvidenceInvalid) as info:
        _verify(sim_chain, signed, _sim_policy(sim_chain, **policy_kw))
    assert info.value.check == check


def test_vlek_policy_switch(sim_chain: SimulatedChain) -> None:
    raw = bytearray(SimulatedSnpProvider(sim_chain).get_report(DATA).raw)
    raw[0x48] = 1 << 2
    result = _verify(sim_chain, sim_chain.sign_report(bytes(raw)), _sim_policy(sim_chain, allow_vlek=True))
    assert result.trust == "simulated"  # type: ignore[attr-defined]


def test_report_data_binding_on_simulated(sim_chain: SimulatedChain) -> None:
    raw = SimulatedSnpProvider(sim_chain).get_report(DATA).raw
    other = report_data_binding(b"\xaa" * 32, b"\xcc" * 32)
    with pytest.raises(PolicyRejected) as info:
        _verify(sim_chain, raw, _sim_policy(sim_chain), data=other)
    assert info.value.check == "report_data"


def test_turin_simulated_chain_uses_turin_layout(sim_turin: SimulatedChain) -> None:
    raw = SimulatedSnpProvider(sim_turin).get_report(DATA).raw
    result = _verify(sim_turin, raw, _sim_policy(sim_turin, min_tcb=Tcb(4, 0, 22, 213, fmc=0)))
    assert result.product is Product.TURIN  # type: ignore[attr-defined]
    v3 = bytearray(raw)
    v3[0:4] = (3).to_bytes(4, "little")
    v3[0x188], v3[0x189] = 0x19, 0x01  # claims Milan while the chain is Turin
    with pytest.raises(EvidenceInvalid) as info:
        _verify(sim_turin, sim_turin.sign_report(bytes(v3)), _sim_policy(sim_turin))
    assert info.value.check == "chain"


def test_sim_chain_requires_32_byte_suffix() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SimulatedChain.generate(chip_suffix=b"short")


def test_simulated_provider_checks_its_inputs(sim_chain: SimulatedChain) -> None:
    with pytest.raises(ProviderError, match="64 bytes"):
        SimulatedSnpProvider(sim_chain).get_report(b"short")
    with pytest.raises(ProviderError, match="48 bytes"):
        SimulatedSnpProvider(sim_chain, measurement=b"x").get_report(DATA)
    report = SimulatedSnpProvider(sim_chain).get_report(DATA).report
    assert "SnpReport(version=2, vmpl=1" in repr(report)
    assert len(repr(report)) < 200
