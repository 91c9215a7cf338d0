"""Real AMD evidence: full chain to the pinned roots, and every tampered field named."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from attest import (
    AMD_ARK_SHA256,
    CertPool,
    ChainInvalid,
    EvidenceInvalid,
    PolicyRejected,
    Product,
    SnpReport,
    StaticVcek,
    Tcb,
    VcekUnavailable,
    VerifierPolicy,
    fingerprint,
    load_certificates,
    report_data_binding,
    vcek_extensions,
    verify_ca_chain,
    verify_snp,
)
from attest._certs import check_signed_by, verify_vcek
from devices.core import b64u_decode

from ._vectors import NOW, expected, hb, milan_pool, snp, v1_raw, v1_vcek, v2_report, v2_vcek

V1_POLICY = VerifierPolicy(vmpl=0)


def _verify_v1(raw: bytes, **kw: object) -> object:
    args: dict[str, object] = {
        "expected_report_data": None,
        "policy": V1_POLICY,
        "vcek": v1_vcek(),
        "certs": milan_pool(),
        "now": NOW,
    }
    args.update(kw)
    return verify_snp(raw, **args)  # type: ignore[arg-type]


def _flip(raw: bytes, offset: int) -> bytes:
    return raw[:offset] + bytes([raw[offset] ^ 0x01]) + raw[offset + 1 :]


def test_v1_raw_report_verifies_to_amd_root() -> None:
    exp = expected()["V1"]
    result = verify_snp(
        v1_raw(),
        expected_report_data=bytes.fromhex(exp["report_data_hex"]),
        policy=V1_POLICY,
        vcek=v1_vcek(),
        certs=milan_pool(),
        now=NOW,
    )
    assert result.hardware
    assert result.trust == "amd-hardware"
    assert result.product is Product.MILAN
    assert result.ark_sha256 == exp["chain"]["ark_sha256"]
    assert result.vcek_sha256 == exp["chain"]["vcek_sha256"]
    assert result.warnings == ()


def test_v2_json_report_verifies_against_hyperbeam_bundle() -> None:
    exp = expected()["V2"]
    bundle = CertPool.load(hb("amd-vcek-v1-Milan-cert_chain.pem"))
    result = verify_snp(
        v2_report(),
        expected_report_data=bytes.fromhex(exp["report_data_hex"]),
        vcek=v2_vcek(),
        certs=bundle,
        now=NOW,
        policy=VerifierPolicy(
            trusted_measurements=frozenset({bytes.fromhex(exp["measurement_hex"])}),
            min_tcb=Tcb(3, 0, 20, 209),
        ),
    )
    assert result.hardware
    assert result.vcek_sha256 == exp["chain"]["vcek_sha256"]


def test_vcek_extensions_decode() -> None:
    exp = expected()
    milan = vcek_extensions(load_certificates(snp("virtee-vcek_milan.der").read_bytes())[0])
    ext = exp["V1"]["chain"]["vcek_extensions"]
    assert (
        milan.struct_version,
        milan.product_name,
        milan.bl_spl,
        milan.tee_spl,
        milan.snp_spl,
        milan.ucode_spl,
    ) == (
        ext["structVersion"],
        ext["productName"],
        ext["blSPL"],
        ext["teeSPL"],
        ext["snpSPL"],
        ext["ucodeSPL"],
    )
    assert milan.hwid is not None
    assert milan.hwid.hex() == ext["hwID"]
    turin = vcek_extensions(load_certificates(snp("virtee-vcek_turin.der").read_bytes())[0])
    ext = exp["V8"]["vcek_turin"]["vcek_extensions"]
    assert (turin.fmc_spl, turin.ucode_spl, turin.product_name) == (ext["fmcSPL"], ext["ucodeSPL"], "Turin")
    assert turin.hwid is not None
    assert turin.hwid.hex() == ext["hwID"]
    v2 = vcek_extensions(load_certificates(snp("hb-os-vcek.crt").read_bytes())[0])
    assert v2.ucode_spl == 209  # DER INTEGER padded with 0x00 (>= 128)


@pytest.mark.parametrize("product", ["milan", "genoa", "turin"])
def test_pinned_roots_for_every_product(product: str) -> None:
    exp = expected()["V8"]["products"][product]
    [ark] = load_certificates(snp(f"virtee-ark-{product}.pem").read_bytes())
    [ask] = load_certificates(snp(f"virtee-ask-{product}.pem").read_bytes())
    assert fingerprint(ark) == exp["ark_sha256"]
    assert fingerprint(ask) == exp["ask_sha256"]
    chain = verify_ca_chain(ark, ask)
    assert chain.product.value.lower() == product
    assert not chain.simulated
    assert AMD_ARK_SHA256[exp["ark_sha256"]] is chain.product


def test_turin_vcek_chains_and_milan_vcek_does_not() -> None:
    pool = CertPool.load(snp("virtee-ark-turin.pem"), snp("virtee-ask-turin.pem"))
    [turin_vcek] = load_certificates(snp("virtee-vcek_turin.der").read_bytes())
    chain = pool.ca_chain_for(turin_vcek)
    verify_vcek(turin_vcek, chain, NOW)
    [milan_vcek] = load_certificates(snp("virtee-vcek_milan.der").read_bytes())
    with pytest.raises(ChainInvalid):
        check_signed_by(milan_vcek, chain.ask, "VCEK")
    with pytest.raises(ChainInvalid, match="no ASK"):
        pool.ca_chain_for(milan_vcek)


def test_unpinned_ark_is_refused_even_when_supplied(sim_chain) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ChainInvalid, match="not a pinned AMD root"):
        verify_ca_chain(sim_chain.ark, sim_chain.ask)


def test_bundle_ark_and_ask_order_does_not_matter() -> None:
    certs = load_certificates(hb("amd-vcek-v1-Milan-cert_chain.pem").read_bytes())
    assert [c.subject.rfc4514_string().split(",")[0] for c in certs] == ["CN=SEV-Milan", "CN=ARK-Milan"]
    assert CertPool(reversed(certs)).ca_chain_for(v1_vcek().cert).product is Product.MILAN


@pytest.mark.parametrize(
    ("offset", "check"),
    [
        (0x050, "signature"),  # REPORT_DATA
        (0x090, "signature"),  # MEASUREMENT
        (0x008, "signature"),  # POLICY (a signed byte)
        (0x2E8, "signature"),  # S
        (0x2A0, "signature"),  # R
        (0x180, "tcb"),  # REPORTED_TCB bootloader: no longer the VCEK's SPL
        (0x187, "tcb"),  # REPORTED_TCB microcode
        (0x1A0, "chip_id"),  # CHIP_ID: no longer the VCEK's hwID
    ],
)
def test_tampered_signed_fields_are_named(offset: int, check: str) -> None:
    with pytest.raises(EvidenceInvalid) as info:
        _verify_v1(_flip(v1_raw(), offset))
    assert info.value.check == check


def test_unsigned_tail_is_really_unsigned() -> None:
    assert _verify_v1(_flip(v1_raw(), 0x400)).hardware  # type: ignore[attr-defined]


def test_tampered_chain_certificate_is_named() -> None:
    pem = snp("virtee-ask-milan.pem").read_bytes()
    [ask] = load_certificates(pem)
    der = bytearray(ask.public_bytes(Encoding.DER))
    der[-10] ^= 0x01  # inside the signature value
    bad_ask = x509.load_der_x509_certificate(bytes(der))
    pool = CertPool([*load_certificates(snp("virtee-ark-milan.pem").read_bytes()), bad_ask])
    with pytest.raises(ChainInvalid) as info:
        _verify_v1(v1_raw(), certs=pool)
    assert info.value.check == "chain"


def test_wrong_vcek_is_named() -> None:
    with pytest.raises(EvidenceInvalid) as info:
        _verify_v1(v1_raw(), vcek=v2_vcek())
    assert info.value.check == "chip_id"


def test_expired_vcek_is_named() -> None:
    with pytest.raises(ChainInvalid) as info:
        _verify_v1(v1_raw(), now=datetime(2031, 1, 1, tzinfo=UTC))
    assert info.value.check == "validity"


def test_chain_not_yet_valid_is_named() -> None:
    with pytest.raises(ChainInvalid, match="ARK not valid") as info:
        _verify_v1(v1_raw(), now=datetime(2019, 1, 1, tzinfo=UTC))
    assert info.value.check == "validity"


def test_policy_checks_on_real_report() -> None:
    with pytest.raises(PolicyRejected) as info:
        _verify_v1(v1_raw(), policy=VerifierPolicy(vmpl=1))
    assert info.value.check == "vmpl"
    with pytest.raises(PolicyRejected) as info:
        _verify_v1(v1_raw(), policy=replace(V1_POLICY, min_tcb=Tcb(3, 0, 8, 116)))
    assert info.value.check == "tcb"
    with pytest.raises(PolicyRejected) as info:
        _verify_v1(v1_raw(), policy=replace(V1_POLICY, trusted_measurements=frozenset({bytes(48)})))
    assert info.value.check == "measurement"
    with pytest.raises(PolicyRejected) as info:
        _verify_v1(v1_raw(), policy=replace(V1_POLICY, require_single_socket=True))
    assert info.value.check == "policy"


def test_genuine_report_with_another_nodes_nonce_is_rejected() -> None:
    report = v2_report()
    other = report_data_binding(b"\x01" * 32, b"\x02" * 32)
    with pytest.raises(PolicyRejected) as info:
        verify_snp(report, expected_report_data=other, vcek=v2_vcek(), certs=milan_pool(), now=NOW)
    assert info.value.check == "report_data"


def test_v4_report_data_is_address_and_node_message_id() -> None:
    exp = expected()["V4"]
    binding = report_data_binding(exp["address"], bytes.fromhex(exp["report_data_last_32_hex"]))
    assert binding.hex() == exp["report_data_hex"]
    assert b64u_decode(exp["nonce"]) == binding


def test_missing_vcek_is_an_error_not_a_crash() -> None:
    with pytest.raises(VcekUnavailable):
        verify_snp(v1_raw(), expected_report_data=None, policy=V1_POLICY, certs=milan_pool(), now=NOW)


def test_no_chain_supplied_fails_closed() -> None:
    with pytest.raises(ChainInvalid):
        verify_snp(v1_raw(), expected_report_data=None, policy=V1_POLICY, vcek=v1_vcek(), now=NOW)


def test_vcek_serial_zero_loads_under_deprecation_errors() -> None:
    """Regression guard: if cryptography turns the serial-0 warning into an error, this fails at once."""
    code = (
        "import sys; from pathlib import Path; from attest import load_certificates, vcek_extensions;"
        f"c = load_certificates(Path({str(snp('virtee-vcek_turin.der'))!r}).read_bytes())[0];"
        "print(vcek_extensions(c).ucode_spl)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "9"


def test_static_vcek_accepts_pem_and_der() -> None:
    der = snp("virtee-vcek_milan.der").read_bytes()
    pem = StaticVcek(der).cert.public_bytes(Encoding.PEM)
    assert StaticVcek(pem).cert == StaticVcek(der).cert
    assert _verify_v1(v1_raw(), vcek=StaticVcek(pem)).hardware  # type: ignore[attr-defined]


def test_report_object_and_bytes_are_equivalent() -> None:
    assert _verify_v1(SnpReport.from_bytes(v1_raw())).hardware  # type: ignore[attr-defined]
