"""The SNP launch digest (MEASUREMENT) from HyperBEAM's ``local-hashes``, and trusted-software matching.

Launch digest (spec §3.4): start from ``firmware`` (the OVMF GCTX digest), then for each OVMF SEV
metadata section in order add pages — ZERO pages for SNP_SEC_MEM, one SECRETS page, one CPUID
page, one NORMAL page holding the SEV hashes table (cmdline, initrd, kernel SHA-256) for
SNP_KERNEL_HASHES — then one VMSA page per vCPU. Each page folds into the digest as
``ld = SHA-384(PAGE_INFO)``, a 0x70-byte record of (ld, contents digest, length, type, GPA).
The OVMF layout of 2023 AmdSev builds is embedded as ``OVMF_AMDSEV_2023``, so the 4 MiB firmware
file is never needed. Only QEMU and EC2 VMSA shapes are known; vcpu types follow the ``sev`` crate.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import EvidenceMalformed, PolicyRejected

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

PAGE = 4096
VMSA_GPA = 0xFFFFFFFFF000
BSP_EIP = 0xFFFFFFF0
COMMITTED_PARAMETERS = (
    "vcpus",
    "vcpu_type",
    "vmm_type",
    "guest_features",
    "firmware",
    "kernel",
    "initrd",
    "append",
)
_INT_KEYS = ("vcpus", "vcpu_type", "vmm_type", "guest_features")
_HEX_LENGTHS = {"firmware": 48, "kernel": 32, "initrd": 32, "append": 32}

# Section types of the OVMF SEV metadata.
SNP_SEC_MEM, SNP_SECRETS, CPUID, SVSM_CAA, SNP_KERNEL_HASHES = 1, 2, 3, 4, 0x10


@dataclass(frozen=True)
class OvmfLayout:
    """What the launch digest needs from an OVMF build: AP reset EIP, hashes table GPA, sections."""

    reset_eip: int
    hashes_table_gpa: int
    sections: tuple[tuple[int, int, int], ...]  # (section type, gpa, size)


OVMF_AMDSEV_2023 = OvmfLayout(
    reset_eip=0x80B004,
    hashes_table_gpa=0x80FC00,
    sections=(
        (SNP_SEC_MEM, 0x800000, 0x9000),
        (SNP_SEC_MEM, 0x80A000, 0x3000),
        (SNP_SECRETS, 0x80D000, 0x1000),
        (CPUID, 0x80E000, 0x1000),
        (SNP_KERNEL_HASHES, 0x80F000, 0x1000),
        (SNP_SEC_MEM, 0x810000, 0x10000),
    ),
)


_FOOTER_GUID = uuid.UUID("96b582de-1fb2-45f7-baea-a366c55a082d").bytes_le
_HASHES_GUID = uuid.UUID("7255371f-3a3b-4b04-927b-1da6efa8d454").bytes_le
_RESET_GUID = uuid.UUID("00f771de-1a7e-4fcb-890e-68c77e2fb44e").bytes_le
_METADATA_GUID = uuid.UUID("dc886566-984a-4798-a75e-5585a7bf67cc").bytes_le


def ovmf_layout(data: bytes) -> OvmfLayout:
    """Read the layout from an OVMF image (or any suffix of it holding the footer table and metadata).

    The GUID-tagged table ends 32 bytes before the end of the file and is walked backwards; the
    SEV metadata (``ASEV`` header, then (gpa, size, type) triples) sits at an offset from the end.

    Raises:
        EvidenceMalformed: no footer table, a missing entry or out-of-range offsets.
    """
    size = len(data)
    if size < 50 or data[size - 48 : size - 32] != _FOOTER_GUID:
        raise EvidenceMalformed("no OVMF footer table")
    table_len = int.from_bytes(data[size - 50 : size - 48], "little") - 18
    if table_len < 0 or table_len > size - 50:
        raise EvidenceMalformed("OVMF footer table length out of range")
    table = data[size - 50 - table_len : size - 50]
    entries: dict[bytes, bytes] = {}
    while len(table) >= 18:
        entry_len = int.from_bytes(table[-18:-16], "little")
        if not 18 <= entry_len <= len(table):
            raise EvidenceMalformed("OVMF footer table entry length out of range")
        entries[table[-16:]] = table[-entry_len:-18]
        table = table[:-entry_len]
    try:
        reset_eip = int.from_bytes(entries[_RESET_GUID][:4], "little")
        hashes_gpa = int.from_bytes(entries[_HASHES_GUID][:4], "little")
        start = size - int.from_bytes(entries[_METADATA_GUID][:4], "little")
    except KeyError as exc:
        raise EvidenceMalformed("OVMF footer table lacks an SEV entry") from exc
    if not 0 <= start <= size - 16 or data[start : start + 4] != b"ASEV":
        raise EvidenceMalformed("OVMF SEV metadata header not found", offset=max(start, 0))
    count = int.from_bytes(data[start + 12 : start + 16], "little")
    if start + 16 + 12 * count > size:
        raise EvidenceMalformed("OVMF SEV metadata runs past the end", offset=start)
    sections = tuple(struct.unpack_from("<III", data, start + 16 + 12 * i) for i in range(count))
    return OvmfLayout(
        reset_eip=reset_eip,
        hashes_table_gpa=hashes_gpa,
        sections=tuple((kind, gpa, length) for gpa, length, kind in sections),
    )


def _cpuid_signature(family: int, model: int, stepping: int) -> int:
    base_family, ext_family = (0xF, family - 0xF) if family > 0xF else (family, 0)
    return (ext_family << 20) | ((model >> 4) << 16) | (base_family << 8) | ((model & 0xF) << 4) | stepping


_EPYC, _ROME = _cpuid_signature(23, 1, 2), _cpuid_signature(23, 49, 0)
_MILAN, _GENOA = _cpuid_signature(25, 1, 1), _cpuid_signature(25, 17, 0)
VCPU_SIGNATURES: dict[int, int] = {
    0: _EPYC, 1: _EPYC, 2: _EPYC, 3: _EPYC, 4: _EPYC, 5: _EPYC,
    6: _ROME, 7: _ROME, 8: _ROME, 9: _ROME,
    10: _MILAN, 11: _MILAN, 12: _MILAN,
    13: _GENOA, 14: _GENOA,
}  # fmt: skip
"""``vcpu_type`` (the sev crate's CpuType index) → CPUID signature; 5 = EPYC-v4 = 0x800F12."""


@dataclass(frozen=True)
class LaunchParameters:
    """HyperBEAM's eight committed launch parameters, normalised (ints, raw digests)."""

    vcpus: int
    vcpu_type: int
    vmm_type: int
    guest_features: int
    firmware: bytes
    kernel: bytes
    initrd: bytes
    append: bytes

    @classmethod
    def from_local_hashes(cls, values: Mapping[str, Any]) -> LaunchParameters:
        """Accept ints or decimal strings, and hex digests in any case.

        Raises:
            EvidenceMalformed: a key is missing or a value has the wrong type or length.
        """
        norm = normalise_local_hashes(values, COMMITTED_PARAMETERS)
        return cls(
            vcpus=int(norm["vcpus"]),
            vcpu_type=int(norm["vcpu_type"]),
            vmm_type=int(norm["vmm_type"]),
            guest_features=int(norm["guest_features"]),
            firmware=bytes.fromhex(str(norm["firmware"])),
            kernel=bytes.fromhex(str(norm["kernel"])),
            initrd=bytes.fromhex(str(norm["initrd"])),
            append=bytes.fromhex(str(norm["append"])),
        )


def normalise_local_hashes(values: Mapping[str, Any], keys: Sequence[str]) -> dict[str, int | str]:
    """``keys`` of ``values`` with ints as ints and digests as lowercase hex.

    Raises:
        EvidenceMalformed: a key is missing or malformed.
    """
    out: dict[str, int | str] = {}
    for key in keys:
        if key not in values:
            raise EvidenceMalformed(f"launch parameter {key!r} is missing")
        value = values[key]
        if key in _INT_KEYS:
            if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
                raise EvidenceMalformed(f"launch parameter {key!r} must be a non-negative integer")
            out[key] = int(value)
        elif key in _HEX_LENGTHS:
            text = value.lower() if isinstance(value, str) else ""
            try:
                ok = len(bytes.fromhex(text)) == _HEX_LENGTHS[key]
            except ValueError:
                ok = False
            if not ok:
                raise EvidenceMalformed(f"launch parameter {key!r} must be {_HEX_LENGTHS[key]} bytes of hex")
            out[key] = text
        else:
            raise EvidenceMalformed(f"unknown launch parameter {key!r}")
    return out


def _page_info(ld: bytes, contents: bytes, page_type: int, gpa: int) -> bytes:
    return hashlib.sha384(ld + contents + struct.pack("<HBB4xQ", 0x70, page_type, 0, gpa)).digest()


def hashes_page(kernel: bytes, initrd: bytes, append: bytes, offset: int) -> bytes:
    """The 4 KiB page holding the SEV hashes table (cmdline, initrd, kernel) at ``offset``."""
    entries = b"".join(
        uuid.UUID(guid).bytes_le + struct.pack("<H", 50) + digest
        for guid, digest in (("97d02dd8-bd20-4c94-aa78-e7714d36ab2a", append),
                             ("44baf731-3a2f-4bd7-9af1-41e29169781d", initrd),
                             ("4de79437-abd2-427f-b835-d5b172d2045b", kernel))
    )  # fmt: skip
    table = uuid.UUID("9438d606-4f22-4cc9-b479-a793d411fd21").bytes_le + struct.pack("<H", 18 + len(entries))
    table += entries
    table += bytes(-len(table) % 16)
    page = bytearray(PAGE)
    page[offset : offset + len(table)] = table
    return bytes(page)


def _segment(selector: int, attrib: int, limit: int, base: int) -> bytes:
    return struct.pack("<HHIQ", selector, attrib, limit, base)


def vmsa_page(eip: int, sev_features: int, vcpu_signature: int, vmm_type: int) -> bytes:
    """The initial VMSA (SEV-ES save area) of one vCPU, as QEMU (1) or EC2 (2) sets it up."""
    if vmm_type == 1:
        cs_flags, ss_flags, tr_flags, rdx = 0x9B, 0x93, 0x8B, vcpu_signature
    elif vmm_type == 2:
        cs_flags, ss_flags, tr_flags, rdx = (0x9A if eip == BSP_EIP else 0x9B), 0x92, 0x83, 0
    else:
        raise EvidenceMalformed(f"unsupported vmm_type {vmm_type} (known: 1 QEMU, 2 EC2)")
    page = bytearray(PAGE)
    # es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr
    segments = (
        (0, 0x93, 0xFFFF, 0), (0xF000, cs_flags, 0xFFFF, eip & 0xFFFF0000), (0, ss_flags, 0xFFFF, 0),
        (0, 0x93, 0xFFFF, 0), (0, 0x93, 0xFFFF, 0), (0, 0x93, 0xFFFF, 0),
        (0, 0, 0xFFFF, 0), (0, 0x82, 0xFFFF, 0), (0, 0, 0xFFFF, 0), (0, tr_flags, 0xFFFF, 0),
    )  # fmt: skip
    page[0:160] = b"".join(_segment(*s) for s in segments)
    for offset, value in (
        (0xD0, 0x1000),  # EFER.SVME
        (0x148, 0x40),  # CR4.MCE
        (0x158, 0x10),  # CR0.ET
        (0x160, 0x400),  # DR7
        (0x168, 0xFFFF0FF0),  # DR6
        (0x170, 0x2),  # RFLAGS
        (0x178, eip & 0xFFFF),  # RIP
        (0x268, 0x7040600070406),  # G_PAT
        (0x310, rdx),  # RDX
        (0x3B0, sev_features),
        (0x3E8, 0x1),  # XCR0
    ):
        page[offset : offset + 8] = value.to_bytes(8, "little")
    page[0x408:0x40C] = (0x1F80).to_bytes(4, "little")  # MXCSR reset value
    page[0x410:0x412] = (0x37F).to_bytes(2, "little")  # x87 FCW reset value
    return bytes(page)


def launch_digest(params: LaunchParameters, layout: OvmfLayout = OVMF_AMDSEV_2023) -> bytes:
    """The 48-byte MEASUREMENT an SNP guest launched with ``params`` reports.

    Raises:
        EvidenceMalformed: unknown vcpu or vmm type, or a layout section this code cannot measure.
    """
    signature = VCPU_SIGNATURES.get(params.vcpu_type)
    if signature is None:
        raise EvidenceMalformed(f"unknown vcpu_type {params.vcpu_type}")
    zeros = bytes(48)
    ld = params.firmware
    for kind, gpa, size in layout.sections:
        if kind == SNP_SEC_MEM:
            for page_gpa in range(gpa, gpa + size, PAGE):
                ld = _page_info(ld, zeros, 3, page_gpa)
        elif kind in (SNP_SECRETS, CPUID):
            ld = _page_info(ld, zeros, 5 if kind == SNP_SECRETS else 6, gpa)
        elif kind == SNP_KERNEL_HASHES:
            page = hashes_page(params.kernel, params.initrd, params.append, layout.hashes_table_gpa & 0xFFF)
            ld = _page_info(ld, hashlib.sha384(page).digest(), 1, gpa)
        elif kind == SVSM_CAA:
            ld = _page_info(ld, zeros, 3, gpa)
        else:
            raise EvidenceMalformed(f"unknown OVMF metadata section type {kind}")
    bsp = vmsa_page(BSP_EIP, params.guest_features, signature, params.vmm_type)
    ap = vmsa_page(layout.reset_eip, params.guest_features, signature, params.vmm_type)
    for index in range(params.vcpus):
        ld = _page_info(ld, hashlib.sha384(bsp if index == 0 else ap).digest(), 2, VMSA_GPA)
    return ld


def match_trusted(
    local_hashes: Mapping[str, Any],
    trusted: Sequence[Mapping[str, Any]],
    enforced: Sequence[str] = COMMITTED_PARAMETERS,
) -> int:
    """Index of the single trusted entry that matches *every* enforced key of ``local_hashes``.

    Unlike HyperBEAM, a key missing from ``local_hashes`` is an error (never silently unchecked),
    values are normalised (ints, lowercase hex), and keys are never mixed across entries.

    Raises:
        EvidenceMalformed: ``local_hashes`` lacks an enforced key or has a malformed value.
        PolicyRejected: ``check="measurement"`` when no single entry matches.
    """
    mine = normalise_local_hashes(local_hashes, enforced)
    for index, entry in enumerate(trusted):
        try:
            if normalise_local_hashes(entry, enforced) == mine:
                return index
        except EvidenceMalformed:
            continue  # an incomplete trusted entry can never match
    raise PolicyRejected("measurement", "launch parameters match no trusted configuration")
