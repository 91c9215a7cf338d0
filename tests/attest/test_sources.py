"""VCEK sources, the KDS URL builder and cache, the GHCB cert table, and the hardware providers (faked)."""

from __future__ import annotations

import ctypes
import http.server
import os
import threading
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from attest import (
    CertPool,
    ConfigfsTsmProvider,
    EvidenceMalformed,
    FirstVcek,
    KdsClient,
    Product,
    ProviderError,
    SevGuestIoctlProvider,
    SimulatedChain,
    SimulatedSnpProvider,
    SnpReport,
    StaticVcek,
    Tcb,
    VcekCache,
    VcekUnavailable,
    VerifierPolicy,
    build_cert_table,
    http_fetch,
    kds_chain_url,
    kds_vcek_url,
    parse_cert_table,
    verify_snp,
)
from attest._provider import SNP_GET_REPORT

from ._vectors import NOW, expected, hb, milan_pool, snp, v1_raw

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

DATA = bytes(range(64))


def test_kds_urls_match_the_vectors() -> None:
    exp = expected()
    for name in ("V3", "V5"):
        chip = bytes.fromhex(exp[name]["chip_id_hex"])
        assert (
            kds_vcek_url(Product.MILAN, chip, Tcb(4, 0, 22, 213)) == exp[name]["kds_vcek_url_for_this_chip"]
        )
    turin = kds_vcek_url(Product.TURIN, bytes.fromhex("1e550a8ee5cf9f4d") + bytes(56), Tcb(0, 0, 0, 9, fmc=0))
    assert turin == (
        "https://kdsintf.amd.com/vcek/v1/Turin/1e550a8ee5cf9f4d"
        "?fmcSPL=00&blSPL=00&teeSPL=00&snpSPL=00&ucodeSPL=09"
    )
    assert kds_chain_url(Product.GENOA) == "https://kdsintf.amd.com/vcek/v1/Genoa/cert_chain"


def test_cert_table_round_trip_and_garbage(sim_chain: SimulatedChain) -> None:
    table = build_cert_table(sim_chain.certs())
    assert parse_cert_table(table) == sim_chain.certs()
    with pytest.raises(EvidenceMalformed, match="terminator"):
        parse_cert_table(table[:20])
    bad = bytearray(table)
    bad[16:20] = (len(table) + 5).to_bytes(4, "little")
    with pytest.raises(EvidenceMalformed, match="outside"):
        parse_cert_table(bytes(bad))


def test_cache_and_kds_client(tmp_path: Path) -> None:
    report = SnpReport.from_bytes(v1_raw())
    der = snp("virtee-vcek_milan.der").read_bytes()
    calls: list[str] = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        return der

    cache = VcekCache(tmp_path / "vcek")
    client = KdsClient(fetch, cache)
    first = client.vcek_for(report, Product.MILAN)
    second = client.vcek_for(report, Product.MILAN)
    assert first == second
    assert len(calls) == 1
    assert calls[0].startswith("https://kdsintf.amd.com/vcek/v1/Milan/d49554ec")
    assert calls[0].endswith("?blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115")
    cached = verify_snp(
        report,
        expected_report_data=None,
        policy=VerifierPolicy(vmpl=0),
        vcek=VcekCache(tmp_path / "vcek"),
        certs=milan_pool(),
        now=NOW,
    )
    assert cached.hardware


def test_kds_failures_are_errors(tmp_path: Path) -> None:
    report = SnpReport.from_bytes(v1_raw())

    def down(url: str) -> bytes:
        raise ConnectionError("unreachable")

    with pytest.raises(VcekUnavailable, match="KDS fetch failed"):
        KdsClient(down, VcekCache(tmp_path)).vcek_for(report, Product.MILAN)
    with pytest.raises(VcekUnavailable, match="non-certificate"):
        KdsClient(lambda url: b"<html>rate limited</html>").vcek_for(report, Product.MILAN)


def test_http_fetch_against_loopback(tmp_path: Path) -> None:
    der = snp("virtee-vcek_milan.der").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/vcek/v1/Milan/"):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(der)
            else:
                self.send_error(429, "rate limited")

        def log_message(self, fmt: str, *args: object) -> None:
            return

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        report = SnpReport.from_bytes(v1_raw())
        client = KdsClient(lambda url: http_fetch(url, timeout_s=5), VcekCache(tmp_path), base=base)
        cert = client.vcek_for(report, Product.MILAN)
        assert cert is not None
        assert cert.public_bytes(Encoding.DER) == der
        with pytest.raises(OSError, match="429"):
            http_fetch(base + "/other", timeout_s=5)
        with pytest.raises(OSError, match="non-HTTP"):
            http_fetch("file:///etc/passwd")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_offline_bundle_directory(tmp_path: Path) -> None:
    report = SnpReport.from_bytes(v1_raw())
    (tmp_path / "some-name.der").write_bytes(snp("virtee-vcek_milan.der").read_bytes())
    (tmp_path / "other.crt").write_bytes(snp("hb-os-vcek.crt").read_bytes())
    (tmp_path / "chain.pem").write_bytes(hb("amd-vcek-v1-Milan-cert_chain.pem").read_bytes())
    found = VcekCache(tmp_path).vcek_for(report, Product.MILAN)
    assert found is not None
    assert found.public_bytes(Encoding.DER) == snp("virtee-vcek_milan.der").read_bytes()
    assert VcekCache(tmp_path / "absent").vcek_for(report, Product.MILAN) is None
    pool = CertPool.load(tmp_path)
    assert len(pool.certs) == 4
    assert pool.vcek_for(report, Product.MILAN) == found
    assert (
        FirstVcek(VcekCache(tmp_path / "absent"), StaticVcek(found)).vcek_for(report, Product.MILAN) == found
    )


