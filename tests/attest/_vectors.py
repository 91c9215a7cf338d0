"""Vector loaders and the frozen clock shared by the attest tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from attest import CertPool, SnpReport, StaticVcek
from tests.conftest import vector_path

NOW = datetime(2025, 6, 1, tzinfo=UTC)
"""Inside the validity of every vector VCEK (V1: 2023-2030, V2: 2024-2031, Turin: 2024-2031)."""


def snp(*parts: str) -> Any:
    return vector_path("sev-snp", *parts)


def hb(*parts: str) -> Any:
    return vector_path("hyperbeam-test-data", *parts)


def expected() -> dict[str, Any]:
    return json.loads(snp("expected.json").read_text())["vectors"]


def v1_raw() -> bytes:
    return bytes.fromhex(snp("virtee-report_milan.hex").read_text().strip())


def v2_report() -> SnpReport:
    return SnpReport.from_json(snp("hb-os-benign-report.json").read_text())


def milan_pool() -> CertPool:
    return CertPool.load(snp("virtee-ark-milan.pem"), snp("virtee-ask-milan.pem"))


def v1_vcek() -> StaticVcek:
    return StaticVcek(snp("virtee-vcek_milan.der").read_bytes())


def v2_vcek() -> StaticVcek:
    return StaticVcek(snp("hb-os-vcek.crt").read_bytes())
