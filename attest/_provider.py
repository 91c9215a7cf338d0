"""Producing SEV-SNP evidence inside an SNP guest: configfs-tsm (preferred) or ``/dev/sev-guest``.

Both providers take their paths (and the ``ioctl`` callable) as arguments, so they are unit-tested
against a fake configfs tree and a fake ioctl; neither has run on real hardware here. Each checks
the firmware status, the report size and that the returned REPORT_DATA equals the request.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ._errors import ProviderError
from ._report import REPORT_SIZE, SnpReport
from ._vcek import parse_cert_table

if TYPE_CHECKING:
    from collections.abc import Callable

SNP_GET_REPORT = 0xC0205300
SNP_GET_EXT_REPORT = 0xC0205302
DEFAULT_VMPL = 1
"""HyperBEAM requests reports at VMPL 1."""


@dataclass(frozen=True)
class Evidence:
    """Raw report bytes, certificates supplied with them (``{"ark"|"ask"|"vcek"|...: DER}``) and kind."""

    raw: bytes = field(repr=False)
    certs: dict[str, bytes] = field(default_factory=dict, repr=False)
    kind: Literal["snp", "snp-sim"] = "snp"

    @property
    def device(self) -> str:
        """The device name this evidence travels under: ``snp@1.0`` or ``snp-sim@1.0``."""
        return "snp-sim@1.0" if self.kind == "snp-sim" else "snp@1.0"

    @property
    def report(self) -> SnpReport:
        return SnpReport.from_bytes(self.raw)


class SnpProvider(Protocol):
    def get_report(self, report_data: bytes, vmpl: int = DEFAULT_VMPL) -> Evidence: ...


def _check_request(report_data: bytes, vmpl: int) -> None:
    if len(report_data) != 64:
        raise ProviderError(f"report_data must be 64 bytes, got {len(report_data)}")
    if not 0 <= vmpl <= 3:
        raise ProviderError(f"VMPL must be 0..3, got {vmpl}")


def _check_report(raw: bytes, report_data: bytes) -> SnpReport:
    if len(raw) != REPORT_SIZE:
        raise ProviderError(f"firmware returned {len(raw)} bytes, expected {REPORT_SIZE}")
    report = SnpReport(raw)
    if report.report_data != report_data:
        raise ProviderError("firmware returned a report for different REPORT_DATA")
    return report


class ConfigfsTsmProvider:
    """Reports through configfs-tsm (Linux ≥ 6.7): mkdir an entry, write inblob, read outblob."""

    def __init__(
        self,
        base: Path = Path("/sys/kernel/config/tsm/report"),
        *,
        attempts: int = 3,
        mkdir: Callable[[Path], None] = os.mkdir,
        rmdir: Callable[[Path], None] = os.rmdir,
    ) -> None:
        self.base = base
        self.attempts = attempts
        self._mkdir = mkdir
        self._rmdir = rmdir

    def get_report(self, report_data: bytes, vmpl: int = DEFAULT_VMPL) -> Evidence:
        """Request one report; retried when another writer raced this one.

        Raises:
            ProviderError: configfs-tsm is missing, the provider is not ``sev_guest``, the report is
                short or bound to other data, or every attempt raced.
        """
        _check_request(report_data, vmpl)
        for _ in range(self.attempts):
            entry = self.base / f"hyperpeer-{uuid.uuid4().hex}"
            try:
                self._mkdir(entry)
            except OSError as exc:
                raise ProviderError(f"cannot create configfs-tsm entry under {self.base}: {exc}") from exc
            try:
                result = self._once(entry, report_data, vmpl)
            except OSError as exc:
                raise ProviderError(f"configfs-tsm I/O failed: {exc}") from exc
            finally:
                with contextlib.suppress(OSError):  # a leftover entry is harmless
                    self._rmdir(entry)
            if result is not None:
                return result
        raise ProviderError(f"configfs-tsm generation kept changing ({self.attempts} attempts)")

    def _once(self, entry: Path, report_data: bytes, vmpl: int) -> Evidence | None:
        provider = (entry / "provider").read_text().strip()
        if provider != "sev_guest":
            raise ProviderError(f"configfs-tsm provider is {provider!r}, not 'sev_guest'")
        (entry / "privlevel").write_text(str(vmpl))
        (entry / "inblob").write_bytes(report_data)
        generation = (entry / "generation").read_text().strip()
        raw = (entry / "outblob").read_bytes()
        aux_path = entry / "auxblob"
        aux = aux_path.read_bytes() if aux_path.exists() else b""
        if (entry / "generation").read_text().strip() != generation:
            return None
        _check_report(raw, report_data)
        return Evidence(raw=raw, certs=parse_cert_table(aux) if aux else {}, kind="snp")


class _IoctlArg(ctypes.Structure):
    _fields_ = (
        ("msg_version", ctypes.c_uint8),
        ("_pad", ctypes.c_uint8 * 7),
        ("req_data", ctypes.c_uint64),
        ("resp_data", ctypes.c_uint64),
        ("exitinfo2", ctypes.c_uint64),
    )


class SevGuestIoctlProvider:
    """Reports through the ``SNP_GET_REPORT`` ioctl on ``/dev/sev-guest`` (fallback path)."""

    def __init__(
        self,
        dev: Path = Path("/dev/sev-guest"),
        *,
        ioctl: Callable[[int, int, Any, bool], Any] | None = None,
        opener: Callable[[Path], int] = lambda p: os.open(p, os.O_RDWR),
    ) -> None:
        self.dev = dev
        if ioctl is None:
            import fcntl

            ioctl = fcntl.ioctl
        self._ioctl = ioctl
        self._open = opener

    def get_report(self, report_data: bytes, vmpl: int = DEFAULT_VMPL) -> Evidence:
        """Request one report.

        Raises:
            ProviderError: the device is missing, the ioctl fails, or the response is wrong.
        """
        _check_request(report_data, vmpl)
        request = ctypes.create_string_buffer(report_data + vmpl.to_bytes(4, "little") + bytes(28), 96)
        response = ctypes.create_string_buffer(4000)
        arg = _IoctlArg(
            msg_version=1, req_data=ctypes.addressof(request), resp_data=ctypes.addressof(response)
        )
        try:
            fd = self._open(self.dev)
        except OSError as exc:
            raise ProviderError(f"cannot open {self.dev}: {exc}") from exc
        try:
            self._ioctl(fd, SNP_GET_REPORT, arg, True)
        except OSError as exc:
            raise ProviderError(f"SNP_GET_REPORT failed: {exc} (exitinfo2={arg.exitinfo2:#x})") from exc
        finally:
            os.close(fd)
        body = response.raw
        status = int.from_bytes(body[0:4], "little")
        size = int.from_bytes(body[4:8], "little")
        if status != 0:
            raise ProviderError(f"firmware status {status:#x} (exitinfo2={arg.exitinfo2:#x})")
        if size != REPORT_SIZE:
            raise ProviderError(f"firmware report_size {size:#x}, expected {REPORT_SIZE:#x}")
        raw = body[0x20 : 0x20 + REPORT_SIZE]
        _check_report(raw, report_data)
        return Evidence(raw=raw, kind="snp")
