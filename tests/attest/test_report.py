"""The 1184-byte report: every field at its offset, HyperBEAM JSON round trips, garbage is refused."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from attest import EvidenceMalformed, Product, SnpReport, Tcb

from ._vectors import expected, hb, snp, v1_raw, v2_report


def _tcb(report: SnpReport, which: str) -> dict[str, int]:
    t = report.tcb(which)
    return {"bootloader": t.bootloader, "tee": t.tee, "snp": t.snp, "microcode": t.microcode}


@pytest.mark.parametrize("name", ["V1", "V2"])
def test_fields_match_expected(name: str) -> None:
    exp = expected()[name]
    report = SnpReport.from_bytes(v1_raw()) if name == "V1" else v2_report()
    assert hashlib.sha256(report.raw).hexdigest() == exp["report_sha256"]
    assert report.version == exp["version"]
    assert report.vmpl == exp["vmpl"]
    assert report.policy == exp["policy"]
    assert report.debug_allowed is exp["debug_allowed"]
    assert report.sig_algo == exp["sig_algo"]
    assert report.key_info == exp["key_info"]
    assert report.plat_info == exp["plat_info"]
    assert report.measurement.hex() == exp["measurement_hex"]
    assert report.report_data.hex() == exp["report_data_hex"]
    assert report.chip_id.hex() == exp["chip_id_hex"]
    assert report.host_data.hex() == exp["host_data_hex"]
    assert report.report_id.hex() == exp["report_id_hex"]
    for which in ("reported", "current", "committed", "launch"):
        assert _tcb(report, which) == exp[f"{which}_tcb"]
    assert report.firmware("current") == exp["firmware_current"]
    assert report.firmware("committed") == exp["firmware_committed"]
    assert report.signing_key == 0
    assert not report.mask_chip_key
    assert report.cpuid is None
    assert report.product_hint() is None
    assert report.report_id_ma == b"\xff" * 32


def test_json_round_trip_is_byte_exact() -> None:
    text = snp("hb-os-benign-report.json").read_text()
    report = SnpReport.from_json(text)
    assert json.loads(report.to_json()) == json.loads(text)
    assert SnpReport.from_json(report.to_json_dict()).raw == report.raw
    raw = SnpReport.from_bytes(v1_raw())
    assert SnpReport.from_json(raw.to_json()).raw == raw.raw


def _flat_report_line() -> str:
    for line in snp("hyperbeam-snp_attestation").read_bytes().splitlines():
        if line.startswith(b"report: "):
            return line[len(b"report: ") :].decode()
    raise AssertionError("no report line")


def test_v3_hyperbeam_reports_verify_with_recovered_key() -> None:
    exp = expected()["V3"]
    key = serialization.load_pem_public_key(snp("recovered-vcek-pubkey-chip-8cba181a.pem").read_bytes())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    reports = {
        "snp_attestation_json_report_sha256": SnpReport.from_json(hb("snp-attestation.json").read_text()),
        "snp_attestation_flat_report_sha256": SnpReport.from_json(_flat_report_line()),
    }
    for name, report in reports.items():
        assert hashlib.sha256(report.raw).hexdigest() == exp[name]
        assert report.chip_id.hex() == exp["chip_id_hex"]
        assert _tcb(report, "reported") == exp["reported_tcb"]
        assert report.firmware() == exp["firmware_current"]
        r, s = report.signature_rs
        key.verify(encode_dss_signature(r, s), report.signed_bytes, ec.ECDSA(hashes.SHA384()))
    first = reports["snp_attestation_json_report_sha256"]
    assert first.measurement.hex() == exp["snp_attestation_json"]["measurement_hex"]


def test_tcb_layouts_per_product() -> None:
    raw = bytes([1, 2, 3, 4, 5, 6, 7, 8])
    assert Tcb.decode(raw, Product.MILAN) == Tcb(bootloader=1, tee=2, snp=7, microcode=8)
    assert Tcb.decode(raw, Product.TURIN) == Tcb(bootloader=2, tee=3, snp=4, microcode=8, fmc=1)
    assert Tcb(4, 0, 22, 213).at_least(Tcb(4, 0, 22, 213)) is None
    assert Tcb(4, 0, 22, 200).at_least(Tcb(4, 0, 22, 213)) == "microcode"
    assert Tcb(3, 0, 22, 213).at_least(Tcb(4, 0, 0, 0)) == "bootloader"


def test_product_from_cpuid_fields() -> None:
    base = bytearray(v1_raw())
    base[0:4] = (3).to_bytes(4, "little")
    for family, model, product in (
        (0x19, 0x01, Product.MILAN),
        (0x19, 0x11, Product.GENOA),
        (0x19, 0xA0, Product.GENOA),
        (0x1A, 0x02, Product.TURIN),
        (0x17, 0, None),
    ):
        base[0x188], base[0x189] = family, model
        assert SnpReport.from_bytes(bytes(base)).product_hint() is product


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"\x02" + bytes(1182), "1184 bytes"),
        (bytes(1184), "version 0"),
        ((2).to_bytes(4, "little") + bytes(1180), "signature algorithm"),
    ],
)
def test_malformed_raw_reports(raw: bytes, fragment: str) -> None:
    with pytest.raises(EvidenceMalformed, match=fragment):
        SnpReport.from_bytes(raw)


def test_malformed_json_reports() -> None:
    good = v2_report().to_json_dict()
    cases = [
        "not json",
        "[1, 2]",
        {k: v for k, v in good.items() if k != "chip_id"},
        {**good, "vmpl": -1},
        {**good, "vmpl": True},
        {**good, "measurement": [0] * 47},
        {**good, "measurement": [256] * 48},
        {**good, "current_tcb": {"bootloader": 1}},
        {**good, "signature": [1, 2]},
        {**good, "reported_tcb": {**good["reported_tcb"], "snp": 300}},
    ]
    for case in cases:
        with pytest.raises(EvidenceMalformed):
            SnpReport.from_json(case)  # type: ignore[arg-type]


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.binary(min_size=0, max_size=1300))
def test_fuzz_raw_parse_only_raises_our_error(data: bytes) -> None:
    try:
        report = SnpReport.from_bytes(data)
    except EvidenceMalformed:
        return
    assert len(report.raw) == 1184


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    )
)
def test_fuzz_json_parse_only_raises_our_error(value: object) -> None:
    with pytest.raises(EvidenceMalformed):
        SnpReport.from_json(json.dumps(value))
