"""Simulated SEV-SNP evidence (device ``snp-sim@1.0``): real layout, real signatures, fake AMD.

``SimulatedChain`` makes a SIM-ARK → SIM-ASK (RSA, PSS/SHA-384/48) → SIM-VCEK (P-384) hierarchy
at run time, structurally identical to AMD's (same 3704 extensions) but with subject
``O=SIMULATED - NOT AMD`` and ``SIM-`` common names; keys live only in this process. Reports it
signs start CHIP_ID with ``SIM_CHIP_MARKER``. Verifiers never treat such evidence as hardware:
its ARK is not a pinned AMD root, and even if someone pinned it the markers still say "simulated".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from ._certs import SIM_MARKER_ORG, fingerprint
from ._errors import ProviderError
from ._provider import Evidence, _check_request
from ._report import REPORT_SIZE, SIGNED_END, Product, Tcb
from ._verify import SIM_CHIP_MARKER

SIM_DEVICE = "snp-sim@1.0"
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
_ARC = "1.3.6.1.4.1.3704.1"
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def encode_tcb(tcb: Tcb, product: Product = Product.MILAN) -> bytes:
    """The 8-byte TCB_VERSION of ``tcb`` in ``product``'s layout."""
    if product is Product.TURIN:
        return bytes([tcb.fmc or 0, tcb.bootloader, tcb.tee, tcb.snp, 0, 0, 0, tcb.microcode])
    return bytes([tcb.bootloader, tcb.tee, 0, 0, 0, 0, tcb.snp, tcb.microcode])


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, SIM_MARKER_ORG),
        ]
    )


def _der_int(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return bytes([0x02, len(body)]) + body


def _ext(builder: x509.CertificateBuilder, suffix: str, value: bytes) -> x509.CertificateBuilder:
    oid = x509.ObjectIdentifier(f"{_ARC}.{suffix}")
    return builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)


@dataclass(frozen=True)
class SimulatedChain:
    """A process-local simulated AMD hierarchy for one simulated chip at one TCB."""

    product: Product
    chip_id: bytes
    tcb: Tcb
    ark: x509.Certificate
    ask: x509.Certificate
    vcek: x509.Certificate
    vcek_key: ec.EllipticCurvePrivateKey = field(repr=False)

    @classmethod
    def generate(
        cls,
        *,
        product: Product = Product.MILAN,
        tcb: Tcb | None = None,
        chip_suffix: bytes | None = None,
        rsa_bits: int = 2048,
    ) -> SimulatedChain:
        """A fresh chain; CHIP_ID = ``SIM_CHIP_MARKER`` ‖ 32 random (or given) bytes."""
        tcb = tcb or Tcb(
            bootloader=4, tee=0, snp=22, microcode=213, fmc=0 if product is Product.TURIN else None
        )
        chip_id = SIM_CHIP_MARKER + (chip_suffix if chip_suffix is not None else os.urandom(32))
        if len(chip_id) != 64:
            raise ValueError("chip_suffix must be 32 bytes")
        ark_key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        ask_key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        vcek_key = ec.generate_private_key(ec.SECP384R1())
        ark_name, ask_name = _name(f"SIM-ARK-{product.value}"), _name(f"SIM-ASK-{product.value}")

        def base(
            subject: x509.Name,
            issuer: x509.Name,
            key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
            years: int,
        ) -> x509.CertificateBuilder:
            return (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(issuer)
                .public_key(key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(_EPOCH)
                .not_valid_after(_EPOCH + timedelta(days=365 * years))
            )

        ca = x509.BasicConstraints(ca=True, path_length=None)
        ark = (
            base(ark_name, ark_name, ark_key.public_key(), 25)
            .add_extension(ca, critical=True)
            .sign(ark_key, hashes.SHA384(), rsa_padding=_PSS)
        )
        ask = (
            base(ask_name, ark_name, ask_key.public_key(), 25)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ark_key, hashes.SHA384(), rsa_padding=_PSS)
        )
        hwid = chip_id[:8] if product is Product.TURIN else chip_id
        leaf = base(_name("SIM-VCEK"), ask_name, vcek_key.public_key(), 7)
        leaf = _ext(leaf, "1", _der_int(1 if product is Product.TURIN else 0))
        leaf = _ext(
            leaf,
            "2",
            b"\x16" + bytes([len(b"SIM-" + product.value.encode())]) + b"SIM-" + product.value.encode(),
        )
        for suffix, value in (
            ("3.1", tcb.bootloader),
            ("3.2", tcb.tee),
            ("3.3", tcb.snp),
            ("3.8", tcb.microcode),
        ):
            leaf = _ext(leaf, suffix, _der_int(value))
        if product is Product.TURIN:
            leaf = _ext(leaf, "3.9", _der_int(tcb.fmc or 0))
        vcek = _ext(leaf, "4", hwid).sign(ask_key, hashes.SHA384(), rsa_padding=_PSS)
        return cls(product=product, chip_id=chip_id, tcb=tcb, ark=ark, ask=ask, vcek=vcek, vcek_key=vcek_key)

    @property
    def root_sha256(self) -> str:
        """The fingerprint to pass as ``VerifierPolicy.simulation(sim_roots=...)``."""
        return fingerprint(self.ark)

    def certs(self) -> dict[str, bytes]:
        return {
            name: cert.public_bytes(Encoding.DER)
            for name, cert in (("ark", self.ark), ("ask", self.ask), ("vcek", self.vcek))
        }

    def sign_report(self, raw: bytes) -> bytes:
        """Re-sign ``raw`` (any 1184 bytes) with the SIM-VCEK; the signed range is 0x000-0x29F."""
        if len(raw) != REPORT_SIZE:
            raise ValueError("a report is 1184 bytes")
        r, s = decode_dss_signature(self.vcek_key.sign(raw[:SIGNED_END], ec.ECDSA(hashes.SHA384())))
        sig = r.to_bytes(72, "little") + s.to_bytes(72, "little")
        return raw[:SIGNED_END] + sig + raw[SIGNED_END + 144 :]


