"""The SEV-SNP ATTESTATION_REPORT (1184 bytes) and HyperBEAM's JSON form of it.

The raw bytes are canonical: ``SnpReport`` keeps them and decodes fields on demand. HyperBEAM's JSON
(one key per field, byte arrays as lists of ints, TCBs as ``{bootloader, tee, _reserved, snp,
microcode}``, ``signature`` as ``{r, s, _reserved}``) is a transport encoding; writing every field,
reserved ones included, at its offset rebuilds the exact bytes whatever the report version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ._errors import EvidenceMalformed

REPORT_SIZE = 0x4A0
SIGNED_END = 0x2A0
"""The signature covers ``raw[0:SIGNED_END]``."""

POLICY_SMT = 1 << 16
POLICY_RESERVED_ONE = 1 << 17
POLICY_MIGRATE_MA = 1 << 18
POLICY_DEBUG = 1 << 19
POLICY_SINGLE_SOCKET = 1 << 20

# (json name, offset, size, kind); kind: "int" little-endian integer, "bytes", "tcb", "sig".
FIELDS: tuple[tuple[str, int, int, str], ...] = (
    ("version", 0x000, 4, "int"),
    ("guest_svn", 0x004, 4, "int"),
    ("policy", 0x008, 8, "int"),
    ("family_id", 0x010, 16, "bytes"),
    ("image_id", 0x020, 16, "bytes"),
    ("vmpl", 0x030, 4, "int"),
    ("sig_algo", 0x034, 4, "int"),
    ("current_tcb", 0x038, 8, "tcb"),
    ("plat_info", 0x040, 8, "int"),
    ("_author_key_en", 0x048, 4, "int"),
    ("_reserved_0", 0x04C, 4, "int"),
    ("report_data", 0x050, 64, "bytes"),
    ("measurement", 0x090, 48, "bytes"),
    ("host_data", 0x0C0, 32, "bytes"),
    ("id_key_digest", 0x0E0, 48, "bytes"),
    ("author_key_digest", 0x110, 48, "bytes"),
    ("report_id", 0x140, 32, "bytes"),
    ("report_id_ma", 0x160, 32, "bytes"),
    ("reported_tcb", 0x180, 8, "tcb"),
    ("_reserved_1", 0x188, 24, "bytes"),
    ("chip_id", 0x1A0, 64, "bytes"),
    ("committed_tcb", 0x1E0, 8, "tcb"),
    ("current_build", 0x1E8, 1, "int"),
    ("current_minor", 0x1E9, 1, "int"),
    ("current_major", 0x1EA, 1, "int"),
    ("_reserved_2", 0x1EB, 1, "int"),
    ("committed_build", 0x1EC, 1, "int"),
    ("committed_minor", 0x1ED, 1, "int"),
    ("committed_major", 0x1EE, 1, "int"),
    ("_reserved_3", 0x1EF, 1, "int"),
    ("launch_tcb", 0x1F0, 8, "tcb"),
    ("_reserved_4", 0x1F8, 168, "bytes"),
    ("signature", 0x2A0, 512, "sig"),
)
_BY_NAME = {f[0]: f for f in FIELDS}


class Product(StrEnum):
    """AMD EPYC product line (the KDS path component)."""

    MILAN = "Milan"
    GENOA = "Genoa"
    TURIN = "Turin"


def json_object(data: str | bytes, what: str = "") -> dict[str, Any]:
    """``data`` parsed as a JSON object.

    Raises:
        EvidenceMalformed: not JSON (``"<what>JSON does not parse"``), or not an object.
    """
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise EvidenceMalformed(f"{what}JSON does not parse: {exc}") from exc
    if not isinstance(obj, dict):
        raise EvidenceMalformed(f"{what}JSON is not an object")
    return obj

@dataclass(frozen=True)
class Tcb:
    """A TCB_VERSION decoded for a product (Turin moves the fields and adds FMC)."""

    bootloader: int
    tee: int
    snp: int
    microcode: int
    fmc: int | None = None

    @classmethod
    def decode(cls, raw: bytes, product: Product = Product.MILAN) -> Tcb:
        if product is Product.TURIN:
            return cls(bootloader=raw[1], tee=raw[2], snp=raw[3], microcode=raw[7], fmc=raw[0])
        return cls(bootloader=raw[0], tee=raw[1], snp=raw[6], microcode=raw[7])

    def at_least(self, minimum: Tcb) -> str | None:
        """The first component below ``minimum`` (None when every component is high enough)."""
        for name in ("bootloader", "tee", "snp", "microcode", "fmc"):
            want = getattr(minimum, name)
            have = getattr(self, name)
            if want is not None and (have if have is not None else 0) < want:
                return name
        return None


@dataclass(frozen=True)
class SnpReport:
    """A parsed SEV-SNP attestation report; ``raw`` (1184 bytes) is canonical."""

    raw: bytes

    def __repr__(self) -> str:
        return (
            f"SnpReport(version={self.version}, vmpl={self.vmpl}, policy={self.policy:#x}, "
            f"chip_id={self.chip_id[:8].hex()}…, measurement={self.measurement[:8].hex()}…)"
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> SnpReport:
        """Parse and sanity-check a raw report.

        Raises:
            EvidenceMalformed: wrong length, version < 2 or an unknown signature algorithm.
        """
        raw = bytes(raw)
        if len(raw) != REPORT_SIZE:
            raise EvidenceMalformed(f"an SNP report is {REPORT_SIZE} bytes, got {len(raw)}")
        report = cls(raw)
        if report.version < 2:
            raise EvidenceMalformed(f"report version {report.version} < 2", offset=0)
        if report.sig_algo != 1:
            raise EvidenceMalformed(f"signature algorithm {report.sig_algo} is not ECDSA P-384", offset=0x34)
        return report

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> SnpReport:
        """Rebuild the raw report from HyperBEAM's JSON (a string or a decoded mapping).

        Raises:
            EvidenceMalformed: not JSON, a field missing, mistyped or out of range.
        """
        if isinstance(data, str | bytes):
            data = json_object(data, "report ")
        if not isinstance(data, Mapping):
            raise EvidenceMalformed("report JSON is not an object")
        buf = bytearray(REPORT_SIZE)
        for name, offset, size, kind in FIELDS:
            if name not in data:
                raise EvidenceMalformed(f"report JSON lacks {name!r}", offset=offset)
            buf[offset : offset + size] = _encode_field(name, kind, size, data[name])
        return cls.from_bytes(bytes(buf))

    def to_json_dict(self) -> dict[str, Any]:
        """HyperBEAM's JSON form (field order as the firmware lays them out)."""
        out: dict[str, Any] = {}
        for name, offset, size, kind in FIELDS:
            chunk = self.raw[offset : offset + size]
            if kind == "int":
                out[name] = int.from_bytes(chunk, "little")
            elif kind == "bytes":
                out[name] = list(chunk)
            elif kind == "tcb":
                out[name] = {
                    "bootloader": chunk[0],
                    "tee": chunk[1],
                    "_reserved": list(chunk[2:6]),
                    "snp": chunk[6],
                    "microcode": chunk[7],
                }
            else:
                out[name] = {"r": list(chunk[:72]), "s": list(chunk[72:144]), "_reserved": list(chunk[144:])}
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), separators=(",", ":"))

    def _int(self, name: str) -> int:
        _, offset, size, _ = _BY_NAME[name]
        return int.from_bytes(self.raw[offset : offset + size], "little")

    def _bytes(self, name: str) -> bytes:
        _, offset, size, _ = _BY_NAME[name]
        return self.raw[offset : offset + size]

    @property
    def version(self) -> int:
        return self._int("version")

    @property
    def guest_svn(self) -> int:
        return self._int("guest_svn")

    @property
    def policy(self) -> int:
        return self._int("policy")

    @property
    def vmpl(self) -> int:
        return self._int("vmpl")

    @property
    def sig_algo(self) -> int:
        return self._int("sig_algo")

    @property
    def plat_info(self) -> int:
        return self._int("plat_info")

    @property
    def key_info(self) -> int:
        return self._int("_author_key_en")

    @property
    def family_id(self) -> bytes:
        return self._bytes("family_id")

    @property
    def image_id(self) -> bytes:
        return self._bytes("image_id")

    @property
    def report_data(self) -> bytes:
        return self._bytes("report_data")

    @property
    def measurement(self) -> bytes:
        return self._bytes("measurement")

    @property
    def host_data(self) -> bytes:
        return self._bytes("host_data")

    @property
    def id_key_digest(self) -> bytes:
        return self._bytes("id_key_digest")

    @property
    def author_key_digest(self) -> bytes:
        return self._bytes("author_key_digest")

    @property
    def report_id(self) -> bytes:
        return self._bytes("report_id")

    @property
    def report_id_ma(self) -> bytes:
        return self._bytes("report_id_ma")

    @property
    def chip_id(self) -> bytes:
        return self._bytes("chip_id")

    @property
    def debug_allowed(self) -> bool:
        return bool(self.policy & POLICY_DEBUG)

    @property
    def mask_chip_key(self) -> bool:
        return bool(self.key_info & 0b10)

    @property
    def signing_key(self) -> int:
        """KEY_INFO.SIGNING_KEY: 0 VCEK, 1 VLEK, 7 none."""
        return (self.key_info >> 2) & 0b111

    @property
    def signed_bytes(self) -> bytes:
        return self.raw[:SIGNED_END]

    @property
    def signature_rs(self) -> tuple[int, int]:
        """(r, s) as integers from their 72-byte little-endian slots."""
        return (
            int.from_bytes(self.raw[0x2A0:0x2E8], "little"),
            int.from_bytes(self.raw[0x2E8:0x330], "little"),
        )

    @property
    def cpuid(self) -> tuple[int, int, int] | None:
        """(family, model, stepping) for v3+ reports, else None."""
        if self.version < 3:
            return None
        return (self.raw[0x188], self.raw[0x189], self.raw[0x18A])

    def tcb(self, which: str, product: Product = Product.MILAN) -> Tcb:
        """Decode ``reported``, ``current``, ``committed`` or ``launch`` TCB for ``product``."""
        return Tcb.decode(self._bytes(f"{which}_tcb"), product)

    def firmware(self, which: str = "current") -> str:
        return f"{self._int(f'{which}_major')}.{self._int(f'{which}_minor')}.{self._int(f'{which}_build')}"

    def product_hint(self) -> Product | None:
        """The product from the v3+ CPUID fields; None when the report cannot tell (v2)."""
        ids = self.cpuid
        if ids is None:
            return None
        family, model, _ = ids
        if family == 0x19 and model <= 0x0F:
            return Product.MILAN
        if family == 0x19 and (0x10 <= model <= 0x1F or 0xA0 <= model <= 0xAF):
            return Product.GENOA
        if family == 0x1A and model <= 0x11:
            return Product.TURIN
        return None


