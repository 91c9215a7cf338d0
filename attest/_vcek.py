"""Where certificates come from: pools, VCEK sources, the offline cache, AMD KDS, the GHCB cert table.

A ``VcekSource`` answers ``vcek_for(report, product)`` with a certificate or None ("not here").
Sources: ``StaticVcek`` (a given DER/PEM), ``CertPool`` (certificates from files, directories or the
evidence itself), ``VcekCache`` (a directory keyed like KDS), ``KdsClient`` (an injected ``fetch``
callable in front of a cache; tests never reach the network) and ``FirstVcek`` (try in order).
Any source may supply any certificate: trust is decided later, by the pinned ARK fingerprint.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ._certs import (
    CaChain,
    common_name,
    load_certificate,
    load_certificates,
    vcek_extensions,
    verify_ca_chain,
)
from ._errors import ChainInvalid, EvidenceMalformed, VcekUnavailable
from ._report import Product, SnpReport, Tcb

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from pathlib import Path

KDS_BASE = "https://kdsintf.amd.com"
CERT_GUIDS: dict[str, str] = {
    "ark": "c0b406a4-a803-4952-9743-3fb6014cd0ae",
    "ask": "4ab7b379-bbac-4fe4-a02f-05aef327c782",
    "vcek": "63da758d-e664-4564-adc5-f4b93be8accd",
    "vlek": "a8074bc2-a25a-483e-aae6-39c045a0b8a1",
    "crl": "92f81bc3-5811-4d3d-97ff-d19f88dc67ea",
}
_CERT_SUFFIXES = (".pem", ".der", ".crt", ".cer")


def _hwid(product: Product, chip_id: bytes) -> str:
    return (chip_id[:8] if product is Product.TURIN else chip_id).hex()


def kds_vcek_url(product: Product, chip_id: bytes, tcb: Tcb, *, base: str = KDS_BASE) -> str:
    """The KDS URL of the VCEK for ``chip_id`` at ``tcb`` (use the report's REPORTED_TCB)."""
    query = (
        f"blSPL={tcb.bootloader:02d}&teeSPL={tcb.tee:02d}&snpSPL={tcb.snp:02d}&ucodeSPL={tcb.microcode:02d}"
    )
    if product is Product.TURIN:
        query = f"fmcSPL={(tcb.fmc or 0):02d}&" + query
    return f"{base}/vcek/v1/{product.value}/{_hwid(product, chip_id)}?{query}"


def kds_chain_url(product: Product, *, base: str = KDS_BASE) -> str:
    """The KDS URL of the ASK+ARK PEM bundle for ``product``."""
    return f"{base}/vcek/v1/{product.value}/cert_chain"


def parse_cert_table(table: bytes) -> dict[str, bytes]:
    """Decode a GHCB cert table (configfs-tsm ``auxblob``, extended report) into ``{name: DER}``.

    Raises:
        EvidenceMalformed: an entry points outside the table or the terminator is missing.
    """
    names = {uuid.UUID(v).bytes_le: k for k, v in CERT_GUIDS.items()}
    out: dict[str, bytes] = {}
    pos = 0
    while True:
        if pos + 24 > len(table):
            raise EvidenceMalformed("cert table lacks its all-zero terminator", offset=pos)
        guid, off, size = table[pos : pos + 16], table[pos + 16 : pos + 20], table[pos + 20 : pos + 24]
        if not any(table[pos : pos + 24]):
            return out
        start, length = int.from_bytes(off, "little"), int.from_bytes(size, "little")
        if start + length > len(table) or length == 0:
            raise EvidenceMalformed("cert table entry points outside the table", offset=pos)
        out[names.get(guid, str(uuid.UUID(bytes_le=guid)))] = table[start : start + length]
        pos += 24


def build_cert_table(certs: Mapping[str, bytes]) -> bytes:
    """Encode ``{name: DER}`` (names from ``CERT_GUIDS``) as a GHCB cert table."""
    header_len = 24 * (len(certs) + 1)
    header, body = bytearray(), bytearray()
    for name, der in certs.items():
        header += uuid.UUID(CERT_GUIDS[name]).bytes_le
        header += (header_len + len(body)).to_bytes(4, "little") + len(der).to_bytes(4, "little")
        body += der
    return bytes(header + bytes(24) + body)


class VcekSource(Protocol):
    def vcek_for(self, report: SnpReport, product: Product) -> x509.Certificate | None: ...


def _matches(cert: x509.Certificate, report: SnpReport, product: Product) -> bool:
    try:
        ext = vcek_extensions(cert)
    except EvidenceMalformed:
        return False
    tcb = report.tcb("reported", product)
    return (
        ext.hwid is not None
        and report.chip_id.startswith(ext.hwid)
        and (ext.bl_spl, ext.tee_spl, ext.snp_spl, ext.ucode_spl)
        == (tcb.bootloader, tcb.tee, tcb.snp, tcb.microcode)
    )


class StaticVcek:
    """A VCEK given by the caller (DER or PEM bytes, or a loaded certificate)."""

    def __init__(self, cert: x509.Certificate | bytes) -> None:
        self.cert = cert if isinstance(cert, x509.Certificate) else load_certificate(cert)

    def vcek_for(self, report: SnpReport, product: Product) -> x509.Certificate | None:
        return self.cert


class CertPool:
    """Certificates of any kind (ARK, ASK, VCEK) gathered from bundles, directories or evidence."""

    def __init__(self, certs: Iterable[x509.Certificate] = ()) -> None:
        self.certs: tuple[x509.Certificate, ...] = tuple(certs)

    @classmethod
    def load(cls, *paths: Path) -> CertPool:
        """Read PEM bundles, DER files and directories of them.

        Raises:
            EvidenceMalformed: a named file is unreadable or holds no certificate.
        """
        certs: list[x509.Certificate] = []
        for path in paths:
            files = (
                sorted(p for p in path.iterdir() if p.suffix in _CERT_SUFFIXES) if path.is_dir() else [path]
            )
            for file in files:
                try:
                    certs.extend(load_certificates(file.read_bytes()))
                except OSError as exc:
                    raise EvidenceMalformed(f"cannot read {file}: {exc}") from exc
        return cls(certs)

    @classmethod
    def from_cert_table(cls, table: Mapping[str, bytes]) -> CertPool:
        return cls(
            load_certificate(der) for name, der in table.items() if name in ("ark", "ask", "vcek", "vlek")
        )

    def __add__(self, other: CertPool) -> CertPool:
        return CertPool(self.certs + other.certs)

    def vcek_for(self, report: SnpReport, product: Product) -> x509.Certificate | None:
        leaves = [c for c in self.certs if common_name(c).endswith("VCEK")]
        for cert in leaves:
            if _matches(cert, report, product):
                return cert
        return leaves[0] if len(leaves) == 1 else None

    def ca_chain_for(self, leaf: x509.Certificate, *, sim_roots: Iterable[str] = ()) -> CaChain:
        """The verified ARK → ASK pair above ``leaf``, chosen by names, accepted by pinned fingerprint.

        Raises:
            ChainInvalid: no ASK/ARK pair in the pool leads to a pinned root.
        """
        roots = tuple(sim_roots)
        asks = [c for c in self.certs if c.subject == leaf.issuer and c.subject != c.issuer]
        arks = [c for c in self.certs if c.subject == c.issuer]
        if not asks:
            raise ChainInvalid(f"no ASK for issuer {leaf.issuer.rfc4514_string()!r}")
        last: ChainInvalid | None = None
        for ask in asks:
            for ark in (a for a in arks if a.subject == ask.issuer):
                try:
                    return verify_ca_chain(ark, ask, sim_roots=roots)
                except ChainInvalid as exc:
                    last = exc
        raise last or ChainInvalid(f"no ARK for ASK {ask.subject.rfc4514_string()!r}")


def _cache_name(product: Product, chip_id: bytes, tcb: Tcb) -> str:
    spl = f"{tcb.bootloader}-{tcb.tee}-{tcb.snp}-{tcb.microcode}" + (
        f"-{tcb.fmc}" if tcb.fmc is not None else ""
    )
    return f"vcek-{product.value}-{_hwid(product, chip_id)}-{spl}.der"


class VcekCache:
    """An on-disk VCEK cache keyed by (product, hwID, REPORTED_TCB); also reads any cert files there."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def vcek_for(self, report: SnpReport, product: Product) -> x509.Certificate | None:
        tcb = report.tcb("reported", product)
        exact = self.directory / _cache_name(product, report.chip_id, tcb)
        if exact.is_file():
            return load_certificate(exact.read_bytes())
        if not self.directory.is_dir():
            return None
        for cert in CertPool.load(self.directory).certs:
            if _matches(cert, report, product):
                return cert
        return None

    def put(self, report: SnpReport, product: Product, cert: x509.Certificate) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / _cache_name(product, report.chip_id, report.tcb("reported", product))
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(cert.public_bytes(Encoding.DER))
        tmp.replace(path)
        return path


def http_fetch(url: str, *, timeout_s: float = 10.0, max_bytes: int = 1 << 20) -> bytes:
    """A blocking GET for ``KdsClient`` (stdlib only); every failure is an ``OSError``.

    Raises:
        OSError: not http(s), a network error, a non-200 answer or an oversized body.
    """
    import urllib.error
    import urllib.request

    if not url.startswith(("https://", "http://")):
        raise OSError(f"refusing to fetch non-HTTP URL {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # scheme checked above
            if response.status != 200:
                raise OSError(f"HTTP {response.status} from {url}")
            body: bytes = response.read(max_bytes + 1)
    except urllib.error.URLError as exc:  # URLError is an OSError; HTTPError carries the status
        raise OSError(f"fetching {url}: {exc}") from exc
    if len(body) > max_bytes:
        raise OSError(f"answer from {url} exceeds {max_bytes} bytes")
    return body


class KdsClient:
    """AMD KDS behind an injected ``fetch(url) -> bytes`` (raising ``OSError`` on failure) and a cache."""

    def __init__(
        self, fetch: Callable[[str], bytes], cache: VcekCache | None = None, *, base: str = KDS_BASE
    ) -> None:
        self.fetch = fetch
        self.cache = cache
        self.base = base

    def vcek_for(self, report: SnpReport, product: Product) -> x509.Certificate | None:
        """Cached VCEK, else fetched (and cached) from KDS.

        Raises:
            VcekUnavailable: the fetch failed or returned something that is not a certificate.
        """
        if self.cache is not None and (hit := self.cache.vcek_for(report, product)) is not None:
            return hit
        url = kds_vcek_url(product, report.chip_id, report.tcb("reported", product), base=self.base)
        try:
            cert = load_certificate(self.fetch(url))
        except OSError as exc:
            raise VcekUnavailable(f"KDS fetch failed for {url}: {exc}") from exc
        except EvidenceMalformed as exc:
            raise VcekUnavailable(f"KDS answered {url} with a non-certificate") from exc
        if self.cache is not None:
            self.cache.put(report, product, cert)
        return cert


class FirstVcek:
    """Ask each source in turn; the first certificate wins."""

    def __init__(self, *sources: VcekSource) -> None:
        self.sources = sources

    def vcek_for(self, report: SnpReport, product: Product) -> x509.Certificate | None:
        for source in self.sources:
            if (cert := source.vcek_for(report, product)) is not None:
                return cert
        return None
