"""AMD certificates: pinned roots, loading, RSA-PSS chain links and the VCEK extensions.

Trust rule: an ARK is accepted only when the SHA-256 of its DER is one of ``AMD_ARK_SHA256``
(compiled in, computed from AMD's published Milan/Genoa/Turin roots) or, for simulated evidence,
one of the fingerprints a caller explicitly passes as ``sim_roots``. Where a certificate came from
(a bundle on disk, the evidence itself) never matters: its bytes decide.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from ._errors import ChainInvalid, EvidenceMalformed
from ._report import Product

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

AMD_ARK_SHA256: dict[str, Product] = {
    "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd": Product.MILAN,
    "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1": Product.GENOA,
    "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a": Product.TURIN,
}
"""SHA-256 of the DER of AMD's root keys (ARK), the only hardware trust anchors."""

AMD_ASK_SHA256: dict[str, Product] = {
    "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b": Product.MILAN,
    "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521": Product.GENOA,
    "5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185": Product.TURIN,
}
"""SHA-256 of AMD's current intermediates (ASK); informational, ASKs are checked by signature."""

SIM_MARKER_ORG = "SIMULATED - NOT AMD"
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
_ARC = "1.3.6.1.4.1.3704.1"


def fingerprint(cert: x509.Certificate) -> str:
    """Lowercase hex SHA-256 of the certificate's DER encoding."""
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in ``data``: a PEM bundle (any number) or a single DER certificate.

    The serial-0 deprecation warning that AMD's VCEKs trigger is filtered here and only here.

    Raises:
        EvidenceMalformed: no certificate can be read.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                return list(x509.load_pem_x509_certificates(data))
            return [x509.load_der_x509_certificate(data)]
        except ValueError as exc:
            raise EvidenceMalformed(f"not a certificate: {exc}") from exc


def load_certificate(data: bytes) -> x509.Certificate:
    """Exactly one certificate, PEM or DER.

    Raises:
        EvidenceMalformed: unreadable, or more than one certificate.
    """
    certs = load_certificates(data)
    if len(certs) != 1:
        raise EvidenceMalformed(f"expected one certificate, found {len(certs)}")
    return certs[0]


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def is_simulated_cert(cert: x509.Certificate) -> bool:
    """True when the subject or issuer declares itself simulated (``O=SIMULATED - NOT AMD``)."""
    for name in (cert.subject, cert.issuer):
        for attr in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME):
            if "SIMULATED" in str(attr.value).upper():
                return True
    return False


def product_of_ca(cert: x509.Certificate) -> Product | None:
    """The product an ARK/ASK serves, from its CN (``ARK-Milan``, ``SEV-Genoa``, ``SIM-ASK-Turin``)."""
    cn = common_name(cert)
    for product in Product:
        if cn.endswith("-" + product.value):
            return product
    return None


def check_signed_by(cert: x509.Certificate, issuer: x509.Certificate, what: str) -> None:
    """``cert`` must name ``issuer`` and carry its RSA-PSS (SHA-384, salt 48) signature.

    Raises:
        ChainInvalid: wrong issuer name, key type or signature.
    """
    if cert.issuer != issuer.subject:
        raise ChainInvalid(
            f"{what}: issuer {cert.issuer.rfc4514_string()!r} is not {issuer.subject.rfc4514_string()!r}"
        )
    key = issuer.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ChainInvalid(f"{what}: issuer key is not RSA")
    try:
        key.verify(cert.signature, cert.tbs_certificate_bytes, _PSS, hashes.SHA384())
    except (InvalidSignature, UnsupportedAlgorithm, ValueError) as exc:
        raise ChainInvalid(f"{what}: RSA-PSS signature does not verify") from exc


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True)
class CaChain:
    """A verified ARK → ASK pair; ``simulated`` when the root is a simulated anchor."""

    ark: x509.Certificate
    ask: x509.Certificate
    product: Product
    simulated: bool


def verify_ca_chain(
    ark: x509.Certificate, ask: x509.Certificate, *, sim_roots: Iterable[str] = ()
) -> CaChain:
    """Pin the ARK by fingerprint, check its self-signature, then the ASK under it.

    Raises:
        ChainInvalid: the ARK is not pinned, or a signature or name does not match.
    """
    fp = fingerprint(ark)
    product = AMD_ARK_SHA256.get(fp)
    simulated = False
    if product is None:
        if fp not in set(sim_roots):
            raise ChainInvalid(f"ARK {fp[:16]}… is not a pinned AMD root")
        simulated = True
        product = product_of_ca(ark)
        if product is None:
            raise ChainInvalid("simulated ARK names no product")
    if is_simulated_cert(ark) or is_simulated_cert(ask):
        simulated = True
    check_signed_by(ark, ark, "ARK self-signature")
    check_signed_by(ask, ark, "ASK")
    if not _is_ca(ask):
        raise ChainInvalid("ASK is not a CA certificate")
    return CaChain(ark=ark, ask=ask, product=product, simulated=simulated)


@dataclass(frozen=True)
class VcekExtensions:
    """The AMD extensions of a VCEK (OID arc 1.3.6.1.4.1.3704.1)."""

    struct_version: int | None
    product_name: str | None
    bl_spl: int | None
    tee_spl: int | None
    snp_spl: int | None
    ucode_spl: int | None
    fmc_spl: int | None
    hwid: bytes | None


def _der_int(raw: bytes, oid: str) -> int:
    if len(raw) < 3 or raw[0] != 0x02 or raw[1] != len(raw) - 2 or raw[1] > 8:
        raise EvidenceMalformed(f"VCEK extension {oid} is not a small DER INTEGER")
    return int.from_bytes(raw[2:], "big", signed=True)


def vcek_extensions(cert: x509.Certificate) -> VcekExtensions:
    """Decode the SPL, product and hwID extensions (absent ones are None).

    Raises:
        EvidenceMalformed: an extension is present but badly encoded.
    """
    raw: dict[str, bytes] = {}
    for ext in cert.extensions:
        dotted = ext.oid.dotted_string
        if dotted.startswith(_ARC + ".") and isinstance(ext.value, x509.UnrecognizedExtension):
            raw[dotted[len(_ARC) + 1 :]] = ext.value.value

    def num(key: str) -> int | None:
        return _der_int(raw[key], f"{_ARC}.{key}") if key in raw else None

    name: str | None = None
    if "2" in raw:
        value = raw["2"]
        if len(value) < 2 or value[0] != 0x16 or value[1] != len(value) - 2:
            raise EvidenceMalformed("VCEK productName is not an IA5String")
        name = value[2:].decode("ascii", "replace")
    return VcekExtensions(
        struct_version=num("1"),
        product_name=name,
        bl_spl=num("3.1"),
        tee_spl=num("3.2"),
        snp_spl=num("3.3"),
        ucode_spl=num("3.8"),
        fmc_spl=num("3.9"),
        hwid=raw.get("4"),
    )


def verify_vcek(vcek: x509.Certificate, chain: CaChain, now: datetime) -> ec.EllipticCurvePublicKey:
    """The VCEK must be signed by the chain's ASK, be P-384, and it, the ASK and the ARK be valid at ``now``.

    Raises:
        ChainInvalid: ``check="chain"`` for a bad link or key, ``check="validity"`` when expired.
    """
    check_signed_by(vcek, chain.ask, "VCEK")
    key = vcek.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        raise ChainInvalid("VCEK key is not ECDSA P-384")
    for name, cert in (("ARK", chain.ark), ("ASK", chain.ask), ("VCEK", vcek)):
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise ChainInvalid(f"{name} not valid at {now.isoformat()}", check="validity")
    return key