class SimulatedSnpProvider:
    """An ``SnpProvider`` that signs with a ``SimulatedChain``. Its evidence is ``kind="snp-sim"``."""

    def __init__(
        self,
        chain: SimulatedChain | None = None,
        *,
        measurement: bytes = bytes(48),
        policy: int = 0x30000,
        host_data: bytes = bytes(32),
    ) -> None:
        self.chain = chain or SimulatedChain.generate()
        self.measurement = measurement
        self.policy = policy
        self.host_data = host_data

    def get_report(self, report_data: bytes, vmpl: int = 1) -> Evidence:
        _check_request(report_data, vmpl)
        if len(self.measurement) != 48 or len(self.host_data) != 32:
            raise ProviderError("simulated measurement must be 48 bytes and host_data 32")
        tcb = encode_tcb(self.chain.tcb, self.chain.product)
        buf = bytearray(REPORT_SIZE)
        buf[0x000:0x004] = (2).to_bytes(4, "little")
        buf[0x008:0x010] = self.policy.to_bytes(8, "little")
        buf[0x030:0x034] = vmpl.to_bytes(4, "little")
        buf[0x034:0x038] = (1).to_bytes(4, "little")
        for offset in (0x038, 0x180, 0x1E0, 0x1F0):
            buf[offset : offset + 8] = tcb
        buf[0x040:0x048] = (1).to_bytes(8, "little")
        buf[0x050:0x090] = report_data
        buf[0x090:0x0C0] = self.measurement
        buf[0x0C0:0x0E0] = self.host_data
        buf[0x140:0x160] = os.urandom(32)
        buf[0x160:0x180] = b"\xff" * 32
        buf[0x1A0:0x1E0] = self.chain.chip_id
        buf[0x1E8:0x1EB] = buf[0x1EC:0x1EF] = bytes([20, 55, 1])
        raw = self.chain.sign_report(bytes(buf))
        return Evidence(raw=raw, certs=self.chain.certs(), kind="snp-sim")
