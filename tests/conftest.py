"""Shared fixtures: the conformance-vector locator and the loopback-only network guard."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
VECTORS = Path(os.environ.get("AO_VECTORS", str(ROOT / ".." / "shared" / "vectors")))


def vector_path(*parts: str) -> Path:
    """Path of a shared conformance vector; skips the test with a clear reason when absent."""
    path = VECTORS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"AO vectors not available: {path} (set AO_VECTORS)")
    return path


def _is_local(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
    else:
        return True  # AF_UNIX paths and the like
    if host in ("", "localhost"):
        return host == "localhost"
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return ip.is_loopback


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests may only bind and connect to loopback addresses."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_bind = socket.socket.bind

    def guard(address: Any) -> None:
        if not _is_local(address):
            raise PermissionError(f"test tried to reach a non-loopback address: {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        guard(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(address)
        return real_connect_ex(self, address)

    def bind(self: socket.socket, address: Any) -> None:
        guard(address)
        real_bind(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "bind", bind)
    return