def _byte_list(name: str, value: Any, size: int) -> bytes:
    if not isinstance(value, list) or len(value) != size:
        raise EvidenceMalformed(f"report JSON {name!r} must be a list of {size} byte values")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value):
        raise EvidenceMalformed(f"report JSON {name!r} holds a non-byte value")
    return bytes(value)


def _encode_int(name: str, value: Any, size: int) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << (8 * size):
        raise EvidenceMalformed(f"report JSON {name!r} must be an unsigned {8 * size}-bit integer")
    return value.to_bytes(size, "little")


def _encode_field(name: str, kind: str, size: int, value: Any) -> bytes:
    if kind == "int":
        return _encode_int(name, value, size)
    if kind == "bytes":
        return _byte_list(name, value, size)
    if not isinstance(value, Mapping):
        raise EvidenceMalformed(f"report JSON {name!r} must be an object")
    try:
        if kind == "tcb":
            return (
                _encode_int(name, value["bootloader"], 1)
                + _encode_int(name, value["tee"], 1)
                + _byte_list(name, value["_reserved"], 4)
                + _encode_int(name, value["snp"], 1)
                + _encode_int(name, value["microcode"], 1)
            )
        return (
            _byte_list(name, value["r"], 72)
            + _byte_list(name, value["s"], 72)
            + _byte_list(name, value["_reserved"], 368)
        )
    except KeyError as exc:
        raise EvidenceMalformed(f"report JSON {name!r} lacks {exc.args[0]!r}") from exc