def _fake_configfs(
    base: Path, raw: bytes, *, provider: str = "sev_guest", aux: bytes = b""
) -> tuple[list[Path], Callable[[Path], None]]:
    made: list[Path] = []

    def mkdir(path: Path) -> None:
        os.mkdir(path)
        (path / "provider").write_text(provider + "\n")
        (path / "generation").write_text("1\n")
        (path / "outblob").write_bytes(raw)
        if aux:
            (path / "auxblob").write_bytes(aux)
        made.append(path)

    return made, mkdir


def test_configfs_tsm_provider(tmp_path: Path, sim_chain: SimulatedChain) -> None:
    evidence = SimulatedSnpProvider(sim_chain).get_report(DATA)
    made, mkdir = _fake_configfs(tmp_path, evidence.raw, aux=build_cert_table(sim_chain.certs()))
    removed: list[Path] = []

    def rmdir(path: Path) -> None:
        removed.append(path)

    got = ConfigfsTsmProvider(tmp_path, mkdir=mkdir, rmdir=rmdir).get_report(DATA, vmpl=1)
    assert got.raw == evidence.raw
    assert got.kind == "snp"
    assert got.certs == sim_chain.certs()
    assert (made[0] / "inblob").read_bytes() == DATA
    assert (made[0] / "privlevel").read_text() == "1"
    assert removed == made


def test_configfs_tsm_failures(tmp_path: Path, sim_chain: SimulatedChain) -> None:
    raw = SimulatedSnpProvider(sim_chain).get_report(DATA).raw
    with pytest.raises(ProviderError, match="cannot create"):
        ConfigfsTsmProvider(tmp_path / "absent").get_report(DATA)
    _, mkdir = _fake_configfs(tmp_path, raw, provider="tdx_guest")
    with pytest.raises(ProviderError, match="tdx_guest"):
        ConfigfsTsmProvider(tmp_path, mkdir=mkdir).get_report(DATA)
    _, mkdir = _fake_configfs(tmp_path, raw)
    with pytest.raises(ProviderError, match="different REPORT_DATA"):
        ConfigfsTsmProvider(tmp_path, mkdir=mkdir).get_report(bytes(64))
    _, mkdir = _fake_configfs(tmp_path, raw[:100])
    with pytest.raises(ProviderError, match="100 bytes"):
        ConfigfsTsmProvider(tmp_path, mkdir=mkdir).get_report(DATA)
    with pytest.raises(ProviderError, match="64 bytes"):
        ConfigfsTsmProvider(tmp_path).get_report(b"short")
    with pytest.raises(ProviderError, match="VMPL"):
        ConfigfsTsmProvider(tmp_path).get_report(DATA, vmpl=4)


def _fake_ioctl(raw: bytes, *, status: int = 0, size: int = 0x4A0, seen: list[tuple[int, bytes]]):  # type: ignore[no-untyped-def]
    def ioctl(fd: int, request: int, arg: object, mutate: bool) -> int:
        assert request == SNP_GET_REPORT
        assert mutate
        view = bytes(arg)  # type: ignore[call-overload]
        assert view[0] == 1  # msg_version
        req_ptr = int.from_bytes(view[8:16], "little")
        resp_ptr = int.from_bytes(view[16:24], "little")
        seen.append((request, ctypes.string_at(req_ptr, 96)))
        body = status.to_bytes(4, "little") + size.to_bytes(4, "little") + bytes(24) + raw
        ctypes.memmove(resp_ptr, body, len(body))
        return 0

    return ioctl


def test_sev_guest_ioctl_provider(tmp_path: Path, sim_chain: SimulatedChain) -> None:
    raw = SimulatedSnpProvider(sim_chain).get_report(DATA).raw
    dev = tmp_path / "sev-guest"
    dev.write_bytes(b"")
    seen: list[tuple[int, bytes]] = []
    got = SevGuestIoctlProvider(dev, ioctl=_fake_ioctl(raw, seen=seen)).get_report(DATA, vmpl=1)
    assert got.raw == raw
    assert seen[0][1] == DATA + (1).to_bytes(4, "little") + bytes(28)
    with pytest.raises(ProviderError, match="status 0x16"):
        SevGuestIoctlProvider(dev, ioctl=_fake_ioctl(raw, status=0x16, seen=seen)).get_report(DATA)
    with pytest.raises(ProviderError, match="report_size"):
        SevGuestIoctlProvider(dev, ioctl=_fake_ioctl(raw, size=0x100, seen=seen)).get_report(DATA)
    with pytest.raises(ProviderError, match="different REPORT_DATA"):
        SevGuestIoctlProvider(dev, ioctl=_fake_ioctl(raw, seen=seen)).get_report(bytes(64))

    def failing(fd: int, request: int, arg: object, mutate: bool) -> int:
        raise OSError(5, "EIO")

    with pytest.raises(ProviderError, match="SNP_GET_REPORT failed"):
        SevGuestIoctlProvider(dev, ioctl=failing).get_report(DATA)
    with pytest.raises(ProviderError, match="cannot open"):
        SevGuestIoctlProvider(tmp_path / "absent", ioctl=failing).get_report(DATA)
